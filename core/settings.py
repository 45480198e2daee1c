"""Domain configuration: people, calendars, ticket types, parts, assignment (CONTRACT §3).

Only pydantic models live here; loading (YAML + environment) is the composition root's job
(webhooks/settings.py). Every model forbids unknown keys so a typo is reported with its path.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, time
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.people.ids import check_user_id


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Role(StrEnum):
    AGENT = "agent"
    ENGINEER = "engineer"
    STOCK_KEEPER = "stock_keeper"
    MANAGER = "manager"
    ADMIN = "admin"


CUSTOMER_ID = re.compile(r"[cC][0-9]+")


class PersonConfig(Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1)
    roles: list[Role] = Field(min_length=1)
    region: str = ""
    skills: list[str] = []
    on_duty: bool = True
    max_open: int = Field(default=8, ge=1, description="cap of assigned + accepted tickets")
    phone: str = ""
    level: str = ""  # engineer level for the labour rate (settlement.labour_rates)
    wecom_userid: str = ""
    dingtalk_userid: str = ""
    prefer_platform: Literal["", "wecom", "dingtalk"] = Field(
        default="", description="reach this person here; default: the ticket's platform"
    )

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        # c1, c2, ... are the ids customers get on first contact; api is the REST caller
        if CUSTOMER_ID.fullmatch(value) or value.lower() in ("api", "system"):
            raise ValueError(
                f"id {value} 已保留（c+数字 是客户编号，api/system 为系统使用），请换一个"
            )
        return value

    @field_validator("wecom_userid", "dingtalk_userid")
    @classmethod
    def _one_person(cls, value: str, info: ValidationInfo) -> str:
        return check_user_id(str(info.field_name).split("_")[0], value) if value else value


_SPAN = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WORKWEEK = ["09:00-12:00", "13:00-18:00"]


class CalendarConfig(Strict):
    key: str = Field(min_length=1)
    timezone: str = "Asia/Shanghai"
    hours: dict[Weekday, list[str]] = Field(
        default_factory=lambda: {d: list(_WORKWEEK) for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    holidays: Literal["cn", "none"] = "cn"
    extra_holidays: list[date] = []
    extra_workdays: list[date] = []

    @field_validator("hours")
    @classmethod
    def _spans(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        problems = []  # every bad span, not only the first
        for day, spans in value.items():
            good = []
            for span in spans:
                if not _SPAN.match(span) or span[:5] >= span[6:]:
                    problems.append(f"{day}: '{span}' 不是有效的时段，应为 HH:MM-HH:MM")
                else:
                    good.append(span)
            good.sort()
            for earlier, later in itertools.pairwise(good):
                if later[:5] < earlier[6:]:  # overlapping spans would count minutes twice
                    problems.append(f"{day}: '{earlier}' 与 '{later}' 重叠")
        if problems:
            raise ValueError("; ".join(problems))
        return value


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    CHOICE = "choice"
    DATE = "date"
    IMAGES = "images"
    ASSET = "asset"


class CustomField(Strict):
    key: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    type: FieldType = FieldType.TEXT
    required: bool = False
    choices: list[str] = []
    min: float | None = None
    max: float | None = None
    max_length: int = Field(default=2000, ge=1)
    prompt: str = ""  # the question the bot asks for it; default: "请提供{label}"

    @model_validator(mode="after")
    def _choices(self) -> CustomField:
        if self.type is FieldType.CHOICE and not self.choices:
            raise ValueError(f"字段 {self.key} 的类型为 choice，需要 choices")
        return self


Pausable = Literal["new", "assigned", "accepted", "waiting_parts", "waiting_customer"]


class SlaTargets(Strict):
    """One SLA policy (CONTRACT §9): working minutes on ``calendar`` from the ticket's creation."""

    calendar: str = "office"
    response_minutes: int = Field(default=60, ge=1)  # until an engineer accepts / staff reply
    arrival_minutes: int | None = Field(default=None, ge=1)  # until 到场 (optional)
    resolve_minutes: int = Field(default=960, ge=1)  # until resolved
    warn_percent: int = Field(default=75, ge=1, le=99)  # warn when this share is used
    pause_on: list[Pausable] = Field(default_factory=lambda: ["waiting_customer", "waiting_parts"])
    escalate: Literal["none", "redispatch"] = "none"  # a breached response re-dispatches


