"""WecomClient against the fake WeCom server over real loopback HTTP."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.ports import AuthExpired, Permanent, Retryable
from bot.wecom.client import WecomClient
from core.cache import Cache, MemoryCache, RedisCache
from tests.fakes.redis_down import caches_with_redis_down
from tests.fakes.wecom_api import FakeWecom
from tests.fakes.wecom_support import make_settings

REDIS_URL = os.environ.get("CHATDESK_TEST_REDIS_URL", "")


def client(
    fake: FakeWecom, session: aiohttp.ClientSession, cache: Cache | None = None, **kw: object
) -> WecomClient:
    return WecomClient(make_settings(fake.base_url, **kw), cache or MemoryCache(), session)


async def test_token_is_cached_and_reused(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    c = client(fake, session)
    await c.send_text("zhangsan", "一")
    await c.send_text("zhangsan", "二")
    assert fake.token_requests == 1
    assert [s["text"]["content"] for s in fake.sent] == ["一", "二"]
    sends = fake.calls_to("message/send")
    assert {call.query["access_token"] for call in sends} == {"fake-token-1"}
    assert sends[0].json["agentid"] == 1000002
    assert sends[0].json["touser"] == "zhangsan"


async def test_token_is_held_in_memory_between_sends(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    cache = MemoryCache()
    c = client(fake, session, cache)
    await c.send_text("zhangsan", "一")
    await cache.delete("wecom:token:ww0123456789abcdef:1000002")  # not asked again per send
    await c.send_text("zhangsan", "二")
    assert fake.token_requests == 1
    fake.expire_token_once()  # refused: dropped, fetched again through the shared cache
    await c.send_text("zhangsan", "三")
    assert fake.token_requests == 2
    assert await cache.get("wecom:token:ww0123456789abcdef:1000002") == "fake-token-2"


async def test_token_ttl_follows_expires_in(session: aiohttp.ClientSession) -> None:
    from tests.fakes.wecom_api import start_fake_wecom

    async with start_fake_wecom(expires_in=7200) as fake:
        cache = MemoryCache()
        await client(fake, session, cache).access_token()
        ttl = await cache.ttl("wecom:token:ww0123456789abcdef:1000002")
        assert ttl is not None and 6800 < ttl <= 6900


# The Redis variant runs when CHATDESK_TEST_REDIS_URL is set (CI sets it), like the cache contract.
@pytest.fixture(params=["memory", *(["redis"] if REDIS_URL else [])])
async def shared_cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "memory":
        yield MemoryCache()
        return
    cache = RedisCache(REDIS_URL, prefix=f"chatdesk-test-{uuid.uuid4().hex}:")
    try:
        yield cache
    finally:
        await cache.delete("wecom:token:ww0123456789abcdef:1000002")
        await cache.close()


async def test_single_flight_across_two_instances(
    fake: FakeWecom, session: aiohttp.ClientSession, shared_cache: Cache
) -> None:
    fake.token_delay = 0.2  # without single flight both instances would call gettoken
    a, b = client(fake, session, shared_cache), client(fake, session, shared_cache)
    tokens = await asyncio.gather(a.access_token(), b.access_token(), a.access_token())
    assert fake.token_requests == 1
    assert len(set(tokens)) == 1


async def test_expired_token_refreshes_once_and_succeeds(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    c = client(fake, session)
    await c.send_text("zhangsan", "warm up")
    fake.expire_token_once()
    answer = await c.send_text("zhangsan", "after expiry")
    assert answer["errcode"] == 0
    assert fake.token_requests == 2
    sends = fake.calls_to("message/send")
    assert [s.query["access_token"] for s in sends] == [
        "fake-token-1",
        "fake-token-1",
        "fake-token-2",
    ]
    assert len(fake.sent) == 2


async def test_a_held_token_and_the_shared_one_both_expired_still_send(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    """Instance b holds token 1 when instance a has replaced it with token 2 in the shared
    cache, and WeCom expires token 2 as well: b is refused twice, but the second token came
    from the cache, not from WeCom, so b fetches a third and sends (it is not AuthExpired,
    which would pause all of b's sending to WeCom)."""
    cache = MemoryCache()
    a, b = client(fake, session, cache), client(fake, session, cache)
    await a.send_text("zhangsan", "a1")
    await b.send_text("lisi", "b1")  # token 1, from the cache, held
    fake.expire_token_once()
    await a.send_text("zhangsan", "a2")  # token 1 refused; a fetches token 2
    fake.expire_token_once()  # the next call with token 2 is refused: token 2 expires too
    answer = await b.send_text("lisi", "b2")
    assert answer["errcode"] == 0
    to_lisi = [c.query["access_token"] for c in fake.calls_to("message/send")
               if c.json["touser"] == "lisi"]  # fmt: skip
    assert to_lisi == ["fake-token-1", "fake-token-1", "fake-token-2", "fake-token-3"]
    assert fake.token_requests == 3
    assert [s["text"]["content"] for s in fake.sent] == ["a1", "b1", "a2", "b2"]


@pytest.mark.parametrize("errcode", [40014, 42001, 41001])
async def test_token_refused_twice_is_auth_expired(
    fake: FakeWecom, session: aiohttp.ClientSession, errcode: int
) -> None:
    c = client(fake, session)
    fake.fail_with(errcode, times=2)
    with pytest.raises(AuthExpired) as err:
        await c.send_text("zhangsan", "x")
    assert err.value.code == errcode
    assert len(fake.calls_to("message/send")) == 2  # one retry, not more
    assert fake.token_requests == 2


@pytest.mark.parametrize(("errcode", "hint"), [(45009, 60.0), (45033, 2.0), (-1, 1.0)])
async def test_rate_limits_and_busy_are_retryable_with_hint(
    fake: FakeWecom, session: aiohttp.ClientSession, errcode: int, hint: float
) -> None:
    fake.fail_with(errcode, times=1)
    c = client(fake, session)
    with pytest.raises(Retryable) as err:
        await c.send_text("zhangsan", "x")
    assert err.value.code == errcode
    assert err.value.retry_after == hint
    await c.send_text("zhangsan", "x")  # the failure was scripted once only
    assert len(fake.sent) == 1


async def test_fail_for_seconds(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    fake.fail_with(45009, for_seconds=0.2)
    c = client(fake, session)
    for _ in range(2):
        with pytest.raises(Retryable):
            await c.send_text("zhangsan", "x")
    await asyncio.sleep(0.25)
    await c.send_text("zhangsan", "x")


async def test_http_500_is_retryable(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    fake.http_500(times=1)
    with pytest.raises(Retryable) as err:
        await client(fake, session).send_text("zhangsan", "x")
    assert err.value.code == 500
    assert err.value.retry_after and err.value.retry_after > 0


async def test_timeout_is_retryable(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    fake.timeout(times=1, delay=1.0)
    c = client(fake, session, request_timeout_s=0.2)
    await c.access_token()
    with pytest.raises(Retryable) as err:
        await c.send_text("zhangsan", "x")
    assert "timeout" in str(err.value)
    assert fake.sent == []


async def test_html_answer_is_retryable(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    fake.html_error(times=1)
    with pytest.raises(Retryable) as err:
        await client(fake, session).send_text("zhangsan", "x")
    assert "non-JSON" in str(err.value)


async def test_gettoken_failures(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    fake.http_500(times=1, path="gettoken")
    with pytest.raises(Retryable):
        await client(fake, session).access_token()
    with pytest.raises(Permanent) as err:
        await client(fake, session, secret="wrong-secret").access_token()
    assert err.value.code == 40001
    with pytest.raises(Permanent) as err2:
        await client(fake, session, corp_id="wwWRONG").access_token()
    assert err2.value.code == 40013


async def test_connection_refused_is_retryable(session: aiohttp.ClientSession) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = WecomClient(make_settings(f"http://127.0.0.1:{port}"), MemoryCache(), session)
    with pytest.raises(Retryable):
        await c.access_token()


async def test_bad_userid_is_permanent(session: aiohttp.ClientSession) -> None:
    from tests.fakes.wecom_api import start_fake_wecom

    async with start_fake_wecom(known_users={"zhangsan"}) as fake:
        c = client(fake, session)
        with pytest.raises(Permanent) as err:
            await c.send_text("nobody", "x")
        assert err.value.code == 81013
        with pytest.raises(Permanent):
            await c.send_text("bad user!", "x")
        await c.send_text("ZhangSan", "case-insensitive")
        assert len(fake.sent) == 1


async def test_invaliduser_with_errcode_zero_is_permanent(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    # touser + toparty: WeCom answers errcode 0 and lists the user in invaliduser.
    c = client(fake, session)
    body = {
        "touser": "bad user",
        "toparty": "2",
        "msgtype": "text",
        "agentid": 1000002,
        "text": {"content": "x"},
    }
    answer = await c.call("POST", "message/send", json_body=body)
    assert isinstance(answer, dict) and answer["invaliduser"] == "bad user"
    from bot.wecom.client import _check_recipient

    with pytest.raises(Permanent):
        _check_recipient("Bad User", answer)


async def test_other_errors_are_permanent(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    c = client(fake, session)
    with pytest.raises(Permanent) as err:
        await c.send_text("zhangsan", "长" * 683)  # 2049 bytes
    assert err.value.code == 45002
    with pytest.raises(Permanent) as err2:
        await c.send_text("zhangsan", "")
    assert err2.value.code == 44004
    fake.fail_with(60020)
    with pytest.raises(Permanent) as err3:
        await c.send_markdown("zhangsan", "**x**")
    assert err3.value.code == 60020


async def test_markdown(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    await client(fake, session).send_markdown("zhangsan", "**工单 #42**")
    assert fake.sent[0]["msgtype"] == "markdown"
    assert fake.sent[0]["markdown"] == {"content": "**工单 #42**"}


async def test_rejected_card_is_permanent(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    card = {
        "card_type": "button_interaction",
        "task_id": "t1",
        "main_title": {"title": "x"},
        "button_list": [{"text": str(i), "key": f"k{i}"} for i in range(7)],
    }
    with pytest.raises(Permanent) as err:
        await client(fake, session).send_template_card("zhangsan", card)
    assert err.value.code == 40058
    assert fake.sent == []


async def test_get_media(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    fake.add_media("MEDIA1", b"\xff\xd8jpeg-bytes", "image/jpeg")
    c = client(fake, session)
    data, ctype = await c.get_media("MEDIA1")
    assert (data, ctype) == (b"\xff\xd8jpeg-bytes", "image/jpeg")
    with pytest.raises(Permanent) as err:
        await c.get_media("nope")  # 200 with a JSON error body
    assert err.value.code == 40007


async def test_get_media_refreshes_expired_token(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    fake.add_media("M", b"data", "application/octet-stream")
    c = client(fake, session)
    await c.access_token()
    fake.expire_token_once()
    assert await c.get_media("M") == (b"data", "application/octet-stream")
    assert fake.token_requests == 2


async def test_api_base_is_used_for_every_call(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    c = client(fake, session)
    await c.send_text("zhangsan", "x")
    assert [call.path for call in fake.calls] == ["gettoken", "message/send"]
    assert fake.calls[0].query == {
        "corpid": "ww0123456789abcdef",
        "corpsecret": "fake-secret-0123456789",
    }


async def test_single_flight_through_the_database_while_redis_is_down(
    fake: FakeWecom, session: aiohttp.ClientSession, database_url: str, redis_url: str
) -> None:
    fake.token_delay = 0.2  # without single flight both instances would call gettoken
    async with caches_with_redis_down(database_url, redis_url) as (one, two):
        a, b = client(fake, session, one), client(fake, session, two)
        tokens = await asyncio.gather(a.access_token(), b.access_token(), a.access_token())
        await b.send_text("zhangsan", "Redis 不在也送达")
    assert fake.token_requests == 1
    assert len(set(tokens)) == 1
    assert [s["text"]["content"] for s in fake.sent] == ["Redis 不在也送达"]
