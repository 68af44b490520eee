"""Text forms shared by every report: durations, UTC times, status colours, missing extras."""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drs_orchestration.models import Execution

__all__ = [
    "MissingExtraError",
    "execution_repr",
    "format_duration",
    "format_time",
    "require_extra",
    "seconds_between",
    "status_colours",
]


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message names the extra to install."""


def require_extra(module: str, extra: str, *, purpose: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` naming ``extra``.

    Args:
        module: The module to import (``"pandas"``, ``"matplotlib"``).
        extra: The drs-orchestration extra that installs it.
        purpose: What needs it, for the message (``"Execution.to_dataframe()"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(
            f'{purpose} needs {module}: pip install "drs-orchestration[{extra}]"'
        ) from error


def format_duration(value: timedelta | float | None) -> str:
    """``4m07s``-style text for a duration (``-`` when unknown); sub-second rounds down."""
    if value is None:
        return "-"
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    minutes, secs = divmod(max(seconds, 0), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def format_time(value: datetime | None) -> str:
    """``2026-11-28 09:36:06Z`` (UTC, to the second), or ``-`` when unknown."""
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end`` to the millisecond (``None`` when either is unknown)."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


_GOOD = ("#14532d", "#dcfce7")
_BAD = ("#7f1d1d", "#fee2e2")
_WARN = ("#713f12", "#fef9c3")
_BUSY = ("#1e3a8a", "#dbeafe")
_IDLE = ("#374151", "#f3f4f6")

_COLOURS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("LAUNCHED", "COMPLETED", "READY", "TRUE", "OK", "IN SYNC"), _GOOD),
    **dict.fromkeys(
        ("FAILED", "START_FAILED", "TERMINATED", "CANCELLED", "FALSE", "NOT READY", "MISS"),
        _BAD,
    ),
    **dict.fromkeys(
        ("PARTIAL", "SKIPPED", "PAUSED", "PENDING", "DRIFTED", "NOT APPLIED", "INTENT"), _WARN
    ),
    **dict.fromkeys(
        (
            "RUNNING",
            "STARTED",
            "IN_PROGRESS",
            "PREFLIGHT",
            "CONFIGURING",
            "LAUNCHING",
            "MONITORING",
        ),
        _BUSY,
    ),
}


def status_colours(status: str) -> tuple[str, str]:
    """Text and background colour for a status word (any case; grey when unknown)."""
    return _COLOURS.get(status.upper(), _IDLE)


def execution_repr(execution: Execution) -> str:
    """A one-line repr of an execution: ID, plan, type, status and server counts."""
    outcomes = [o.status.value.lower() for run in execution.waves for o in run.servers.values()]
    counts = ", ".join(f"{outcomes.count(s)} {s}" for s in sorted(set(outcomes)))
    return (
        f"Execution({execution.execution_id}, plan={execution.plan_name!r} "
        f"v{execution.plan_version}, {execution.execution_type.value}, "
        f"{execution.status.value}, waves={len(execution.waves)}, "
        f"servers={len(outcomes)}" + (f": {counts}" if counts else "") + ")"
    )
