"""Polls decided from the execution's header: a job showing nothing new costs no wave read.

The header keeps, while a wave only waits on its jobs, what the wave
recorded of each (``JobWatch``). These tests hold the decision made from it
to the one a step reading the wave makes, on the simulator and over every
view DRS may show (hypothesis), and check what such a poll reads.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drs_orchestration import ExecutionStatus, Orchestrator, WaveStatus
from drs_orchestration.errors import ValidationError
from drs_orchestration.events import Event, JobProgress
from drs_orchestration.models import (
    JobRecord,
    JobStatus,
    JobWatch,
    ServerLaunchStatus,
    ServerOutcome,
    WaveRun,
)
from drs_orchestration.services.waves.executor import WaveExecutor
from drs_orchestration.services.waves.jobs import JobFollower
from drs_orchestration.services.waves.monitor import JobView, ServerView
from drs_orchestration.services.waves.watch import (
    launch_counts,
    progress_differs,
    progress_due,
    worth_writing,
)
from drs_orchestration.storage import DynamoDBStorage, MemoryStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from tests.waves.helpers import NO_WAIT_RETRY, REGION, make_drill, simulated

JOB_ID = "drsjob-0123456789abcdef0"
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
INTERVAL = timedelta(seconds=120)
FINAL = {ServerLaunchStatus.LAUNCHED, ServerLaunchStatus.FAILED, ServerLaunchStatus.TERMINATED}
# What DRS may show next of a server recorded in a status (the module's assumption).
NEXT = {
    ServerLaunchStatus.PENDING: list(ServerLaunchStatus)[1:6],
    ServerLaunchStatus.IN_PROGRESS: list(ServerLaunchStatus)[1:6],
    ServerLaunchStatus.LAUNCHED: [ServerLaunchStatus.LAUNCHED, ServerLaunchStatus.TERMINATED],
    ServerLaunchStatus.FAILED: [ServerLaunchStatus.FAILED],
    ServerLaunchStatus.TERMINATED: [ServerLaunchStatus.TERMINATED],
}
RECORDED = [
    ServerLaunchStatus.PENDING,
    ServerLaunchStatus.IN_PROGRESS,
    ServerLaunchStatus.LAUNCHED,
    ServerLaunchStatus.FAILED,
    ServerLaunchStatus.TERMINATED,
]


def _running_chunk(servers: list[str]) -> JobRecord:
    """A chunk whose job (``JOB_ID``) runs for ``servers``."""
    return JobRecord(
        chunk_index=0,
        idempotency_key="k",
        server_ids=servers,
        region=REGION,
        job_id=JOB_ID,
        status=JobStatus.STARTED,
    )


@st.composite
def recorded_and_seen(draw: st.DrawFn) -> tuple[WaveRun, JobRecord, JobView]:
    """A wave's record of a running job, and a view of the job DRS may show next."""
    count = draw(st.integers(min_value=1, max_value=12))
    servers = [f"s-{i:017x}" for i in range(count)]
    outcomes: dict[str, ServerOutcome] = {}
    seen: dict[str, ServerView] = {}
    for sid in servers:
        status = draw(st.sampled_from(RECORDED))
        instance = f"i-{int(sid[2:], 16):017x}" if draw(st.booleans()) else None
        outcomes[sid] = ServerOutcome(
            source_server_id=sid, job_id=JOB_ID, status=status, recovery_instance_id=instance
        )
        shown = draw(st.sampled_from(NEXT[status]))
        # DRS names a recovery instance once it has one; it does not take it back.
        shown_instance = instance or (
            f"i-{int(sid[2:], 16) + 1:017x}" if draw(st.booleans()) else None
        )
        seen[sid] = ServerView(launch_status=shown, recovery_instance_id=shown_instance)
    chunk = _running_chunk(servers)
    # Never written, written within the interval, at its edge, before it, or (a clock
    # that stepped back) after now.
    chunk.progress_recorded_at = draw(
        st.sampled_from(
            [
                None,
                NOW - timedelta(seconds=30),
                NOW - INTERVAL,
                NOW - 2 * INTERVAL,
                NOW + timedelta(seconds=30),
            ]
        )
    )
    ended = draw(st.sampled_from([None, datetime(2026, 11, 28, tzinfo=UTC)]))
    view = JobView(
        job_id=JOB_ID,
        status=draw(st.sampled_from([JobStatus.STARTED, JobStatus.COMPLETED])),
        created_at=None,
        ended_at=ended,
        servers=seen,
    )
    run = WaveRun(wave_name="database", region=REGION, server_ids=servers, servers=outcomes)
    return run, chunk, view


