"""Build a search index from articles and the `kb` config (the one entry point)."""

from __future__ import annotations

from collections.abc import Iterable

from core.kb.analyzer import Analyzer
from core.kb.index import Cutoff, Doc, KbIndex, Vectors
from core.kb.lexicon import DEFAULT_SYNONYMS
from core.kb.vocabulary import build_lexicon
from core.settings import KbConfig


def synonyms_of(config: KbConfig) -> list[tuple[str, ...]]:
    groups = [tuple(g) for g in config.synonyms]
    return groups if config.synonyms_mode == "replace" else [*DEFAULT_SYNONYMS, *groups]


def build_index(
    docs: Iterable[Doc],
    config: KbConfig,
    *,
    part_names: Iterable[str] = (),
    asset_models: Iterable[str] = (),
    vectors: Vectors | None = None,
) -> KbIndex:
    """The index of ``docs``; pass the same ``vectors`` to reuse analyses between rebuilds."""
    docs = list(docs)
    lexicon = build_lexicon(
        docs,
        synonyms=synonyms_of(config),
        words=[*config.words, *part_names],
        products=config.products,
        models=[*config.models, *asset_models],
        alarm_codes=config.alarm_codes,
    )
    vectors = vectors or Vectors()
    analyzer = vectors.analyzer_for(lexicon, lambda: Analyzer(lexicon))
    vectors.keep_only(docs)
    return KbIndex(analyzer, docs, cutoff=Cutoff(coverage=config.min_coverage), vectors=vectors)