class SlaConfig(Strict):
    scan_seconds: float = Field(default=15, gt=0, le=3600)  # how often due clocks are looked for


class TicketTypeConfig(Strict):
    key: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    keywords: list[str] = []  # words in a description that suggest this type
    fields: list[CustomField] = []
    skills: list[str] = []  # engineers need one of these skills (empty: anyone)
    sla: dict[Literal["urgent", "high", "normal", "low"], SlaTargets] = {}

    @model_validator(mode="after")
    def _unique_fields(self) -> TicketTypeConfig:
        keys = [f.key for f in self.fields]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise ValueError(f"工单类型 {self.key} 的字段重复: {', '.join(sorted(dupes))}")
        return self


class PartConfig(Strict):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    stock: int = Field(default=0, ge=0)
    unit_cost: float = Field(default=0.0, ge=0)
    min_stock: int = Field(default=0, ge=0)
    unit: str = "个"


class AssetConfig(Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str = ""
    model: str = ""
    customer: str = ""  # the customer's name or company
    region: str = ""
    site_address: str = ""
    install_date: date | None = None
    warranty_end: date | None = None
    contract_end: date | None = None


class SettlementConfig(Strict):
    """结算: rates in yuan (Decimal; YAML numbers are read exactly as written)."""

    labour_rates: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "junior": Decimal("120"),
            "senior": Decimal("180"),
            "expert": Decimal("260"),
        },
        description="yuan per hour on site, per engineer level",
    )
    default_level: str = "senior"  # for engineers without a level
    fixed_fees: dict[str, Decimal] = {}  # ticket type key -> a fixed labour fee instead of time
    travel_fees: dict[str, Decimal] = {}  # region -> travel fee per job
    default_travel_fee: Decimal = Decimal("0")
    billing_increment_minutes: int = Field(default=15, ge=1, le=240)
    minimum_minutes: int = Field(default=30, ge=0, le=24 * 60)

    @model_validator(mode="after")
    def _amounts(self) -> SettlementConfig:
        amounts = [
            *self.labour_rates.values(),
            *self.fixed_fees.values(),
            *self.travel_fees.values(),
            self.default_travel_fee,
        ]
        if any(not a.is_finite() or a < 0 for a in amounts):
            raise ValueError("金额不能为负")
        if self.default_level not in self.labour_rates:
            raise ValueError(f"default_level {self.default_level} 不在 labour_rates 中")
        return self


class AssignmentConfig(Strict):
    mode: Literal["direct", "pool"] = "direct"
    accept_timeout_minutes: int = Field(default=15, ge=1)
    max_declines: int = Field(default=3, ge=1)
    auto_dispatch: bool = True  # dispatch a ticket by the rules as soon as it is opened


class CompletionConfig(Strict):
    auto_close_days: int = Field(default=3, ge=1, description="close a resolved ticket after")


class ReportsConfig(Strict):
    daily_digest_at: time = time(18, 0)  # managers' daily digest, in the desk's timezone
    top_engineers: int = Field(default=3, ge=1, le=10)


class KbConfig(Strict):
    """Knowledge search (core/kb/): dictionary, synonyms, cut-off."""

    words: list[str] = []  # extra dictionary words for jieba (part and product names are in)
    products: list[str] = []  # product names: context in a query, not a symptom
    models: list[str] = []  # model names (HX-2000): like products
    alarm_codes: list[str] = []  # codes that are always symptoms (E05, AL-21)
    synonyms: list[list[str]] = Field(default_factory=list)  # each group: one meaning
    synonyms_mode: Literal["extend", "replace"] = "extend"  # add to or replace the defaults
    min_coverage: float = Field(default=0.36, ge=0, le=1)  # share of the query's evidence
    suggest_at_intake: bool = True  # show matching articles before a ticket is created

    @field_validator("synonyms")
    @classmethod
    def _groups(cls, value: list[list[str]]) -> list[list[str]]:
        for i, group in enumerate(value):
            short = [m for m in group if len(m.strip()) < 2]
            if len(group) < 2 or short:
                raise ValueError(f"synonyms[{i}]: 每组至少两个词，每个词至少两个字")
        return value


