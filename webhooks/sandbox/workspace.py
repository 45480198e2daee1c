"""The demo workspace: its people and settings (its own SQLite file, fake platform credentials)."""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from bot.dingtalk.settings import DingtalkSettings
from bot.wecom.settings import WecomSettings
from core.settings import DeskConfig
from webhooks.settings import Settings

FAKE_PREFIX = "/sandbox/fake"
WECOM_CORP_ID = "wwsandbox0000demo"
WECOM_AGENT_ID = 1000002
DING_APP_KEY = "dingsandboxdemo"

ROLE_ZH = {
    "customer": "客户",
    "engineer": "工程师",
    "stock_keeper": "库管",
    "manager": "经理",
    "agent": "客服",
    "admin": "管理员",
}


@dataclass(frozen=True)
class DemoPerson:
    """Someone the page can play: a staff member from the demo config, or a demo customer."""

    id: str
    name: str
    role: str  # the first role (customer for customers)
    region: str
    company: str
    wecom: str  # user id on WeCom
    dingtalk: str  # user id on DingTalk

    def user_id(self, platform: str) -> str:
        return self.wecom if platform == "wecom" else self.dingtalk

    def as_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "role_zh": ROLE_ZH.get(self.role, self.role),
            "region": self.region,
            "company": self.company,
        }


# Customers are not staff, so they are not in the config: the seed registers them.
CUSTOMERS = (
    DemoPerson("c-liuyang", "刘洋", "customer", "华东", "华东精密", "liuyang", "liuyang"),
    DemoPerson("c-zhoujie", "周杰", "customer", "华南", "南方塑业", "zhoujie", "zhoujie"),
)


def demo_desk() -> DeskConfig:
    text = resources.files("webhooks.sandbox").joinpath("demo.yaml").read_text(encoding="utf-8")
    return DeskConfig.model_validate(yaml.safe_load(text))


def demo_people(desk: DeskConfig) -> list[DemoPerson]:
    """The customer first, then staff in the config's order."""
    staff = [
        DemoPerson(
            p.id,
            p.name,
            p.roles[0].value,
            p.region,
            "",
            p.wecom_userid,
            p.dingtalk_userid,
        )
        for p in desk.people
    ]
    return [CUSTOMERS[0], *staff, *CUSTOMERS[1:]]


def _aes_key() -> str:
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")


def internal_base(settings: Settings) -> str:
    """How this process reaches itself on loopback (the fake platform APIs live here)."""
    host = settings.http.host
    if host in ("", "0.0.0.0", "::", "localhost"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.http.port}"


def demo_settings(settings: Settings) -> Settings:
    """The settings the demo runs with: the user's http/workers/log settings, the demo
    workspace, its own SQLite file, an in-process cache, and fresh platform secrets per start
    pointing the real adapters at the fake APIs of this process."""
    desk = demo_desk()
    base = internal_base(settings)
    wecom = WecomSettings(
        corp_id=WECOM_CORP_ID,
        agent_id=WECOM_AGENT_ID,
        secret=secrets.token_urlsafe(24),
        token=secrets.token_urlsafe(16),
        encoding_aes_key=_aes_key(),
        api_base=f"{base}{FAKE_PREFIX}/wecom",
        request_timeout_s=5.0,
    )
    dingtalk = DingtalkSettings(
        app_key=DING_APP_KEY,
        app_secret=secrets.token_urlsafe(24),
        event_token=secrets.token_urlsafe(16),
        event_aes_key=_aes_key(),
        card_callback_secret=secrets.token_urlsafe(24),
        api_base=f"{base}{FAKE_PREFIX}/dingtalk",
        oapi_base=f"{base}{FAKE_PREFIX}/dingtalk",
        request_timeout_s=5.0,
    )
    update: dict[str, Any] = {k: getattr(desk, k) for k in DeskConfig.model_fields}
    update.update(
        database_url=settings.sandbox_database_url,
        redis_url="",
        media_dir=settings.sandbox_media_dir,
        sandbox="off",  # these settings are the demo itself
        action_secret=settings.action_secret,
        wecom=wecom,
        dingtalk=dingtalk,
    )
    return settings.model_copy(update=update)