@given(case=recorded_and_seen())
def test_the_header_decides_a_poll_as_a_step_reading_the_wave_does(
    case: tuple[WaveRun, JobRecord, JobView],
) -> None:
    run, chunk, view = case
    watch = JobWatch.of(chunk, run.servers.values())

    differs, worth = JobFollower.view_differs(run, chunk, view, NOW, INTERVAL)

    assert worth_writing(watch, view, NOW, INTERVAL) is worth
    if not worth:
        # The same progress is reported whichever way the poll was decided.
        assert progress_differs(watch, *launch_counts(view.servers.values())) is differs


def test_a_server_reaching_a_final_status_is_worth_a_write_even_when_another_leaves_it() -> None:
    servers = ["s-00000000000000001", "s-00000000000000002"]
    run = WaveRun(
        wave_name="database",
        region=REGION,
        server_ids=servers,
        servers={
            servers[0]: ServerOutcome(
                source_server_id=servers[0], job_id=JOB_ID, status=ServerLaunchStatus.LAUNCHED
            ),
            servers[1]: ServerOutcome(
                source_server_id=servers[1], job_id=JOB_ID, status=ServerLaunchStatus.IN_PROGRESS
            ),
        },
    )
    chunk = _running_chunk(servers)
    # One instance terminated while the other launched: LAUNCHED keeps its count.
    view = JobView(
        job_id=JOB_ID,
        status=JobStatus.STARTED,
        created_at=None,
        ended_at=None,
        servers={
            servers[0]: ServerView(ServerLaunchStatus.TERMINATED),
            servers[1]: ServerView(ServerLaunchStatus.LAUNCHED),
        },
    )

    assert worth_writing(JobWatch.of(chunk, run.servers.values()), view, NOW, INTERVAL)
    assert JobFollower.view_differs(run, chunk, view, NOW, INTERVAL) == (True, True)


