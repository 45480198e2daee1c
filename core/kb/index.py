"""An in-memory BM25F index over analysed articles, the same on SQLite and PostgreSQL.

Fields are weighted (title and tags count more than the body) before BM25 saturation. The
score of a query is the sum, over its distinct features, of the feature kind's weight times the
feature's BM25 contribution in the article. A best match is accepted only when it carries
enough of the query's evidence (see `Cutoff`): a query whose informative words the best
article does not contain gets no answer rather than noise.

Postings are two flat arrays side by side (article positions ascending, BM25 values as 4-byte
floats), a run per feature; a query adds up the runs of its features. Plain `array`s rather than
numpy: numpy would add some 12 MB to the worker process for sums a loop does within the latency
target (bench/kb_search.py: p99 under 20 ms over 10,000 articles).
"""

from __future__ import annotations

import heapq
import math
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain

from core.kb.analyzer import KIND_WEIGHTS, Analyzer, Term, normalize
from core.kb.model import Hit

FIELD_WEIGHTS = {"title": 3.0, "tags": 2.5, "product": 1.5, "body": 1.0}
K1 = 1.2
B = 0.6


@dataclass(frozen=True, kw_only=True)
class Doc:
    id: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    product: str = ""


@dataclass(frozen=True, kw_only=True)
class Cutoff:
    """When the best match is good enough to show.

    `coverage` is the share of what the person said (idf- and informativeness-weighted words
    and codes; product and model names only when the query has nothing else) that the best
    article contains; `relative` drops later hits far below the best one. With `requests`, a
    query that asks for a price, a brand, a purchase, a booking, who or where (see
    `REQUEST_INTENTS`) is answered only when the best article speaks of that too.
    """

    coverage: float = 0.36
    relative: float = 0.5
    requests: bool = True  # a query's request intent (price, booking, ...) must be matched


def weighted_features(analyzer: Analyzer, doc: Doc) -> tuple[Counter[str], float]:
    """Field-weighted feature counts of one article, and its weighted length."""
    tf: Counter[str] = Counter()
    length = 0.0
    for name, text in (
        ("title", doc.title),
        ("tags", " ".join(doc.tags)),
        ("product", doc.product),
        ("body", doc.body),
    ):
        weight = FIELD_WEIGHTS[name]
        for feature, n in analyzer.analyze(text).features.items():
            tf[feature] += weight * n
            length += weight * n
    return tf, length


class Vectors:
    """Analysed articles, compact (feature ids and weights), reusable across rebuilds.

    Analysing is most of the cost of building an index (jieba); a rebuild after one article
    changed analyses only that one, as long as the lexicon (dictionary, synonyms) is the same.
    """

    def __init__(self) -> None:
        self.lexicon: object = None
        self.analyzer: Analyzer | None = None
        self.vocab: dict[str, int] = {}
        self.names: list[str] = []
        self._docs: dict[Doc, tuple[array, array, float]] = {}

    def analyzer_for(self, lexicon: object, make: Callable[[], Analyzer]) -> Analyzer:
        if self.analyzer is None or lexicon != self.lexicon:
            self.lexicon, self.analyzer = lexicon, make()
            self.vocab, self.names, self._docs = {}, [], {}
        return self.analyzer

    def of(self, analyzer: Analyzer, doc: Doc) -> tuple[array, array, float]:
        """(feature ids, field-weighted counts, weighted length) of one article."""
        found = self._docs.get(doc)
        if found is None:
            tf, length = weighted_features(analyzer, doc)
            ids = []
            for feature in tf:
                fid = self.vocab.get(feature)
                if fid is None:
                    fid = self.vocab[feature] = len(self.names)
                    self.names.append(feature)
                ids.append(fid)
            found = (array("i", ids), array("d", tf.values()), length)
            self._docs[doc] = found
        return found

    def keep_only(self, docs: Iterable[Doc]) -> None:
        keep = set(docs)
        self._docs = {d: v for d, v in self._docs.items() if d in keep}


