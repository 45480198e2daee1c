"""DingtalkClient against the fake DingTalk server over loopback HTTP."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.dingtalk.client import GROUP_SEND, OTO_SEND, TOKEN_PATH, DingtalkClient
from bot.dingtalk.settings import DingtalkSettings
from bot.ports import AuthExpired, Permanent, Retryable
from core.cache import MemoryCache
from tests.fakes.dingtalk_api import FakeDingtalk
from tests.fakes.redis_down import caches_with_redis_down

QPS = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"


def client(
    settings: DingtalkSettings, session: aiohttp.ClientSession, cache=None
) -> DingtalkClient:
    return DingtalkClient(settings, cache or MemoryCache(), session)


async def test_token_fetched_once_and_reused(fake: FakeDingtalk, settings, session) -> None:
    c = client(settings, session)
    await c.send_oto(["zhangwei"], "sampleText", {"content": "hi"})
    await c.send_oto(["zhangwei"], "sampleText", {"content": "again"})
    await c.send_group("cidGroup01==", "sampleText", {"content": "group"})
    assert len(fake.calls_to(TOKEN_PATH)) == 1
    assert fake.calls_to(TOKEN_PATH)[0].json == {
        "appKey": "dingfakeappkey",
        "appSecret": "fake-app-secret",
    }
    sends = fake.calls_to(OTO_SEND) + fake.calls_to(GROUP_SEND)
    assert {c.headers["x-acs-dingtalk-access-token"] for c in sends} == {fake.tokens[0]}
    assert [m["msgParam"] for m in fake.messages] == [
        '{"content": "hi"}',
        '{"content": "again"}',
        '{"content": "group"}',
    ]


async def test_token_is_held_in_memory_between_calls(fake, settings, session) -> None:
    cache = MemoryCache()
    c = client(settings, session, cache)
    await c.send_oto(["zhangwei"], "sampleText", {"content": "hi"})
    await cache.delete("dingtalk:token:dingfakeappkey")  # not asked again per call
    await c.send_oto(["zhangwei"], "sampleText", {"content": "again"})
    assert len(fake.calls_to(TOKEN_PATH)) == 1
    fake.expire_token_once()  # refused: dropped, fetched again through the shared cache
    await c.send_oto(["zhangwei"], "sampleText", {"content": "third"})
    assert len(fake.calls_to(TOKEN_PATH)) == 2
    assert await cache.get("dingtalk:token:dingfakeappkey") == fake.tokens[1]


async def test_token_ttl_uses_expire_in_minus_margin(fake, settings, session) -> None:
    cache = MemoryCache()
    await client(settings, session, cache).access_token()
    ttl = await cache.ttl("dingtalk:token:dingfakeappkey")
    assert ttl is not None and 7200 - 300 - 5 < ttl <= 7200 - 300


async def test_single_flight_across_clients(fake, settings, session, shared_cache) -> None:
    a, b = client(settings, session, shared_cache), client(settings, session, shared_cache)
    tokens = await asyncio.gather(*(x.access_token() for x in (a, b, a, b, a, b)))
    assert len(fake.calls_to(TOKEN_PATH)) == 1
    assert set(tokens) == {fake.tokens[0]}


async def test_invalid_token_http_400_refreshes_once(fake, settings, session) -> None:
    c = client(settings, session)
    await c.access_token()
    fake.expire_token_once()
    data = await c.send_oto(["zhangwei"], "sampleText", {"content": "hi"})
    assert data["processQueryKey"]
    assert len(fake.calls_to(TOKEN_PATH)) == 2
    oto = fake.calls_to(OTO_SEND)
    assert [x.headers["x-acs-dingtalk-access-token"] for x in oto] == fake.tokens


async def test_refresh_shared_with_other_instance(fake, settings, session) -> None:
    cache = MemoryCache()
    a, b = client(settings, session, cache), client(settings, session, cache)
    await a.access_token()
    fake.expire_token_once()
    await a.send_group("cidGroup01==", "sampleText", {"content": "1"})
    await b.send_group("cidGroup01==", "sampleText", {"content": "2"})
    assert len(fake.calls_to(TOKEN_PATH)) == 2  # b reused a's refreshed token


async def test_a_held_token_and_the_shared_one_both_revoked_still_send(
    fake, settings, session
) -> None:
    """b holds token 1 when a has replaced it with token 2 in the shared cache, and DingTalk
    revokes token 2 as well: b is refused twice, but the second token came from the cache,
    so b fetches a third and sends (not AuthExpired, which would pause b's sending)."""
    cache = MemoryCache()
    a, b = client(settings, session, cache), client(settings, session, cache)
    await a.access_token()
    await b.access_token()  # token 1, from the cache, held
    fake.expire_token_once()
    await a.send_group("cidGroup01==", "sampleText", {"content": "1"})  # a fetches token 2
    fake.expire_token_once()
    data = await b.send_oto(["zhangwei"], "sampleText", {"content": "2"})
    assert data["processQueryKey"]
    oto = [x.headers["x-acs-dingtalk-access-token"] for x in fake.calls_to(OTO_SEND)]
    assert oto == fake.tokens and len(fake.tokens) == 3


async def test_token_refused_twice_is_auth_expired(fake, settings, session) -> None:
    fake.fail_with("InvalidAuthentication", status=401, times=2, path=OTO_SEND)
    with pytest.raises(AuthExpired):
        await client(settings, session).send_oto(["zhangwei"], "sampleText", {"content": "x"})
    assert len(fake.calls_to(TOKEN_PATH)) == 2


async def test_qps_limit_is_retryable_with_hint(fake, settings, session) -> None:
    fake.fail_with(QPS, status=403, times=1)
    with pytest.raises(Retryable) as exc:
        await client(settings, session).send_oto(["zhangwei"], "sampleText", {"content": "x"})
    assert (
        exc.value.code == QPS and exc.value.retry_after is not None and exc.value.retry_after >= 1
    )


async def test_qps_limit_for_seconds(fake, settings, session) -> None:
    c = client(settings, session)
    fake.fail_with("Forbidden.AccessDenied.QpsLimitForApi", status=403, times=None, for_seconds=0.3)
    for _ in range(2):
        with pytest.raises(Retryable):
            await c.send_group("cidGroup01==", "sampleText", {"content": "x"})
    await asyncio.sleep(0.35)
    assert (await c.send_group("cidGroup01==", "sampleText", {"content": "x"}))["processQueryKey"]


async def test_system_busy_is_retryable(fake, settings, session) -> None:
    fake.fail_with("system.busy", status=500)
    with pytest.raises(Retryable) as exc:
        await client(settings, session).send_group("cidGroup01==", "sampleText", {"content": "x"})
    assert exc.value.code == "system.busy" and exc.value.retry_after


@pytest.mark.parametrize("script", ["http_500", "timeout", "html_error"])
async def test_transient_failures_are_retryable(fake, settings, session, script) -> None:
    getattr(fake, script)(times=1)
    c = client(settings, session)
    await c.access_token()
    with pytest.raises(Retryable) as exc:
        await c.send_oto(["zhangwei"], "sampleText", {"content": "x"})
    assert exc.value.retry_after
    # the next attempt goes through
    assert (await c.send_oto(["zhangwei"], "sampleText", {"content": "x"}))["processQueryKey"]


async def test_connection_refused_is_retryable(settings, session, fake) -> None:
    dead = settings.model_copy(update={"api_base": "http://127.0.0.1:9"})
    with pytest.raises(Retryable):
        await client(dead, session).access_token()


async def test_bad_user_is_permanent(fake, settings, session) -> None:
    with pytest.raises(Permanent) as exc:
        await client(settings, session).send_oto(["nobody"], "sampleText", {"content": "x"})
    assert exc.value.code == "invalidStaffIdList"


async def test_unknown_group_is_permanent(fake, settings, session) -> None:
    with pytest.raises(Permanent):
        await client(settings, session).send_group("cidUnknown", "sampleText", {"content": "x"})


async def test_bad_credentials_are_permanent(fake, settings, session) -> None:
    wrong = settings.model_copy(update={"app_secret": settings.app_secret.__class__("nope")})
    with pytest.raises(Permanent) as exc:
        await client(wrong, session).access_token()
    assert exc.value.code == "invalidClientIdOrSecret"


async def test_file_download(fake, settings, session) -> None:
    fake.files["dlFile01"] = b"\x00log bytes\xff"
    c = client(settings, session)
    assert await c.download_file("dlFile01") == b"\x00log bytes\xff"
    call = fake.calls_to("/v1.0/robot/messageFiles/download")[0]
    assert call.json == {"downloadCode": "dlFile01", "robotCode": "dingfakeappkey"}
    with pytest.raises(Permanent):
        await c.download_file("dlMissing")
    with pytest.raises(Permanent):
        await c.download_file("dlFile01", max_bytes=4)


async def test_register_card_callback(fake, settings, session) -> None:
    data = await client(settings, session).register_card_callback(
        "chatdesk_cards", "https://desk.example.com/webhooks/dingtalk/card", "s3cret"
    )
    assert data["result"]["callbackUrl"].endswith("/webhooks/dingtalk/card")
    assert fake.callbacks["chatdesk_cards"]["forceUpdate"] is True


async def test_single_flight_through_the_database_while_redis_is_down(
    fake: FakeDingtalk, settings, session, database_url: str, redis_url: str
) -> None:
    async with caches_with_redis_down(database_url, redis_url) as (one, two):
        a, b = client(settings, session, one), client(settings, session, two)
        tokens = await asyncio.gather(*(x.access_token() for x in (a, b, a, b, a, b)))
    assert len(fake.calls_to(TOKEN_PATH)) == 1
    assert set(tokens) == {fake.tokens[0]}
