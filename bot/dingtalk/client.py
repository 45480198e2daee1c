"""The one HTTP chokepoint to DingTalk (reference/dingtalk.md §4, §5, §6, §8).

Every call goes through ``DingtalkClient.call``: it adds the access token, applies the timeout,
refreshes the token when DingTalk refuses it (bot/held_token.py ``TOKEN_TRIES``), and turns every failure into ``Retryable``,
``Permanent`` or ``AuthExpired`` (bot/ports.py). Nothing else in the adapter touches aiohttp.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import aiohttp

from bot.dingtalk.render import CardCall
from bot.dingtalk.settings import DingtalkSettings
from bot.held_token import TOKEN_TRIES, HeldToken
from bot.ports import AuthExpired, Permanent, PlatformError, Retryable
from core.cache import Cache

Base = Literal["api", "oapi"]

TOKEN_PATH = "/v1.0/oauth2/accessToken"
OTO_SEND = "/v1.0/robot/oToMessages/batchSend"
GROUP_SEND = "/v1.0/robot/groupMessages/send"
FILE_DOWNLOAD = "/v1.0/robot/messageFiles/download"
CARD_CALLBACK_REGISTER = "/v1.0/card/callbacks/register"

_AUTH_CODES = {"InvalidAuthentication", "InvalidAccessToken", "Unauthorized"}
_AUTH_ERRCODES = {40014, 42001}
_RETRY_CODES = {"system.busy", "ServiceUnavailable", "InternalError", "Throttling"}
_RETRY_ERRCODES = {-1, 15, 90002, 90018}
_QPS_HINT, _BUSY_HINT, _5XX_HINT, _IO_HINT = 1.0, 1.0, 2.0, 2.0


class _TokenRefused(Exception):
    """DingTalk refused the access token; the caller refreshes it."""


def _retry_after(resp: aiohttp.ClientResponse, default: float) -> float:
    try:
        return max(float(resp.headers.get("Retry-After", "")), default)
    except ValueError:
        return default


def _classify(status: int, data: dict[str, Any], hint_default: float) -> PlatformError | None:
    """None for success; otherwise the error to raise (auth errors raise _TokenRefused)."""
    code = data.get("code")
    errcode = data.get("errcode")
    message = str(data.get("message") or data.get("errmsg") or "")
    if isinstance(errcode, str) and errcode.lstrip("-").isdigit():
        errcode = int(errcode)
    sub_code = str(data.get("sub_code") or "")
    if (
        status == 401
        or code in _AUTH_CODES
        or errcode in _AUTH_ERRCODES
        or (errcode == 88 and sub_code == "40014")
    ):
        raise _TokenRefused(str(code or errcode))
    if status < 300 and not code and errcode in (None, 0):
        return None
    label = str(code or errcode or status)
    if data.get("status") == 1111 or data.get("punish") == "deny":
        return Retryable("DingTalk blocked this IP for a while", code=label, retry_after=300.0)
    if isinstance(code, str) and "QpsLimit" in code:
        return Retryable(f"rate limited: {message}", code=code, retry_after=hint_default)
    if isinstance(code, str) and "ApiCountLimit" in code:
        return Retryable(f"monthly API quota: {message}", code=code, retry_after=3600.0)
    if code in _RETRY_CODES or errcode in _RETRY_ERRCODES or (errcode == 88 and not sub_code):
        return Retryable(f"DingTalk busy: {message}", code=label, retry_after=hint_default)
    if status == 429:
        return Retryable("too many requests", code=label, retry_after=hint_default)
    if status >= 500:
        return Retryable(f"DingTalk server error {status}", code=label, retry_after=_5XX_HINT)
    return Permanent(f"DingTalk refused the call: {label} {message}".strip(), code=label)


class DingtalkClient:
    def __init__(
        self,
        settings: DingtalkSettings,
        cache: Cache,
        session: aiohttp.ClientSession,
        *,
        token_margin_s: float = 300.0,
    ) -> None:
        self.settings = settings
        self._cache = cache
        self._session = session
        self._margin = token_margin_s
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout_s)
        self._token_key = f"dingtalk:token:{settings.app_key}"
        self._held = HeldToken()  # in front of the shared cache (bot/held_token.py)

    # --- token (§4) --------------------------------------------------------------------------

    async def access_token(self, *, stale: str | None = None) -> str:
        """The cached app token; with ``stale``, replace that token (single flight)."""
        return (await self._token(stale=stale))[0]

    async def _token(self, *, stale: str | None = None) -> tuple[str, bool]:
        """``access_token``, and whether the token was just fetched from DingTalk (not held or
        another instance's, from the shared cache)."""
        if stale is not None:
            self._held.drop(stale)
        token = self._held.get()
        if token:
            return token, False
        token = await self._cache.get(self._token_key)
        if token and token != stale:
            self._held.hold(token)
            return token, False
        async with self._cache.lock(self._token_key + ":lock", ttl=30.0, wait=30.0):
            token = await self._cache.get(self._token_key)
            if token and token != stale:
                self._held.hold(token)
                return token, False
            token, ttl = await self._fetch_token()
            await self._cache.set(self._token_key, token, ttl=ttl)
            self._held.hold(token, ttl)
            return token, True

    async def _fetch_token(self) -> tuple[str, float]:
        body = {
            "appKey": self.settings.app_key,
            "appSecret": self.settings.app_secret.get_secret_value(),
        }
        status, data, resp = await self._send("POST", self.settings.api_base + TOKEN_PATH, body, {})
        token = data.get("accessToken")
        if status < 300 and isinstance(token, str) and token:
            expire = data.get("expireIn", 7200)
            expire = float(expire) if isinstance(expire, int | float) else 7200.0
            return token, max(expire - self._margin, min(60.0, expire / 2))
        try:
            error = _classify(status, data, _retry_after(resp, _BUSY_HINT))
        except _TokenRefused:
            error = None
        raise error or Permanent("DingTalk token answer without accessToken", code=status)

    # --- the chokepoint ----------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
        try:
            async with self._session.request(
                method, url, json=body, headers=headers, params=params, timeout=self._timeout
            ) as resp:
                raw = await resp.read()
        except TimeoutError as exc:
            raise Retryable("DingTalk did not answer in time", retry_after=_IO_HINT) from exc
        except aiohttp.ClientError as exc:
            raise Retryable(
                f"cannot reach DingTalk: {type(exc).__name__}", retry_after=_IO_HINT
            ) from exc
        try:
            data = json.loads(raw) if raw else {}
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            hint = _5XX_HINT if resp.status >= 500 else _BUSY_HINT
            raise Retryable(
                f"DingTalk answered non-JSON (HTTP {resp.status})",
                code=resp.status,
                retry_after=hint,
            )
        return resp.status, data, resp

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, base: Base = "api"
    ) -> dict[str, Any]:
        """One authenticated call; refreshes the token when DingTalk refuses it, until a token
        just fetched is refused (see bot/held_token.py TOKEN_TRIES)."""
        token, fetched = await self.access_token(), False
        for attempt in range(1, TOKEN_TRIES + 1):
            try:
                return await self._call_once(method, path, body, base, token)
            except _TokenRefused as exc:
                if fetched or attempt == TOKEN_TRIES:
                    raise AuthExpired(
                        "DingTalk refused a fresh access token", code=str(exc)
                    ) from exc
                token, fetched = await self._token(stale=token)
        raise AssertionError("unreachable")

    async def _call_once(
        self, method: str, path: str, body: dict[str, Any] | None, base: Base, token: str
    ) -> dict[str, Any]:
        if base == "api":
            url, headers, params = (
                self.settings.api_base + path,
                {"x-acs-dingtalk-access-token": token},
                None,
            )
        else:
            url, headers, params = self.settings.oapi_base + path, {}, {"access_token": token}
        status, data, resp = await self._send(method, url, body, headers, params)
        error = _classify(status, data, _retry_after(resp, _QPS_HINT))
        if error is not None:
            raise error
        return data

    # --- robot messages (§5) -----------------------------------------------------------------

    async def send_oto(
        self, user_ids: list[str], msg_key: str, msg_param: dict[str, Any]
    ) -> dict[str, Any]:
        body = {
            "robotCode": self.settings.effective_robot_code,
            "userIds": user_ids,
            "msgKey": msg_key,
            "msgParam": json.dumps(msg_param, ensure_ascii=False),
        }
        data = await self.call("POST", OTO_SEND, body)
        if data.get("invalidStaffIdList"):
            raise Permanent("unknown DingTalk user id", code="invalidStaffIdList")
        if data.get("flowControlledStaffIdList"):
            raise Retryable("user is flow-controlled", code="flowControlled", retry_after=_QPS_HINT)
        if data.get("filteredStaffIdList"):
            raise Permanent("user filtered by DingTalk", code="filteredStaffIdList")
        return data

    async def send_group(
        self, conversation_id: str, msg_key: str, msg_param: dict[str, Any]
    ) -> dict[str, Any]:
        body = {
            "robotCode": self.settings.effective_robot_code,
            "openConversationId": conversation_id,
            "msgKey": msg_key,
            "msgParam": json.dumps(msg_param, ensure_ascii=False),
        }
        return await self.call("POST", GROUP_SEND, body)

    # --- interactive cards (§6) --------------------------------------------------------------

    async def card_call(self, call: CardCall) -> dict[str, Any]:
        """Create/deliver or update a card as rendered by bot.dingtalk.render."""
        try:
            data = await self.call(call.method, call.path, call.body)
        except Permanent as exc:
            # A retried create whose first attempt did land: the card exists, which is success.
            if exc.code != "param.cardAlreadyExist" or call.method != "POST":
                raise
            return {"success": True, "result": {}, "alreadyExisted": True}
        if data.get("success") is False:
            raise Permanent(
                "DingTalk card call failed", code=str(data.get("code") or "success=false")
            )
        result = data.get("result")
        deliveries = result.get("deliverResults") if isinstance(result, dict) else None
        for item in deliveries if isinstance(deliveries, list) else []:
            if isinstance(item, dict) and item.get("success") is False:
                raise Permanent(f"card not delivered: {item.get('errorMsg', '')}", code="deliver")
        return data

    async def register_card_callback(
        self, route_key: str, url: str, api_secret: str
    ) -> dict[str, Any]:
        body = {
            "callbackRouteKey": route_key,
            "callbackUrl": url,
            "apiSecret": api_secret,
            "forceUpdate": True,
        }
        return await self.call("POST", CARD_CALLBACK_REGISTER, body)

    # --- files (§1.2) ------------------------------------------------------------------------

    async def download_url(self, download_code: str) -> str:
        body = {"downloadCode": download_code, "robotCode": self.settings.effective_robot_code}
        data = await self.call("POST", FILE_DOWNLOAD, body)
        url = data.get("downloadUrl")
        if not isinstance(url, str) or not url:
            raise Permanent("download answer without downloadUrl", code="downloadUrl")
        return url

    async def download_file(
        self, download_code: str, *, max_bytes: int = 20 * 1024 * 1024
    ) -> bytes:
        url = await self.download_url(download_code)
        try:
            async with self._session.get(url, timeout=self._timeout) as resp:
                if resp.status >= 500:
                    raise Retryable(
                        f"file download failed: HTTP {resp.status}", retry_after=_5XX_HINT
                    )
                if resp.status >= 400:
                    raise Permanent(f"file download refused: HTTP {resp.status}", code=resp.status)
                data = await resp.content.read(max_bytes + 1)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Retryable(
                f"file download failed: {type(exc).__name__}", retry_after=_IO_HINT
            ) from exc
        if len(data) > max_bytes:
            raise Permanent("file larger than allowed", code="too_large")
        return data
