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

    settings = _settings(args)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    app = create_app(settings, run_migrations=not args.no_migrate)
    print(f"chatdesk serving on http://{settings.http.host}:{settings.http.port}", flush=True)
    web.run_app(app, host=settings.http.host, port=settings.http.port, print=None, access_log=None)
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
    print(
        f"config OK ({where}): {len(settings.people)} people, {len(settings.ticket_types)} ticket "
        f"types, {len(settings.parts)} parts, platforms: {', '.join(platforms)}"
    )
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
    sub.add_parser("migrate", parents=[common], help="apply database migrations").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("check-config", parents=[common], help="validate the config").set_defaults(
        func=cmd_check_config
    )
    return parser


def main(argv: list[str] | None = None) -> int:
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
