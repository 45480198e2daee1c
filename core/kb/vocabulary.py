"""Build the analyzer's lexicon from the config and the articles themselves.

- dictionary words: configured product, model, part and alarm-code names, plus every article's
  tags and product (so jieba keeps 料筒温度 or 油气分离器 whole);
- entities (context, not evidence of a symptom): product names, configured models and asset
  models, and codes that the articles mention only as names (HX-2000) rather than next to an
  alarm cue (报警代码 E05); configured alarm codes and hexadecimal codes (0x00000709, always an
  error code) are never entities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.kb.analyzer import Lexicon, codes_in, normalize
from core.kb.index import Doc
from core.kb.lexicon import ALARM_CUES

_CUE_WINDOW = 12  # characters between an alarm cue and its code


def alarm_codes_in(text: str) -> set[str]:
    """Codes that stand near an alarm cue in normalised text."""
    found: set[str] = set()
    for cue in ALARM_CUES:
        for m in re.finditer(re.escape(cue), text):
            window = text[max(0, m.start() - _CUE_WINDOW) : m.end() + _CUE_WINDOW]
            found |= set(codes_in(window))
    return found


def build_lexicon(
    docs: Iterable[Doc],
    *,
    synonyms: Iterable[Iterable[str]],
    words: Iterable[str] = (),
    products: Iterable[str] = (),
    models: Iterable[str] = (),
    alarm_codes: Iterable[str] = (),
) -> Lexicon:
    docs = list(docs)
    dictionary = [*words, *products, *models, *alarm_codes]
    entities = [*products, *models]
    alarms = {c for code in alarm_codes for c in codes_in(normalize(code))}
    named: set[str] = set()
    for doc in docs:
        dictionary += [*doc.tags, doc.product]
        if doc.product:
            entities.append(doc.product)
        text = normalize(" ".join((doc.title, " ".join(doc.tags), doc.body)))
        alarms |= alarm_codes_in(text)
        named |= set(codes_in(text))
    entities += sorted(c for c in named - alarms if not c.startswith("0x"))  # 0x…: errors
    return Lexicon(  # sorted: the same articles give the same lexicon in any order
        words=tuple(sorted({w for w in dictionary if w})),
        synonyms=tuple(tuple(g) for g in synonyms),
        entities=tuple(sorted({e for e in entities if e})),
    )
