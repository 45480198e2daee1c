"""DingTalk adapter settings: the `dingtalk:` section of chatdesk.yaml (CONTRACT §3)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.tencent_crypto import aes_key_setting

DINGTALK_GATEWAY = "https://api.dingtalk.com"

CARD_SECRET_MISSING = (
    "card_callback_secret 未设置：钉钉卡片回调必须验证签名。请填写注册卡片回调地址时使用的 "
    "apiSecret（钉钉开发者后台 open-dev.dingtalk.com → 应用开发 → 你的应用 → 开发配置 → "
    "卡片回调 / 互动卡片回调地址；或调用 POST /v1.0/card/callbacks/register 时的 apiSecret），"
    "也可用环境变量 CHATDESK_DINGTALK__CARD_CALLBACK_SECRET"
)


class DingtalkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app_key: str = Field(min_length=1, description="also the robot code unless robot_code is set")
    app_secret: SecretStr
    robot_code: str = ""
    event_token: SecretStr = SecretStr("")
    event_aes_key: SecretStr = SecretStr("")
    card_callback_secret: SecretStr = SecretStr("")
    card_template_id: str = Field(default="", description="optional console-designed template")
    api_base: str = "https://api.dingtalk.com"
    oapi_base: str = "https://oapi.dingtalk.com"
    robot_timestamp_tolerance_s: int = Field(default=3600, ge=1, le=3600)
    event_timestamp_tolerance_s: int = Field(default=3600, ge=1)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    request_timeout_s: float = Field(default=10.0, gt=0)
    mode: Literal["http", "stream"] = Field(
        default="http",
        description="http: DingTalk calls /webhooks/dingtalk/*; stream: we open a WebSocket to it",
    )
    stream_gateway: str = Field(
        default=DINGTALK_GATEWAY, description="where the Stream SDK opens its connection"
    )
    stream_webhooks: bool = Field(
        default=False, description="also mount /webhooks/dingtalk/* in stream mode"
    )
    stream_ready_grace_s: float = Field(
        default=60.0, ge=0, description="/readyz stays ready this long while reconnecting"
    )
    stream_backoff_base_s: float = Field(default=1.0, gt=0, description="first reconnect delay")
    stream_backoff_cap_s: float = Field(default=60.0, gt=0, description="longest reconnect delay")

    @field_validator("stream_gateway")
    @classmethod
    def _gateway_is_http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL, e.g. https://api.dingtalk.com")
        host = urlsplit(value).hostname or ""
        if value.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
            # the open-connection request carries the app secret: never in clear over a network
            raise ValueError("plain http:// is allowed only on this machine (127.0.0.1); use https")
        return value.rstrip("/")

    @property
    def stream(self) -> bool:
        return self.mode == "stream"

    @property
    def http_callbacks(self) -> bool:
        """DingTalk calls /webhooks/dingtalk/* (so the HTTP trust settings, e.g. the card
        callback secret, matter): always in http mode, in stream mode only with stream_webhooks."""
        return not self.stream or self.stream_webhooks

    def notes(self) -> list[str]:
        """Advice for `chatdesk check-config`: valid, but probably not what was meant."""
        if self.stream and not self.card_template_id:
            return [
                "dingtalk.card_template_id: 钉钉普通版卡片（StandardCard）的按钮点击不能经 Stream "
                "回传；请在卡片平台建模板并填写 card_template_id（见 README），否则请用文字命令"
                "（接单 #n）/ StandardCard clicks cannot come back over the stream: set a template"
            ]
        return []

    @field_validator("event_aes_key")
    @classmethod
    def _event_aes_key(cls, value: SecretStr) -> SecretStr:
        return aes_key_setting(value) if value.get_secret_value() else value

    @model_validator(mode="after")
    def _card_callbacks_are_signed(self) -> DingtalkSettings:
        # HTTP card callbacks are authenticated only by this secret; over the stream the
        # connection itself is authenticated, so it is needed only where the webhook is mounted.
        if self.http_callbacks and not self.card_callback_secret:
            raise PydanticCustomError("card_secret_missing", CARD_SECRET_MISSING)
        return self

    @property
    def effective_robot_code(self) -> str:
        return self.robot_code or self.app_key
