"""Never twice: clock skew, a StartRecovery that outlives its claim, jobs started behind our back.

Each test ends with every DRS job of the execution recorded on it, and (where
DRS itself refuses the second start) exactly one job per chunk.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from drs_orchestration import ExecutionStatus, Orchestrator
from drs_orchestration.models import Execution, ServerLaunchStatus, WaveStatus
from drs_orchestration.services.waves.chunks import job_tags
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from tests.waves.crash import SimulatedCrash, crash_after_start_recovery
from tests.waves.helpers import NO_WAIT_RETRY, REGION, drs_jobs, make_drill, orchestrator, simulated


def _recorded_job_ids(execution: Execution) -> set[str]:
    return {c.job_id for w in execution.waves for c in w.jobs if c.job_id}


def _launch_job_ids(sim: DrsSimulator) -> set[str]:
    return {j["jobID"] for j in drs_jobs(sim)}


def _step_until_planned(orch: Orchestrator, execution: Execution) -> Execution:
    while not execution.waves[0].jobs:
        execution = orch.waves.step(execution.execution_id).execution
    return execution


@pytest.mark.parametrize("skew_minutes", [10, -10])
def test_a_host_with_a_skewed_clock_finds_the_job_it_started_before_a_crash(
    skew_minutes: int,
) -> None:
    skew = timedelta(minutes=skew_minutes)
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 2})
        clients = SimulatedClientFactory(sim)
        host = Orchestrator(
            drill.orch.storage,
            clients,
            clock=lambda: sim.now() + skew,
            retry=NO_WAIT_RETRY,
            sleep=sim.advance,
            sync_cache=False,
        )
        execution = host.waves.start(drill.plan.plan_id)
        with (
            crash_after_start_recovery(clients, REGION, 1),
            pytest.raises(SimulatedCrash),
        ):
            host.waves.run(execution.execution_id)
        sim.advance(60)

        resumed = host.waves.run(execution.execution_id)

        assert resumed.status is ExecutionStatus.COMPLETED
        assert sim.calls.count("StartRecovery") == 1
        assert _launch_job_ids(sim) == _recorded_job_ids(resumed)
        assert len(_launch_job_ids(sim)) == 1
        assert resumed.drs_clock_skew_s == pytest.approx(skew.total_seconds(), abs=2)
        chunk = resumed.waves[0].jobs[0]
        assert chunk.search_from is not None
        assert chunk.started_at is not None
        # The claim was kept in DRS's time: right before the job's creation, whatever
        # the host's clock said.
        assert timedelta(0) <= chunk.started_at - chunk.search_from < timedelta(seconds=5)


def _held_start(sim: DrsSimulator, seconds: float) -> None:
    """Hold the next StartRecovery request for ``seconds`` of real time (later ones go through)."""
    delays = [seconds]
    sim.faults.latency(lambda _rng: delays.pop(0) if delays else 0.0, "StartRecovery")


def _wait_for_claim(orch: Orchestrator, execution_id: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        chunk = orch.waves.get(execution_id).waves[0].jobs[0]
        if chunk.start_requested_at is not None:
            return
        time.sleep(0.01)
    raise AssertionError("the first process never claimed the chunk")


def test_a_start_held_past_its_lease_is_refused_by_drs_and_its_job_adopted() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 2})
        storage = drill.orch.storage
        execution = _step_until_planned(drill.orch, drill.start())
        first = orchestrator(sim, storage=storage)
        second = orchestrator(sim, storage=storage)
        _held_start(sim, 1.5)
        errors: list[BaseException] = []

        def first_process() -> None:
            try:
                first.waves.step(execution.execution_id)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=first_process)
        thread.start()
        _wait_for_claim(drill.orch, execution.execution_id)
        # The first request is still in flight when the claim's lease runs out.
        lease = first.waves.settings.start_lease.total_seconds()
        sim.advance(max(lease, 120.0) + 10)
        second.waves.step(execution.execution_id)  # takes the claim over, starts the chunk
        thread.join()
        assert not errors

        final = drill.orch.waves.run(execution.execution_id)

        assert final.status is ExecutionStatus.COMPLETED
        assert sim.calls.count("StartRecovery") == 2
        assert len(sim.calls.of("StartRecovery", succeeded=True)) == 1
        assert len(_launch_job_ids(sim)) == 1
        assert _launch_job_ids(sim) == _recorded_job_ids(final)
        assert [c.adopted for c in final.waves[0].jobs] == [False]


def test_a_start_that_lands_after_the_chunk_ran_is_adopted_beside_it() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 2})
        storage = drill.orch.storage
        execution = _step_until_planned(drill.orch, drill.start())
        first = orchestrator(sim, storage=storage, events=drill.events.append)
        second = orchestrator(sim, storage=storage)
        _held_start(sim, 2.0)
        thread = threading.Thread(target=lambda: first.waves.step(execution.execution_id).execution)
        thread.start()
        _wait_for_claim(drill.orch, execution.execution_id)
        sim.advance(130)
        taken = second.waves.step(execution.execution_id).execution
        # The other process's job runs to its end before the held request lands.
        while taken.waves[0].jobs[0].status.value != "COMPLETED":
            sim.advance(60)
            taken = second.waves.step(execution.execution_id).execution
        thread.join()

        final = drill.orch.waves.run(execution.execution_id)

        jobs = final.waves[0].jobs
        assert len(_launch_job_ids(sim)) == 2, "DRS launched the chunk twice"
        assert _launch_job_ids(sim) == _recorded_job_ids(final), "both are on the execution"
        assert [c.adopted for c in jobs] == [False, True]
        assert final.status is ExecutionStatus.COMPLETED
        # DRS keeps the later launch's instance: the outcomes follow the adopted job.
        assert {o.job_id for o in final.waves[0].servers.values()} == {jobs[1].job_id}
        assert all(o.status is ServerLaunchStatus.LAUNCHED for o in final.waves[0].servers.values())
        adopted = [e for e in drill.events if e.kind == "job_adopted"]
        assert [e.job_id for e in adopted] == [jobs[1].job_id]  # type: ignore[attr-defined]


def test_a_job_started_behind_the_executors_back_is_reconciled_before_the_wave_ends() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 2})
        orch = drill.orch
        execution = drill.start()
        while not (
            execution.waves[0].jobs
            and execution.waves[0].jobs[0].outcomes_recorded
            and execution.waves[0].jobs[0].status.value == "COMPLETED"
        ):
            sim.advance(30)
            execution = orch.waves.step(execution.execution_id).execution
        assert execution.waves[0].status is WaveStatus.MONITORING
        # Someone (a crashed process of an older version, a script) starts the chunk
        # again with its tags after its job ended.
        run = execution.waves[0]
        chunk = run.jobs[0]
        stray = orch.clients.client("drs", REGION).start_recovery(
            sourceServers=[{"sourceServerID": sid} for sid in chunk.server_ids],
            isDrill=True,
            tags=job_tags(execution, run, chunk),
        )["job"]["jobID"]

        final = drill.run(execution)

        assert final.status is ExecutionStatus.COMPLETED
        assert _recorded_job_ids(final) == _launch_job_ids(sim)
        adopted = [c for c in final.waves[0].jobs if c.adopted]
        assert [c.job_id for c in adopted] == [stray]
        assert {o.job_id for o in final.waves[0].servers.values()} == {stray}
        assert "job_adopted" in drill.kinds()


def test_a_start_refused_because_the_chunks_job_holds_its_servers_records_that_job() -> None:
    """No claim was stored (a storage restored from backup), yet DRS runs the chunk's job."""
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 2})
        orch = drill.orch
        execution = _step_until_planned(orch, drill.start())
        run, chunk = execution.waves[0], execution.waves[0].jobs[0]
        existing = orch.clients.client("drs", REGION).start_recovery(
            sourceServers=[{"sourceServerID": sid} for sid in chunk.server_ids],
            isDrill=True,
            tags=job_tags(execution, run, chunk),
        )["job"]["jobID"]

        final = drill.run(execution)

        assert final.status is ExecutionStatus.COMPLETED
        refused = [c for c in sim.calls.of("StartRecovery") if c.error_code]
        assert [c.error_code for c in refused] == ["ConflictException"]
        assert _recorded_job_ids(final) == _launch_job_ids(sim) == {existing}
