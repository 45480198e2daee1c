"""No input, however malformed, gets a 5xx or a stack trace from the REST API or a webhook.

Runs on SQLite, and on PostgreSQL too when CHATDESK_TEST_DATABASE_URL is set (CI sets it), since
the two refuse different things (PostgreSQL: NUL in text, integers past 64 bits). The strategies
include what once slipped through: Unicode digits (``"²".isdigit()`` is true), NUL characters,
integers past 64 bits and JSON nested a hundred thousand levels deep.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.tencent_crypto import TencentCrypto
from tests.fakes.wecom_support import envelope, params
from webhooks.app import create_app

PG_URL = os.environ.get("CHATDESK_TEST_DATABASE_URL", "")
DATABASES = ["sqlite", *(["postgresql"] if PG_URL else [])]

CONFIG = """
people:
  - {id: zhang, name: 张伟, roles: [engineer]}
assignment: {auto_dispatch: false}
"""

# the inputs that once gave a 5xx, mixed into every strategy below
UNICODE_DIGITS = ["²", "١٢", "１２", "߁", "𝟗"]
HUGE = [str(2**63), str(2**64 + 1), "9" * 30, "-1", "0", "00000000000000000001"]
tricky_numbers = st.sampled_from(UNICODE_DIGITS + HUGE)
with_nul = st.text(max_size=12).map(lambda s: s[: len(s) // 2] + "\x00" + s[len(s) // 2 :])
texts = st.text(max_size=30) | with_nul | tricky_numbers
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**80)
    | st.floats(allow_nan=False)
    | texts,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
ticket_like = st.fixed_dictionaries(
    {},
    optional={
        "title": json_values | st.text(max_size=250),
        "description": json_values,
        "type": json_values | st.sampled_from(["repair", "consult", "nope"]),
        "priority": json_values | st.sampled_from(["urgent", "low", "x"]),
        "fields": json_values
        | st.dictionaries(st.sampled_from(["device", "symptom", "photos", "x"]), json_values),
        "requester": json_values
        | st.fixed_dictionaries(
            {"platform": st.sampled_from(["api", "wecom", "dingtalk", "qq"]), "user_id": texts}
        ),
        "status": json_values | st.sampled_from(["closed", "assigned", "accepted"]),
        "assignee": json_values | st.sampled_from(["zhang", "nobody"]),
        "text": json_values,
    },
)
ticket_ids = st.sampled_from(["1", "#1", "0", "abc", "%00", "1%00"]) | tricky_numbers
PATHS = [
    ("POST", "/api/v1/tickets"),
    ("POST", "/api/v1/tickets/{id}/status"),
    ("POST", "/api/v1/tickets/{id}/assign"),
    ("POST", "/api/v1/tickets/{id}/notes"),
    ("GET", "/api/v1/tickets/{id}"),
    ("GET", "/api/v1/tickets"),
]
# raw bodies: JSON of the shapes above, or nesting far past any parser's recursion limit
deep = st.builds(
    lambda opener, n: opener * n, st.sampled_from(["[", '{"a":', '[{"b":']), st.integers(1, 100_000)
)


async def _database(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
    from tests.conftest import _reset_postgres

    await _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture(params=DATABASES)
async def client(request, aiohttp_client, make_settings, tmp_path: Path) -> TestClient:
    url = await _database(request.param, tmp_path)
    settings = make_settings(CONFIG, database_url=url)
    return await aiohttp_client(create_app(settings, run_workers=False))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=(ticket_like | json_values).map(json.dumps) | deep,
    path=st.sampled_from(PATHS),
    ticket_id=ticket_ids,
    query=st.dictionaries(
        st.sampled_from(["status", "limit", "offset", "assignee", "requester", "type"]),
        texts,
        max_size=3,
    ),
)
@example(body="[" * 100_000, path=PATHS[0], ticket_id="1", query={})
@example(body='{"title": "a\\u0000b"}', path=PATHS[0], ticket_id="1", query={})
@example(body="{}", path=PATHS[5], ticket_id="1", query={"limit": "²"})
@example(body="{}", path=PATHS[5], ticket_id="1", query={"offset": "²"})
@example(body="{}", path=PATHS[5], ticket_id="1", query={"offset": str(2**63)})
@example(body="{}", path=PATHS[5], ticket_id="1", query={"assignee": "a\x00"})
@example(body="{}", path=PATHS[4], ticket_id="²", query={})
@example(
    body=json.dumps(
        {"title": "t", "type": "consult", "requester": {"platform": "api", "user_id": "u\x00"}}
    ),
    path=PATHS[0],
    ticket_id="1",
    query={},
)
async def test_no_input_gets_a_5xx(
    client: TestClient, auth: dict, body: str, path, ticket_id: str, query
) -> None:
    method, url = path
    url = url.format(id=ticket_id)
    await client.post("/api/v1/tickets", json={"title": "t", "type": "consult"}, headers=auth)
    if method == "GET":
        r = await client.get(url, params=query, headers=auth)
    else:
        r = await client.post(url, data=body, headers=auth)
    text = await r.text()
    assert r.status < 500, (r.status, text)
    assert "Traceback" not in text
    if r.status >= 400:
        assert "errors" in json.loads(text)


wecom_timestamps = tricky_numbers | st.text(max_size=12) | st.integers().map(str)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(timestamp=wecom_timestamps, method=st.sampled_from(["GET", "POST"]))
@example(timestamp="²", method="POST")
@example(timestamp="²", method="GET")
async def test_no_wecom_callback_query_gets_a_5xx(
    wecom_client: TestClient, timestamp: str, method: str
) -> None:
    """The WeCom webhook needs no token: its own checks are the only guard."""
    p = params()
    crypto = TencentCrypto(p["token"], p["encoding_aes_key"], p["corpid"])
    enc = crypto.encrypt("<xml><MsgType>text</MsgType></xml>")
    query = {"msg_signature": crypto.signature(timestamp, "n", enc), "timestamp": timestamp}
    query["nonce"] = "n"
    if method == "GET":
        r = await wecom_client.get("/webhooks/wecom", params={**query, "echostr": enc})
    else:
        r = await wecom_client.post("/webhooks/wecom", params=query, data=envelope(enc))
    text = await r.text()
    assert 400 <= r.status < 500, (r.status, text)
    assert "Traceback" not in text


@pytest.fixture(params=DATABASES)
async def wecom_client(request, aiohttp_client, make_settings, tmp_path: Path) -> TestClient:
    from tests.fakes.wecom_api import AGENT_ID, SECRET

    p = params()
    wecom = {
        "corp_id": p["corpid"], "agent_id": AGENT_ID, "secret": SECRET, "token": p["token"],
        "encoding_aes_key": p["encoding_aes_key"], "api_base": "http://127.0.0.1:9",
    }  # fmt: skip
    url = await _database(request.param, tmp_path)
    settings = make_settings(CONFIG, database_url=url, wecom=wecom)
    return await aiohttp_client(create_app(settings, run_workers=False))
