"""`chatdesk assets import FILE.csv` / `chatdesk assets export` (CONTRACT §10)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from core.assets.csvio import parse_csv, to_csv
from core.clock import SystemClock
from core.db import make_engine
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import ensure_sqlite_dir, migrate
from webhooks.settings import Settings


def _read(path: str) -> str | None:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        print(f"无法读取文件 / cannot read {path}: {exc.strerror}", file=sys.stderr)
        return None
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China often saves GBK
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    print(f"{path}: 不是 UTF-8 或 GBK 编码的文本", file=sys.stderr)
    return None


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    text = _read(args.file)
    if text is None:
        return 1
    assets, problems = parse_csv(text)
    if problems:
        print(f"{args.file}: 发现 {len(problems)} 处错误，未导入任何设备：", file=sys.stderr)
        for p in problems:
            print(f"  line {p.line}, column {p.column}: {p.message}", file=sys.stderr)
        return 1

    async def run() -> tuple[int, int]:
        ensure_sqlite_dir(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            await migrate(engine)
            now = SystemClock().now()
            created = 0
            async with SqlUnitOfWork(engine) as uow:  # one transaction: all or nothing
                for asset in assets:
                    created += await uow.assets.upsert(asset, at=now)
                await uow.commit()
            return created, len(assets) - created
        finally:
            await engine.dispose()

    created, updated = asyncio.run(run())
    print(f"imported {len(assets)} assets ({created} new, {updated} updated)")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> str:
        engine = make_engine(settings.database_url)
        try:
            async with SqlUnitOfWork(engine) as uow:
                assets = await uow.assets.list()
            return to_csv(assets)
        finally:
            await engine.dispose()

    sys.stdout.write(asyncio.run(run()))
    return 0


def add_parser(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
    wrap: Callable[[Callable[[argparse.Namespace, Settings], int]], Callable[..., int]],
) -> None:
    assets = sub.add_parser("assets", help="the asset registry").add_subparsers(
        dest="assets_command", required=True
    )
    imp = assets.add_parser(
        "import", parents=[common], help="upsert assets from CSV (all or nothing)"
    )
    imp.add_argument("file", help="CSV with a header row: id, model, customer, ...")
    imp.set_defaults(func=wrap(cmd_import))
    exp = assets.add_parser("export", parents=[common], help="print the registry as CSV")
    exp.set_defaults(func=wrap(cmd_export))
