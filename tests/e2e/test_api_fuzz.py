"""No input, however malformed, gets a 5xx or a stack trace from the REST API."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks.app import create_app

CONFIG = """
people:
  - {id: zhang, name: 张伟, roles: [engineer]}
assignment: {auto_dispatch: false}
"""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
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
            {"platform": st.sampled_from(["api", "wecom", "qq"]), "user_id": json_values}
        ),
        "status": json_values | st.sampled_from(["closed", "assigned", "accepted"]),
        "assignee": json_values | st.sampled_from(["zhang", "nobody"]),
        "text": json_values,
    },
)
PATHS = [
    ("POST", "/api/v1/tickets"),
    ("POST", "/api/v1/tickets/1/status"),
    ("POST", "/api/v1/tickets/1/assign"),
    ("POST", "/api/v1/tickets/1/notes"),
    ("POST", "/api/v1/tickets/999999999999999999999/notes"),
    ("GET", "/api/v1/tickets"),
]


@pytest.fixture
async def client(aiohttp_client, make_settings) -> TestClient:
    return await aiohttp_client(create_app(make_settings(CONFIG), run_workers=False))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=ticket_like | json_values,
    path=st.sampled_from(PATHS),
    query=st.dictionaries(
        st.sampled_from(["status", "limit", "offset", "assignee", "type"]),
        st.text(max_size=12),
        max_size=3,
    ),
)
async def test_no_input_gets_a_5xx(client: TestClient, auth: dict, body, path, query) -> None:
    method, url = path
    await client.post(
        "/api/v1/tickets",
        json={"title": "t", "fields": {"device": "A-1", "symptom": "s"}},
        headers=auth,
    )
    if method == "GET":
        r = await client.get(url, params=query, headers=auth)
    else:
        r = await client.post(url, data=json.dumps(body), headers=auth)
    text = await r.text()
    assert r.status < 500, (r.status, text)
    assert "Traceback" not in text
    if r.status >= 400:
        assert "errors" in json.loads(text)
