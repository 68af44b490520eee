"""What the Lambda adapter answers: camelCase JSON results and safe error bodies.

Results are the library's models in their wire form (``to_wire()``);
dataclass results (a plan check, a step result) are turned into the same
camelCase form here. Errors answer with the error's own HTTP status and
``to_dict()`` body, with three rules that keep a response from leaking what
belongs in the function's logs:

- an exception that is not a :class:`~drs_orchestration.errors.DrsOrchestrationError`
  answers 500 with a generic message and the request ID; its stack trace is
  logged, never returned;
- a :class:`~drs_orchestration.errors.StorageError` loses its ``location``
  (a database path or table name) and its message, which may quote it;
- every string of a body is scrubbed of AWS access key IDs, secret-looking
  values and file system paths.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from drs_orchestration.errors import DrsOrchestrationError, StorageError, StorageUnavailableError

__all__ = ["INTERNAL_ERROR", "error_body", "error_status", "scrub", "to_json_ready"]

INTERNAL_ERROR = "Internal"
"""The ``error`` code of a response to an exception the library did not raise."""

_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T[A-Z0-9])[A-Z0-9]{16}\b")
_SECRET = re.compile(
    r"(?i)(secret[_-]?access[_-]?key|session[_-]?token|aws_secret_access_key|password)"
    r"(\s*[=:]\s*|\"\s*:\s*\")[^\s\",']+"
)
# Absolute paths of two or more components (``/var/task/...``, ``/tmp/dr.db``,
# ``C:\\...``): where the code and its data live is nobody's business but the logs'.
_PATH = re.compile(
    r"(?:(?<![\w:/])/(?:[\w.@+-]+/)+[\w.@+-]+"  # POSIX
    r"|\b[A-Za-z]:\\(?:[\w.@+-]+\\)*[\w.@+-]+)"  # Windows
)


def scrub(text: str) -> str:
    """Remove access key IDs, secret values and file system paths from ``text``."""
    text = _ACCESS_KEY.sub("[redacted key]", text)
    text = _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
    return _PATH.sub("[path]", text)


def _scrub_all(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {str(k): _scrub_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_all(v) for v in value]
    return value


def error_status(error: BaseException) -> int:
    """The HTTP status of ``error``: its own ``http_status``, 500 for anything else."""
    if isinstance(error, DrsOrchestrationError):
        status = int(error.http_status)
        return status if 400 <= status <= 599 else 500
    return 500


def error_body(error: BaseException, *, request_id: str | None = None) -> dict[str, Any]:
    """The JSON body answering ``error``: its ``to_dict()``, made safe to return."""
    if not isinstance(error, DrsOrchestrationError):
        return {
            "error": INTERNAL_ERROR,
            "message": "internal error; the function's log has the details",
            "details": {"requestId": request_id} if request_id else {},
        }
    if isinstance(error, StorageError):
        message = (
            "storage is unavailable now; the same request may succeed later"
            if isinstance(error, StorageUnavailableError)
            else "storage failed; the function's log has the details"
        )
        details: dict[str, Any] = {"retryable": error.retryable}
        if request_id:
            details["requestId"] = request_id
        return {"error": error.code, "message": message, "details": details}
    body = _scrub_all(error.to_dict())
    if request_id:
        body.setdefault("details", {})["requestId"] = request_id
    return dict(body)


def to_json_ready(value: Any) -> Any:
    """``value`` as JSON-ready camelCase data.

    Library models give their wire form; dataclasses their fields in
    camelCase (properties such as ``ok`` are not fields and are added by the
    operation that wants them); datetimes become ISO 8601 strings, durations
    seconds, enums their values.
    """
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, mode="json", exclude_none=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            to_camel(f.name): to_json_ready(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, Mapping):
        return {str(k): to_json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_ready(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value
