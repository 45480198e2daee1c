"""Demo settings: own SQLite file, fresh fake-platform secrets, never mixed with a real platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogs import fields_from_text
from webhooks.sandbox.callbacks import cdata
from webhooks.sandbox.workspace import demo_desk, demo_people, demo_settings
from webhooks.settings import ConfigError, load_settings

WECOM = {
    "corp_id": "ww1", "agent_id": 1, "secret": "s", "token": "t", "encoding_aes_key": "a" * 43,
}  # fmt: skip


def test_sandbox_on_with_a_real_platform_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(None, sandbox="on", wecom=WECOM)
    assert "sandbox" in str(exc.value)


def test_the_demo_database_must_be_sqlite() -> None:
    with pytest.raises(ConfigError):
        load_settings(None, sandbox_database_url="postgresql+asyncpg://x@h/db")


def test_tests_keep_the_demo_files_out_of_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(None)
    assert settings.sandbox_database_url == f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    assert settings.sandbox_media_dir == str(tmp_path / "demo-media")
    monkeypatch.delenv("CHATDESK_SANDBOX_DATABASE_URL")
    monkeypatch.delenv("CHATDESK_SANDBOX_MEDIA_DIR")
    product = load_settings(None)  # what users get: files beside the working directory
    assert product.sandbox_database_url == "sqlite+aiosqlite:///var/demo.db"
    assert product.sandbox_media_dir == "var/demo-media"


def test_demo_settings_use_their_own_file_and_fresh_secrets() -> None:
    user = load_settings(None, database_url="postgresql+asyncpg://prod@db/chatdesk")
    one, two = demo_settings(user), demo_settings(user)
    assert one.database_url == user.sandbox_database_url != user.database_url
    assert one.redis_url == ""
    assert one.wecom is not None and one.dingtalk is not None and two.wecom is not None
    assert one.wecom.secret.get_secret_value() != two.wecom.secret.get_secret_value()
    assert len(one.wecom.encoding_aes_key.get_secret_value()) == 43
    assert one.wecom.api_base == "http://127.0.0.1:8080/sandbox/fake/wecom"
    assert one.sandbox_enabled is False  # the demo settings are the demo itself


def test_demo_workspace_has_the_contract_people_part_and_machine() -> None:
    desk = demo_desk()
    names = {p.name: p for p in demo_people(desk)}
    assert {"刘洋", "张伟", "王强", "赵敏", "陈静"} <= set(names)
    assert names["张伟"].region == "华东" and names["刘洋"].role == "customer"
    assert names["赵敏"].role == "stock_keeper" and names["陈静"].role == "manager"
    assert any(p.sku == "LX-01" and p.name == "滤芯" and p.stock > 0 for p in desk.parts)
    machine = next(a for a in desk.assets if a.id == "HX-2000-01")
    assert machine.region == "华东"
    serving = {p.name for p in desk.people if "engineer" in p.roles and p.region == "华东"}
    assert {"张伟", "王强"} <= serving


def test_an_asset_id_with_two_dashes_is_read_from_the_report() -> None:
    desk = demo_desk()
    values = fields_from_text(desk, desk.ticket_types[0], "报修 HX-2000-01 注塑机报警停机")
    assert values["device"] == "HX-2000-01"


def test_cdata_keeps_any_text_intact() -> None:
    assert cdata("a]]>b") == "<![CDATA[a]]]]><![CDATA[>b]]>"
    assert cdata("x\x00y") == "<![CDATA[xy]]>"
