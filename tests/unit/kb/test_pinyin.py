"""The stored syllable table answers what pypinyin answers, for every code point it covers."""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin

from core.kb.pinyin import END, syllable


def test_every_code_point_as_pypinyin_gives_it() -> None:
    wrong = [
        hex(code)
        for code in range(END)
        if syllable(chr(code)) != lazy_pinyin(chr(code), style=Style.NORMAL)[0]
    ]
    assert wrong == []
    assert syllable("空") == "kong" and syllable("〇") == "ling" and syllable("a") == "a"


def test_beyond_the_table_pypinyin_answers() -> None:
    assert syllable("𠀀") == lazy_pinyin("𠀀", style=Style.NORMAL)[0] == "he"
