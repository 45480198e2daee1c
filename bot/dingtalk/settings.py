"""DingTalk adapter settings: the `dingtalk:` section of chatdesk.yaml (CONTRACT §3)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError

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

    @model_validator(mode="after")
    def _card_callbacks_are_signed(self) -> DingtalkSettings:
        # HTTP card callbacks are authenticated only by this secret; over the stream (when the
        # section has a ``mode: stream``) the connection itself is authenticated.
        if getattr(self, "mode", "http") != "stream" and not self.card_callback_secret:
            raise PydanticCustomError("card_secret_missing", CARD_SECRET_MISSING)
        return self

    @property
    def effective_robot_code(self) -> str:
        return self.robot_code or self.app_key