class _CountingStorage(MemoryStorage):
    """Counts, per collection, the records each read asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []
        backend = self.backend
        read, read_many, read_across = backend.read, backend.read_many, backend.read_many_across

        def counted_read(spec: Any, key: str) -> Any:
            self.reads.append(spec.name)
            return read(spec, key)

        def counted_many(spec: Any, keys: Any) -> Any:
            self.reads.extend(spec.name for _ in keys)
            return read_many(spec, keys)

        def counted_across(wanted: Any) -> Any:
            self.reads.extend(spec.name for spec, keys in wanted for _ in keys)
            return read_across(wanted)

        backend.read = counted_read  # type: ignore[method-assign]
        backend.read_many = counted_many  # type: ignore[method-assign]
        backend.read_many_across = counted_across  # type: ignore[method-assign]


def _step_until_watched(drill: Any, execution_id: str) -> None:
    while True:
        result = drill.orch.waves.step(execution_id)
        header = drill.orch.storage.executions.load(execution_id).execution
        if header.waves[0].summary.watched_jobs:
            return
        assert not result.finished
        if not result.progressed:
            drill.sim.advance(1)


def test_a_poll_that_finds_nothing_new_reads_the_header_alone_and_writes_nothing() -> None:
    storage = _CountingStorage()
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 3}, storage=storage)
        execution_id = drill.start().execution_id
        _step_until_watched(drill, execution_id)
        header = storage.executions.load(execution_id).execution
        (watch,) = header.waves[0].summary.watched_jobs
        assert header.waves[0].summary.deadline is not None
        assert watch.launch_statuses == {ServerLaunchStatus.PENDING: 3}
        version, polls = header.version, sim.calls.count("DescribeJobs")
        storage.reads.clear()
        drill.events.clear()

        result = drill.orch.waves.step(execution_id)

        assert result.progressed is False
        assert storage.reads == ["executions"]
        assert sim.calls.count("DescribeJobs") == polls + 1
        assert storage.executions.load(execution_id).version == version
        assert [e.kind for e in drill.events] == []

        # Once DRS shows servers launched, a step reads the wave and records them.
        while storage.executions.load(execution_id).version == version:
            sim.advance(30)
            storage.reads.clear()
            drill.orch.waves.step(execution_id)
        assert "execution-servers" in storage.reads
        assert sim.calls.count("DescribeJobs", succeeded=True) == sim.calls.count("DescribeJobs")

        execution = drill.run(storage.executions.get(execution_id))
        assert execution.status is ExecutionStatus.COMPLETED
        header = storage.executions.load(execution_id).execution
        assert header.waves[0].status is WaveStatus.COMPLETED
        assert header.waves[0].summary.watched_jobs == []


def test_waves_running_at_once_are_polled_from_the_header_each_with_its_own_jobs() -> None:
    storage = _CountingStorage()
    with simulated(ec2=False) as sim:
        drill = make_drill(
            sim,
            {"database": 2, "app": 3},
            storage=storage,
            waves=[{}, {"dependsOn": []}],
            allow_concurrent_waves=True,
        )
        execution_id = drill.start().execution_id
        for _ in range(40):
            header = storage.executions.load(execution_id).execution
            if all(run.summary.watched_jobs for run in header.waves):
                break
            if not drill.orch.waves.step(execution_id).progressed:
                sim.advance(1)
        assert all(run.summary.watched_jobs for run in header.waves)
        polls = sim.calls.count("DescribeJobs")
        storage.reads.clear()

        result = drill.orch.waves.step(execution_id)

        assert result.progressed is False
        assert storage.reads == ["executions"]
        assert sim.calls.count("DescribeJobs") == polls + 2  # one per wave's jobs


def test_a_poll_that_finds_a_change_asks_drs_once_for_the_whole_step() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 3})
        execution_id = drill.start().execution_id
        _step_until_watched(drill, execution_id)
        sim.advance(3600)  # every server launched, the job over
        polls = sim.calls.count("DescribeJobs")

        result = drill.orch.waves.step(execution_id)

        assert result.progressed
        assert sim.calls.count("DescribeJobs") == polls + 1
        wave = drill.orch.waves.get(execution_id).waves[0]
        assert {o.status for o in wave.servers.values()} == {ServerLaunchStatus.LAUNCHED}


def _dynamodb(sim: DrsSimulator, prefix: str) -> DynamoDBStorage:
    """A DynamoDB storage on moto (``simulated()`` with EC2 runs moto for every service)."""
    client = SimulatedClientFactory(sim).client("dynamodb", REGION)
    storage = DynamoDBStorage(table_prefix=prefix, client=client)
    storage.create_tables()
    return storage


def _history(backend: str, *, from_header: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Drive a drill by single steps; return its events, writes and outcomes, IDs left out."""
    with monkeypatch.context() as patch:
        if not from_header:
            patch.setattr(WaveExecutor, "_only_polling", staticmethod(lambda _execution: False))
        with simulated(ec2=backend == "dynamodb") as sim:
            storage = MemoryStorage() if backend == "memory" else _dynamodb(sim, "history-")
            drill = make_drill(sim, {"database": 4, "app": 3, "web": 2}, storage=storage)
            started = sim.now()
            execution_id = drill.start().execution_id
            drill.events.clear()
            steps = 0
            while not (result := drill.orch.waves.step(execution_id)).finished:
                steps += 1
                if not result.progressed:
                    sim.advance(20)
            execution = storage.executions.get(execution_id)
    events = [
        {k: v for k, v in dataclasses.asdict(e).items() if k not in ("execution_id", "plan_id")}
        | {"kind": e.kind}
        for e in drill.events
    ]
    outcomes = [
        {sid: o.model_dump(exclude={"readiness"}) for sid, o in run.servers.items()}
        for run in execution.waves
    ]
    # The simulator's clock starts at the wall clock's time: times count from the start.
    return steps, execution.version, execution.status, _since(started, [events, outcomes])


