"""What a step reads, compares and writes is bounded by the wave it works on, not by the plan."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from drs_orchestration import ExecutionStatus, WaveStatus
from drs_orchestration.models import EndedWaves, Execution
from drs_orchestration.services.waves.chunks import job_tags
from drs_orchestration.storage import DynamoDBStorage, MemoryStorage, SqliteStorage, Storage
from drs_orchestration.storage.backend import EXECUTIONS
from drs_orchestration.storage.executions import LoadedExecution
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from tests.waves.helpers import REGION, drs_jobs, make_drill, orchestrator, simulated

TIERS = {"database": 2, "app": 2, "web": 2, "batch": 2, "reports": 2}


class _SaveWatchingStorage(MemoryStorage):
    """Records, per write of an execution, the waves whose records it held and their bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.saves: list[tuple[list[int], int]] = []
        repository = self.executions
        save = repository.save
        transact = self.backend.transact

        def watched_save(loaded: LoadedExecution, item: Execution) -> Execution:
            before = self.written
            stored = save(loaded, item)
            self.saves.append((sorted(loaded.loaded), self.written - before))
            return stored

        def counted_transact(operations: Any) -> None:
            # The wave and outcome records, not the header (which holds a summary per wave).
            self.written += sum(
                len(str(op.row.body))
                for op in operations
                if op.row is not None and op.spec.name != "executions"
            )
            transact(operations)

        self.written = 0
        repository.save = watched_save  # type: ignore[method-assign,assignment]
        self.backend.transact = counted_transact  # type: ignore[method-assign]


def test_run_keeps_only_the_wave_it_works_on_so_its_writes_do_not_grow_with_the_plan() -> None:
    storage = _SaveWatchingStorage()
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, TIERS, storage=storage)
        storage.saves.clear()

        execution = drill.run(drill.start(), poll_interval=30)

    assert execution.status is ExecutionStatus.COMPLETED
    # Each write compares (and writes) the records of one wave at most, even in the
    # last wave: the waves run before are not held, so not serialised again.
    assert max(len(waves) for waves, _ in storage.saves) == 1
    waves_written = {waves[0] for waves, _ in storage.saves if waves}
    assert waves_written == set(range(len(TIERS)))
    per_wave = [
        max(size for waves, size in storage.saves if waves == [i]) for i in range(len(TIERS))
    ]
    # The last wave writes records as large as the first one's.
    assert per_wave[-1] <= per_wave[0] * 1.2
    assert execution == storage.executions.get(execution.execution_id)


def test_the_header_keeps_of_an_ended_wave_its_name_status_and_region_only() -> None:
    storage = MemoryStorage()
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, TIERS, storage=storage)
        execution_id = drill.start().execution_id
        header_sizes: list[int] = []
        while True:
            result = drill.orch.waves.step(execution_id)
            raw = storage.backend.read(EXECUTIONS, execution_id)
            assert raw is not None
            header_sizes.append(len(str(raw.body)))
            if result.finished:
                break
            if not result.progressed:
                sim.advance(30)

    assert result.status is ExecutionStatus.COMPLETED
    header = json.loads(str(raw.body))
    assert all(set(wave) == {"waveName", "status", "region"} for wave in header["waves"])
    # The header shrinks as waves end instead of growing with what they did.
    assert header_sizes[-1] < min(header_sizes[:3])
    whole = storage.executions.get(execution_id)
    # Folded wave by wave as they ended, the same as folding the whole execution at once.
    assert whole.ended_waves == EndedWaves().including(whole.waves)
    assert len(whole.ended_waves.job_ids) == len(TIERS)
    launched = [
        o.phases.launch_end
        for run in whole.waves
        for o in run.servers.values()
        if o.phases.launch_end is not None
    ]
    assert whole.started_at is not None
    assert result.header.recovery_time == max(launched) - whole.started_at


def _window_reads(sim: DrsSimulator, since: int) -> list[Any]:
    return [
        call
        for call in list(sim.calls)[since:]
        if call.operation == "DescribeJobs" and "jobIDs" not in (call.params.get("filters") or {})
    ]


