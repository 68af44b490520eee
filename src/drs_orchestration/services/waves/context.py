"""What a step works with: the execution, its clock, its events, and the executor's settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from drs_orchestration.errors import DrsOrchestrationError
from drs_orchestration.events import Event
from drs_orchestration.models import (
    Execution,
    JobRecord,
    JobStatus,
    ServerLaunchStatus,
    ServerOutcome,
    WaveRun,
    WaveStatus,
)
from drs_orchestration.services.waves.chunks import DrsQuotas
from drs_orchestration.services.waves.monitor import JobView

__all__ = [
    "FINAL_LAUNCH",
    "NOT_LAUNCHED",
    "UNFINISHED",
    "ExecutorSettings",
    "JobRecording",
    "LostRace",
    "StepContext",
    "adopt_job",
    "apply_job",
    "duration_s",
    "record_started_job",
]

UNFINISHED = frozenset(
    {
        ServerLaunchStatus.NOT_STARTED,
        ServerLaunchStatus.PENDING,
        ServerLaunchStatus.IN_PROGRESS,
    }
)
"""Launch statuses of a server whose launch has not ended."""
NOT_LAUNCHED = frozenset({ServerLaunchStatus.FAILED, ServerLaunchStatus.TERMINATED})
"""Launch statuses of a server whose launch ended without an instance to use."""
FINAL_LAUNCH = NOT_LAUNCHED | {ServerLaunchStatus.LAUNCHED}
"""Launch statuses that do not change any more."""


class LostRace(Exception):  # noqa: N818 - a signal between the stepper and the executor
    """Another process wrote the execution while this step worked on it."""


@dataclass(frozen=True)
class ExecutorSettings:
    """Tunables of the step state machine (see :class:`WaveExecutor` for their meaning)."""

    quotas: DrsQuotas
    start_lease: timedelta
    max_start_attempts: int
    quota_window: timedelta
    search_skew: timedelta
    progress_write_interval: timedelta


@dataclass
class StepContext:
    """The execution one step works on, and what the step did.

    Attributes:
        execution: A private copy of the stored execution, mutated by the step.
        now: The step's time (from the executor's clock).
        save: Writes ``execution`` now (versioned); used only to claim a chunk.
        events: Sent once the step's final write succeeded.
        changed: The execution must be written back.
        progressed: The step did something (``run`` sleeps only when it did not).
        keep: Changes that must survive a lost final write (a started job's ID):
            re-applied to the latest stored execution before writing again.
        load: Reads the detail of a wave the step did not expect to need (storage
            reads only the waves a step works on).
        job_views: Jobs as ``DescribeJobs`` showed them earlier in the step
            (a poll from the header that found something worth a write).
        job_errors: The error ``DescribeJobs`` failed with earlier in the step,
            by job ID: raised where the step would ask again.
    """

    execution: Execution
    now: datetime
    save: Callable[[Execution], None]
    load: Callable[[WaveRun], None] = field(default=lambda _run: None)
    events: list[Event] = field(default_factory=list)
    changed: bool = False
    progressed: bool = False
    keep: list[Callable[[Execution], object]] = field(default_factory=list)
    job_views: dict[str, JobView] = field(default_factory=dict)
    job_errors: dict[str, DrsOrchestrationError] = field(default_factory=dict)

    def done(self, *, progressed: bool = True) -> None:
        """Mark the execution as changed (and the step as progressed unless told otherwise)."""
        self.changed = True
        self.progressed = self.progressed or progressed

    def record(self, event: Event) -> None:
        """Queue an event for after the write."""
        self.events.append(event)


def apply_job(
    execution: Execution, wave_name: str, chunk_index: int, job: Any, now: datetime
) -> bool:
    """Record a started job on its chunk (and the chunk's servers); return whether it was new."""
    run = execution.wave_run(wave_name)
    chunk = run.jobs[chunk_index]
    if chunk.job_id is not None:
        return False
    view = JobView.from_job(job)
    chunk.job_id = view.job_id
    chunk.status = view.status
    chunk.started_at = view.created_at or now
    chunk.start_requested_at = None
    chunk.error = None
    for sid in chunk.server_ids:
        outcome = run.servers[sid]
        # A chunk given up on whose job turned up while its wave still runs is
        # followed again; on an ended wave the job is only recorded (terminable).
        if outcome.job_id is None and (
            outcome.status is ServerLaunchStatus.NOT_STARTED
            or (outcome.status is ServerLaunchStatus.FAILED and not run.status.is_terminal)
        ):
            outcome.status = ServerLaunchStatus.PENDING
            outcome.error = None
        outcome.job_id = view.job_id
    if run.status is WaveStatus.LAUNCHING and all(
        c.status is not JobStatus.INTENT for c in run.jobs
    ):
        run.status = WaveStatus.MONITORING
    return True


JobRecording = Literal["recorded", "adopted", "known"]
"""What :func:`record_started_job` did with a job."""


def record_started_job(
    execution: Execution, wave_name: str, chunk_index: int, job: Any, now: datetime
) -> JobRecording:
    """Record a job DRS started for a chunk, whatever the chunk already holds.

    The chunk's first job is its job (``recorded``). A different job for a
    chunk that already has one (a ``StartRecovery`` that outlived its claim)
    is adopted beside it (``adopted``), so it is followed and terminable.
    A job already on the wave changes nothing (``known``).
    """
    run = execution.wave_run(wave_name)
    if apply_job(execution, wave_name, chunk_index, job, now):
        return "recorded"
    if job["jobID"] in {c.job_id for c in run.jobs}:
        return "known"
    adopt_job(run, run.jobs[chunk_index], job, now, follow=not run.status.is_terminal)
    return "adopted"


def adopt_job(
    run: WaveRun, chunk: JobRecord, job: Any, now: datetime, *, follow: bool
) -> JobRecord:
    """Put a second job of ``chunk`` on the wave, beside the chunk's own.

    With ``follow``, and when it is the later launch of its servers, their
    outcomes move to it: DRS keeps one recovery instance per server, the
    latest. Without (the wave has ended), it is recorded only, so
    terminating the execution reaches its instances.
    """
    view = JobView.from_job(job)
    adopted = JobRecord(
        chunk_index=chunk.chunk_index,
        idempotency_key=f"{chunk.idempotency_key}#{view.job_id}",
        server_ids=[s for s in view.servers if s in run.servers] or chunk.server_ids,
        region=chunk.region,
        account_id=chunk.account_id,
        job_id=view.job_id,
        status=view.status,
        intent_at=now,
        started_at=view.created_at or now,
        adopted=True,
        outcomes_recorded=not follow,
    )
    run.jobs.append(adopted)
    later = view.created_at is not None and (
        chunk.started_at is None or view.created_at > chunk.started_at
    )
    if follow and later:
        for sid in adopted.server_ids:
            previous = run.servers[sid]
            run.servers[sid] = ServerOutcome(
                source_server_id=sid,
                job_id=view.job_id,
                status=ServerLaunchStatus.PENDING,
                recovery_snapshot_id=previous.recovery_snapshot_id,
                readiness=previous.readiness,
            )
    return adopted


def duration_s(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end`` (milliseconds kept), ``None`` if either is unknown."""
    return round((end - start).total_seconds(), 3) if start and end else None