# moto's EC2 names instances at random: only whether there is one is compared.
_INSTANCE_IDS = {"recovery_instance_id", "ec2_instance_id"}


def _since(start: datetime, value: Any) -> Any:
    if isinstance(value, datetime):
        return value - start
    if isinstance(value, dict):
        return {
            k: (v is not None) if k in _INSTANCE_IDS else _since(start, v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_since(start, v) for v in value]
    return value


@pytest.mark.parametrize("backend", ["memory", "dynamodb"])
def test_polls_decided_from_the_header_leave_the_history_a_step_reading_the_wave_leaves(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_header = _history(backend, from_header=True, monkeypatch=monkeypatch)
    reading_waves = _history(backend, from_header=False, monkeypatch=monkeypatch)

    assert from_header[2] is ExecutionStatus.COMPLETED
    assert any(e["kind"] == "job_progress" for e in from_header[3][0])
    assert from_header == reading_waves


@contextmanager
def _dynamodb_calls(storage: DynamoDBStorage) -> Iterator[list[str]]:
    calls: list[str] = []

    def count(event_name: str, **_: Any) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])

    storage.client.meta.events.register("before-call.dynamodb", count)
    try:
        yield calls
    finally:
        storage.client.meta.events.unregister("before-call.dynamodb", count)


def test_on_dynamodb_a_poll_that_finds_nothing_new_is_one_get_item() -> None:
    with simulated() as sim:
        storage = _dynamodb(sim, "quiet-")
        drill = make_drill(sim, {"database": 3}, storage=storage)
        execution_id = drill.start().execution_id
        _step_until_watched(drill, execution_id)

        with _dynamodb_calls(storage) as calls:
            result = drill.orch.waves.step(execution_id)

        assert result.progressed is False
        assert calls == ["GetItem"]


def test_a_chunk_without_a_job_has_nothing_to_watch() -> None:
    chunk = JobRecord(
        chunk_index=2, idempotency_key="k", server_ids=["s-00000000000000001"], region=REGION
    )

    with pytest.raises(ValidationError, match="chunk 2 has no DRS job") as raised:
        JobWatch.of(chunk, [])

    assert raised.value.problems[0]["field"] == "job_id"


def test_a_progress_write_is_due_at_first_then_once_the_interval_has_passed() -> None:
    assert progress_due(None, NOW, INTERVAL)
    assert not progress_due(NOW - timedelta(seconds=119), NOW, INTERVAL)
    assert progress_due(NOW - INTERVAL, NOW, INTERVAL)
    # A clock that stepped back defers it (the job's last server still writes at once).
    assert not progress_due(NOW + timedelta(seconds=30), NOW, INTERVAL)
    assert progress_due(NOW, NOW, timedelta(0))


def _ended_in_drs(view_statuses: dict[str, str]) -> int:
    return sum(ServerLaunchStatus(s) in FINAL for s in view_statuses.values())


