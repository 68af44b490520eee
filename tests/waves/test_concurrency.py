"""Two processes stepping one execution: the versioned claim lets only one start a chunk."""

from __future__ import annotations

from typing import Any

from drs_orchestration import ExecutionStatus
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.testing import SimulatedClientFactory
from tests.waves.crash import CrashingStorage
from tests.waves.helpers import REGION, drs_jobs, make_drill, orchestrator, simulated


class _BeforeClaim(CrashingStorage):
    """Runs ``meanwhile`` once, just before this process's first claim reaches storage."""

    def __init__(self, inner: Any, meanwhile: Any) -> None:
        super().__init__(inner)
        outer = self

        class _Executions:
            def __getattr__(self, name: str) -> Any:
                return getattr(inner.executions, name)

            def put(self, item: Any, **kwargs: Any) -> Any:
                chunks = [j for w in item.waves for j in w.jobs]
                claiming = any(j.start_requested_at and not j.job_id for j in chunks)
                if claiming and outer.meanwhile is not None:
                    run, outer.meanwhile = outer.meanwhile, None
                    run()
                return inner.executions.put(item, **kwargs)

        self.meanwhile = meanwhile
        self.executions = _Executions()  # type: ignore[assignment]


def test_a_process_that_loses_the_claim_does_not_start_the_chunk() -> None:
    with simulated(ec2=False) as sim:
        storage = MemoryStorage()
        drill = make_drill(sim, {"database": 2}, storage=storage)
        execution = drill.start()
        first = drill.orch.waves
        while not execution.waves[0].jobs:
            execution = first.step(execution.execution_id).execution

        def other_process_steps() -> None:
            first.step(execution.execution_id)  # claims, starts and records the chunk

        racing = orchestrator(sim, storage=_BeforeClaim(storage, other_process_steps))  # type: ignore[arg-type]
        after = racing.waves.step(execution.execution_id).execution

        assert sim.calls.count("StartRecovery") == 1
        assert after.waves[0].jobs[0].job_id is not None
        assert drill.run(after).status is ExecutionStatus.COMPLETED
        assert sim.calls.count("StartRecovery") == 1


def test_a_job_id_survives_a_lost_final_write() -> None:
    with simulated(ec2=False) as sim:
        storage = MemoryStorage()
        drill = make_drill(sim, {"database": 2}, storage=storage)
        execution = drill.start()
        while not execution.waves[0].jobs:
            execution = drill.orch.waves.step(execution.execution_id).execution
        other = orchestrator(sim, storage=storage, clients=SimulatedClientFactory(sim))
        starter_clients = SimulatedClientFactory(sim)
        starter = orchestrator(sim, storage=storage, clients=starter_clients)

        def meanwhile(**_: Any) -> None:
            # Another process writes between StartRecovery and this process's write.
            other.waves.cancel(execution.execution_id, "someone", "racing write")

        starter_clients.client("drs", REGION).meta.events.register(
            "after-call.drs.StartRecovery", meanwhile
        )
        after = starter.waves.step(execution.execution_id).execution

        chunk = after.waves[0].jobs[0]
        assert chunk.job_id is not None
        assert after.cancel_request is not None  # both writes are there
        jobs = drs_jobs(sim)
        assert [j["jobID"] for j in jobs] == [chunk.job_id]
        finished = drill.run(after)
        assert finished.status is ExecutionStatus.CANCELLED
        assert sim.calls.count("StartRecovery") == 1
