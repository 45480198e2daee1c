"""Stream mode pieces that need no connection: backoff, readiness grace, card callback type,
event decoding, settings."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from bot.dingtalk import parse, render
from bot.dingtalk.settings import DingtalkSettings
from bot.dingtalk.stream import StreamState, backoff_delay
from bot.ports import Target
from cards.model import Button, ButtonStyle, Card

CARD = Card(
    key="t7_assign",
    title="新工单 #7 待接单",
    buttons=(Button(text="接单", action="v1.accept.7.sig", style=ButtonStyle.PRIMARY),),
)
ONE = Target(platform="dingtalk", user_id="zhangwei")


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_is_capped_and_jittered(attempt: int) -> None:
    low = backoff_delay(attempt, base=1.0, cap=60.0, rng=lambda: 0.0)
    high = backoff_delay(attempt, base=1.0, cap=60.0, rng=lambda: 0.999999)
    step = min(60.0, 2.0**attempt)
    assert low == pytest.approx(step / 2)
    assert high == pytest.approx(step, rel=1e-5)
    assert high <= 60.0


def test_backoff_grows_then_stays_at_the_cap() -> None:
    delays = [backoff_delay(a, base=0.5, cap=8.0, rng=lambda: 0.5) for a in range(10)]
    assert delays == sorted(delays)
    assert delays[-1] == delays[-2] == pytest.approx(6.0)
    assert backoff_delay(10_000, base=0.5, cap=8.0) <= 8.0  # no overflow on long outages


def test_ready_while_connected_or_within_the_grace() -> None:
    state = StreamState(connected=False, since=100.0)
    assert state.ready(30.0, now=129.0)
    assert not state.ready(30.0, now=131.0)
    state.connected = True
    assert state.ready(30.0, now=10_000.0)


def test_template_cards_ask_for_stream_callbacks_in_stream_mode() -> None:
    call = render.render_send(CARD, ONE, robot_code="r", template_id="tpl.schema", stream=True)
    assert call.body["callbackType"] == "STREAM"
    assert "callbackRouteKey" not in call.body
    http = render.render_send(CARD, ONE, robot_code="r", template_id="tpl.schema")
    assert http.body["callbackType"] == "HTTP" and http.body["callbackRouteKey"]


def test_standard_cards_name_no_http_callback_in_stream_mode() -> None:
    call = render.render_send(CARD, ONE, robot_code="r", callback_url="https://x/cb", stream=True)
    assert "callbackUrl" not in call.body
    assert (
        render.render_send(CARD, ONE, robot_code="r", callback_url="https://x/cb").body[
            "callbackUrl"
        ]
        == "https://x/cb"
    )


def test_a_stream_event_has_the_http_dedupe_key() -> None:
    over_http = parse.parse_event(
        json.dumps({"EventType": "user_add_org", "EventId": "ev-9", "UserId": ["u1"]}).encode()
    )
    over_stream = parse.parse_stream_event(
        "user_add_org", "ev-9", "1700000000000", {"userId": ["u1"], "timeStamp": "1"}
    )
    assert not isinstance(over_http, type(None))
    assert over_stream.dedupe_key == over_http.dedupe_key  # type: ignore[union-attr]
    assert over_stream.user_id == "u1" and over_stream.event == "user_add_org"
    assert over_stream.sent_at == 1700000000
    with pytest.raises(parse.ParseError):
        parse.parse_stream_event("", "ev-10", None, {})


def test_settings_default_to_http_and_check_the_gateway() -> None:
    base = {"app_key": "k", "app_secret": "s", "card_callback_secret": "c"}
    assert DingtalkSettings(**base).mode == "http"
    s = DingtalkSettings(**base, mode="stream", stream_gateway="http://127.0.0.1:9/")
    assert s.stream and s.stream_gateway == "http://127.0.0.1:9"
    with pytest.raises(ValidationError):
        DingtalkSettings(**base, stream_gateway="wss://wrong")
    with pytest.raises(ValidationError):  # the app secret never travels in clear
        DingtalkSettings(**base, stream_gateway="http://gateway.example.com")
    with pytest.raises(ValidationError):
        DingtalkSettings(**base, mode="websocket")
