"""The REST API through the real app on a real database."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from webhooks.app import create_app
from webhooks.settings import ConfigError

CONFIG = """
people:
  - {id: zhang, name: 张伟, roles: [engineer], region: 华东, skills: [注塑机], wecom_userid: zhangwei}
  - {id: li, name: 李娜, roles: [agent]}
parts:
  - {sku: LX-01, name: 滤芯, stock: 10, unit_cost: 85.0}
assignment: {auto_dispatch: false}   # these tests assign through the API themselves
"""


@pytest.fixture
async def client(aiohttp_client, make_settings) -> TestClient:
    return await aiohttp_client(create_app(make_settings(CONFIG), run_workers=False))


REPAIR = {"title": "注塑机报警 E31", "fields": {"device": "A-1024", "symptom": "报警 E31"}}


async def test_created_ticket_shows_its_history(client: TestClient, auth: dict) -> None:
    created = await client.post("/api/v1/tickets", json=REPAIR, headers=auth)
    assert created.status == 201
    body = await created.json()
    assert body["ref"] == "#1" and body["status"] == "new" and body["type"] == "repair"
    got = await client.get(f"/api/v1/tickets/{body['id']}", headers=auth)
    ticket = await got.json()
    assert [h["action"] for h in ticket["history"]] == ["opened"]
    assert ticket["history"][0]["channel"] == "api"
    assert ticket["sla"]["resolve_due_at"] > ticket["created_at"]

    r = await client.post(
        f"/api/v1/tickets/{body['id']}/assign", json={"assignee": "zhang"}, headers=auth
    )
    assert r.status == 200
    ticket = await (await client.get(f"/api/v1/tickets/{body['id']}", headers=auth)).json()
    assert ticket["status"] == "assigned" and ticket["assignee"] == "zhang"
    assert [h["action"] for h in ticket["history"]] == ["opened", "status_changed"]
    assert ticket["history"][1]["from"] == "new" and ticket["history"][1]["to"] == "assigned"


async def test_numbers_count_from_one(client: TestClient, auth: dict) -> None:
    refs = []
    for _ in range(3):
        r = await client.post("/api/v1/tickets", json=REPAIR, headers=auth)
        refs.append((await r.json())["ref"])
    assert refs == ["#1", "#2", "#3"]


async def test_illegal_transition_is_refused_and_changes_nothing(
    client: TestClient, auth: dict
) -> None:
    created = await (await client.post("/api/v1/tickets", json=REPAIR, headers=auth)).json()
    r = await client.post(
        f"/api/v1/tickets/{created['id']}/status", json={"status": "closed"}, headers=auth
    )
    assert r.status == 409
    error = (await r.json())["errors"][0]
    assert "#1" in error["message"] and "new" in error["message"]
    ticket = await (await client.get(f"/api/v1/tickets/{created['id']}", headers=auth)).json()
    assert ticket["status"] == "new" and len(ticket["history"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fields": {"device": "A-1"}}, "title"),
        ({"title": "x", "fields": {"symptom": "y"}}, "fields.device"),
        (
            {"title": "x", "fields": {"device": "A-1", "symptom": "y", "colour": "red"}},
            "fields.colour",
        ),
        (
            {"title": "x", "priority": "asap", "fields": {"device": "A-1", "symptom": "y"}},
            "priority",
        ),
        ({"title": "x", "type": "nope"}, "type"),
    ],
)
async def test_validation_errors_name_the_field(
    client: TestClient, auth: dict, body: dict, field: str
) -> None:
    r = await client.post("/api/v1/tickets", json=body, headers=auth)
    assert r.status == 422
    fields = [e["field"] for e in (await r.json())["errors"]]
    assert field in fields
    listing = await (await client.get("/api/v1/tickets?count=true", headers=auth)).json()
    assert listing["total"] == 0


async def test_malformed_json_is_a_clear_400(client: TestClient, auth: dict) -> None:
    r = await client.post("/api/v1/tickets", data=b"{not json", headers=auth)
    assert r.status == 400
    text = await r.text()
    assert "JSON" in text and "Traceback" not in text


async def test_bearer_token_is_required(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        r = await client.get("/api/v1/tickets", headers=headers)
        assert r.status == 401


@pytest.mark.parametrize(
    "value",
    [
        "Bearer  {t}",  # two spaces
        "Bearer\u3000{t}",  # an ideographic space instead of the space
        "Bearer {t}\u3000",  # trailing ideographic space (.strip() removed it)
        "Bearer \u3000",  # nothing but whitespace
        "bearer {t}",
        "Bearer\t{t}",
        "Bearer {t}x",
        "Bearer {short}",
        "{t}",
    ],
)
async def test_the_authorization_header_is_parsed_exactly(
    client: TestClient, auth: dict, value: str
) -> None:
    token = auth["Authorization"].removeprefix("Bearer ")
    r = await client.get(
        "/api/v1/tickets", headers={"Authorization": value.format(t=token, short=token[:-1])}
    )
    assert r.status == 401
    assert (await client.get("/api/v1/tickets", headers=auth)).status == 200


@pytest.mark.parametrize("tokens", [[""], ["x"], ["a" * 31], ["a" * 31 + "\u3000"], ["a b" * 16]])
async def test_short_or_odd_api_tokens_are_refused_at_start(make_settings, tokens) -> None:
    with pytest.raises(ConfigError) as exc:
        make_settings(api_tokens=tokens)
    assert exc.value.problems[0].startswith("api_tokens.0:")
    assert "32" in exc.value.problems[0] and "secrets.token_urlsafe" in exc.value.problems[0]


@pytest.mark.parametrize(
    ("platform", "user_id"),
    [
        ("wecom", "@all"),
        ("wecom", "a|b|c"),
        ("wecom", "zhangwei|lisi"),
        ("wecom", "_x"),
        ("wecom", "x" * 65),
        ("dingtalk", "@all"),
        ("dingtalk", "0123|4567"),
        ("api", "a|b"),
        ("api", "two words"),
    ],
)
async def test_a_requester_is_one_person_never_a_list_or_wildcard(
    client: TestClient, auth: dict, platform: str, user_id: str
) -> None:
    before = await (await client.get("/api/v1/tickets?count=true", headers=auth)).json()
    body = {
        "title": "咨询",
        "type": "consult",
        "requester": {"platform": platform, "user_id": user_id},
    }
    r = await client.post("/api/v1/tickets", json=body, headers=auth)
    assert r.status == 422
    assert [e["field"] for e in (await r.json())["errors"]] == ["requester.user_id"]
    listing = await (await client.get("/api/v1/tickets?count=true", headers=auth)).json()
    assert listing["total"] == before["total"]


async def test_platform_user_ids_in_their_own_shapes_are_accepted(
    client: TestClient, auth: dict
) -> None:
    for platform, user_id in (
        ("wecom", "ZhangWei.01@corp"),
        ("dingtalk", "0123456789"),
        ("dingtalk", "$:LWCP_v1:$AbC+/1=="),
    ):
        body = {
            "title": "怎么换滤芯",
            "type": "consult",
            "requester": {"platform": platform, "user_id": user_id},
        }
        r = await client.post("/api/v1/tickets", json=body, headers=auth)
        assert r.status == 201, await r.text()


async def test_unknown_ticket_is_404(client: TestClient, auth: dict) -> None:
    for path in ("/api/v1/tickets/999", "/api/v1/tickets/abc"):
        r = await client.get(path, headers=auth)
        assert r.status == 404


async def test_parts_are_listed(client: TestClient, auth: dict) -> None:
    r = await client.get("/api/v1/parts", headers=auth)
    items = (await r.json())["items"]
    assert items[0]["sku"] == "LX-01" and items[0]["stock"] == 10


async def test_openapi_describes_the_models(client: TestClient) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/tickets" in doc["paths"]
    create = doc["components"]["schemas"]["TicketCreate"]
    assert "title" in create["required"]
    assert set(doc["components"]["schemas"]["TicketOut"]["properties"]) >= {"history", "sla", "ref"}


async def test_oversized_body_is_413(client: TestClient, auth: dict) -> None:
    r = await client.post("/api/v1/tickets", data=b"x" * (2 * 1024 * 1024), headers=auth)
    assert r.status == 413
