"""Errors the simulated DRS answers with, and the one it raises when it is itself wrong.

A :class:`DrsServiceError` becomes an HTTP error response built from the
model's error shape (status code, ``x-amzn-errortype``, JSON body), so
botocore raises the modeled exception class (``client.exceptions.ConflictException``...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "DrsServiceError",
    "FieldProblem",
    "SimulatorBug",
    "conflict",
    "internal_error",
    "not_found",
    "quota_exceeded",
    "throttled",
    "uninitialized",
    "validation_failed",
]


class SimulatorBug(AssertionError):  # noqa: N818 - a bug, not an error condition to handle
    """The simulator produced something the DRS model cannot describe.

    Raised (in strict mode) instead of returning the response, so a simulator
    bug fails the test loudly rather than teaching the library a field DRS
    never sends. The message names the operation and the offending field.
    """


class DrsServiceError(Exception):
    """An error DRS answers with.

    Args:
        code: The error shape's name in the model, e.g. ``"ConflictException"``.
        message: The ``message`` member of the body.
        members: Other members of the error shape (``resourceId``, ``quotaCode``...),
            by their model names.
        status: Overrides the model's HTTP status (only for errors not in the model).
    """

    def __init__(
        self, code: str, message: str, *, status: int | None = None, **members: Any
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.members = {k: v for k, v in members.items() if v is not None}


class FieldProblem:
    """One field that failed validation: its path (Coral style) and the constraint it broke."""

    __slots__ = ("message", "path", "value")

    def __init__(self, path: str, message: str, value: Any = None) -> None:
        self.path = path
        self.message = message
        self.value = value

    def __repr__(self) -> str:
        return f"FieldProblem({self.path!r}, {self.message!r})"


def validation_failed(
    problems: Sequence[FieldProblem], *, reason: str = "fieldValidationFailed"
) -> DrsServiceError:
    """A ``ValidationException`` in AWS's words: "1 validation error detected: Value ... at ..."."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    details = "; ".join(
        f"Value '{_short(p.value)}' at '{p.path}' failed to satisfy constraint: {p.message}"
        for p in problems
    )
    return DrsServiceError(
        "ValidationException",
        f"{count} validation {noun} detected: {details}",
        reason=reason,
        fieldList=[{"name": p.path, "message": p.message} for p in problems],
    )


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 100 else text[:97] + "..."


def conflict(
    message: str, *, resource_id: str | None = None, resource_type: str | None = None
) -> DrsServiceError:
    """A ``ConflictException`` (409): the resource is busy or in the wrong state."""
    return DrsServiceError(
        "ConflictException", message, resourceId=resource_id, resourceType=resource_type
    )


def not_found(message: str, *, resource_id: str, resource_type: str) -> DrsServiceError:
    """A ``ResourceNotFoundException`` (404)."""
    return DrsServiceError(
        "ResourceNotFoundException", message, resourceId=resource_id, resourceType=resource_type
    )


def quota_exceeded(
    message: str, *, quota_code: str, resource_type: str, resource_id: str | None = None
) -> DrsServiceError:
    """A ``ServiceQuotaExceededException`` (402 in the model)."""
    return DrsServiceError(
        "ServiceQuotaExceededException",
        message,
        quotaCode=quota_code,
        serviceCode="drs",
        resourceType=resource_type,
        resourceId=resource_id,
    )


def throttled(message: str = "Rate exceeded", *, retry_after: int | None = None) -> DrsServiceError:
    """A ``ThrottlingException`` (429)."""
    return DrsServiceError(
        "ThrottlingException",
        message,
        serviceCode="drs",
        retryAfterSeconds=None if retry_after is None else str(retry_after),
    )


def internal_error(message: str = "Internal server error") -> DrsServiceError:
    """An ``InternalServerException`` (500)."""
    return DrsServiceError("InternalServerException", message)


def uninitialized(region: str) -> DrsServiceError:
    """An ``UninitializedAccountException``: DRS was never initialized in this region."""
    return DrsServiceError(
        "UninitializedAccountException",
        f"Account is not initialized in region {region}. Call InitializeService first.",
    )
