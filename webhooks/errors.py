"""JSON errors for every failure; never a stack trace in a response."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import ValidationError

from core.errors import DomainError, ValidationFailed

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, errors: list[dict[str, str]]) -> web.Response:
    return web.json_response({"errors": errors}, status=status, dumps=_dumps)


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


def from_validation(exc: ValidationError) -> web.Response:
    errors = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "body"
        msg = "未知的字段" if err["type"] == "extra_forbidden" else err["msg"]
        errors.append({"field": field, "message": msg})
    return error_response(422, errors)


def from_domain(exc: DomainError) -> web.Response:
    if isinstance(exc, ValidationFailed):
        return error_response(422, [{"field": e.field, "message": e.message} for e in exc.errors])
    return error_response(exc.status, [{"field": exc.field or "", "message": exc.message}])


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = exc.reason
        if exc.status == 413:
            reason = "请求体过大"
        elif exc.status == 404:
            reason = "未找到"
        elif exc.status == 405:
            reason = "不支持的请求方法"
        return error_response(exc.status, [{"field": "", "message": reason}])
    except DomainError as exc:
        return from_domain(exc)
    except ValidationError as exc:
        return from_validation(exc)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, [{"field": "", "message": "服务器内部错误，请稍后重试"}])