def _drive_recording_progress(
    interval: float, *, via_orchestrator: bool = False
) -> tuple[list[datetime], list[timedelta], Any]:
    """Step a 20-server drill polling every 30 s; return when servers that ended mid-job were
    written, how far storage lagged DRS at each poll, and the execution at the end."""
    storage = MemoryStorage()
    seen: list[Event] = []
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 20}, storage=storage)
        shared: dict[str, Any] = {"clock": sim.now, "retry": NO_WAIT_RETRY, "events": seen.append}
        clients = SimulatedClientFactory(sim)
        executor = (
            Orchestrator(
                storage,
                clients,
                sync_cache=False,
                executor_options={"progress_write_interval_s": interval},
                **shared,
            ).waves
            if via_orchestrator
            else WaveExecutor(storage, clients, progress_write_interval_s=interval, **shared)
        )
        execution_id = drill.start().execution_id
        written: list[datetime] = []
        lags: list[timedelta] = []
        stored_ended = 0
        while not (result := executor.step(execution_id)).finished:
            wave = storage.executions.get(execution_id).waves[0]
            chunk = wave.jobs[0] if wave.jobs else None
            ended = sum(o.status in FINAL for o in wave.servers.values())
            running = chunk is not None and chunk.status is JobStatus.STARTED
            if running and not ended:
                # The job's own changes (PENDING to STARTED) are no progress write.
                assert chunk is not None
                assert chunk.progress_recorded_at is None
            if running and ended > stored_ended:
                written.append(sim.now())
                assert chunk is not None
                assert chunk.progress_recorded_at == sim.now()
            stored_ended = ended
            progress = [e for e in seen if isinstance(e, JobProgress)]
            if running and progress and _ended_in_drs(progress[-1].server_statuses) > ended:
                # Storage is behind DRS: only since the last progress write.
                lags.append(
                    sim.now() - (written[-1] if written else datetime.min.replace(tzinfo=UTC))
                )
            seen.clear()
            if not result.progressed:
                sim.advance(30)
        return written, lags, storage.executions.get(execution_id)


def test_servers_ending_while_their_job_runs_are_written_at_most_once_per_interval() -> None:
    written, lags, execution = _drive_recording_progress(120.0)
    every_poll, no_lags, same = _drive_recording_progress(0.0)

    # Every poll that saw a server end wrote it; spaced writes are fewer, never closer
    # than the interval, and storage was never behind DRS for longer than it.
    assert len(every_poll) >= 3
    assert no_lags == []
    assert 1 <= len(written) < len(every_poll)
    assert all(b - a >= timedelta(seconds=120) for a, b in itertools.pairwise(written))
    assert lags
    assert all(lag < timedelta(seconds=120) for lag in lags)
    # Nothing is lost: the job's end records every server either way.
    for run in (execution, same):
        assert run.status is ExecutionStatus.COMPLETED
        outcomes = run.waves[0].servers.values()
        assert {o.status for o in outcomes} == {ServerLaunchStatus.LAUNCHED}
        assert all(o.phases.launch_end is not None for o in outcomes)


@pytest.mark.parametrize("interval", [-1.0, float("nan"), "120"])
def test_a_progress_write_interval_that_is_not_a_duration_is_refused(interval: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        WaveExecutor(
            MemoryStorage(),
            SimulatedClientFactory(DrsSimulator()),
            progress_write_interval_s=interval,
        )

    assert raised.value.problems[0]["field"] == "progress_write_interval_s"


def test_the_orchestrators_executor_options_reach_its_wave_executor() -> None:
    spaced = _drive_recording_progress(120.0, via_orchestrator=True)
    every_poll = _drive_recording_progress(0.0, via_orchestrator=True)

    assert len(spaced[0]) == len(_drive_recording_progress(120.0)[0])
    assert spaced[1]
    assert len(every_poll[0]) > len(spaced[0])
    assert every_poll[1] == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"progress_interval_s": 60}, "executor_options.progress_interval_s"),
        ({"progress_write_interval_s": -5}, "progress_write_interval_s"),
        ({"max_start_attempts": 0}, "max_start_attempts"),
        ([("start_lease_s", 600)], "executor_options"),
    ],
)
def test_an_executor_option_unknown_or_out_of_range_is_a_validation_error_naming_it(
    options: Any, field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        Orchestrator(
            MemoryStorage(), SimulatedClientFactory(DrsSimulator()), executor_options=options
        )

    assert raised.value.problems[0]["field"] == field
    if field.startswith("executor_options."):
        # It says what the options are.
        assert "progress_write_interval_s" in raised.value.message
