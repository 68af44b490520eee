"""Pagination: ``maxResults`` and opaque ``nextToken``s, as every DRS describe has them."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from drs_orchestration.testing.errors import FieldProblem, validation_failed

__all__ = ["MAX_PAGE_SIZE", "paginate"]

T = TypeVar("T")

MAX_PAGE_SIZE = 1000
"""The largest page the simulator returns, whatever ``maxResults`` asks for."""


def _encode(scope: str, offset: int) -> str:
    raw = json.dumps({"s": scope, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(token: str, scope: str) -> int:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = payload["o"]
        if payload["s"] != scope or not isinstance(offset, int) or offset < 0:
            raise ValueError(token)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise validation_failed(
            [FieldProblem("nextToken", "Member must be a token returned by this operation", token)]
        ) from exc
    return offset


def paginate(
    items: Sequence[T], params: dict[str, Any], *, scope: str, default_page_size: int
) -> tuple[list[T], str | None]:
    """The page of ``items`` that ``params`` (``maxResults``, ``nextToken``) ask for.

    Raises:
        DrsServiceError: ``ValidationException`` for a token this operation did not issue.
    """
    start = _decode(params["nextToken"], scope) if params.get("nextToken") else 0
    size = min(int(params.get("maxResults") or default_page_size), MAX_PAGE_SIZE)
    page = list(items[start : start + size])
    end = start + len(page)
    return page, (_encode(scope, end) if end < len(items) else None)
