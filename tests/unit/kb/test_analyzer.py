"""Segmentation, codes, synonyms and pinyin: the analyzer that articles and queries share."""

from __future__ import annotations

import pytest

from core.kb.analyzer import Analyzer, Lexicon, codes_in, normalize
from core.kb.lexicon import DEFAULT_SYNONYMS


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(
        Lexicon(
            words=("料筒温度", "油气分离器"),
            synonyms=DEFAULT_SYNONYMS,
            entities=("注塑机", "HX-2000"),
        )
    )


def words(analyzer: Analyzer, text: str) -> set[str]:
    return {f[2:] for f in analyzer.analyze(text).features if f.startswith("w:")}


def groups(analyzer: Analyzer, text: str) -> set[str]:
    return {f for f in analyzer.analyze(text).features if f.startswith("s:")}


def test_full_width_and_case_are_normalised() -> None:
    assert normalize("ＡＬ－２１　报警") == "al-21 报警"


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("报警代码 AL-21", ["al21"]),
        ("al21 又跳了", ["al21"]),
        ("AL 21", ["al21"]),
        ("E05 升温超时", ["e5"]),
        ("e5", ["e5"]),
        ("ALM 2010 回零", ["alm2010"]),
        ("错误 0x0000011b", ["0x11b"]),
        ("ER01 和 ER04", ["er1", "er4"]),
    ],
)
def test_codes_are_one_feature_however_written(text: str, codes: list[str]) -> None:
    assert codes_in(normalize(text)) == codes


def test_user_dictionary_keeps_configured_words_whole() -> None:
    plain = Analyzer(Lexicon())
    assert "油气分离器" not in words(plain, "油气分离器堵了")
    assert "料筒温度" not in words(plain, "料筒温度低")
    configured = Analyzer(Lexicon(words=("料筒温度", "油气分离器")))
    assert {"料筒温度", "油气分离器"} <= words(configured, "料筒温度低，油气分离器堵了")


def test_stop_words_and_punctuation_are_dropped(analyzer: Analyzer) -> None:
    found = words(analyzer, "师傅，请问我的打印机怎么了？")
    assert "打印机" in found
    assert not found & {"师傅", "请问", "我", "的", "怎么", "，", "？"}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("电脑开不了机", "电脑无法启动"),
        ("机器启动不了", "机器无法启动"),
        ("冷水机底下渗水", "冷水机漏水"),
        ("上不了网", "断网了"),
        ("气泵", "空压机"),
    ],
)
def test_synonyms_share_a_group_feature(analyzer: Analyzer, a: str, b: str) -> None:
    assert groups(analyzer, a) & groups(analyzer, b)


def test_pinyin_bigrams_match_typos_of_the_same_sound(analyzer: Analyzer) -> None:
    typo = {f for f in analyzer.analyze("丁丁登不上").features if f.startswith("p:")}
    right = {f for f in analyzer.analyze("钉钉登不上").features if f.startswith("p:")}
    assert typo == right
    assert "w:丁丁" not in analyzer.analyze("钉钉").features


def test_mixed_chinese_and_english(analyzer: Analyzer) -> None:
    found = words(analyzer, "VPN连上了但是ERP打不开")
    assert {"vpn", "erp"} <= found


def test_entities_are_context_terms(analyzer: Analyzer) -> None:
    terms = {t.text: t for t in analyzer.terms("HX-2000 注塑机报价多少")}
    assert terms["注塑机"].entity
    assert terms["hx2000"].entity
    assert not terms["报价"].entity


def test_everyday_and_scene_words_count_less(analyzer: Analyzer) -> None:
    terms = {t.text: t for t in analyzer.terms("上周刚搬的车间，空压机报警，冷却器堵了")}
    assert terms["上周"].generality < 0.5 < terms["冷却器"].generality
    assert terms["刚"].generality < 0.5


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("帮我订一间会议室", "订"),
        ("冷水机用什么牌子的冷媒比较好", "牌子"),
        ("碳带多少钱一卷", "多少钱"),
        ("门禁卡去哪里办", "去哪里"),
    ],
)
def test_requests_are_recognised(analyzer: Analyzer, text: str, asked: str) -> None:
    assert any(asked in group for group in analyzer.requests(text))


@pytest.mark.parametrize(
    "text",
    ["ERP订单导出很慢", "新买的打印机连不上电脑", "借来的投影仪没信号", "订了会议室但投屏失败"],
)
def test_words_inside_other_words_or_past_events_are_no_request(
    analyzer: Analyzer, text: str
) -> None:
    assert analyzer.requests(text) == []