class KbIndex:
    def __init__(
        self,
        analyzer: Analyzer,
        docs: Iterable[Doc],
        *,
        cutoff: Cutoff | None = None,
        vectors: Vectors | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.cutoff = cutoff or Cutoff()
        self.docs: list[Doc] = list(docs)
        self.n = len(self.docs)
        vectors = vectors or Vectors()
        rows = [vectors.of(analyzer, d) for d in self.docs]
        self._clear()
        if not rows:
            return
        mean = math.fsum(length for _, _, length in rows) / self.n
        # Postings side by side in two arrays, a run per feature id (the vocabulary's, which
        # only grows): where its run starts, how long it is and its idf. No object per feature.
        size = len(vectors.names)
        counts = Counter(chain.from_iterable(f for f, _, _ in rows))
        start, count = array("q", bytes(8 * size)), array("q", bytes(8 * size))
        idf = array("d", bytes(8 * size))
        at = 0
        for fid in sorted(counts):
            start[fid], count[fid] = at, counts[fid]
            idf[fid] = self._idf(counts[fid])
            at += counts[fid]
        docs_of, values = array("i", bytes(4 * at)), array("f", bytes(4 * at))
        free = array("q", start)  # each run is filled in article order: positions ascend
        k1 = K1 + 1
        for d, (fids, xs, length) in enumerate(rows):
            norm = K1 * (1 - B + B * length / mean)
            for fid, x in zip(fids, xs, strict=True):
                p = free[fid]
                free[fid] = p + 1
                docs_of[p], values[p] = d, idf[fid] * x * k1 / (x + norm)
        self._vocab = vectors.vocab
        self._start, self._count, self._idf_of = start, count, idf
        self._docs_of, self._values = docs_of, values

    def _clear(self) -> None:
        self._vocab: dict[str, int] = {}
        self._start, self._count, self._idf_of = array("q"), array("q"), array("d")
        self._docs_of, self._values = array("i"), array("f")

    @classmethod
    def empty(cls) -> KbIndex:
        """An index of nothing (no analyzer needed: every search is empty)."""
        index = cls.__new__(cls)
        index.cutoff, index.docs, index.n = Cutoff(), [], 0
        index._clear()
        return index

    def _fid(self, feature: str) -> int | None:
        fid = self._vocab.get(feature)
        if fid is None or fid >= len(self._count) or not self._count[fid]:
            return None  # not in these articles (or a feature seen only by a later rebuild)
        return fid

    def _run(self, feature: str) -> tuple[int, int] | None:
        """Where the feature's postings start and end; None when no article has it."""
        fid = self._fid(feature)
        if fid is None:
            return None
        start = self._start[fid]
        return start, start + self._count[fid]

    def posting(self, feature: str) -> tuple[array, array] | None:
        """(article positions ascending, BM25 values) of the articles that have ``feature``."""
        run = self._run(feature)
        if run is None:
            return None
        return self._docs_of[run[0] : run[1]], self._values[run[0] : run[1]]

    def idf(self, feature: str) -> float:
        """The feature's idf in these articles; 0.0 when none has it."""
        fid = self._fid(feature)
        return 0.0 if fid is None else self._idf_of[fid]

    def _idf(self, df: int) -> float:
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> dict[int, float]:
        """The query's score in each article that has any of its features, by position."""
        total = [0.0] * self.n
        touched: set[int] = set()
        for feature in self.analyzer.analyze(query).features:
            posting = self.posting(feature)
            if posting is not None:
                weight = KIND_WEIGHTS[feature[0]]
                docs, values = posting
                touched.update(docs)
                for d, v in zip(docs, values, strict=True):
                    total[d] += weight * v
        return {d: total[d] for d in touched}

    def search(self, query: str, *, limit: int = 5, cutoff: Cutoff | None = None) -> list[Hit]:
        cutoff = cutoff or self.cutoff
        if not self.n or limit < 1:
            return []
        total = self.scores(query)
        k = limit + 8  # a few more, so that ties are broken by id, not by position
        top = heapq.nlargest(k, total.items(), key=lambda item: item[1])
        ranked = sorted(
            ((score, i) for i, score in top if score > 0),
            key=lambda si: (-round(si[0], 4), self.docs[si[1]].id),
        )
        if not ranked:
            return []
        best, best_i = ranked[0]
        if self.evidence(query, best_i)["coverage"] < cutoff.coverage:
            return []
        if cutoff.requests and self.unmet_requests(query, best_i):
            return []
        hits = []
        for score, i in ranked[:limit]:
            if score < best * cutoff.relative:
                break
            hits.append(Hit(id=self.docs[i].id, title=self.docs[i].title, score=round(score, 4)))
        return hits

    def unmet_requests(self, query: str, doc_index: int) -> list[tuple[str, ...]]:
        """The request intents of the query (price, booking, ...) the article never mentions."""
        asked = self.analyzer.requests(query)
        if not asked:
            return []
        doc = self.docs[doc_index]
        text = normalize(" ".join((doc.title, " ".join(doc.tags), doc.body)))
        return [
            group
            for group in asked
            if not any(self._has("w:" + m, doc_index) if len(m) == 1 else m in text for m in group)
        ]

    def _has(self, feature: str, doc_index: int) -> bool:
        run = self._run(feature)
        if run is None:
            return False
        at = bisect_left(self._docs_of, doc_index, *run)
        return at < run[1] and self._docs_of[at] == doc_index

    def _matched(self, term: Term, doc_index: int) -> float:
        if any(self._has(a, doc_index) for a in term.alts):
            return 1.0
        best = 0.0
        if term.parts:
            best = sum(self._has(p, doc_index) for p in term.parts) / len(term.parts)
        if term.sounds:
            share = sum(self._has(p, doc_index) for p in term.sounds) / len(term.sounds)
            best = max(best, 0.5 * share)
        return best

    def evidence(self, query: str, doc_index: int) -> dict[str, float]:
        """How much of what the query says the article contains (what the cut-off looks at)."""
        terms = self.analyzer.terms(query)
        max_idf = self._idf(0)
        evidence = [t for t in terms if not t.entity] or terms
        total = matched = 0.0
        for term in evidence:
            idf = max((self.idf(a) for a in term.alts), default=0.0) or max_idf
            weight = idf * term.generality * (2.0 if term.key[0] == "c" else 1.0)
            total += weight
            matched += weight * self._matched(term, doc_index)
        return {"coverage": matched / total if total else 0.0, "matched": matched}
