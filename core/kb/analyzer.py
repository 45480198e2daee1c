"""Turn Chinese (and mixed Chinese-English) text into weighted search features.

One analyzer serves articles and queries alike, so both sides are cut the same way:

- ``w:`` words from jieba (search mode), with a user dictionary of product, model, part and
  alarm-code names, article tags and synonym phrases;
- ``c:`` codes (E05, AL-21, ALM 2010, 0x0000011b), normalised so that ``AL21``, ``al-21`` and
  ``AL 21`` are one feature and ``E5`` equals ``E05``;
- ``s:`` synonym groups: every member of a group found in the text yields the group's feature;
- ``b:`` character bigrams of Chinese runs (robust to segmentation differences);
- ``p:`` pinyin syllable bigrams (robust to pinyin-input typos: 保警 = 报警, 空呀机 = 空压机).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.kb.dictionary import CONTEXT, VERB_OR_ADJECTIVE
from core.kb.lexicon import REQUEST_ACTIONS, REQUEST_INTENTS, STOPWORDS
from core.kb.pinyin import syllable as _syllable

# Kinds of features and how much a match of each counts.
KIND_WEIGHTS = {"w": 1.0, "c": 3.0, "s": 1.2, "b": 0.45, "p": 0.2}

# After a verb these tell what happened (买了, 新买的, 借来) rather than what is asked.
_DONE = ("了", "的", "过", "来")
_CJK = re.compile(r"[\u3400-\u9fff]+")
_HEX = re.compile(r"(?<![0-9a-z])0x([0-9a-f]{2,16})(?![0-9a-z])")
# letters then digits, with an optional dash or space between: e05, al-21, alm 2010, hx-2000
_CODE = re.compile(r"(?<![0-9a-z])([a-z]{1,4})[-_ ]?(\d{1,5})([a-z]?)(?![0-9a-z])")
_ASCII_WORD = re.compile(r"[a-z][a-z0-9+#.]*[a-z0-9+#]|[a-z]")


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, one kind of space."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).lower().strip()


def code_key(letters: str, digits: str, suffix: str = "") -> str:
    return f"{letters}{int(digits)}{suffix}"


def codes_in(text: str) -> list[str]:
    """The alarm, error and model codes in normalised text, as canonical keys."""
    found = [f"0x{int(h, 16):x}" for h in _HEX.findall(text)]
    found += [code_key(*m) for m in _CODE.findall(_HEX.sub(" ", text))]
    return found


@dataclass(frozen=True)
class Lexicon:
    """What the analyzer knows beyond jieba's own dictionary (from config and articles)."""

    words: tuple[str, ...] = ()
    synonyms: tuple[tuple[str, ...], ...] = ()
    entities: tuple[str, ...] = ()  # product and model names: context, not a symptom


@dataclass(frozen=True)
class Term:
    """One thing the person said (a word or a code), for judging how well an article answers.

    `alts` are features whose presence in an article means the term is there (the word
    itself, its synonym groups); `parts` and `sounds` (character and pinyin bigrams) give
    partial credit to a variant or a mistyped word.
    """

    text: str
    key: str
    alts: tuple[str, ...]
    parts: tuple[str, ...] = ()
    sounds: tuple[str, ...] = ()
    entity: bool = False
    generality: float = 1.0


@dataclass
class Analysis:
    features: Counter[str] = field(default_factory=Counter)
    entity_features: set[str] = field(default_factory=set)


