"""Files shipped inside the package (pages, scripts, the vendored ECharts), served by name."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from webhooks.errors import Handler


def package_file(package: str, path: str) -> bytes:
    return resources.files(package).joinpath("static", path).read_bytes()


def static_handler(package: str, files: dict[str, tuple[str, str, str]]) -> Handler:
    """GET …/{name}: ``files`` maps a public name to (path under static/, type, Cache-Control);
    any other name is a 404, so nothing else in the package can be read."""

    async def handler(request: web.Request) -> web.StreamResponse:
        found = files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        path, content_type, cache = found
        return web.Response(
            body=package_file(package, path),
            content_type=content_type,
            charset="utf-8",
            headers={"Cache-Control": cache},
        )

    return handler
