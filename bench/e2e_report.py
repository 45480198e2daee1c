"""The table bench/e2e.py prints: one row per figure, one column per server (the no-database
baseline of the same run, SQLite, PostgreSQL + Redis), and the count checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TITLES = {"baseline": "baseline (no db)", "sqlite": "SQLite", "postgres": "PostgreSQL + Redis"}


def ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):,.0f}" if value >= 100 else f"{value:.1f}"


def _pair(r: dict[str, Any] | None, a: str, b: str, unit: str = " ms") -> str:
    return "—" if r is None else f"{ms(r.get(a))} / {ms(r.get(b))}{unit}"


def _mismatch(name: str, key: str, r: dict[str, Any]) -> str:
    rows, acked = r["inbox_rows"], r["acked"]
    why = (
        f"{acked - rows} acknowledged callbacks LOST"
        if rows < acked
        else f"{rows - acked} stored but answered {r.get('error_kinds')} (a platform retry "
        "would be deduplicated)"
    )
    return f"{name} {key}: {rows} inbox rows, {acked} acked: {why}"


def _counted(r: dict[str, Any] | None, count: str) -> str:
    if r is None:
        return "—"
    lost = r["sent"] - r["acked"]
    return (
        f"{_pair(r, 'p50', 'p99')} ({r[count]}/{r['acked']}{f', {lost} not acked' if lost else ''})"
    )


@dataclass
class Report:
    scale: float
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)

    def rate(self, r: float) -> str:
        return f"{r * self.scale:g}"

    def rows(self) -> list[tuple[str, dict[str, str]]]:
        out: list[tuple[str, dict[str, str]]] = []

        def row(label: str, cell: Any) -> None:
            out.append((label, {k: cell(v) for k, v in self.columns.items()}))

        def timed(key: str, count: str, label: str) -> None:
            row(label, lambda c: _counted(c.get(key), count))

        for r in (50, 100):
            timed(
                f"reply{r}", "replied", f"reply p50 / p99 at {self.rate(r)} msg/s (replied/acked)"
            )
        row(
            f"CPU per message in the server(s) at {self.rate(100)} msg/s",
            lambda c: "—" if "reply100" not in c else f"{ms(c['reply100']['cpu_ms'])} ms",
        )
        row(
            "messages handled per second, queue only (rows)",
            lambda c: "—" if "queue" not in c else
            f"{ms(c['queue']['per_s'])}/s ({c['queue']['done']}/{c['queue']['rows']})",
        )  # fmt: skip
        row(
            "  CPU per row handled there: worker process(es) / serve",
            lambda c: "—" if "worker_cpu_ms" not in c.get("queue", {}) else
            f"{c['queue']['worker_cpu_ms']:.2f} / {c['queue']['serve_cpu_ms']:.2f} ms",
        )  # fmt: skip
        for r in (5, 20):
            timed(
                f"card{r}", "cards", f"report -> card p50 / p99 at {self.rate(r)}/s (cards/acked)"
            )
        row(
            f"ack p99 at {self.rate(300)}/s, workers on / off",
            lambda c: (
                f"{ms((c.get('ack_on') or {}).get('ack_p99'))} / "
                f"{ms((c.get('ack_off') or {}).get('ack_p99'))} ms"
            ),
        )
        row(
            f"two instances at {self.rate(500)}/s: ack p50 / p99 (inbox/acked)",
            lambda c: "—" if "two" not in c else
            f"{_pair(c['two'], 'ack_p50', 'ack_p99')} "
            f"({c['two'].get('inbox_rows', '-')}/{c['two']['acked']}"
            + (f", {c['two']['after']['left']} left after drain" if "after" in c["two"] else "")
            + ")",
        )  # fmt: skip
        row("RSS MB now / peak: serve", lambda c: self.rss(c.get("rss"), main=True))
        row("RSS MB now / peak: its worker processes", lambda c: self.rss(c.get("rss"), main=False))
        row("PSS / USS MB: serve, then each worker", lambda c: self.shares(c.get("rss")))
        row(
            "instance MB: RSS sum / peaks sum / PSS sum / pages once",
            lambda c: self.instance(c.get("rss")),
        )
        row(
            "RSS MB now / peak: serve after a REST KB search",
            lambda c: (
                self.rss({"main": c["rss"].get("after_rest_search")}, main=True)
                if c.get("rss") and "after_rest_search" in c["rss"]
                else "—"
            ),
        )
        row(
            "instance MB after it: RSS sum / peaks sum / PSS sum / pages once",
            lambda c: self.instance({"instance": (c.get("rss") or {}).get("after_rest_instance")}),
        )
        return out

    @staticmethod
    def rss(got: dict[str, Any] | None, *, main: bool) -> str:
        if not got:
            return "—"
        if main:
            now, peak = got["main"] or (None, None)
            return f"{ms(now)} / {ms(peak)}"
        if not got["workers"]:
            return "none (in-process)"
        return ", ".join(f"{ms(now)} / {ms(peak)}" for now, peak in got["workers"])

    @staticmethod
    def shares(got: dict[str, Any] | None) -> str:
        if not got or not got.get("shares"):
            return "—"
        return ", ".join(f"{ms(s['pss'])} / {ms(s['uss'])}" for s in got["shares"])

    @staticmethod
    def instance(got: dict[str, Any] | None) -> str:
        i = (got or {}).get("instance")
        if not i:
            return "—"
        return f"{ms(i['rss'])} / {ms(i['peaks'])} / {ms(i['pss'])} / {ms(i['once'])}"

    def table(self) -> str:
        rows = self.rows()
        names = list(self.columns)
        width = max(len(label) for label, _ in rows) + 2
        cols = [max(len(TITLES[n]), *(len(cells[n]) for _, cells in rows)) + 2 for n in names]
        head = "".ljust(width) + "".join(
            TITLES[n].ljust(w) for n, w in zip(names, cols, strict=True)
        )
        lines = [head, "-" * len(head)]
        for label, cells in rows:
            lines.append(
                label.ljust(width)
                + "".join(cells[n].ljust(w) for n, w in zip(names, cols, strict=True))
            )
        return "\n".join(lines)

    def problems(self) -> list[str]:
        """Nothing lost: inbox rows == acknowledged, every queued row handled, every acked
        message answered (within --drain)."""
        out = []
        for name, c in self.columns.items():
            for key in ("ack_off", "ack_on", "two"):
                r = c.get(key)
                if r and "inbox_rows" in r and r["inbox_rows"] != r["acked"]:
                    out.append(_mismatch(name, key, r))
            q = c.get("queue")
            if q and (q["left"] or q["dead"] or q["done"] != q["rows"]):
                out.append(f"{name} queue: {q}")
            for key in ("reply50", "reply100"):
                r = c.get(key)
                if r and r["replied"] != r["acked"]:
                    out.append(f"{name} {key}: {r['replied']} replies for {r['acked']} acked")
                if r and r.get("inbox_rows", r["acked"]) != r["acked"]:
                    out.append(_mismatch(name, key, r))
            for key in ("card5", "card20"):
                r = c.get(key)
                if r and r["cards"] != r["acked"]:
                    out.append(f"{name} {key}: {r['cards']} cards for {r['acked']} reports")
        return out
