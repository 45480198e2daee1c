"""WeCom adapter settings: the `wecom:` section of chatdesk.yaml (CONTRACT §3)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from bot.tencent_crypto import aes_key_setting


class WecomSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corp_id: str = Field(min_length=1)
    agent_id: int
    secret: SecretStr
    token: SecretStr
    encoding_aes_key: SecretStr = Field(description="43 characters from the WeCom console")
    api_base: str = "https://qyapi.weixin.qq.com"
    timestamp_tolerance_s: int = Field(default=300, ge=1, description="refuse older callbacks")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    request_timeout_s: float = Field(default=10.0, gt=0)

    _aes_key = field_validator("encoding_aes_key")(aes_key_setting)