def default_ticket_types() -> list[TicketTypeConfig]:
    """Sensible defaults for an equipment-service company."""
    return [
        TicketTypeConfig(
            key="repair",
            name="设备报修",
            keywords=["坏", "故障", "报警", "不能", "无法", "漏", "异响", "停机", "维修"],
            fields=[
                CustomField(key="device", label="设备编号", type=FieldType.ASSET, required=True),
                CustomField(key="symptom", label="故障现象", required=True),
                CustomField(key="photos", label="现场照片", type=FieldType.IMAGES),
                CustomField(key="address", label="地址"),
            ],
        ),
        TicketTypeConfig(
            key="maintenance",
            name="保养预约",
            keywords=["保养", "维护", "巡检"],
            fields=[
                CustomField(key="device", label="设备编号", type=FieldType.ASSET, required=True),
                CustomField(key="preferred_date", label="期望日期", type=FieldType.DATE),
            ],
        ),
        TicketTypeConfig(key="consult", name="咨询", keywords=["咨询", "请问", "怎么"]),
    ]


def default_calendars() -> list[CalendarConfig]:
    return [CalendarConfig(key="office")]


class DeskConfig(Strict):
    """Everything the domain needs from the config file."""

    # The chat platforms this installation can send to (set by the composition root, never
    # read from the file): a person known on several platforms is reached on an enabled one.
    _platforms: tuple[str, ...] = PrivateAttr(default=())

    @property
    def platforms(self) -> tuple[str, ...]:
        return self._platforms

    # Where the public pages live (http.public_base_url): signing links in messages.
    _public_base_url: str = PrivateAttr(default="http://127.0.0.1:8080")

    @property
    def public_base_url(self) -> str:
        return self._public_base_url

    def with_public_base_url(self, url: str) -> DeskConfig:
        copy = self.model_copy()
        copy._public_base_url = url.rstrip("/")
        return copy

    def with_platforms(self, platforms: tuple[str, ...]) -> DeskConfig:
        copy = self.model_copy()
        copy._platforms = tuple(platforms)
        return copy

    timezone: str = "Asia/Shanghai"
    people: list[PersonConfig] = []
    calendars: list[CalendarConfig] = Field(default_factory=default_calendars)
    ticket_types: list[TicketTypeConfig] = Field(default_factory=default_ticket_types)
    parts: list[PartConfig] = []
    assets: list[AssetConfig] = []
    assignment: AssignmentConfig = AssignmentConfig()
    completion: CompletionConfig = CompletionConfig()
    reports: ReportsConfig = ReportsConfig()
    kb: KbConfig = KbConfig()
    settlement: SettlementConfig = SettlementConfig()
    sla: SlaConfig = SlaConfig()

    @model_validator(mode="after")
    def _references(self) -> DeskConfig:
        problems: list[str] = []
        for name, keys in (
            ("people", [p.id for p in self.people]),
            ("calendars", [c.key for c in self.calendars]),
            ("ticket_types", [t.key for t in self.ticket_types]),
            ("parts", [p.sku for p in self.parts]),
            ("assets", [a.id for a in self.assets]),
        ):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                problems.append(f"{name}: 重复的键 {', '.join(dupes)}")
        if not self.ticket_types:
            problems.append("ticket_types: 至少需要一种工单类型")
        calendars = {c.key for c in self.calendars}
        for t in self.ticket_types:
            for prio, target in t.sla.items():
                if target.calendar not in calendars:
                    problems.append(
                        f"ticket_types.{t.key}.sla.{prio}.calendar: 未定义的日历 {target.calendar}"
                    )
        for p in self.people:
            if p.level and p.level not in self.settlement.labour_rates:
                known_levels = ", ".join(self.settlement.labour_rates)
                problems.append(f"people.{p.id}.level: 未知的级别 {p.level}（可选 {known_levels}）")
            for platform in ("wecom_userid", "dingtalk_userid"):
                uid = getattr(p, platform)
                if uid and [q.id for q in self.people if getattr(q, platform) == uid] != [p.id]:
                    problems.append(f"people.{p.id}.{platform}: {uid} 被多人使用")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def ticket_type(self, key: str) -> TicketTypeConfig | None:
        return next((t for t in self.ticket_types if t.key == key), None)
