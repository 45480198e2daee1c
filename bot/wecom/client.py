"""WeCom server API client (reference/wecom.md §5): one HTTP chokepoint, a shared token cache.

Error policy (decided by ``errcode``, never by ``errmsg``):
- 40014 / 42001 / 41001 (and 40001 on API calls): refresh the token once, retry once, then
  ``AuthExpired``;
- -1, 45009, 45033, HTTP 5xx/429, timeouts, connection errors, non-JSON answers: ``Retryable``
  with a ``retry_after`` hint;
- any other non-zero errcode: ``Permanent``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from bot.held_token import TOKEN_TRIES, HeldToken
from bot.ports import AuthExpired, Permanent, Retryable
from bot.wecom.settings import WecomSettings
from core.cache import Cache, LockTimeout

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 41001, 42001})
RETRY_AFTER: dict[int, float] = {-1: 1.0, 45009: 60.0, 45033: 2.0}
HTTP_RETRY_AFTER = 2.0
NON_JSON_RETRY_AFTER = 5.0
TOKEN_MARGIN_S = 300
TOKEN_LOCK_TTL_S = 15.0


class _TokenRejected(Exception):
    def __init__(self, errcode: int) -> None:
        super().__init__(errcode)
        self.errcode = errcode


def _retry_after_header(resp: aiohttp.ClientResponse) -> float:
    try:
        return max(float(resp.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return HTTP_RETRY_AFTER


def _raise_for_errcode(path: str, data: dict[str, Any]) -> None:
    try:
        errcode = int(data.get("errcode", 0) or 0)
    except (TypeError, ValueError):
        raise Retryable(f"{path}: unreadable errcode", retry_after=NON_JSON_RETRY_AFTER) from None
    if errcode == 0:
        return
    msg = f"{path}: errcode {errcode} {str(data.get('errmsg', ''))[:200]}"
    if errcode in RETRY_AFTER:
        raise Retryable(msg, code=errcode, retry_after=RETRY_AFTER[errcode])
    raise Permanent(msg, code=errcode)


def _check_recipient(user: str, data: dict[str, Any]) -> None:
    """A send whose only recipient is listed as invalid/unlicensed did not reach anyone."""
    for field in ("invaliduser", "unlicenseduser"):
        bad = {u.lower() for u in str(data.get(field) or "").split("|") if u}
        if user.lower() in bad:
            raise Permanent(f"message/send: recipient is in {field}", code=81013)


class WecomClient:
    def __init__(
        self, settings: WecomSettings, cache: Cache, session: aiohttp.ClientSession
    ) -> None:
        self._s = settings
        self._cache = cache
        self._session = session
        self._base = settings.api_base.rstrip("/")
        self._token_key = f"wecom:token:{settings.corp_id}:{settings.agent_id}"
        self._local_lock = asyncio.Lock()
        self._held = HeldToken()  # in front of the shared cache (bot/held_token.py)

    # -- the chokepoint -----------------------------------------------------------------------

    async def _http(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: dict[str, Any] | None,
        *,
        binary: bool = False,
    ) -> dict[str, Any] | tuple[bytes, str]:
        """One HTTP exchange; returns the JSON object, or (bytes, content type) for files."""
        url = f"{self._base}/cgi-bin/{path}"
        timeout = aiohttp.ClientTimeout(total=self._s.request_timeout_s)
        try:
            async with self._session.request(
                method, url, params=params, json=body, timeout=timeout
            ) as resp:
                raw = await resp.read()
                ctype = resp.content_type or ""
                if resp.status >= 500 or resp.status == 429:
                    raise Retryable(
                        f"{path}: HTTP {resp.status}",
                        code=resp.status,
                        retry_after=_retry_after_header(resp),
                    )
                if binary and resp.status == 200 and "json" not in ctype and ctype != "text/plain":
                    return raw, ctype
        except TimeoutError as exc:
            raise Retryable(f"{path}: timeout", retry_after=HTTP_RETRY_AFTER) from exc
        except aiohttp.ClientError as exc:
            raise Retryable(
                f"{path}: connection error {type(exc).__name__}", retry_after=HTTP_RETRY_AFTER
            ) from exc
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            raise Retryable(
                f"{path}: non-JSON answer (HTTP {resp.status}, {ctype or 'no content type'})",
                retry_after=NON_JSON_RETRY_AFTER,
            )
        return data

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        binary: bool = False,
    ) -> dict[str, Any] | tuple[bytes, str]:
        """Every authenticated API call goes through here (token, refresh, error policy)."""
        token, fetched = await self.access_token(), False
        for attempt in range(1, TOKEN_TRIES + 1):
            query = {**(params or {}), "access_token": token}
            answer = await self._http(method, path, query, json_body, binary=binary)
            if isinstance(answer, tuple):
                return answer
            errcode = answer.get("errcode", 0)
            if errcode in TOKEN_ERRORS:
                if fetched or attempt == TOKEN_TRIES:  # see bot/held_token.py TOKEN_TRIES
                    raise AuthExpired(f"{path}: token refused after refresh", code=errcode)
                log.info("wecom token refused (errcode %s); refreshing", errcode)
                self._held.drop(token)
                token, fetched = await self._refresh_token(failed=token)
                continue
            _raise_for_errcode(path, answer)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    async def _json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await self.call("POST", path, json_body=body)
        assert isinstance(answer, dict)
        return answer

    # -- access token -------------------------------------------------------------------------

    async def access_token(self) -> str:
        held = self._held.get()
        if held:
            return held
        cached = await self._cache.get(self._token_key)
        if cached:
            self._held.hold(cached)
            return cached
        return (await self._refresh_token(failed=None))[0]

    async def invalidate_token(self) -> None:
        self._held.drop()
        await self._cache.delete(self._token_key)

    async def _refresh_token(self, *, failed: str | None) -> tuple[str, bool]:
        """Single-flight: in-process lock, then the cache lock, re-check, then fetch. The token,
        and whether it was just fetched from WeCom (not another instance's, from the cache)."""
        async with self._local_lock:
            try:
                async with self._cache.lock(self._token_key, ttl=TOKEN_LOCK_TTL_S):
                    cached = await self._cache.get(self._token_key)
                    if cached and cached != failed:
                        self._held.hold(cached)
                        return cached, False
                    return await self._fetch_token(), True
            except LockTimeout as exc:
                raise Retryable("gettoken: lock busy", retry_after=1.0) from exc

    async def _fetch_token(self) -> str:
        params = {"corpid": self._s.corp_id, "corpsecret": self._s.secret.get_secret_value()}
        data = await self._http("GET", "gettoken", params, None)
        assert isinstance(data, dict)
        try:
            _raise_for_errcode("gettoken", data)
        except Permanent as exc:
            # 40001 / 40013 here are configuration errors, not token expiry.
            raise Permanent(f"gettoken refused: errcode {exc.code}", code=exc.code) from None
        token = str(data.get("access_token") or "")
        if not token:
            raise Retryable("gettoken: no access_token in answer", retry_after=5.0)
        try:
            expires_in = int(data.get("expires_in") or 7200)
        except (TypeError, ValueError):
            expires_in = 7200
        ttl = max(expires_in - min(TOKEN_MARGIN_S, expires_in // 5), 1)
        await self._cache.set(self._token_key, token, ttl=ttl)
        self._held.hold(token, ttl)
        return token

    # -- API methods --------------------------------------------------------------------------

    async def _send(self, user: str, msgtype: str, payload: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "touser": user,
            "msgtype": msgtype,
            "agentid": self._s.agent_id,
            msgtype: payload,
        }
        if msgtype == "template_card":
            body["enable_duplicate_check"] = 1
            body["duplicate_check_interval"] = 1800
        answer = await self._json("message/send", body)
        _check_recipient(user, answer)
        return answer

    async def send_text(self, user: str, text: str) -> dict[str, Any]:
        return await self._send(user, "text", {"content": text})

    async def send_markdown(self, user: str, md: str) -> dict[str, Any]:
        return await self._send(user, "markdown", {"content": md})

    async def send_template_card(self, user: str, card_json: dict[str, Any]) -> dict[str, Any]:
        return await self._send(user, "template_card", card_json)

    async def update_template_card(
        self, userids: list[str], response_code: str, card_json: dict[str, Any]
    ) -> dict[str, Any]:
        """``card_json`` is ``{"template_card": {...}}``, ``{"button": {...}}`` or a bare card."""
        update = card_json if {"template_card", "button"} & card_json.keys() else None
        body: dict[str, Any] = {
            "userids": list(userids),
            "agentid": self._s.agent_id,
            "response_code": response_code,
            **(update or {"template_card": card_json}),
        }
        return await self._json("message/update_template_card", body)

    async def get_media(self, media_id: str) -> tuple[bytes, str]:
        answer = await self.call("GET", "media/get", params={"media_id": media_id}, binary=True)
        if isinstance(answer, tuple):
            return answer
        raise Permanent("media/get: JSON answer without a file", code=answer.get("errcode"))
