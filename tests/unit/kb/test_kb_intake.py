"""Suggestions at intake through bot/intents.decide: shown before a ticket, then 已解决 or
仍需报修, by click or in words; a stale click changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import texts
from bot.inbound import CardAction, ChatMessage, MessageKind
from bot.intents import Situation, decide
from cards.actions import ActionKind, ActionRef, Signer, recipient
from core.kb.commands import RecordKbOutcome
from core.kb.model import EventKind
from core.messages import Actor, Channel
from core.settings import AssetConfig, DeskConfig
from core.tickets.commands import OpenTicket

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SECRET = b"s" * 32
ME = Actor(person_id="c1", name="刘洋", channel=Channel.WECOM)
CONFIG = DeskConfig(assets=[AssetConfig(id="A-1024")])
FOUND = ({"id": "KB-021", "title": "空压机漏油", "summary": "现象", "url": "http://x/kb/KB-021"},)


def say(t: str) -> ChatMessage:
    return ChatMessage(
        platform="wecom", dedupe_key="m", user_id="u1", kind=MessageKind.TEXT, text=t
    )


def click(kind: ActionKind, key: str) -> CardAction:
    signer = Signer(SECRET, recipient("wecom", "u1"), 2_000_000_000)
    action = ActionRef(kind, 0, key).encode(signer)
    return CardAction(platform="wecom", dedupe_key="c", user_id="u1", card_key=key, action=action)


def run(item, situation: Situation):
    return decide(item, actor=ME, config=CONFIG, secret=SECRET, situation=situation)


def pending() -> dict:
    first = run(say("A-1024 空压机漏油"), Situation(now=NOW, suggestions=FOUND, key="kbs_1"))
    assert [c.builder for c in first.cards] == ["kb_suggest"] and first.cards[0].key == "kbs_1"
    assert not any(isinstance(c, OpenTicket) for c in first.commands)
    assert first.commands[0] == RecordKbOutcome(
        actor=ME, kind=EventKind.SUGGEST, article_ids=("KB-021",), query="A-1024 空压机漏油"
    )
    assert first.dialog["kind"] == "kb_suggest"
    return first.dialog


def test_solved_records_a_deflection_and_opens_nothing() -> None:
    state = pending()
    d = run(click(ActionKind.KB_SOLVED, "kbs_1"), Situation(now=NOW, dialog=state))
    assert [type(c) for c in d.commands] == [RecordKbOutcome]
    assert d.commands[0].kind is EventKind.DEFLECTED
    assert d.dialog is None and d.replies == [texts.KB_DEFLECTED]
    assert d.cards[0].update and "已解决" in d.cards[0].status


def test_still_needs_repair_opens_the_ticket_from_the_first_message() -> None:
    state = pending()
    d = run(click(ActionKind.KB_MORE, "kbs_1"), Situation(now=NOW, dialog=state))
    kinds = [type(c) for c in d.commands]
    assert kinds == [RecordKbOutcome, OpenTicket]
    assert d.commands[0].kind is EventKind.ESCALATED
    assert d.commands[1].description == "A-1024 空压机漏油"
    assert d.cards[0].update and "仍需报修" in d.cards[0].status


def test_answers_in_words_work_too() -> None:
    state = pending()
    d = run(say("已解决"), Situation(now=NOW, dialog=state))
    assert d.commands[0].kind is EventKind.DEFLECTED
    d = run(say("还是在漏，压力也低"), Situation(now=NOW, dialog=state))
    assert d.commands[0].kind is EventKind.ESCALATED
    assert d.commands[1].description == "A-1024 空压机漏油\n还是在漏，压力也低"


def test_a_stale_or_repeated_click_changes_nothing() -> None:
    state = pending()
    for situation in (
        Situation(now=NOW),
        Situation(now=NOW, dialog={**state, "card_key": "kbs_9"}),
    ):
        d = run(click(ActionKind.KB_SOLVED, "kbs_1"), situation)
        assert d.commands == [] and d.replies == [texts.KB_SUGGEST_DONE]


def test_staff_and_reports_without_suggestions_are_not_held_back() -> None:
    d = run(say("A-1024 空压机漏油"), Situation(now=NOW))
    assert [type(c) for c in d.commands] == [OpenTicket]
