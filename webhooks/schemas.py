"""REST API models (CONTRACT §4). The OpenAPI document is generated from these."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from core.people.ids import check_user_id


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequesterIn(In):
    platform: Literal["wecom", "dingtalk", "api"]
    user_id: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=100)

    @field_validator("user_id")
    @classmethod
    def _one_person(cls, value: str, info: ValidationInfo) -> str:
        # never a list (a|b) or a wildcard (@all): WeCom would message the whole company
        platform = info.data.get("platform")
        return check_user_id(platform, value) if platform else value


class TicketCreate(In):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10000)
    type: str | None = Field(default=None, description="ticket type key; default: the first")
    priority: Literal["urgent", "high", "normal", "low"] = "normal"
    fields: dict[str, Any] = Field(default_factory=dict, description="the type's custom fields")
    requester: RequesterIn | None = Field(default=None, description="default: the API caller")


class StatusChange(In):
    status: str = Field(min_length=1, max_length=32)
    note: str = Field(default="", max_length=2000)


class PriorityChange(In):
    priority: str = Field(min_length=1, max_length=16, description="urgent | high | normal | low")
    note: str = Field(default="", max_length=2000)


class AssignIn(In):
    assignee: str = Field(min_length=1, max_length=64, description="a staff member's id")
    note: str = Field(default="", max_length=2000)


class NoteIn(In):
    text: str = Field(min_length=1, max_length=4000)
    internal: bool = True


class HistoryItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    at: str
    actor: str
    actor_name: str
    channel: str
    action: str


class SlaPause(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str | None
    status: str


class SlaTarget(BaseModel):
    name: str = Field(description="response | arrival | resolve")
    due_at: str | None = Field(description="null while paused")
    met: bool | None = Field(description="true met in time, false missed or late, null running")
    paused: bool
    warned_at: str | None
    breached_at: str | None
    met_at: str | None
    warn_at: str | None
    minutes: int
    calendar: str
    pauses: list[SlaPause]


class SlaOut(BaseModel):
    response_due_at: str | None
    resolve_due_at: str | None
    first_response_at: str | None
    arrived_at: str | None = None
    resolved_at: str | None
    response_met: bool | None
    resolve_met: bool | None
    overdue: bool
    targets: list[SlaTarget] = []


class TicketSummary(BaseModel):
    id: int
    ref: str
    title: str
    status: str
    priority: str
    type: str
    assignee: str | None
    requester: str
    created_at: str
    updated_at: str


class TicketOut(TicketSummary):
    description: str
    channel: str
    fields: dict[str, Any]
    sla: SlaOut
    rating: int | None
    parts_cost: float
    closed_at: str | None
    asset: str | None = Field(description="the registered asset's id")
    customer: str | None = Field(default=None, description="the asset's customer")
    signature: dict[str, Any] | None = Field(description="signed_at, signer, image_url")
    settlement: dict[str, Any] | None = Field(
        description="lines (kind, description, amount), total, customer_pays; null until closed"
    )
    history: list[HistoryItem]


class TicketList(BaseModel):
    items: list[TicketSummary]
    limit: int
    offset: int
    next_cursor: str | None = Field(
        description="pass as cursor for the next page; null on the last page"
    )
    total: int | None = Field(default=None, description="only with count=true")


class PartOut(BaseModel):
    sku: str
    name: str
    stock: int
    unit_cost: float
    min_stock: int
    unit: str


class PartList(BaseModel):
    items: list[PartOut]


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    errors: list[ErrorItem]


class AssetTicket(BaseModel):
    id: int
    ref: str
    title: str
    status: str
    created_at: str
    closed_at: str | None
    parts: list[dict[str, Any]]
    cost: str = Field(description="yuan, two decimals: the settlement total once settled")


class AssetSummary(BaseModel):
    id: str
    model: str
    customer: str
    site_address: str
    region: str
    install_date: str | None
    warranty_end: str | None
    contract_end: str | None
    notes: str
    under_warranty: bool
    under_contract: bool
    report_url: str = Field(description="the scan-to-report page /r/<token>")
    qr_svg_url: str
    qr_png_url: str


class AssetOut(AssetSummary):
    tickets: list[AssetTicket] = Field(description="service history, newest first")
    total_cost: str


class AssetList(BaseModel):
    items: list[AssetSummary]
    next_cursor: str | None = Field(
        description="pass as cursor for the next page; null on the last page (always without limit)"
    )
    total: int | None = Field(default=None, description="only with count=true")
