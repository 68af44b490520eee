"""A process starting an execution of a plan, for the multi-process tests (imports kept light).

A spawned process imports the module of its target: this one imports only
the library, not moto or the test modules, so processes start quickly.
Starting an execution reads storage only; no AWS call is made.
"""

from __future__ import annotations

from typing import Any

from drs_orchestration import ConflictError, Orchestrator
from drs_orchestration.storage import SqliteStorage
from drs_orchestration.testing import SimulatedClientFactory


def start_in_a_process(database: str, n: int, plan_id: str, start: Any, results: Any) -> None:
    """Start an execution of ``plan_id``; put ``(n, execution ID | "conflict")`` on ``results``."""
    storage = SqliteStorage(database)
    orchestrator = Orchestrator(storage, SimulatedClientFactory(), sync_cache=False)
    start.wait()
    try:
        outcome = orchestrator.waves.start(plan_id).execution_id
    except ConflictError:
        outcome = "conflict"
    storage.close()
    results.put((n, outcome))
