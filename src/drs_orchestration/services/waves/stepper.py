"""One wave's units of work: preflight, configure, plan, then its jobs, then its end.

:class:`WaveStepper` advances one :class:`~drs_orchestration.models.WaveRun`
by at most one unit per call, mutating the execution held by a
:class:`~drs_orchestration.services.waves.context.StepContext`; the executor
reads the execution before and writes it back after (with its version). The
only unit that writes on its own is the start of a chunk
(:class:`~drs_orchestration.services.waves.jobs.JobFollower`): it persists
its claim before calling ``StartRecovery``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.errors import (
    ConcurrentModificationError,
    DrsOrchestrationError,
    JobTimeoutError,
    RecoveryError,
    ServersNotReadyError,
)
from drs_orchestration.events import ExecutionPaused, ServerFailed, WaveFinished, WaveStarted
from drs_orchestration.models import (
    AccountContext,
    ConfigPath,
    ErrorRecord,
    ExecutionStatus,
    FailurePolicy,
    JobStatus,
    ServerLaunchStatus,
    WaveRun,
    WaveStatus,
)
from drs_orchestration.services.failback.identity import capture_identities
from drs_orchestration.services.launch_config import LaunchConfigService
from drs_orchestration.services.waves.chunks import (
    find_execution_jobs,
    plan_chunks,
    select_snapshots,
    tag_value,
)
from drs_orchestration.services.waves.context import (
    NOT_LAUNCHED,
    UNFINISHED,
    ExecutorSettings,
    StepContext,
    duration_s,
)
from drs_orchestration.services.waves.hooks import PostWaveHook
from drs_orchestration.services.waves.jobs import JobFollower
from drs_orchestration.services.waves.preflight import assess_readiness

__all__ = ["WaveStepper"]

logger = logging.getLogger(__name__)


class WaveStepper:
    """Advances one wave by one unit of work.

    Args:
        settings: Quotas, readiness states, leases and windows.
        gateway: The DRS gateway for a region and account.
        launch_configs: Ensures the wave's groups are configured.
        hooks: Run after each wave's outcomes are recorded.
    """

    def __init__(
        self,
        settings: ExecutorSettings,
        gateway: Callable[[str, AccountContext | None], DrsGateway],
        launch_configs: LaunchConfigService,
        hooks: Sequence[PostWaveHook] = (),
    ) -> None:
        self._settings = settings
        self._jobs = JobFollower(settings)
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

    def reconcile_ended(self, step: StepContext) -> None:
        """Record jobs with ended waves' tags that landed after they ended (never fails).

        One read of DRS's jobs per region and account, from the earliest first
        claim of its ended waves: a read per wave would return every later
        wave's jobs again, so the last step of a plan of ``n`` waves would read
        about ``n²/2`` jobs. Works from what the ended waves add up to
        (:class:`~drs_orchestration.models.EndedWaves`: first claims, job IDs);
        a wave's detail is read only when DRS holds a job with its tag that
        is not recorded.
        """
        execution = step.execution
        ended = execution.ended_waves.including(execution.waves)
        by_tag = {tag_value(run.wave_name): run for run in execution.waves}
        for claim in ended.claims:
            try:
                drs = self._gateway(claim.region, claim.account)
                jobs = find_execution_jobs(
                    drs,
                    execution.execution_id,
                    since=claim.first_claim_at - self._jobs.margin(step, drs),
                )
                for job in jobs:
                    run = by_tag.get((job.get("tags") or {}).get("Wave", ""))
                    if (
                        run is None
                        or not run.status.is_terminal
                        or run.region != claim.region
                        or job["jobID"] in ended.job_ids
                        or job["jobID"] in run.job_ids
                    ):
                        continue
                    step.load(run)
                    self._jobs.reconcile(step, run, drs, follow=False)
            except DrsOrchestrationError as exc:
                logger.warning(
                    "could not match DRS's jobs against ended waves",
                    extra={
                        "executionId": execution.execution_id,
                        "region": claim.region,
                        "errorCode": exc.code,
                        "error": exc.message,
                    },
                )

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
            # A lost optimistic-locking race is transient here: the next step re-reads.
            # With jobs in DRS the wave must keep following them: only its timeout
            # ends it, so launched instances are never left unrecorded.
            retry_later = exc.retryable or isinstance(exc, ConcurrentModificationError)
            if retry_later or any(c.job_id for c in run.jobs):
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
        execution = step.execution
        report = assess_readiness(
            self._gateway(run.region, run.account),
            run.server_ids,
            execution.readiness.rule(drill=execution.is_drill),
            drill=execution.is_drill,
            now=step.now,
            replace_recovery_instances=execution.replace_recovery_instances,
            launch_into={} if execution.drill_into_paired_instances else run.launch_into,
        )
        # Failback identity hook: the IPs a launch into a paired instance must keep.
        capture_identities(self._gateway(run.region, run.account), run, report.ready, at=step.now)
        for verdict in report.servers:
            run.servers[verdict.source_server_id].readiness = verdict
        if not report.all_ready and not execution.skip_not_ready:
            raise ServersNotReadyError(
                report.not_ready,
                reasons=report.reasons,
                details={
                    "wave": run.wave_name,
                    "region": run.region,
                    "accountId": run.account.account_id if run.account else None,
                    "executionType": execution.execution_type.value,
                },
            )
        for sid, reason in report.reasons.items():
            outcome = run.servers[sid]
            outcome.status = ServerLaunchStatus.SKIPPED
            outcome.skipped_reason = f"not ready: {reason}"
            step.record(
                ServerFailed(
                    execution_id=execution.execution_id,
                    wave_name=run.wave_name,
                    source_server_id=sid,
                    reason=outcome.skipped_reason,
                    skipped=True,
                    at=step.now,
                )
            )
        if not report.ready:
            run.status = WaveStatus.SKIPPED
            run.ended_at = step.now
            self._wave_finished(step, run)
            step.done()
            return
        run.status = WaveStatus.CONFIGURING
        step.done()
        # Configuring and planning have no effect in AWS that a repeat would duplicate
        # (an applied launch configuration is applied again to the same result), so the
        # step that checked readiness goes on to them: one read and one write of the
        # wave's records where three steps took three.
        self._configure(step, run)

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
        if run.point_in_time is None:
            # A point in time reads a snapshot per server: that step stays on its own.
            self._plan(step, run)

    def _plan(self, step: StepContext, run: WaveRun) -> None:
        servers = [
            sid
            for sid in run.server_ids
            if run.servers[sid].status is not ServerLaunchStatus.SKIPPED
        ]
        if run.point_in_time is not None:
            chosen = select_snapshots(
                self._gateway(run.region, run.account), servers, run.point_in_time
            )
            for sid, (snapshot_id, taken) in chosen.items():
                run.servers[sid].recovery_snapshot_id = snapshot_id
                run.servers[sid].recovery_point = taken
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
        drs = self._gateway(run.region, run.account)
        for chunk in run.jobs:
            if chunk.status is JobStatus.COMPLETED and not chunk.outcomes_recorded:
                self._jobs.record_outcomes(step, run, chunk, drs)
                return
        waiting = False
        for chunk in run.jobs:
            if chunk.status is JobStatus.INTENT:
                self._jobs.start_chunk(step, run, chunk, drs)
                if step.changed or step.progressed:
                    return
                waiting = True
                break
        active = [c for c in run.jobs if c.status in (JobStatus.PENDING, JobStatus.STARTED)]
        if active:
            self._jobs.poll(step, run, active, drs)
            return
        if waiting:
            return
        # Before the wave ends, every job DRS holds with its tags is on it: a start
        # that outlived its claim or lost its answer is followed, not forgotten.
        if run.reconciled_at is None and self._jobs.reconcile(step, run, drs, follow=True):
            return
        self._finish(step, run)

    # ---- the end of a wave --------------------------------------------------------------

    def _finish(self, step: StepContext, run: WaveRun) -> None:
        self._run_hooks(step, run)
        counts = run.counts()
        failed = sum(counts[s] for s in (*NOT_LAUNCHED, *UNFINISHED))
        skipped = counts[ServerLaunchStatus.SKIPPED]
        launched = counts[ServerLaunchStatus.LAUNCHED]
        execution = step.execution
        if not failed:
            run.status = WaveStatus.PARTIAL if skipped else WaveStatus.COMPLETED
        elif execution.failure_policy is FailurePolicy.STOP:
            run.status = WaveStatus.FAILED
            failures = sorted(
                s for s, o in run.servers.items() if o.status in NOT_LAUNCHED | UNFINISHED
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
        self._jobs.last_look(step, run, self._gateway(run.region, run.account))
        for chunk in run.jobs:
            if chunk.status is JobStatus.INTENT:
                chunk.start_requested_at = None
                chunk.error = chunk.error or record
        for outcome in run.servers.values():
            if outcome.status in UNFINISHED:
                outcome.status = ServerLaunchStatus.FAILED
                outcome.error = record
        self._run_hooks(step, run)
        run.status = WaveStatus.FAILED
        run.error = record
        run.ended_at = step.now
        step.execution.error = step.execution.error or record
        self._wave_finished(step, run)
        step.done()

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
                failed=sum(counts[s] for s in NOT_LAUNCHED),
                skipped=counts[ServerLaunchStatus.SKIPPED],
                duration_s=duration_s(run.started_at, run.ended_at),
                error=run.error.message if run.error else None,
                at=step.now,
            )
        )
