"""One small function per DRS operation, registered by name.

Each operation takes an :class:`OpContext` (the caller's account and region
state, the simulator, the time) and the request parameters as botocore sent
them, and returns the output as a dict in the model's names — or raises a
:class:`~drs_orchestration.testing.errors.DrsServiceError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drs_orchestration.testing.simulator import DrsSimulator
    from drs_orchestration.testing.state import RegionState

__all__ = ["OPERATIONS", "OpContext", "Operation", "operation"]


@dataclass
class OpContext:
    """What an operation works with."""

    sim: DrsSimulator
    state: RegionState
    account_id: str
    region: str
    now: datetime


Operation = Callable[[OpContext, dict[str, Any]], dict[str, Any]]
"""An operation handler: context and parameters in, output out."""

OPERATIONS: dict[str, Operation] = {}
"""Every operation the simulator implements, by DRS operation name."""


def operation(name: str) -> Callable[[Operation], Operation]:
    """Register the decorated function as the handler of DRS operation ``name``."""

    def register(handler: Operation) -> Operation:
        OPERATIONS[name] = handler
        return handler

    return register


# Importing the modules registers their operations.
from drs_orchestration.testing.operations import (  # noqa: E402
    instances,
    jobs,
    servers,
    tags,
    templates,
)

__all__ += ["instances", "jobs", "servers", "tags", "templates"]