def test_the_last_step_reads_the_executions_jobs_once_not_once_per_wave() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, TIERS)
        execution_id = drill.start().execution_id
        while True:
            before = len(sim.calls)
            result = drill.orch.waves.step(execution_id)
            if result.finished:
                break
            if not result.progressed:
                sim.advance(30)

    assert result.status is ExecutionStatus.COMPLETED
    # The final step looks once for jobs with the execution's tags that no wave recorded
    # (one region here): a read per wave would return every later wave's jobs again.
    assert len(_window_reads(sim, before)) == 1


def test_a_job_started_with_an_ended_waves_tags_is_recorded_on_that_wave_at_the_end() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 2, "app": 2, "web": 2})
        waves = drill.orch.waves
        execution_id = drill.start().execution_id
        execution = waves.get(execution_id)
        while execution.waves[0].status is not WaveStatus.COMPLETED:
            result = waves.step(execution_id)
            if not result.progressed:
                sim.advance(30)
            execution = waves.get(execution_id)
        # Once the wave has ended, something (an older version's crashed process, a
        # script) starts its chunk again with its tags.
        run, chunk = execution.waves[0], execution.waves[0].jobs[0]
        stray = drill.orch.clients.client("drs", REGION).start_recovery(
            sourceServers=[{"sourceServerID": sid} for sid in chunk.server_ids],
            isDrill=True,
            tags=job_tags(execution, run, chunk),
        )["job"]["jobID"]

        final = waves.run(execution_id, poll_interval=30)

    assert final.status is ExecutionStatus.COMPLETED
    assert [c.job_id for c in final.waves[0].jobs if c.adopted] == [stray]
    assert not any(c.adopted for w in final.waves[1:] for c in w.jobs)


def test_cancelling_a_plan_of_many_waves_ends_them_in_steps_of_bounded_size() -> None:
    # Ending a wave writes its record (its end time is not in the header), so a step
    # ending every pending wave of a 1,000-wave plan would not fit one DynamoDB
    # transaction (100 items): each step ends at most 40, and the execution still ends.
    storage = _SaveWatchingStorage()
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {f"tier{n:02d}": 1 for n in range(45)}, storage=storage)
        execution = drill.start()
        drill.orch.waves.cancel(execution.execution_id, "ops", "window closed")
        storage.saves.clear()

        ended = drill.run(execution)

    assert ended.status is ExecutionStatus.CANCELLED
    assert {run.status for run in ended.waves} == {WaveStatus.CANCELLED}
    assert all(run.ended_at is not None for run in ended.waves)
    assert max(len(waves) for waves, _ in storage.saves) <= 40
    assert sum(1 for waves, _ in storage.saves if waves) >= 2


@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
def test_threads_stepping_one_execution_over_one_store_fold_each_ended_wave_once(
    tmp_path: Path, backend: str
) -> None:
    with simulated(ec2=backend == "dynamodb") as sim:

        def connect() -> Storage:
            # A process of its own, as far as storage goes: its own connection or client.
            if backend == "sqlite":
                return SqliteStorage(tmp_path / "dr.db")
            client = SimulatedClientFactory(sim).client("dynamodb", REGION)
            return DynamoDBStorage(table_prefix="threads-", client=client)

        seeded = connect()
        if isinstance(seeded, DynamoDBStorage):
            seeded.create_tables()
        drill = make_drill(sim, {"database": 2, "app": 2, "web": 2}, storage=seeded)
        execution_id = drill.start().execution_id
        errors: list[BaseException] = []
        barrier = threading.Barrier(3)

        def step_until_done() -> None:
            storage = connect()
            waves = orchestrator(sim, storage=storage).waves
            try:
                barrier.wait()
                for _ in range(500):
                    result = waves.step(execution_id)
                    if result.finished:
                        return
                    if not result.progressed:
                        sim.advance(10)
            except BaseException as exc:  # reported by the test, not lost in the thread
                errors.append(exc)
            finally:
                storage.close()

        threads = [threading.Thread(target=step_until_done) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = connect().executions.get(execution_id)
        launched = {j["jobID"] for j in drs_jobs(sim)}

    assert not errors
    assert final.status is ExecutionStatus.COMPLETED
    recorded = {c.job_id for w in final.waves for c in w.jobs if c.job_id}
    assert recorded == launched
    assert len(launched) == 3  # one job per wave, whichever thread started it
    # Whichever thread ended a wave, it was folded into the header once and lost nothing.
    assert final.ended_waves == EndedWaves().including(final.waves)
    assert set(final.ended_waves.job_ids) == launched
