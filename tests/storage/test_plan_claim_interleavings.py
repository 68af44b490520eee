"""Hypothesis interleavings of starts and an ending never leave two running executions of a plan.

One execution holds the plan; a thread ends it (cancel, then the step that
records it and releases the plan) while others start the plan, one storage
call at a time in an order hypothesis chooses (``tests/storage/scheduling.py``).
Whatever the order: at most one execution of the plan is running, and it
holds the plan's claim.
"""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from drs_orchestration import ConflictError, ProtectionGroup, WaveExecutor
from drs_orchestration.errors import ConcurrentModificationError
from drs_orchestration.services import LaunchConfigService, RecoveryPlanService
from drs_orchestration.storage import MemoryStorage, claim_id, retry_conflicts
from drs_orchestration.testing import SimulatedClientFactory
from tests.ids import server_id
from tests.storage.scheduling import ScheduledStorage, Scheduler, no_sleep


def _executor(storage: Any) -> WaveExecutor:
    clients = SimulatedClientFactory()
    return WaveExecutor(storage, clients, launch_configs=LaunchConfigService(storage, clients))


# The release-then-start race needs a few precise steps: more examples than the default.
@settings(max_examples=max(300, settings().max_examples))
@given(
    starts=st.integers(min_value=1, max_value=3),
    end_first=st.booleans(),
    data=st.data(),
)
def test_no_interleaving_runs_two_executions_of_a_plan(
    starts: int, end_first: bool, data: st.DataObject
) -> None:
    storage = MemoryStorage()
    group = storage.protection_groups.put(
        ProtectionGroup(name="db", region="us-east-1", source_server_ids=[server_id(1)])
    )
    plan_id = (
        RecoveryPlanService(storage)
        .create("shop", [{"name": "db", "protectionGroupIds": [group.group_id]}])
        .plan_id
    )
    first = _executor(storage).start(plan_id)

    scheduler = Scheduler()
    scheduled = ScheduledStorage(storage, scheduler)
    started: list[str] = []

    def end() -> None:
        executor = _executor(scheduled)
        retry_conflicts(
            lambda: executor.cancel(first.execution_id, "operator", "drill over"),
            attempts=3,
            sleep=no_sleep,
        )
        executor.run(first.execution_id)  # cancelled before any launch: no AWS call

    def start() -> None:
        started.append(_executor(scheduled).start(plan_id).execution_id)

    operations = [start] * starts
    operations.insert(0 if end_first else len(operations), end)
    workers = scheduler.run(
        [functools.partial(op) for op in operations],
        lambda n: (data.draw(st.integers(0, n - 1)), data.draw(st.integers(1, 8))),
    )

    for worker in workers:
        if worker.error is not None and not isinstance(
            worker.error, ConflictError | ConcurrentModificationError
        ):
            raise worker.error
    running = [
        e.execution_id
        for e in storage.executions.list_for_plan(plan_id)
        if not e.status.is_terminal
    ]
    assert len(running) <= 1, f"two executions of one plan run: {running}"
    assert set(running) <= set(started)
    if running:
        claim = storage.claims.get(claim_id("plan", plan_id))
        assert claim.held
        assert claim.owner_id == running[0]
