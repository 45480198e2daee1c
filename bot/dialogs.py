"""The intake dialog: collect a ticket type's required fields one short question at a time.

State is a small JSON dict kept by the inbox worker in the ``dialogs`` table (so it survives
restarts and works across instances) and expires after ``DIALOG_TTL``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot import texts
from core.settings import CustomField, DeskConfig, FieldType, TicketTypeConfig
from core.tickets.fields import validate_fields

DIALOG_TTL = timedelta(minutes=30)
_ASSET = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,6}-?\d{2,10}(?:-[A-Za-z0-9]{1,8})*)(?![A-Za-z0-9])"
)


def guess_type(config: DeskConfig, text: str) -> TicketTypeConfig:
    best, score = config.ticket_types[0], 0
    for t in config.ticket_types:
        hits = sum(1 for k in t.keywords if k in text)
        if hits > score:
            best, score = t, hits
    return best


def fields_from_text(
    config: DeskConfig, ticket_type: TicketTypeConfig, text: str
) -> dict[str, Any]:
    """What the first message already tells: a device number, the problem itself."""
    values: dict[str, Any] = {}
    asset_ids = {a.id.upper(): a.id for a in config.assets}
    for spec in ticket_type.fields:
        if spec.type is FieldType.ASSET:
            for candidate in _ASSET.findall(text):
                if not asset_ids or candidate.upper() in asset_ids:
                    values[spec.key] = asset_ids.get(candidate.upper(), candidate.upper())
                    break
        elif spec.type is FieldType.TEXT and spec.required and text and "描述" not in values:
            values[spec.key] = text
            values["描述"] = True  # the description fills one text field only
        elif spec.type is FieldType.CHOICE:
            hit = next((c for c in spec.choices if c in text), None)
            if hit:
                values[spec.key] = hit
    values.pop("描述", None)
    return values


def missing(ticket_type: TicketTypeConfig, values: dict[str, Any]) -> list[CustomField]:
    return [f for f in ticket_type.fields if f.required and values.get(f.key) in (None, "", [])]


def question(spec: CustomField) -> str:
    if spec.prompt:
        return spec.prompt
    if spec.type is FieldType.CHOICE:
        return texts.ASK_CHOICE.format(label=spec.label, choices="、".join(spec.choices))
    if spec.type is FieldType.DATE:
        return texts.ASK_DATE.format(label=spec.label)
    if spec.type is FieldType.IMAGES:
        return texts.ASK_PHOTO.format(label=spec.label)
    return texts.ASK_FIELD.format(label=spec.label)


def answer(
    config: DeskConfig, ticket_type: TicketTypeConfig, spec: CustomField, text: str
) -> tuple[Any, str | None]:
    """Validate one answer with the core's own field rules; (value, error message)."""
    raw: Any = text.strip()
    if spec.type is FieldType.ASSET:
        found = _ASSET.search(raw)
        raw = found.group(1).upper() if found else raw
        asset_ids = {a.id.upper(): a.id for a in config.assets}
        raw = asset_ids.get(str(raw).upper(), raw)
    clean, errors = validate_fields(
        ticket_type, {spec.key: raw}, asset_ids={a.id for a in config.assets}, partial=True
    )
    if errors:
        return None, errors[0].message
    return clean.get(spec.key), None


def images_field(ticket_type: TicketTypeConfig) -> CustomField | None:
    return next((f for f in ticket_type.fields if f.type is FieldType.IMAGES), None)
