"""Domain errors. Each carries a short Chinese message fit to show a person as it is."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of refusals the core explains to a person; ``message`` is Chinese, short, polite."""

    status = 400
    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class InvalidTransition(DomainError):
    status = 409
    code = "invalid_transition"


class Conflict(DomainError):
    status = 409
    code = "conflict"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("；".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
