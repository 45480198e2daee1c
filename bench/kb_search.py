"""Knowledge search: quality on a labelled set, and latency over 10,000 generated articles.

Quality (the real articles and the development queries):
  MRR@5       mean reciprocal rank of the first relevant article in the top five
  recall@3    share of the relevant articles found in the top three (queries that have some)
  no-answer   share of the queries without a relevant article that correctly return nothing

Latency: the articles are recombined (sentences shuffled across articles, model names and
codes varied) into N generated articles, indexed together with the real ones, and every query
is run R times; p50 / p99 / max are per query, single-threaded, in this process.

    .venv/bin/python bench/kb_search.py [DATA_DIR] [--articles 10000] [--rounds 5] [-v]
    .venv/bin/python bench/kb_search.py [DATA_DIR] --queries FILE.jsonl [-v]   (quality only)

DATA_DIR holds articles.jsonl and queries_dev.jsonl (default: tests/fixtures/kb, the
development set copied into the repository). The search is the one
`chatdesk kb search` runs, with the built-in default configuration.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.kb.engine import build_index  # noqa: E402
from core.kb.index import Doc, Vectors  # noqa: E402
from core.settings import KbConfig  # noqa: E402
from webhooks.kb_cli import read_jsonl  # noqa: E402


def read_queries(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def load(data: Path) -> tuple[list[Doc], list[dict]]:
    articles, problems = read_jsonl(data / "articles.jsonl")
    if problems:
        raise SystemExit("\n".join(problems))
    return [a.doc() for a in articles], read_queries(data / "queries_dev.jsonl")


def quality(index, queries: list[dict], verbose: bool) -> dict[str, float]:
    rr, recalls, empty_ok, empties = [], [], 0, 0
    for q in queries:
        ids = [h.id for h in index.search(q["q"], limit=5)]
        relevant = set(q["relevant"])
        if not relevant:
            empties += 1
            empty_ok += not ids
            if ids and verbose:
                print(f"  answered a no-answer query: {q['q']} -> {ids[:3]}")
            continue
        rank = next((i + 1 for i, d in enumerate(ids) if d in relevant), None)
        rr.append(1 / rank if rank else 0.0)
        recalls.append(len(relevant & set(ids[:3])) / len(relevant))
        if verbose and rank != 1:
            print(f"  rank {rank}: {q['q']} -> {ids[:3]} (want {sorted(relevant)})")
    return {
        "mrr@5": sum(rr) / len(rr) if rr else 0.0,
        "recall@3": sum(recalls) / len(recalls) if recalls else 0.0,
        "no_answer": empty_ok / empties if empties else 1.0,
    }


_SENTENCE = re.compile(r"[^。；\n]+[。；\n]?")


def generate(docs: list[Doc], n: int, seed: int = 7) -> list[Doc]:
    """N plausible articles made by recombining sentences of the given ones."""
    rng = random.Random(seed)
    sentences = [s for d in docs for s in _SENTENCE.findall(d.body) if len(s) > 6]
    out = []
    for i in range(n):
        base = rng.choice(docs)
        other = rng.choice(docs)
        body = "".join(rng.sample(sentences, k=min(len(sentences), rng.randint(4, 8))))
        model = f"{rng.choice('ABCDHKMRTX')}{rng.choice('ABCDHKMRTX')}-{rng.randint(100, 9999)}"
        title = f"{base.title.split('（')[0]}（{model} {other.title[:6]}）"
        tags = (*rng.sample(base.tags, k=min(3, len(base.tags))), model)
        out.append(Doc(id=f"GEN-{i:05d}", title=title, body=body, tags=tags, product=base.product))
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    default = ROOT / "tests" / "fixtures" / "kb"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=default)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--queries",
        type=Path,
        help="another labelled query file over the same articles (e.g. our held-out set, "
        "tests/fixtures/kb/queries_heldout.jsonl); quality only, no latency run",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()

    docs, queries = load(args.data)
    if args.queries:
        queries = read_queries(args.queries)
    config = KbConfig()
    index = build_index(docs, config)
    q = quality(index, queries, args.verbose)
    source = args.queries or args.data
    print(f"data: {source} ({len(docs)} articles, {len(queries)} queries)")
    print(
        f"quality: MRR@5 {q['mrr@5']:.3f}  recall@3 {q['recall@3']:.3f}  "
        f"no-answer accuracy {q['no_answer']:.3f}"
    )
    if args.queries:
        return 0

    generated = generate(docs, args.articles)
    vectors = Vectors()
    t0 = time.perf_counter()
    big = build_index([*docs, *generated], config, vectors=vectors)
    built = time.perf_counter() - t0
    edited = [*docs[1:], replace(docs[0], body=docs[0].body + "\n补充：已更新。"), *generated]
    t0 = time.perf_counter()
    build_index(edited, config, vectors=vectors)
    rebuilt = time.perf_counter() - t0
    times = []
    for _ in range(args.rounds):
        for query in queries:
            t = time.perf_counter()
            big.search(query["q"], limit=5)
            times.append((time.perf_counter() - t) * 1000)
    print(
        f"latency over {big.n} articles ({len(times)} searches): "
        f"p50 {percentile(times, 50):.2f} ms  p99 {percentile(times, 99):.2f} ms  "
        f"max {max(times):.2f} ms"
    )
    print(f"index built in {built:.1f} s; rebuilt after one article changed in {rebuilt:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
