"""DingTalk adapter settings: the `dingtalk:` section of chatdesk.yaml (CONTRACT §3)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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

    @property
    def effective_robot_code(self) -> str:
        return self.robot_code or self.app_key
