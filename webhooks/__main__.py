"""The `chatdesk` command line (CONTRACT §2)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from webhooks.settings import ConfigError, Settings, config_path, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(config_path(args.config))


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from webhooks.app import create_app
    from webhooks.forked_workers import can_fork, fork_workers

    settings = _settings(args)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    for note in settings.dingtalk.notes() if settings.dingtalk is not None else []:
        logging.getLogger("chatdesk").warning(note)
    for note in _calendar_notes(settings):
        logging.getLogger("chatdesk").warning(note)
    worker_argv, forked = None, None
    if settings.workers.run and settings.workers.mode == "process":
        from webhooks.worker_process import child_argv

        worker_argv = child_argv(args.config)
    migrate = not args.no_migrate
    if not settings.sandbox_enabled:  # (the demo migrates its own file as it starts)
        apart = _migrate_apart(settings, migrate)
        if apart is None:
            return 1
        migrate = apart
        if worker_argv is not None and can_fork():  # see webhooks/forked_workers.py
            forked = fork_workers(settings)
    app = create_app(settings, run_migrations=migrate, worker_argv=worker_argv, forked=forked)
    print(f"chatdesk serving on http://{settings.http.host}:{settings.http.port}", flush=True)
    web.run_app(app, host=settings.http.host, port=settings.http.port, print=None, access_log=None)
    return 0


def _migrate_apart(settings: Settings, wanted: bool) -> bool | None:
    """The migrations in a forked child where forking is safe, so that Alembic (8 MB) never
    enters this long-lived process. Whether this process must still migrate itself; None when
    they failed (the child printed why)."""
    from webhooks.forked_workers import can_fork, migrate_in_child

    if not wanted or not can_fork():
        return wanted
    if migrate_in_child(settings.database_url) != 0:
        print("迁移失败 / migrations failed", file=sys.stderr)
        return None
    return False


def cmd_worker(args: argparse.Namespace) -> int:
    from webhooks.worker_process import run_worker

    settings = _settings(args)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    migrate = _migrate_apart(settings, not args.no_migrate)
    if migrate is None:
        return 1
    asyncio.run(
        run_worker(
            settings, run_migrations=migrate, from_serve=args.from_serve, search_fd=args.search_fd
        )
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from core.db import make_engine
    from webhooks.bootstrap import ensure_sqlite_dir, migrate

    settings = _settings(args)

    async def run() -> None:
        ensure_sqlite_dir(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("migrations applied")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    path = config_path(args.config)
    settings = load_settings(path)
    where = str(path) if path else "built-in defaults"
    platforms = [p for p in ("wecom", "dingtalk") if getattr(settings, p) is not None] or ["none"]
    if settings.dingtalk is not None:
        platforms[platforms.index("dingtalk")] = f"dingtalk ({settings.dingtalk.mode} mode)"
    print(
        f"config OK ({where}): {len(settings.people)} people, {len(settings.ticket_types)} ticket "
        f"types, {len(settings.parts)} parts, platforms: {', '.join(platforms)}"
    )
    for note in settings.dingtalk.notes() if settings.dingtalk is not None else []:
        print(f"  注意 / note: {note}")
    for note in _calendar_notes(settings):
        print(f"  注意 / note: {note}")
    return 0


def _calendar_notes(settings: Settings) -> list[str]:
    from datetime import date

    from core.sla.calendar import coverage_notes

    return coverage_notes(settings.desk().calendars, date.today())


def cmd_sla_due(args: argparse.Namespace) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from core.sla.calendar import add_business_minutes

    settings = _settings(args)
    calendar = next((c for c in settings.calendars if c.key == args.calendar), None)
    if calendar is None:
        known = ", ".join(c.key for c in settings.calendars)
        print(f"未知的日历 / unknown calendar: {args.calendar} (known: {known})", file=sys.stderr)
        return 1
    try:
        start = datetime.fromisoformat(args.start)
    except ValueError:
        print(f"--start 不是 ISO 8601 时间 / not an ISO 8601 time: {args.start}", file=sys.stderr)
        return 1
    if start.tzinfo is None:
        start = start.replace(tzinfo=ZoneInfo(calendar.timezone))  # read in the calendar's zone
    if args.minutes < 0:
        print("--minutes 不能为负 / must not be negative", file=sys.stderr)
        return 1
    try:
        due = add_business_minutes(calendar, start, args.minutes)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(due.isoformat())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatdesk", description="chatdesk service desk")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="PATH", help="config file (default: $CHATDESK_CONFIG, ./chatdesk.yaml)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", parents=[common], help="run the web service, workers and scheduler"
    )
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser(
        "worker",
        parents=[common],
        help="run the inbox worker, outbox relay and scheduler without the web service",
    )
    worker.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    worker.add_argument("--from-serve", action="store_true", help=argparse.SUPPRESS)
    worker.add_argument("--search-fd", type=int, help=argparse.SUPPRESS)  # search_link.py
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("migrate", parents=[common], help="apply database migrations").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("check-config", parents=[common], help="validate the config").set_defaults(
        func=cmd_check_config
    )
    sla = sub.add_parser("sla", help="SLA tools").add_subparsers(dest="sla_command", required=True)
    due = sla.add_parser("due", parents=[common], help="due time after N business minutes")
    due.add_argument("--calendar", required=True, help="calendar key from the config")
    due.add_argument("--start", required=True, help="ISO 8601 start (offset optional)")
    due.add_argument("--minutes", required=True, type=int, help="business minutes to add")
    due.set_defaults(func=cmd_sla_due)
    from webhooks import cli_assets

    cli_assets.add_parser(sub, common, lambda f: lambda args: f(args, _settings(args)))
    from webhooks.kb_cli import add_parsers as add_kb_parsers

    add_kb_parsers(sub, common, _settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    from webhooks.memory import engine_without_orm, limit_arenas

    limit_arenas()
    engine_without_orm()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print("配置有误 / invalid configuration:", file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
