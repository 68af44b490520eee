"""One wave's units of work: preflight, configure, plan, start a chunk, poll, record, finish.

:class:`WaveStepper` advances one :class:`~drs_orchestration.models.WaveRun`
by at most one unit per call, mutating the execution held by a
:class:`StepContext`; the executor reads the execution before and writes it
back after (with its version). The only unit that writes on its own is the
start of a chunk: it persists its claim before calling ``StartRecovery``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.errors import (
    AwsAccessDeniedError,
    AwsApiError,
    AwsConflictError,
    AwsResourceNotFoundError,
    AwsValidationError,
    ConcurrentModificationError,
    DrsOrchestrationError,
    JobTimeoutError,
    RecoveryError,
    ServersNotReadyError,
    ServiceQuotaExceededError,
    ThrottledError,
)
from drs_orchestration.events import (
    Event,
    ExecutionPaused,
    JobProgress,
    JobStarted,
    ServerFailed,
    ServerLaunched,
    WaveFinished,
    WaveStarted,
)
from drs_orchestration.models import (
    ConfigPath,
    ErrorRecord,
    Execution,
    ExecutionStatus,
    FailurePolicy,
    JobRecord,
    JobStatus,
    ServerLaunchStatus,
    WaveRun,
    WaveStatus,
)
from drs_orchestration.services.launch_config import LaunchConfigService
from drs_orchestration.services.waves.hooks import PostWaveHook
from drs_orchestration.services.waves.launcher import (
    DrsQuotas,
    count_in_progress,
    find_chunk_job,
    job_tags,
    plan_chunks,
    select_snapshots,
)
from drs_orchestration.services.waves.monitor import (
    JobView,
    describe_jobs,
    ec2_instance_ids,
    read_job_log,
)
from drs_orchestration.services.waves.preflight import check_replication

if TYPE_CHECKING:
    from mypy_boto3_drs.type_defs import JobTypeDef

__all__ = [
    "ExecutorSettings",
    "LostRace",
    "StepContext",
    "WaveStepper",
    "apply_job",
    "is_transient",
]

logger = logging.getLogger(__name__)

_UNFINISHED = frozenset(
    {
        ServerLaunchStatus.NOT_STARTED,
        ServerLaunchStatus.PENDING,
        ServerLaunchStatus.IN_PROGRESS,
    }
)
_NOT_LAUNCHED = frozenset({ServerLaunchStatus.FAILED, ServerLaunchStatus.TERMINATED})


def is_transient(error: BaseException) -> bool:
    """Whether an error is worth retrying on a later step (throttling, 5xx, connection)."""
    if isinstance(error, ThrottledError | ConcurrentModificationError):
        return True
    if isinstance(
        error,
        AwsAccessDeniedError
        | AwsResourceNotFoundError
        | AwsValidationError
        | AwsConflictError
        | ServiceQuotaExceededError,
    ):
        return False
    if isinstance(error, AwsApiError):
        status = error.aws_http_status
        return status is None or status >= 500 or status == 429
    return False


class LostRace(Exception):  # noqa: N818 - a signal between the stepper and the executor
    """Another process wrote the execution while this step worked on it."""


@dataclass(frozen=True)
class ExecutorSettings:
    """Tunables of the step state machine (see :class:`WaveExecutor` for their meaning)."""

    quotas: DrsQuotas
    ready_states: frozenset[str]
    start_lease: timedelta
    max_start_attempts: int
    quota_window: timedelta
    search_skew: timedelta


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
    """

    execution: Execution
    now: datetime
    save: Callable[[Execution], None]
    events: list[Event] = field(default_factory=list)
    changed: bool = False
    progressed: bool = False
    keep: list[Callable[[Execution], object]] = field(default_factory=list)

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
        outcome.job_id = view.job_id
        if outcome.status is ServerLaunchStatus.NOT_STARTED:
            outcome.status = ServerLaunchStatus.PENDING
    if all(c.status is not JobStatus.INTENT for c in run.jobs):
        run.status = WaveStatus.MONITORING
    return True


