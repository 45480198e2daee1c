"""知识 in the grammar, the knowledge cards, and their rendering on both platforms."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import texts
from bot.dingtalk.render import _fields_markdown
from bot.inbound import ChatMessage, MessageKind
from bot.intents import Query, Situation, decide
from bot.wecom.render import render_card
from cards.actions import ActionKind, ActionRef, Signer
from cards.registry import build
from core.messages import Actor, Channel
from core.settings import DeskConfig

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SIGNER = Signer(b"k" * 32, "wecom:u1", 2_000_000_000)
ME = Actor(person_id="c1", name="客户", channel=Channel.WECOM)
ARTICLES = [
    {"id": "KB-1", "title": "打印机卡纸", "summary": "现象：提示卡纸", "url": "https://x/kb/KB-1"},
    {"id": "KB-2", "title": "打印模糊", "summary": "现象：字迹淡", "url": "https://x/kb/KB-2"},
]


def say(t: str) -> ChatMessage:
    return ChatMessage(
        platform="wecom", dedupe_key="k", user_id="u1", kind=MessageKind.TEXT, text=t
    )


def test_kb_command_is_a_query_in_both_languages() -> None:
    for t in ("知识 打印机卡纸", "/kb 打印机卡纸"):
        d = decide(say(t), actor=ME, config=DeskConfig(), situation=Situation(now=NOW))
        assert d.queries == [Query("kb", text="打印机卡纸")] and not d.commands
    d = decide(say("知识"), actor=ME, config=DeskConfig(), situation=Situation(now=NOW))
    assert d.replies == [texts.KB_USAGE] and not d.queries


def test_results_card_links_every_article() -> None:
    card = build(
        {"builder": "kb_results", "args": {"query": "打印机", "articles": ARTICLES}},
        key="kb_7",
        secret=SIGNER,
    )
    assert card.title == "知识库：打印机" and not card.buttons
    assert [f.url for f in card.fields] == ["https://x/kb/KB-1", "https://x/kb/KB-2"]
    wecom = render_card(card)
    assert wecom["card_type"] == "text_notice"
    assert wecom["horizontal_content_list"][0]["type"] == 1
    assert wecom["horizontal_content_list"][0]["url"] == "https://x/kb/KB-1"
    assert wecom["card_action"]["url"] == "https://x/kb/KB-1"
    assert "[打印机卡纸：现象：提示卡纸](https://x/kb/KB-1)" in _fields_markdown(card)


def test_suggestion_card_has_the_fixed_buttons_signed_for_no_ticket() -> None:
    card = build(
        {"builder": "kb_suggest", "args": {"articles": ARTICLES}}, key="kbs_9", secret=SIGNER
    )
    assert [b.text for b in card.buttons] == ["已解决", "仍需报修"]
    solved = ActionRef.decode(card.buttons[0].action, SIGNER.secret, recipient="wecom:u1", now=0)
    assert (solved.kind, solved.ticket_id, solved.card_key) == (ActionKind.KB_SOLVED, 0, "kbs_9")
    assert render_card(card)["card_type"] == "button_interaction"
