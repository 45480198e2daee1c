"""The compact dictionary cuts and weighs text exactly as jieba does with its own dictionaries."""

from __future__ import annotations

import json
from pathlib import Path

import jieba
import pytest
from jieba.posseg import POSTokenizer

from core.kb.dictionary import tag_class
from core.kb.tokenizer import CompactTokenizer, default_dictionary

FIXTURES = Path(__file__).parents[2] / "fixtures" / "kb"
ADDED = ("料筒温度", "油气分离器", "空压机", "hx-2000注塑机", "开不了机", "打印", "不")


def texts() -> list[str]:
    out = ["", "a", "中", "打印机打印不了", "pm2.5超标 t恤 卡拉ok", "新买的HX-2000注塑机报价多少"]
    for path in sorted(FIXTURES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            out += [v for k, v in item.items() if k in ("title", "body", "q") and v]
    return out


@pytest.fixture(scope="module")
def pair() -> tuple[jieba.Tokenizer, CompactTokenizer]:
    reference = jieba.Tokenizer()
    reference.initialize()
    compact = CompactTokenizer()
    for tokenizer in (reference, compact):
        for word in ADDED:  # an existing word, a prefix, a single character: all overridden
            tokenizer.add_word(word)
    return reference, compact


def test_the_same_cuts_as_jieba(pair: tuple[jieba.Tokenizer, CompactTokenizer]) -> None:
    reference, compact = pair
    corpus = texts()
    assert len(corpus) > 300
    for text in corpus:
        for hmm in (False, True):
            assert list(compact.cut_for_search(text, HMM=hmm)) == list(
                reference.cut_for_search(text, HMM=hmm)
            )
            assert list(compact.tokenize(text, HMM=hmm)) == list(reference.tokenize(text, HMM=hmm))
    assert compact.total == reference.total


def test_the_same_frequencies_as_jieba(pair: tuple[jieba.Tokenizer, CompactTokenizer]) -> None:
    reference, compact = pair
    for word, freq in reference.FREQ.items():  # every word and every prefix of one
        assert compact.FREQ.get(word) == freq, word
        assert word in compact.FREQ
    for missing in ("打印机打", "zz", "料筒温度x"):
        assert missing not in compact.FREQ
        assert compact.FREQ.get(missing, 0) == 0 == reference.FREQ.get(missing, 0)


def test_the_same_part_of_speech_classes_as_jieba_posseg() -> None:
    tags = POSTokenizer(jieba.Tokenizer()).word_tag_tab
    dictionary = default_dictionary()
    assert len(dictionary.words) == len(tags)
    for word, tag in tags.items():
        assert dictionary.word_class(word) == tag_class(tag), word
    assert dictionary.word_class("料筒温度") is None
