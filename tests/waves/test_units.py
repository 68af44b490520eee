"""The executor's pure parts: job logs, tags, chunks, readiness, error classes, the models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drs_orchestration.errors import (
    AwsAccessDeniedError,
    AwsApiError,
    ConcurrentModificationError,
    DrsOrchestrationError,
    ServiceQuotaExceededError,
    ThrottledError,
    ValidationError,
)
from drs_orchestration.models import (
    ErrorRecord,
    Execution,
    JobStatus,
    PhaseTimes,
    ServerLaunchStatus,
    ServerOutcome,
    WaveRun,
    WaveStatus,
)
from drs_orchestration.models.ids import new_plan_id
from drs_orchestration.services.waves import WaveExecutor
from drs_orchestration.services.waves.chunks import (
    DrsQuotas,
    QuotaUsage,
    idempotency_key,
    job_tags,
    plan_chunks,
)
from drs_orchestration.services.waves.context import StepContext
from drs_orchestration.services.waves.monitor import JobView, read_job_log
from drs_orchestration.services.waves.preflight import replication_state
from drs_orchestration.services.waves.stepper import WaveStepper
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.testing import SimulatedClientFactory
from tests.ids import job_id, server_id

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _aws(
    cls: type[AwsApiError], status: int | None = 400, *, retryable: bool | None = None
) -> AwsApiError:
    return cls(
        "x",
        aws_code="X",
        operation="Op",
        service="drs",
        aws_http_status=status,
        retryable=retryable,
    )


def test_job_log_becomes_phase_times_and_failure_reasons() -> None:
    a, b = server_id(1), server_id(2)
    items = [
        {"logDateTime": _at(0), "event": "JOB_START"},
        {"logDateTime": _at(1), "event": "SNAPSHOT_START", "eventData": {"sourceServerID": a}},
        {
            "logDateTime": _at(2),
            "event": "USING_PREVIOUS_SNAPSHOT",
            "eventData": {"sourceServerID": b},
        },
        {"logDateTime": _at(30), "event": "SNAPSHOT_END", "eventData": {"sourceServerID": a}},
        {"logDateTime": _at(31), "event": "CONVERSION_START", "eventData": {"sourceServerID": a}},
        {"logDateTime": _at(32), "event": "CONVERSION_START", "eventData": {"sourceServerID": a}},
        {"logDateTime": _at(200), "event": "CONVERSION_END", "eventData": {"sourceServerID": a}},
        {"logDateTime": _at(201), "event": "LAUNCH_START", "eventData": {"sourceServerID": a}},
        {
            "logDateTime": _at(250),
            "event": "LAUNCH_FAILED",
            "eventData": {"sourceServerID": b, "rawError": "InsufficientInstanceCapacity"},
        },
        {"logDateTime": _at(300), "event": "JOB_END"},
        {
            "logDateTime": _at(5),
            "event": "LAUNCH_START",
            "eventData": {"sourceServerID": server_id(9)},
        },
    ]

    log = read_job_log(items, [a, b])

    assert log.phases[a] == PhaseTimes(
        job_start=T0,
        snapshot_start=T0 + timedelta(seconds=1),
        snapshot_end=T0 + timedelta(seconds=30),
        conversion_start=T0 + timedelta(seconds=31),
        conversion_end=T0 + timedelta(seconds=200),
        launch_start=T0 + timedelta(seconds=201),
        job_end=T0 + timedelta(seconds=300),
    )
    assert log.phases[b].snapshot_end == T0 + timedelta(seconds=2)
    assert log.phases[b].launch_failed == T0 + timedelta(seconds=250)
    assert log.failures == {b: "LAUNCH_FAILED: InsufficientInstanceCapacity"}
    assert set(log.phases) == {a, b}


def test_job_view_reads_statuses_and_counts() -> None:
    a, b = server_id(1), server_id(2)
    view = JobView.from_job(
        {
            "jobID": job_id(1),
            "status": "STARTED",
            "creationDateTime": _at(0),
            "participatingServers": [
                {
                    "sourceServerID": a,
                    "launchStatus": "LAUNCHED",
                    "recoveryInstanceID": "i-0123456789abcdef0",
                },
                {"sourceServerID": b, "launchStatus": "SOMETHING_NEW"},
            ],
        }
    )

    assert view.status is JobStatus.STARTED
    assert view.created_at == T0
    assert view.servers[a].launch_status is ServerLaunchStatus.LAUNCHED
    assert view.servers[b].launch_status is ServerLaunchStatus.PENDING
    assert view.launch_status_counts() == {"LAUNCHED": 1, "PENDING": 1}


def _execution(plan_name: str = "shop", wave: str = "database") -> tuple[Execution, WaveRun]:
    run = WaveRun(wave_name=wave, region="us-east-1", server_ids=[server_id(i) for i in range(5)])
    execution = Execution(plan_id=new_plan_id(), plan_name=plan_name, waves=[run])
    return execution, run


def test_chunks_carry_their_idempotency_key_and_at_most_the_chunk_size() -> None:
    execution, run = _execution()

    chunks = plan_chunks(execution.execution_id, run, run.server_ids, max_servers_per_job=2, at=T0)

    assert [c.server_ids for c in chunks] == [
        run.server_ids[0:2],
        run.server_ids[2:4],
        run.server_ids[4:],
    ]
    assert [c.idempotency_key for c in chunks] == [
        idempotency_key(execution.execution_id, "database", i) for i in range(3)
    ]
    assert all(c.status is JobStatus.INTENT and c.intent_at == T0 for c in chunks)


def test_job_tags_are_cut_to_drs_limits() -> None:
    execution, run = _execution(plan_name="p" * 300)
    chunk = plan_chunks(
        execution.execution_id, run, run.server_ids, max_servers_per_job=100, at=T0
    )[0]

    tags = job_tags(execution, run, chunk)

    assert len(tags["PlanName"]) == 256
    assert tags["ManagedBy"] == "drs-orchestration"
    assert tags["Chunk"] == "0"
    assert tags["ExecutionType"] == "DRILL"
    assert all(len(v) <= 256 for v in tags.values())


def test_quota_usage_counts_the_next_job() -> None:
    quotas = DrsQuotas(
        max_servers_per_job=100, max_jobs_in_progress=20, max_servers_in_progress=500
    )

    assert QuotaUsage(jobs=19, servers=400).allows(quotas, 100)
    assert not QuotaUsage(jobs=20, servers=0).allows(quotas, 1)
    assert not QuotaUsage(jobs=1, servers=401).allows(quotas, 100)


@pytest.mark.parametrize(
    ("server", "state"),
    [
        ({"dataReplicationInfo": {"dataReplicationState": "CONTINUOUS"}}, "CONTINUOUS"),
        # isArchived is an Application Migration Service field: DRS servers do not have it.
        (
            {"isArchived": True, "dataReplicationInfo": {"dataReplicationState": "CONTINUOUS"}},
            "CONTINUOUS",
        ),
        ({}, "UNKNOWN"),
        ({"dataReplicationInfo": {}}, "UNKNOWN"),
    ],
)
def test_replication_state_fails_closed(server: dict[str, object], state: str) -> None:
    assert replication_state(server) == state


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_aws(ThrottledError, 400), True),
        (_aws(AwsApiError, 503, retryable=True), True),
        (_aws(AwsApiError, None, retryable=True), True),
        (_aws(AwsApiError, 500, retryable=False), False),
        (_aws(AwsAccessDeniedError, 403), False),
        (_aws(ServiceQuotaExceededError, 402), False),
        (ConcurrentModificationError("group", "g", expected_version=1, actual_version=2), True),
        (ValidationError("bad"), False),
    ],
)
def test_a_step_retries_later_on_retryable_errors_and_lost_races(
    error: DrsOrchestrationError, transient: bool
) -> None:
    execution, run = _execution()
    run.status = WaveStatus.PREFLIGHT
    settings = WaveExecutor(MemoryStorage(), SimulatedClientFactory()).settings
    stepper = WaveStepper(settings, lambda *_: None, None)  # type: ignore[arg-type]
    step = StepContext(execution=execution, now=T0, save=lambda _: None)
    with stepper._guard(step, run):
        raise error
    if transient:
        assert run.transient_error is not None
        assert run.transient_error.code == error.code
        assert run.status is WaveStatus.PREFLIGHT
    else:
        assert run.status is WaveStatus.FAILED
        assert run.error is not None
        assert run.error.code == error.code


def test_execution_with_every_executor_field_round_trips() -> None:
    execution, run = _execution()
    run.jobs = plan_chunks(
        execution.execution_id, run, run.server_ids, max_servers_per_job=2, at=T0
    )
    run.jobs[0].start_requested_at = T0
    run.jobs[0].search_from = T0
    run.jobs[0].start_attempts = 1
    run.pause_released = True
    run.transient_error = ErrorRecord(code="Throttled", message="slow down", at=T0)
    run.transient_errors = 2
    run.hook_errors = [ErrorRecord(code="RuntimeError", message="hook", at=T0)]
    run.servers = {
        sid: ServerOutcome(
            source_server_id=sid,
            status=ServerLaunchStatus.LAUNCHED,
            phases=PhaseTimes(launch_end=T0 + timedelta(minutes=7)),
        )
        for sid in run.server_ids
    }
    execution.started_at = T0

    wire = execution.to_wire()
    assert wire["waves"][0]["jobs"][0]["startRequestedAt"] == "2026-03-01T12:00:00Z"
    assert wire["waves"][0]["pauseReleased"] is True
    assert Execution.parse(wire) == execution
    assert execution.recovery_time == timedelta(minutes=7)


def test_error_record_takes_the_given_time() -> None:
    record = ErrorRecord.from_exception(_aws(ThrottledError), at=T0)

    assert record.at == T0
    assert record.code == "Throttled"
    assert record.details["operation"] == "Op"