class Analyzer:
    """Built at the first search of a process (jieba and its dictionary are loaded then)."""

    def __init__(self, lexicon: Lexicon) -> None:
        from core.kb.tokenizer import CompactTokenizer  # jieba: only where searches run

        self.lexicon = lexicon
        self._jieba = CompactTokenizer()  # jieba's dictionary and this lexicon's words
        groups = [
            tuple(dict.fromkeys(normalize(m) for m in g if normalize(m))) for g in lexicon.synonyms
        ]
        self._group_of: dict[str, str] = {}
        for group in groups:
            if len(group) < 2:
                continue
            key = group[0]
            for member in group:
                self._group_of.setdefault(member, key)
        members = sorted(self._group_of, key=len, reverse=True)
        self._syn_rx = re.compile("|".join(map(re.escape, members))) if members else None
        for word in {*map(normalize, lexicon.words), *self._group_of}:
            if word and not word.isascii():
                self._jieba.add_word(word)
        self._entities = {normalize(e) for e in lexicon.entities if normalize(e)}
        self._entity_features = set()
        for entity in self._entities:  # the whole name, its codes and synonyms; not sub-words
            raw = self._raw(entity)
            self._entity_features |= {f for f in raw if f[0] in "cs"} | {"w:" + entity}

    def _words(self, text: str) -> Iterable[str]:
        for token in self._jieba.cut_for_search(text, HMM=False):
            token = token.strip()
            if not token or token in STOPWORDS or not any(ch.isalnum() for ch in token):
                continue
            if token.isascii():
                continue  # Latin words and codes are read separately
            yield token
        for word in _ASCII_WORD.findall(_CODE.sub(" ", _HEX.sub(" ", text))):
            if word not in STOPWORDS:
                yield word

    def _raw(self, text: str) -> Counter[str]:
        out: Counter[str] = Counter()
        for word in self._words(text):
            out["w:" + word] += 1
        for code in codes_in(text):
            out["c:" + code] += 1
        if self._syn_rx is not None:
            for m in self._syn_rx.finditer(text):
                out["s:" + self._group_of[m.group(0)]] += 1
        for run in _CJK.findall(text):
            for i in range(len(run) - 1):
                out["b:" + run[i : i + 2]] += 1
            syllables = [_syllable(ch) for ch in run]
            for i in range(len(syllables) - 1):
                out[f"p:{syllables[i]}_{syllables[i + 1]}"] += 1
        return out

    def analyze(self, text: str) -> Analysis:
        features = self._raw(normalize(text))
        return Analysis(features, {f for f in features if f in self._entity_features})

    def entity_feature(self, feature: str) -> bool:
        return feature in self._entity_features

    def requests(self, text: str) -> list[tuple[str, ...]]:
        """The request intents (`REQUEST_INTENTS`) a query asks: price, brand, booking, ..."""
        text = normalize(text)
        words = {w for w, _, _ in self._jieba.tokenize(text, HMM=False)}
        actions = {  # words and phrases of the text not followed by 了 / 的 / 过 / 来
            text[m.start() : m.end()]
            for group in REQUEST_ACTIONS
            for member in group
            for m in re.finditer(re.escape(member), text)
            if text[m.end() : m.end() + 1] not in _DONE
        }

        def asks(member: str, group: tuple[str, ...]) -> bool:
            if len(member) == 1 and member not in words:
                return False
            return member in actions if group in REQUEST_ACTIONS else member in text

        return [g for g in REQUEST_INTENTS if any(asks(m, g) for m in g)]

    def _informativeness(self, word: str) -> float:
        """How much a word says about the problem: rare content words most.

        Everyday words count less (jieba's corpus frequency), and so do words whose part of
        speech rarely names a fault: time, numbers, places, onomatopoeia, adverbs, pronouns.
        """
        freq = self._jieba.FREQ.get(word, 0)
        surprise = math.log(self._jieba.total / (freq + 1))
        rarity = min(1.0, max(0.15, (surprise - 6.5) / 4))
        kind = self._jieba.base.word_class(word)
        if kind == CONTEXT:
            return 0.2 * rarity
        if kind == VERB_OR_ADJECTIVE:
            return 0.7 * rarity
        return rarity

    def terms(self, text: str) -> list[Term]:
        text = normalize(text)
        spans = []
        if self._syn_rx is not None:
            spans = [
                (m.start(), m.end(), "s:" + self._group_of[m.group(0)])
                for m in self._syn_rx.finditer(text)
            ]
        out: list[Term] = []
        seen: set[str] = set()
        for word, start, end in self._jieba.tokenize(text, HMM=False):
            word = word.strip()
            if not word or word.isascii() or word in STOPWORDS or word in seen:
                continue
            if not _CJK.search(word):
                continue
            seen.add(word)
            groups = tuple(g for a, b, g in spans if a < end and start < b)
            alts = ("w:" + word, *groups)
            syllables = [_syllable(ch) for ch in word]
            out.append(
                Term(
                    text=word,
                    key="w:" + word,
                    alts=alts,
                    parts=tuple("b:" + word[i : i + 2] for i in range(len(word) - 1)),
                    sounds=tuple(
                        f"p:{syllables[i]}_{syllables[i + 1]}" for i in range(len(word) - 1)
                    ),
                    entity=any(a in self._entity_features for a in alts),
                    generality=self._informativeness(word) * (0.5 if len(word) == 1 else 1.0),
                )
            )
        for code in dict.fromkeys(codes_in(text)):
            key = "c:" + code
            out.append(Term(text=code, key=key, alts=(key,), entity=key in self._entity_features))
        for word in dict.fromkeys(_ASCII_WORD.findall(_CODE.sub(" ", _HEX.sub(" ", text)))):
            if word in STOPWORDS:
                continue
            key = "w:" + word
            groups = tuple(g for a, b, g in spans if text[a:b] == word)
            out.append(
                Term(text=word, key=key, alts=(key, *groups), entity=key in self._entity_features)
            )
        return out
