"""The whole configuration (CONTRACT §3): a YAML file plus CHATDESK_ environment overrides."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.dingtalk.settings import DingtalkSettings
from bot.wecom.settings import WecomSettings
from core.settings import DeskConfig

DEFAULT_CONFIG_FILE = "chatdesk.yaml"


MIN_TOKEN_CHARS = 32
_TOKEN68 = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")  # RFC 6750 b64token: no spaces, ASCII only


def _api_token(value: SecretStr) -> SecretStr:
    token = value.get_secret_value()
    if len(token) < MIN_TOKEN_CHARS or not _TOKEN68.match(token):
        raise PydanticCustomError(
            "api_token",
            "API 令牌至少 {n} 个字符，只能含字母、数字和 -._~+/= ；可用 "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'` 生成 "
            "(an API token needs at least {n} characters from A-Z a-z 0-9 -._~+/=)",
            {"n": MIN_TOKEN_CHARS},
        )
    return value


ApiToken = Annotated[SecretStr, AfterValidator(_api_token)]


class HttpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_base_url: str = "http://127.0.0.1:8080"
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="REST API bodies")
    ack_timeout_s: float = Field(
        default=1.5,
        gt=0,
        le=4.5,
        description="a callback not stored within this answers 503 so the platform retries",
    )


class WorkerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inbox_poll_s: float = Field(default=0.5, gt=0)
    outbox_poll_s: float = Field(default=0.5, gt=0)
    batch: int = Field(default=20, ge=1, le=500)
    concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="inbox rows of different people handled at once (PostgreSQL; SQLite: 1)",
    )
    max_attempts: int = Field(default=60, ge=1, description="then the row is dead-lettered")
    give_up_after_s: float = Field(
        default=86400.0,
        gt=0,
        description="a message still failing this long after it was queued is dead-lettered",
    )
    run: bool = Field(default=True, description="start the inbox worker and outbox relay")
    processes: int = Field(
        default=1,
        ge=1,
        le=32,
        description="worker processes `chatdesk serve` starts in process mode (PostgreSQL; SQLite"
        " has one writer, so 1)",
    )
    mode: Literal["process", "inline"] = Field(
        default="process",
        description="process: `chatdesk serve` runs them in a child process, away from the acks;"
        " inline: in the web process (the sandbox always runs inline)",
    )
    retry_base_s: float = Field(default=2.0, gt=0, description="first outbox retry delay (doubles)")
    retry_cap_s: float = Field(default=600.0, gt=0, description="longest wait between retries")
    per_person_per_minute: int = Field(
        default=20, ge=1, le=30, description="then a person's messages wait and are merged"
    )
    scan_interval_s: float = Field(
        default=60.0, gt=0, description="SLA, assignment, auto-close scans"
    )
    nice: int = Field(
        default=5,
        ge=0,
        le=19,
        description="CPU priority the worker processes `chatdesk serve` starts give up (nice):"
        " when both want the CPU, acknowledging callbacks comes first",
    )
    sqlite_synchronous: Literal["normal", "full"] = Field(
        default="normal",
        description="SQLite, worker processes: normal leaves syncing the log to the next"
        " acknowledging commit (a power cut may undo the last turns, which are then handled"
        " again); full syncs every commit (about half the throughput)",
    )
    inbox_lease_s: float = Field(
        default=60.0,
        ge=1,
        description="a claimed callback whose worker died is taken up again after this",
    )
    outbox_lease_s: float = Field(
        default=120.0,
        ge=1,
        description="a claimed message whose relay died is sent again after this",
    )


class WebFormSettings(BaseModel):
    """The public pages: scan-to-report (/r), signing (/s), the ticket page (/p)."""

    model_config = ConfigDict(extra="forbid")

    per_address_per_hour: int = Field(default=20, ge=1, description="reports from one address")
    per_phone_per_hour: int = Field(default=5, ge=1, description="reports for one phone number")
    max_photos: int = Field(default=6, ge=0, le=20)
    max_photo_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` are "path: message" lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _YamlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(DeskConfig, BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHATDESK_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    database_url: str = "sqlite+aiosqlite:///var/chatdesk.db"
    redis_url: str = ""
    media_dir: str = Field(default="var/media", description="photos and files fetched from chats")
    http: HttpSettings = HttpSettings()
    api_tokens: list[ApiToken] = []
    sandbox: Literal["auto", "on", "off"] = "auto"
    sandbox_database_url: str = Field(
        default="sqlite+aiosqlite:///var/demo.db",
        description="the demo workspace's own SQLite file (never the configured database)",
    )
    sandbox_media_dir: str = Field(default="var/demo-media", description="the demo's photos")
    action_secret: SecretStr = Field(
        default=SecretStr(""),
        description="signs card buttons; derived from the platform secrets when empty",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    workers: WorkerSettings = WorkerSettings()
    web_forms: WebFormSettings = WebFormSettings()
    wecom: WecomSettings | None = None
    dingtalk: DingtalkSettings | None = None

    _yaml_data: dict[str, Any] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _YamlSource(settings_cls, _pending_yaml.get("data", {}))

    def desk(self) -> DeskConfig:
        desk = DeskConfig.model_validate({k: getattr(self, k) for k in DeskConfig.model_fields})
        return desk.with_platforms(
            tuple(p for p in ("wecom", "dingtalk") if getattr(self, p) is not None)
        ).with_public_base_url(self.http.public_base_url)

    @model_validator(mode="after")
    def _sandbox_alone(self) -> Settings:
        if self.sandbox == "on" and (self.wecom is not None or self.dingtalk is not None):
            raise ValueError(
                "sandbox: on 会以演示模式运行（演示数据库与模拟平台），不能与 wecom/dingtalk 同时配置；"
                "请改为 auto 或 off，或另起一个演示实例"
            )
        if not self.sandbox_database_url.startswith("sqlite"):
            raise ValueError("sandbox_database_url: 演示只使用自己的 SQLite 文件")
        return self

    def worker_processes(self) -> int:
        """How many worker processes serve starts: SQLite allows one writer at a time."""
        return 1 if self.database_url.startswith("sqlite") else self.workers.processes

    @property
    def sandbox_enabled(self) -> bool:
        if self.sandbox == "auto":
            return self.wecom is None and self.dingtalk is None
        return self.sandbox == "on"


_pending_yaml: dict[str, Any] = {}


def config_path(explicit: str | None) -> Path | None:
    """--config PATH, else $CHATDESK_CONFIG, else ./chatdesk.yaml if present, else none."""
    if explicit:
        return Path(explicit)
    if os.environ.get("CHATDESK_CONFIG"):
        return Path(os.environ["CHATDESK_CONFIG"])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.exists() else None


_SECRET_KEY = re.compile(r"secret|token|password|passwd|aes_key|api_key|private", re.I)
_KEY = re.compile(r"^(\s*)(?:-\s+)?([^\s:#][^:#]*?)\s*:(?:\s|$)")


def _line_is_secret(lines: list[str], n: int) -> bool:
    """Whether line ``n`` holds (or continues) a value under a secret-looking key."""
    indent = None
    for line in reversed(lines[: n + 1]):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        width = len(line) - len(line.lstrip())
        if indent is not None and width >= indent:
            continue
        match = _KEY.match(line)
        if match and _SECRET_KEY.search(match.group(2)):
            return True
        indent = width if indent is None else min(indent, width)
        if width == 0:
            return False
    return False


def yaml_problem(exc: yaml.MarkedYAMLError, text: str) -> str:
    """Where and what, with the offending lines shown only when they hold no secret."""
    lines = text.splitlines()
    parts = []
    for what, mark in ((exc.context, exc.context_mark), (exc.problem, exc.problem_mark)):
        if not what or mark is None:
            continue
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列（line {mark.line + 1}）：{what}"
        if mark.line < len(lines) and lines[mark.line].strip():
            shown = (
                "****（值已隐藏）"
                if _line_is_secret(lines, mark.line)
                else lines[mark.line].strip()
            )
            where += f"：{shown[:120]}"
        parts.append(where)
    return "；".join(parts) or str(exc.problem)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: 无法读取配置文件（{exc.strerror}）"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([f"{path}: YAML 格式错误：{yaml_problem(exc, text)}"]) from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an impossible date, 2025-02-30
        raise ConfigError([f"{path}: YAML 格式错误：{exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: 顶层应为键值映射"])
    return data


def _problems(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (未知的配置项)"
        lines.append(f"{path}: {msg}")
    return lines


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load the YAML file (if any) and the environment; raise ConfigError listing every problem."""
    data = _read_yaml(Path(path)) if path else {}
    _pending_yaml["data"] = data
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from None
    finally:
        _pending_yaml.pop("data", None)
