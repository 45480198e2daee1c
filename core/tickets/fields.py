"""Validation of a ticket type's custom fields (text, number, choice, date, images, asset)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from core.errors import FieldError
from core.settings import CustomField, FieldType, TicketTypeConfig

MAX_IMAGES = 9


def _one(spec: CustomField, value: Any, asset_ids: Collection[str]) -> tuple[Any, str | None]:
    """Return the normalised value, or an error message in Chinese."""
    if spec.type is FieldType.TEXT:
        if not isinstance(value, str):
            return None, "应为文本"
        value = value.strip()
        if len(value) > spec.max_length:
            return None, f"不能超过 {spec.max_length} 个字"
        return value, None
    if spec.type is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return None, "应为数字"
        try:
            number = float(value)
        except ValueError:
            return None, "应为数字"
        if number != number or number in (float("inf"), float("-inf")):
            return None, "应为数字"
        if spec.min is not None and number < spec.min:
            return None, f"不能小于 {spec.min:g}"
        if spec.max is not None and number > spec.max:
            return None, f"不能大于 {spec.max:g}"
        return (int(number) if number.is_integer() else number), None
    if spec.type is FieldType.CHOICE:
        if value not in spec.choices:
            return None, f"应为以下之一：{'、'.join(spec.choices)}"
        return value, None
    if spec.type is FieldType.DATE:
        try:
            return date.fromisoformat(str(value)).isoformat(), None
        except ValueError:
            return None, "应为日期，格式 YYYY-MM-DD"
    if spec.type is FieldType.IMAGES:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return None, "应为图片列表"
        if len(value) > MAX_IMAGES:
            return None, f"最多 {MAX_IMAGES} 张图片"
        return value, None
    # ASSET: a reference to a configured asset when a catalogue exists, else a serial number
    if not isinstance(value, str) or not value.strip():
        return None, "应为设备编号"
    value = value.strip()
    if len(value) > 64:
        return None, "设备编号过长"
    if asset_ids and value not in asset_ids:
        return None, f"未找到设备 {value}"
    return value, None


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def validate_fields(
    ticket_type: TicketTypeConfig,
    values: dict[str, Any],
    *,
    asset_ids: Collection[str] = (),
    partial: bool = False,
) -> tuple[dict[str, Any], list[FieldError]]:
    """Check ``values`` against the type; unknown keys and missing required fields are errors."""
    specs = {f.key: f for f in ticket_type.fields}
    clean: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key in values:
        if key not in specs:
            errors.append(FieldError(f"fields.{key}", f"工单类型“{ticket_type.name}”没有这个字段"))
    for key, spec in specs.items():
        value = values.get(key)
        if is_empty(value):
            if spec.required and not partial:
                errors.append(FieldError(f"fields.{key}", f"请填写{spec.label}"))
            continue
        normalised, problem = _one(spec, value, asset_ids)
        if problem:
            errors.append(FieldError(f"fields.{key}", f"{spec.label}{problem}"))
        else:
            clean[key] = normalised
    return clean, errors


def missing_required(ticket_type: TicketTypeConfig, values: dict[str, Any]) -> list[CustomField]:
    return [f for f in ticket_type.fields if f.required and is_empty(values.get(f.key))]
