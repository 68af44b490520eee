"""A process creating a protection group, for the multi-process tests (imports kept light).

A spawned process imports the module of its target: this one imports only
the library, not moto or the test modules, so processes start quickly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drs_orchestration.errors import ConflictError
from drs_orchestration.models import ProtectionGroup
from drs_orchestration.services.group_membership import GroupMembership
from drs_orchestration.storage import SqliteStorage, retry_conflicts

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def create_in_a_process(database: str, n: int, server: str, start: Any, results: Any) -> None:
    """Create group ``g{n}`` holding ``server``; put ``(n, "created" | "conflict")`` on ``results``.

    This is what ``ProtectionGroupService.create`` does once DRS has confirmed
    the servers (the thread tests run the whole service): the claim-and-write
    protocol, retried on conflicts.
    """
    storage = SqliteStorage(database)
    membership = GroupMembership(storage, clock=lambda: T0)
    group = ProtectionGroup(name=f"g{n}", region="us-east-1", source_server_ids=[server])
    start.wait()
    try:
        retry_conflicts(lambda: membership.save(group, None))
        outcome = "created"
    except ConflictError:
        outcome = "conflict"
    storage.close()
    results.put((n, outcome))
