"""``run`` keeps the execution it wrote between steps, and still sees every other writer."""

from __future__ import annotations

from collections import Counter
from typing import Any

from drs_orchestration import ExecutionStatus, Orchestrator, WaveStatus
from drs_orchestration.errors import ConcurrentModificationError
from drs_orchestration.models import Execution
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.storage.executions import LoadedExecution
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from tests.waves.helpers import NO_WAIT_RETRY, REGION, add_servers, simulated


class _CountingStorage(MemoryStorage):
    """Counts header reads, whole reads, version lookups and refused (stale) writes."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[str] = Counter()
        repository = self.executions
        find, version_of, save = repository.find, repository.version_of, repository.save
        load = repository.load

        def counted_find(key: str) -> Execution | None:
            self.reads["find"] += 1
            return find(key)

        def counted_load(key: str) -> LoadedExecution:
            self.reads["load"] += 1
            return load(key)

        def counted_version_of(key: str) -> int | None:
            self.reads["version_of"] += 1
            return version_of(key)

        def counted_save(loaded: LoadedExecution, item: Execution) -> Execution:
            try:
                return save(loaded, item)
            except ConcurrentModificationError:
                self.reads["stale_write"] += 1
                raise

        repository.save = counted_save  # type: ignore[method-assign]
        repository.load = counted_load  # type: ignore[method-assign]
        repository.find = counted_find  # type: ignore[method-assign]
        repository.version_of = counted_version_of  # type: ignore[method-assign]


def _two_waves(sim: DrsSimulator, storage: MemoryStorage, sleep: Any) -> tuple[Orchestrator, str]:
    orch = Orchestrator(
        storage=storage,
        clients=SimulatedClientFactory(sim),
        clock=sim.now,
        retry=NO_WAIT_RETRY,
        sleep=sleep,
        sync_cache=False,
    )
    specs: list[dict[str, Any]] = []
    for tier in ("database", "app"):
        add_servers(sim, tier, 2)
        group = orch.groups.create(tier, REGION, tags={"Tier": tier})
        specs.append({"name": tier, "protectionGroupIds": [group.group_id]})
    specs[1]["dependsOn"] = ["database"]
    plan = orch.plans.create("two-waves", specs)
    return orch, orch.waves.start(plan.plan_id).execution_id


def test_run_reads_the_execution_once_while_it_alone_writes_it() -> None:
    storage = _CountingStorage()
    with simulated() as sim:
        polls: list[float] = []

        def wait(seconds: float) -> None:
            polls.append(seconds)
            sim.advance(seconds)

        orch, execution_id = _two_waves(sim, storage, wait)
        storage.reads.clear()

        execution = orch.waves.run(execution_id, poll_interval=30)

        assert execution.status is ExecutionStatus.COMPLETED
        # The header once before the first step, the whole execution once at the end.
        assert storage.reads["load"] == 1
        assert storage.reads["find"] == 1
        # One version lookup per later step: far more steps than reads.
        assert storage.reads["version_of"] > len(polls) >= 2
        # What run returns is the execution as stored, not a drifted working copy.
        assert execution == storage.executions.get(execution_id)


def test_run_sees_a_cancel_written_by_another_process_between_its_steps() -> None:
    storage = _CountingStorage()
    with simulated() as sim:
        other: list[Orchestrator] = []

        def wait(seconds: float) -> None:
            # While this runner waits on DRS, an operator's process cancels the drill.
            if not other:
                operator = Orchestrator(storage=storage, clients=SimulatedClientFactory(sim))
                operator.waves.cancel(execution_id, "jane@example.com", "window closed")
                other.append(operator)
            sim.advance(seconds)

        orch, execution_id = _two_waves(sim, storage, wait)

        execution = orch.waves.run(execution_id, poll_interval=30)

        assert execution.status is ExecutionStatus.CANCELLED
        assert execution.cancel_request is not None
        assert execution.cancel_request.requested_by == "jane@example.com"
        assert [w.status for w in execution.waves] == [WaveStatus.COMPLETED, WaveStatus.CANCELLED]
        assert sim.calls.count("StartRecovery") == 1
        # The runner saw the new version before its next step: no step worked on a stale
        # copy, and it read the header again once (the operator's cancel read it once).
        assert storage.reads["stale_write"] == 0
        assert storage.reads["load"] == 1 + 1 + 1
        assert execution == storage.executions.get(execution_id)