def _duration(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


class WaveStepper:
    """Advances one wave by one unit of work.

    Args:
        settings: Quotas, readiness states, leases and windows.
        gateway: The DRS gateway for a wave's region and account.
        launch_configs: Ensures the wave's groups are configured.
        hooks: Run after each wave's outcomes are recorded.
    """

    def __init__(
        self,
        settings: ExecutorSettings,
        gateway: Callable[[WaveRun], DrsGateway],
        launch_configs: LaunchConfigService,
        hooks: Sequence[PostWaveHook] = (),
    ) -> None:
        self._settings = settings
        self._gateway = gateway
        self._launch_configs = launch_configs
        self._hooks = list(hooks)

    # ---- dispatch -------------------------------------------------------------------

    def advance(self, step: StepContext, run: WaveRun) -> None:
        """Do the next unit of work of ``run`` (or nothing, when it waits on DRS)."""
        if run.status is WaveStatus.PENDING:
            self._begin(step, run)
            return
        if run.deadline is not None and step.now >= run.deadline:
            self._time_out(step, run)
            return
        with self._guard(step, run):
            if run.status is WaveStatus.PREFLIGHT:
                self._preflight(step, run)
            elif run.status is WaveStatus.CONFIGURING:
                self._configure(step, run)
            elif not run.jobs:
                self._plan(step, run)
            else:
                self._follow_jobs(step, run)

    def close_pending(self, step: StepContext, run: WaveRun, status: WaveStatus) -> None:
        """End a wave that never started (the execution is cancelled or stopping)."""
        run.status = status
        run.ended_at = step.now
        self._wave_finished(step, run)
        step.done()

    def cancel_before_launch(self, step: StepContext, run: WaveRun) -> bool:
        """Cancel a wave that has not asked DRS for any job yet; return whether it was."""
        if run.status.is_terminal or run.status is WaveStatus.PENDING:
            return False
        if any(c.start_attempts or c.job_id for c in run.jobs):
            return False
        run.status = WaveStatus.CANCELLED
        run.ended_at = step.now
        self._wave_finished(step, run)
        step.done()
        return True

    @contextmanager
    def _guard(self, step: StepContext, run: WaveRun) -> Iterator[None]:
        try:
            yield
        except DrsOrchestrationError as exc:
            if is_transient(exc) or any(c.job_id for c in run.jobs):
                # With jobs in DRS the wave must keep following them: only its
                # timeout ends it, so launched instances are never left unrecorded.
                self._transient(step, run, exc)
            else:
                self._fail(step, run, exc)
            return
        if run.transient_error is not None and step.changed:
            run.transient_error = None
            run.transient_errors = 0

    def _transient(self, step: StepContext, run: WaveRun, error: DrsOrchestrationError) -> None:
        logger.warning(
            "wave step failed; retrying on the next step",
            extra={
                "executionId": step.execution.execution_id,
                "wave": run.wave_name,
                "errorCode": error.code,
                "error": error.message,
                "consecutive": run.transient_errors + 1,
            },
        )
        run.transient_error = ErrorRecord.from_exception(error, at=step.now)
        run.transient_errors += 1
        step.done(progressed=False)

    def _fail(self, step: StepContext, run: WaveRun, error: DrsOrchestrationError) -> None:
        logger.error(
            "wave failed",
            extra={
                "executionId": step.execution.execution_id,
                "wave": run.wave_name,
                "errorCode": error.code,
                "error": error.message,
            },
        )
        record = ErrorRecord.from_exception(error, at=step.now)
        run.error = record
        run.status = WaveStatus.FAILED
        run.ended_at = step.now
        step.execution.error = step.execution.error or record
        self._wave_finished(step, run)
        step.done()

    # ---- before any job ---------------------------------------------------------------

    def _begin(self, step: StepContext, run: WaveRun) -> None:
        execution = step.execution
        if run.pause_before and not run.pause_released:
            execution.status = ExecutionStatus.PAUSED
            execution.paused_before = run.wave_name
            step.record(
                ExecutionPaused(
                    execution_id=execution.execution_id, wave_name=run.wave_name, at=step.now
                )
            )
            step.done()
            return
        run.status = WaveStatus.PREFLIGHT
        run.started_at = step.now
        run.deadline = step.now + timedelta(seconds=run.timeout_s)
        step.done()
        with self._guard(step, run):
            self._preflight(step, run)

    def _preflight(self, step: StepContext, run: WaveRun) -> None:
        result = check_replication(self._gateway(run), run.server_ids, self._settings.ready_states)
        if result.not_ready and not step.execution.skip_not_ready:
            raise ServersNotReadyError(
                result.not_ready,
                details={
                    "wave": run.wave_name,
                    "region": run.region,
                    "accountId": run.account.account_id if run.account else None,
                },
            )
        for sid, state in result.not_ready.items():
            outcome = run.servers[sid]
            outcome.status = ServerLaunchStatus.SKIPPED
            outcome.skipped_reason = f"not ready for recovery: replication state {state}"
            step.record(
                ServerFailed(
                    execution_id=step.execution.execution_id,
                    wave_name=run.wave_name,
                    source_server_id=sid,
                    reason=outcome.skipped_reason,
                    skipped=True,
                    at=step.now,
                )
            )
        if not result.ready:
            run.status = WaveStatus.SKIPPED
            run.ended_at = step.now
            self._wave_finished(step, run)
        else:
            run.status = WaveStatus.CONFIGURING
        step.done()

    def _configure(self, step: StepContext, run: WaveRun) -> None:
        paths: list[ConfigPath] = []
        applied: set[str] = set()
        for group_id in run.protection_group_ids:
            result = self._launch_configs.ensure_ready(group_id)
            paths.append(result.path)
            applied.update(result.applied_servers)
        if paths:
            run.config_path = (
                ConfigPath.FALLBACK if ConfigPath.FALLBACK in paths else ConfigPath.FAST
            )
        run.applied_servers = sorted(applied)
        run.status = WaveStatus.LAUNCHING
        launching = [
            s for s, o in run.servers.items() if o.status is not ServerLaunchStatus.SKIPPED
        ]
        step.record(
            WaveStarted(
                execution_id=step.execution.execution_id,
                wave_name=run.wave_name,
                servers=len(launching),
                config_path=run.config_path.value if run.config_path else None,
                at=step.now,
            )
        )
        step.done()

    def _plan(self, step: StepContext, run: WaveRun) -> None:
        servers = [
            sid
            for sid in run.server_ids
            if run.servers[sid].status is not ServerLaunchStatus.SKIPPED
        ]
        if run.point_in_time is not None:
            chosen = select_snapshots(self._gateway(run), servers, run.point_in_time)
            for sid, snapshot_id in chosen.items():
                run.servers[sid].recovery_snapshot_id = snapshot_id
        run.jobs = plan_chunks(
            step.execution.execution_id,
            run,
            servers,
            max_servers_per_job=self._settings.quotas.max_servers_per_job,
            at=step.now,
        )
        step.done()

    # ---- jobs ---------------------------------------------------------------------------

    def _follow_jobs(self, step: StepContext, run: WaveRun) -> None:
        drs = self._gateway(run)
        for chunk in run.jobs:
            if chunk.status is JobStatus.COMPLETED and not chunk.outcomes_recorded:
                self._record_outcomes(step, run, chunk, drs)
                return
        waiting = False
        for chunk in run.jobs:
            if chunk.status is JobStatus.INTENT:
                self._start_chunk(step, run, chunk, drs)
                if step.changed or step.progressed:
                    return
                waiting = True
                break
        active = [c for c in run.jobs if c.status in (JobStatus.PENDING, JobStatus.STARTED)]
        if active:
            self._poll(step, run, active, drs)
            return
        if not waiting:
            self._finish(step, run)

    def _start_chunk(
        self, step: StepContext, run: WaveRun, chunk: JobRecord, drs: DrsGateway
    ) -> None:
        settings = self._settings
        execution = step.execution
        if chunk.search_from is not None:
            found = find_chunk_job(
                drs,
                execution.execution_id,
                run.wave_name,
                chunk.chunk_index,
                since=chunk.search_from - settings.search_skew,
            )
            if found is not None:
                logger.info(
                    "found the job of a chunk whose start was not recorded",
                    extra={
                        "executionId": execution.execution_id,
                        "wave": run.wave_name,
                        "chunk": chunk.chunk_index,
                        "jobId": found["jobID"],
                    },
                )
                self._record_job(step, run, chunk, found)
                return
            in_flight = chunk.start_requested_at is not None
            if in_flight and step.now < chunk.start_requested_at + settings.start_lease:  # type: ignore[operator]
                return
            if chunk.start_attempts >= settings.max_start_attempts:
                self._start_failed(step, run, chunk)
                return
        usage = count_in_progress(drs, step.now - settings.quota_window)
        if not usage.allows(settings.quotas, len(chunk.server_ids)):
            logger.info(
                "waiting for DRS quota before starting a chunk",
                extra={
                    "executionId": execution.execution_id,
                    "wave": run.wave_name,
                    "chunk": chunk.chunk_index,
                    "jobsInProgress": usage.jobs,
                    "serversInProgress": usage.servers,
                },
            )
            return
        chunk.start_requested_at = step.now
        chunk.search_from = chunk.search_from or step.now
        chunk.start_attempts += 1
        # The claim is written before StartRecovery: a crash after the call leaves a
        # trace that makes the next step look for the job instead of starting another.
        step.save(execution)
        sources = [
            {"sourceServerID": sid}
            | (
                {"recoverySnapshotID": snap}
                if (snap := run.servers[sid].recovery_snapshot_id)
                else {}
            )
            for sid in chunk.server_ids
        ]
        try:
            job = drs.start_recovery(
                sources, is_drill=execution.is_drill, tags=job_tags(execution, run, chunk)
            )
        except DrsOrchestrationError as exc:
            chunk.start_requested_at = None
            chunk.error = ErrorRecord.from_exception(exc, at=step.now)
            if isinstance(exc, ServiceQuotaExceededError):
                # Refused before any job was created: a wait for quota, not an attempt.
                chunk.start_attempts -= 1
            logger.warning(
                "StartRecovery failed",
                extra={
                    "executionId": execution.execution_id,
                    "wave": run.wave_name,
                    "chunk": chunk.chunk_index,
                    "errorCode": exc.code,
                    "error": exc.message,
                },
            )
            step.done(progressed=False)
            return
        self._record_job(step, run, chunk, job)

    def _record_job(
        self, step: StepContext, run: WaveRun, chunk: JobRecord, job: JobTypeDef
    ) -> None:
        wave_name, index, now = run.wave_name, chunk.chunk_index, step.now
        apply_job(step.execution, wave_name, index, job, now)
        step.keep.append(lambda latest: apply_job(latest, wave_name, index, job, now))
        step.record(
            JobStarted(
                execution_id=step.execution.execution_id,
                wave_name=wave_name,
                chunk_index=index,
                job_id=job["jobID"],
                servers=len(chunk.server_ids),
                at=now,
            )
        )
        step.done()

    def _start_failed(self, step: StepContext, run: WaveRun, chunk: JobRecord) -> None:
        chunk.status = JobStatus.START_FAILED
        chunk.start_requested_at = None
        error = chunk.error or ErrorRecord(
            code="StartRecoveryFailed", message="StartRecovery did not start the chunk", at=step.now
        )
        for sid in chunk.server_ids:
            outcome = run.servers[sid]
            outcome.status = ServerLaunchStatus.FAILED
            outcome.error = error
            step.record(
                ServerFailed(
                    execution_id=step.execution.execution_id,
                    wave_name=run.wave_name,
                    source_server_id=sid,
                    reason=f"{error.code}: {error.message}",
                    at=step.now,
                )
            )
        if all(c.status is not JobStatus.INTENT for c in run.jobs):
            run.status = WaveStatus.MONITORING
        step.done()

    def _poll(
        self, step: StepContext, run: WaveRun, active: list[JobRecord], drs: DrsGateway
    ) -> None:
        views = describe_jobs(drs, [c.job_id for c in active if c.job_id])
        for chunk in active:
            view = views.get(chunk.job_id or "")
            if view is None:
                logger.warning(
                    "DRS did not return a recorded job",
                    extra={"executionId": step.execution.execution_id, "jobId": chunk.job_id},
                )
                continue
            if self._apply_view(step, run, chunk, view):
                step.record(
                    JobProgress(
                        execution_id=step.execution.execution_id,
                        wave_name=run.wave_name,
                        job_id=view.job_id,
                        status=view.status.value,
                        launch_status_counts=view.launch_status_counts(),
                        server_statuses={s: v.launch_status.value for s, v in view.servers.items()},
                        at=step.now,
                    )
                )
                step.done()

    def _apply_view(self, step: StepContext, run: WaveRun, chunk: JobRecord, view: JobView) -> bool:
        changed = False
        if chunk.status is not view.status:
            chunk.status = view.status
            changed = True
        if view.ended_at is not None and chunk.ended_at != view.ended_at:
            chunk.ended_at = view.ended_at
            changed = True
        for sid, server in view.servers.items():
            outcome = run.servers.get(sid)
            if outcome is None or outcome.job_id != chunk.job_id:
                continue
            if outcome.status is not server.launch_status:
                outcome.status = server.launch_status
                if (
                    server.launch_status is ServerLaunchStatus.LAUNCHED
                    and outcome.phases.launch_end is None
                ):
                    outcome.phases.launch_end = step.now
                changed = True
            if (
                server.recovery_instance_id
                and outcome.recovery_instance_id != server.recovery_instance_id
            ):
                outcome.recovery_instance_id = server.recovery_instance_id
                changed = True
        return changed

    def _record_outcomes(
        self, step: StepContext, run: WaveRun, chunk: JobRecord, drs: DrsGateway
    ) -> None:
        assert chunk.job_id is not None
        log = read_job_log(drs.describe_job_log_items(chunk.job_id), chunk.server_ids)
        instance_ids = [
            rid for sid in chunk.server_ids if (rid := run.servers[sid].recovery_instance_id)
        ]
        ec2_ids = ec2_instance_ids(drs, instance_ids)
        execution_id = step.execution.execution_id
        for sid in chunk.server_ids:
            outcome = run.servers[sid]
            observed = outcome.phases.launch_end
            phases = log.phases.get(sid)
            if phases is not None:
                outcome.phases = phases
                if outcome.phases.launch_end is None:
                    outcome.phases.launch_end = observed
            if outcome.recovery_instance_id:
                outcome.ec2_instance_id = ec2_ids.get(outcome.recovery_instance_id)
            if outcome.status in _UNFINISHED:
                outcome.error = ErrorRecord(
                    code="LaunchNotCompleted",
                    message=f"job {chunk.job_id} completed while the server was still "
                    f"{outcome.status.value}",
                    at=step.now,
                )
                outcome.status = ServerLaunchStatus.FAILED
            elif outcome.status in _NOT_LAUNCHED and outcome.error is None:
                outcome.error = ErrorRecord(
                    code="LaunchFailed",
                    message=log.failures.get(
                        sid, f"DRS reports the launch as {outcome.status.value}"
                    ),
                    at=step.now,
                )
            if outcome.status is ServerLaunchStatus.LAUNCHED:
                if outcome.phases.launch_end is None:
                    outcome.phases.launch_end = chunk.ended_at or step.now
                step.record(
                    ServerLaunched(
                        execution_id=execution_id,
                        wave_name=run.wave_name,
                        source_server_id=sid,
                        recovery_instance_id=outcome.recovery_instance_id,
                        ec2_instance_id=outcome.ec2_instance_id,
                        duration_s=_duration(
                            outcome.phases.job_start or chunk.started_at, outcome.phases.launch_end
                        ),
                        at=step.now,
                    )
                )
            else:
                assert outcome.error is not None
                step.record(
                    ServerFailed(
                        execution_id=execution_id,
                        wave_name=run.wave_name,
                        source_server_id=sid,
                        reason=outcome.error.message,
                        at=step.now,
                    )
                )
        chunk.outcomes_recorded = True
        step.done()

    # ---- the end of a wave --------------------------------------------------------------

    def _finish(self, step: StepContext, run: WaveRun) -> None:
        self._run_hooks(step, run)
        counts = run.counts()
        failed = sum(counts[s] for s in (*_NOT_LAUNCHED, *_UNFINISHED))
        skipped = counts[ServerLaunchStatus.SKIPPED]
        launched = counts[ServerLaunchStatus.LAUNCHED]
        execution = step.execution
        if not failed:
            run.status = WaveStatus.PARTIAL if skipped else WaveStatus.COMPLETED
        elif execution.failure_policy is FailurePolicy.STOP:
            run.status = WaveStatus.FAILED
            failures = sorted(
                s for s, o in run.servers.items() if o.status in _NOT_LAUNCHED | _UNFINISHED
            )
            error = RecoveryError(
                f"wave {run.wave_name!r}: {failed} of {len(run.server_ids)} server(s) failed to "
                f"launch ({', '.join(failures[:10])}{', ...' if len(failures) > 10 else ''}); "
                "the plan's failure policy is 'stop'",
                details={"wave": run.wave_name, "failedServers": failures},
            )
            run.error = ErrorRecord.from_exception(error, at=step.now)
            execution.error = execution.error or run.error
        else:
            run.status = WaveStatus.PARTIAL if launched else WaveStatus.FAILED
        run.ended_at = step.now
        self._wave_finished(step, run)
        step.done()

    def _time_out(self, step: StepContext, run: WaveRun) -> None:
        error = JobTimeoutError(
            f"wave {run.wave_name!r} did not finish within its timeout of {run.timeout_s} s",
            details={"wave": run.wave_name, "timeoutS": run.timeout_s, "jobIds": run.job_ids},
        )
        record = ErrorRecord.from_exception(error, at=step.now)
        self._last_look(step, run)
        for chunk in run.jobs:
            if chunk.status is JobStatus.INTENT:
                chunk.start_requested_at = None
                chunk.error = chunk.error or record
        for outcome in run.servers.values():
            if outcome.status in _UNFINISHED:
                outcome.status = ServerLaunchStatus.FAILED
                outcome.error = record
        self._run_hooks(step, run)
        run.status = WaveStatus.FAILED
        run.error = record
        run.ended_at = step.now
        step.execution.error = step.execution.error or record
        self._wave_finished(step, run)
        step.done()

    def _last_look(self, step: StepContext, run: WaveRun) -> None:
        """Record what DRS knows before timing out, so no launched instance goes unrecorded."""
        drs = self._gateway(run)
        try:
            for chunk in run.jobs:
                if chunk.job_id is None and chunk.search_from is not None:
                    found = find_chunk_job(
                        drs,
                        step.execution.execution_id,
                        run.wave_name,
                        chunk.chunk_index,
                        since=chunk.search_from - self._settings.search_skew,
                    )
                    if found is not None:
                        apply_job(step.execution, run.wave_name, chunk.chunk_index, found, step.now)
            active = [c for c in run.jobs if c.status in (JobStatus.PENDING, JobStatus.STARTED)]
            views = describe_jobs(drs, [c.job_id for c in active if c.job_id])
            for chunk in active:
                if (view := views.get(chunk.job_id or "")) is not None:
                    self._apply_view(step, run, chunk, view)
        except DrsOrchestrationError as exc:
            logger.warning(
                "could not read the wave's jobs before timing it out",
                extra={
                    "executionId": step.execution.execution_id,
                    "wave": run.wave_name,
                    "errorCode": exc.code,
                },
            )

    def _run_hooks(self, step: StepContext, run: WaveRun) -> None:
        for hook in self._hooks:
            try:
                hook.after_wave(step.execution, run)
            except Exception as exc:
                logger.exception(
                    "post-wave hook failed",
                    extra={
                        "executionId": step.execution.execution_id,
                        "wave": run.wave_name,
                        "hook": type(hook).__name__,
                    },
                )
                run.hook_errors.append(ErrorRecord.from_exception(exc, at=step.now))

    def _wave_finished(self, step: StepContext, run: WaveRun) -> None:
        counts = run.counts()
        step.record(
            WaveFinished(
                execution_id=step.execution.execution_id,
                wave_name=run.wave_name,
                status=run.status.value,
                launched=counts[ServerLaunchStatus.LAUNCHED],
                failed=sum(counts[s] for s in _NOT_LAUNCHED),
                skipped=counts[ServerLaunchStatus.SKIPPED],
                duration_s=_duration(run.started_at, run.ended_at),
                error=run.error.message if run.error else None,
                at=step.now,
            )
        )
