"""bench/e2e.py in its smallest run: the fake platforms, the no-database baseline, a real
`chatdesk serve` with its workers on and the load generator, each in its own process.
Timings are the bench's business; here every count must match."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import PG_URL, REDIS_URL

REPO = Path(__file__).resolve().parents[2]


def test_the_smallest_e2e_bench_stores_and_answers_every_acknowledged_message(
    tmp_path: Path,
) -> None:
    kind = "postgres" if PG_URL else "sqlite"
    out = tmp_path / "figures.json"
    cmd = [
        sys.executable, str(REPO / "bench" / "e2e.py"), "--figures=1", "--seconds=0.4",
        "--scale=0.1", "--drain=30", f"--json={out}", f"--db={kind}",
    ]  # fmt: skip
    if PG_URL:
        cmd += [f"--pg={PG_URL}", f"--redis={REDIS_URL}"]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    figures = json.loads(out.read_text())
    for column in ("baseline", kind):
        for rate in (50, 100):
            r = figures[column][f"reply{rate}"]
            assert r["sent"] == r["acked"] == r["replied"] == rate * 0.1 * 0.4, (column, r)
            assert r["p50"] is not None and r["p99"] >= r["p50"]
    assert figures[kind]["reply100"]["inbox_rows"] == figures[kind]["reply100"]["acked"]
    assert "reply p50 / p99 at 10 msg/s (replied/acked)" in run.stdout
    assert "checks: all ok" in run.stdout
