"""A wave's jobs: start each chunk once, follow the jobs, record every server's outcome."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.aws.errors import may_have_applied
from drs_orchestration.errors import (
    AwsConflictError,
    DrsOrchestrationError,
    ServiceQuotaExceededError,
    ThrottledError,
)
from drs_orchestration.events import (
    JobAdopted,
    JobStarted,
    ServerFailed,
    ServerLaunched,
)
from drs_orchestration.models import (
    ErrorRecord,
    Execution,
    JobRecord,
    JobStatus,
    JobWatch,
    ServerLaunchStatus,
    ServerOutcome,
    WaveRun,
    WaveStatus,
)
from drs_orchestration.services.failback.identity import verify_identities
from drs_orchestration.services.waves.chunks import (
    QuotaUsage,
    chunk_tags,
    count_in_progress,
    find_chunk_job,
    find_execution_jobs,
    job_tags,
    tag_value,
)
from drs_orchestration.services.waves.context import (
    FINAL_LAUNCH,
    NOT_LAUNCHED,
    UNFINISHED,
    ExecutorSettings,
    StepContext,
    adopt_job,
    apply_job,
    duration_s,
    record_started_job,
)
from drs_orchestration.services.waves.monitor import (
    JobView,
    describe_jobs,
    read_job_log,
    recovery_instances,
)
from drs_orchestration.services.waves.watch import (
    job_progress,
    launch_counts,
    progress_differs,
    progress_due,
)

if TYPE_CHECKING:
    from mypy_boto3_drs.type_defs import JobTypeDef

__all__ = ["JobFollower"]

logger = logging.getLogger(__name__)


def record_recovery_point(
    outcome: ServerOutcome, reported: datetime | None, execution_start: datetime
) -> None:
    """Record the recovery point a launch used and the RPO it achieved.

    The recovery instance's own ``pointInTimeSnapshotDateTime`` wins; else the
    snapshot chosen for a point-in-time wave; else the end of the snapshot the
    job took. The achieved RPO is the data the recovery lost: the execution's
    start minus the recovery point, never negative (an on-demand snapshot of
    a healthy source is taken after the start).
    """
    point = reported or outcome.recovery_point or outcome.phases.snapshot_end
    if point is None:
        return
    outcome.recovery_point = point
    outcome.achieved_rpo_s = round(max((execution_start - point).total_seconds(), 0.0), 3)


_RECENT_JOBS = timedelta(minutes=15)
"""How far back other jobs are counted before a chunk starts (DRS refuses past its quotas anyway,
and such a refusal makes the next attempt count the whole quota window)."""


class JobFollower:
    """The job units of a wave: start a chunk, poll its job, record its outcomes.

    Args:
        settings: Quotas, leases and windows.
    """

    def __init__(self, settings: ExecutorSettings) -> None:
        self._settings = settings

    def start_chunk(
        self, step: StepContext, run: WaveRun, chunk: JobRecord, drs: DrsGateway
    ) -> None:
        """Start a chunk once: find its job by tags after a claim, else claim and start it.

        Claim times are kept in DRS's time (from the ``Date`` of DRS's last
        answer), so the search for a job whose start was not recorded, and the
        wait before another process takes a claim over, hold whatever the
        hosts' clocks say. A claim is taken over only once the longest time a
        ``StartRecovery`` request can still be in flight has passed.
        """
        settings = self._settings
        execution = step.execution
        if chunk.search_from is not None:
            found = find_chunk_job(
                drs,
                execution.execution_id,
                run.wave_name,
                chunk.chunk_index,
                since=chunk.search_from - self.margin(step, drs),
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
                self.record_job(step, run, chunk, found)
                return
            claimed = chunk.start_requested_at
            if claimed is not None and self._drs_now(step, drs) < claimed + self._lease(drs):
                return
            # Only failures DRS answered count: an attempt cut short by a crash says
            # nothing about whether DRS would start the chunk.
            if chunk.start_failures >= settings.max_start_attempts:
                self.start_failed(step, run, chunk)
                return
        usage = self._usage(step, chunk, drs)
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
        now_in_drs = self._drs_now(step, drs)
        chunk.start_requested_at = now_in_drs
        chunk.search_from = chunk.search_from or now_in_drs
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
        except AwsConflictError as exc:
            # DRS refuses servers already in a job in progress: if that job is this
            # chunk's (a start that outlived its claim, a lost response), adopt it.
            holding, busy = self._job_holding(drs, execution.execution_id, run, chunk)
            if holding is not None:
                logger.warning(
                    "StartRecovery was refused because the chunk's job already exists; "
                    "recording that job",
                    extra={
                        "executionId": execution.execution_id,
                        "wave": run.wave_name,
                        "chunk": chunk.chunk_index,
                        "jobId": holding["jobID"],
                    },
                )
                self.record_job(step, run, chunk, holding)
                return
            # Servers still in another job in progress (one just ending, another
            # tool's) are a wait, bounded by the wave's timeout, not a refusal.
            self._start_refused(step, run, chunk, exc, counts=not busy, keep_claim=False)
        except DrsOrchestrationError as exc:
            if may_have_applied(exc):
                # The request may have reached DRS: keep the claim, so the next step
                # waits out the lease and looks for the job before sending again.
                self._start_refused(step, run, chunk, exc, counts=True, keep_claim=True)
            else:
                waits = isinstance(exc, ServiceQuotaExceededError | ThrottledError)
                self._start_refused(step, run, chunk, exc, counts=not waits, keep_claim=False)
        else:
            self.record_job(step, run, chunk, job)

    def _usage(self, step: StepContext, chunk: JobRecord, drs: DrsGateway) -> QuotaUsage:
        """Jobs and servers in progress that count against the account's quotas.

        Reads DRS's recent jobs only (the window since the chunk's claim, or the
        last minutes), so a wave's reads do not grow with the jobs of earlier
        waves, and adds this execution's own jobs in progress. The full window
        is read when DRS last refused the chunk for a quota: then jobs of
        other tools are what hold the capacity.
        """
        settings = self._settings
        refused_for_quota = chunk.error is not None and chunk.error.code == "ServiceQuotaExceeded"
        if refused_for_quota:
            return count_in_progress(drs, step.now - settings.quota_window)
        own = {
            c.job_id: len(c.server_ids)
            for run in step.execution.waves
            for c in run.jobs
            if c.job_id is not None and c.status in (JobStatus.PENDING, JobStatus.STARTED)
        }
        since = step.now - _RECENT_JOBS
        recent = {
            j["jobID"]: len(j.get("participatingServers", []))
            for j in drs.describe_jobs(from_date=since)
            if j.get("status") in ("PENDING", "STARTED")
        }
        jobs = {**recent, **own}
        return QuotaUsage(jobs=len(jobs), servers=sum(jobs.values()))

    def _start_refused(
        self,
        step: StepContext,
        run: WaveRun,
        chunk: JobRecord,
        error: DrsOrchestrationError,
        *,
        counts: bool,
        keep_claim: bool,
    ) -> None:
        if not keep_claim:
            chunk.start_requested_at = None
        chunk.error = ErrorRecord.from_exception(error, at=step.now)
        if counts:
            chunk.start_failures += 1
        logger.warning(
            "StartRecovery failed",
            extra={
                "executionId": step.execution.execution_id,
                "wave": run.wave_name,
                "chunk": chunk.chunk_index,
                "errorCode": error.code,
                "error": error.message,
                "claimKept": keep_claim,
            },
        )
        step.done(progressed=False)

    def _drs_now(self, step: StepContext, drs: DrsGateway) -> datetime:
        """DRS's time now, from its last answer's ``Date``; records the host's skew."""
        skew = drs.clock.skew_s(step.now)
        if skew is None:
            return step.now
        step.execution.drs_clock_skew_s = round(skew, 3)
        return step.now - timedelta(seconds=skew)

    def margin(self, step: StepContext, drs: DrsGateway) -> timedelta:
        """How far before a claim to look for its job: wider when DRS's time is unknown."""
        if drs.clock.last_date is None and step.execution.drs_clock_skew_s is None:
            return self._settings.search_skew * 3
        return self._settings.search_skew

    def _lease(self, drs: DrsGateway) -> timedelta:
        """How long a claim stands: the configured lease, never less than a request's flight."""
        return max(self._settings.start_lease, timedelta(seconds=drs.request_flight_bound_s()))

    @staticmethod
    def _job_holding(
        drs: DrsGateway, execution_id: str, run: WaveRun, chunk: JobRecord
    ) -> tuple[JobTypeDef | None, bool]:
        """The chunk's own job holding its servers (by its tags), and whether any job holds them.

        The second answer says whether a job still in progress holds the
        servers, whoever started it. Read through each server's
        ``lifeCycle.lastLaunch``, so it does not depend on any clock.
        """
        jobs = list(
            {j["jobID"]: j for j in drs.last_launch_jobs(chunk.server_ids).values()}.values()
        )
        busy = any(job.get("status") in ("PENDING", "STARTED") for job in jobs)
        wanted = chunk_tags(execution_id, run.wave_name, chunk.chunk_index)
        for job in jobs:
            tags = job.get("tags") or {}
            if all(tags.get(key) == value for key, value in wanted.items()):
                return job, busy
        return None, busy

    def record_job(
        self, step: StepContext, run: WaveRun, chunk: JobRecord, job: JobTypeDef
    ) -> None:
        """Record a chunk's job, and keep it through a lost final write.

        A job for a chunk that already holds another one (another process
        started the chunk while this request was in flight) is adopted beside
        it, never dropped.
        """
        wave_name, index, now = run.wave_name, chunk.chunk_index, step.now
        done = record_started_job(step.execution, wave_name, index, job, now)
        if done == "adopted":
            self._adopted(step, run, index, job["jobID"], duplicate=True)

        def keep(latest: Execution) -> None:
            # Another process wrote meanwhile: maybe it recorded another job for the
            # chunk, and this one is then a second launch to adopt beside it.
            if record_started_job(latest, wave_name, index, job, now) == "adopted" and (
                done != "adopted"
            ):
                self._adopted(step, latest.wave_run(wave_name), index, job["jobID"], duplicate=True)

        step.keep.append(keep)
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

    def start_failed(self, step: StepContext, run: WaveRun, chunk: JobRecord) -> None:
        """Give up on a chunk DRS refused on every attempt: its servers fail with DRS's error."""
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

    def poll(
        self, step: StepContext, run: WaveRun, active: list[JobRecord], drs: DrsGateway
    ) -> None:
        """Read the wave's running jobs; record what is worth a write, report the rest as events.

        The step's views of the jobs (:attr:`StepContext.job_views`) are used
        when they cover every running job, and its error when it failed to
        read them: the step asked DRS already.
        """
        job_ids = [c.job_id for c in active if c.job_id]
        failed = [step.job_errors[j] for j in job_ids if j in step.job_errors]
        if failed:
            raise failed[0]
        views = (
            step.job_views
            if all(job_id in step.job_views for job_id in job_ids)
            else describe_jobs(drs, job_ids)
        )
        for chunk in active:
            view = views.get(chunk.job_id or "")
            if view is None:
                logger.warning(
                    "DRS did not return a recorded job",
                    extra={"executionId": step.execution.execution_id, "jobId": chunk.job_id},
                )
                continue
            differs, worth_writing = self.view_differs(
                run, chunk, view, step.now, self._settings.progress_write_interval
            )
            if differs:
                step.record(
                    job_progress(step.execution.execution_id, run.wave_name, view, step.now)
                )
            if worth_writing:
                if self.apply_view(step, run, chunk, view):
                    chunk.progress_recorded_at = step.now
                ended = self._servers_ended(run, chunk)
                if ended and chunk.status is not JobStatus.COMPLETED:
                    # Every server's launch has ended: the job has nothing left to do for
                    # the wave (DRS marks it COMPLETED a few seconds later), so its
                    # outcomes are recorded now instead of a poll interval later.
                    chunk.status = JobStatus.COMPLETED
                    chunk.ended_at = chunk.ended_at or step.now
                # A job seen ending has outcomes to record now: step again at once. Any
                # other change is recorded while the wave still waits on DRS.
                step.done(progressed=chunk.status is JobStatus.COMPLETED)

    @staticmethod
    def _servers_ended(run: WaveRun, chunk: JobRecord) -> bool:
        mine = [o for o in run.servers.values() if o.job_id == chunk.job_id]
        return bool(mine) and all(o.status in FINAL_LAUNCH for o in mine)

    @staticmethod
    def view_differs(
        run: WaveRun,
        chunk: JobRecord,
        view: JobView,
        now: datetime,
        progress_write_interval: timedelta,
    ) -> tuple[bool, bool]:
        """Whether DRS shows anything new, and whether it is worth a write.

        Worth a write: the job's status or end, or a server reaching a final
        launch status when every server of the job has ended or the progress
        write is due (:func:`~drs_orchestration.services.waves.watch.progress_due`).
        A server merely moving to ``IN_PROGRESS``, or ending between two due
        writes, is reported in events but not written, which keeps writes of
        a large execution few. New is told by counts (servers per launch
        status, recovery instances), as a poll from the header tells it
        (:mod:`~drs_orchestration.services.waves.watch`), so both report the
        same progress.
        """
        changed = chunk.status is not view.status or (
            view.ended_at is not None and chunk.ended_at != view.ended_at
        )
        if changed:
            return True, True
        owned = {}
        reached = False
        for sid, server in view.servers.items():
            outcome = run.servers.get(sid)
            if outcome is None or outcome.job_id != chunk.job_id:
                continue
            if outcome.status is not server.launch_status and server.launch_status in FINAL_LAUNCH:
                reached = True
            owned[sid] = server
        if reached:
            ended = all(server.launch_status in FINAL_LAUNCH for server in owned.values())
            return True, ended or progress_due(
                chunk.progress_recorded_at, now, progress_write_interval
            )
        recorded = JobWatch.of(chunk, run.servers.values())
        return progress_differs(recorded, *launch_counts(owned.values())), False

    def apply_view(self, step: StepContext, run: WaveRun, chunk: JobRecord, view: JobView) -> bool:
        """Copy what ``DescribeJobs`` shows into the chunk and its servers.

        Returns whether a server reached a final launch status it was not recorded in.
        """
        chunk.status = view.status
        if view.ended_at is not None:
            chunk.ended_at = view.ended_at
        reached = False
        for sid, server in view.servers.items():
            outcome = run.servers.get(sid)
            if outcome is None or outcome.job_id != chunk.job_id:
                continue
            if outcome.status is not server.launch_status:
                reached = reached or server.launch_status in FINAL_LAUNCH
                outcome.status = server.launch_status
                if (
                    server.launch_status is ServerLaunchStatus.LAUNCHED
                    and outcome.phases.launch_end is None
                ):
                    outcome.phases.launch_end = step.now
            if server.recovery_instance_id:
                outcome.recovery_instance_id = server.recovery_instance_id
        return reached

    def record_outcomes(
        self, step: StepContext, run: WaveRun, chunk: JobRecord, drs: DrsGateway
    ) -> None:
        """For a completed job: phase times, instances, failures of unfinished servers, events."""
        assert chunk.job_id is not None
        # Failback identity hook: launches into paired instances kept them and their IPs.
        verify_identities(drs, run, chunk.server_ids, at=step.now)
        log = read_job_log(drs.describe_job_log_items(chunk.job_id), chunk.server_ids)
        instance_ids = [
            rid for sid in chunk.server_ids if (rid := run.servers[sid].recovery_instance_id)
        ]
        instances = recovery_instances(drs, instance_ids)
        execution = step.execution
        execution_id = execution.execution_id
        for sid in chunk.server_ids:
            outcome = run.servers[sid]
            if outcome.job_id != chunk.job_id:
                continue  # a later job of the server (an adopted one) tells its outcome
            observed = outcome.phases.launch_end
            phases = log.phases.get(sid)
            if phases is not None:
                outcome.phases = phases
                if outcome.phases.launch_end is None:
                    outcome.phases.launch_end = observed
            instance = instances.get(outcome.recovery_instance_id or "")
            if instance is not None:
                outcome.ec2_instance_id = instance.ec2_instance_id
            record_recovery_point(
                outcome,
                instance.point_in_time if instance else None,
                execution.started_at or chunk.started_at or step.now,
            )
            if outcome.status in UNFINISHED:
                outcome.error = ErrorRecord(
                    code="LaunchNotCompleted",
                    message=f"job {chunk.job_id} completed while the server was still "
                    f"{outcome.status.value}",
                    at=step.now,
                )
                outcome.status = ServerLaunchStatus.FAILED
            elif outcome.status in NOT_LAUNCHED and outcome.error is None:
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
                        duration_s=duration_s(
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

    def reconcile(self, step: StepContext, run: WaveRun, drs: DrsGateway, *, follow: bool) -> int:
        """Adopt every DRS job carrying the wave's tags that no chunk recorded.

        Searches the jobs created since the wave's first claim (DRS's time,
        less the search margin). With ``follow``, an adopted job is followed
        like the chunk's own: when it is the later launch of its servers,
        their outcomes move to it (DRS keeps one recovery instance per
        server, the latest). Without (the wave has ended), it is only
        recorded, so terminating the execution reaches its instances.

        Returns:
            How many jobs were adopted.
        """
        claims = [c.search_from for c in run.jobs if c.search_from is not None]
        run.reconciled_at = step.now
        if not claims:
            return 0
        recorded = {c.job_id for c in run.jobs if c.job_id}
        wave_tag = tag_value(run.wave_name)
        adopted = 0
        for job in find_execution_jobs(
            drs, step.execution.execution_id, since=min(claims) - self.margin(step, drs)
        ):
            if job["jobID"] in recorded or (job.get("tags") or {}).get("Wave") != wave_tag:
                continue
            if self._adopt(step, run, job, follow=follow):
                adopted += 1
                recorded.add(job["jobID"])
        return adopted

    def _adopt(self, step: StepContext, run: WaveRun, job: JobTypeDef, *, follow: bool) -> bool:
        index_tag = str((job.get("tags") or {}).get("Chunk", ""))
        chunk = next(
            (c for c in run.jobs if not c.adopted and str(c.chunk_index) == index_tag), None
        )
        if chunk is None:
            logger.warning(
                "a DRS job carries the execution's tags but names no chunk of the wave",
                extra={"executionId": step.execution.execution_id, "jobId": job["jobID"]},
            )
            return False
        duplicate = chunk.job_id is not None
        if duplicate:
            adopt_job(run, chunk, job, step.now, follow=follow)
        else:
            apply_job(step.execution, run.wave_name, chunk.chunk_index, job, step.now)
        self._adopted(step, run, chunk.chunk_index, job["jobID"], duplicate=duplicate)
        step.done()
        return True

    def _adopted(
        self, step: StepContext, run: WaveRun, chunk_index: int, job_id: str, *, duplicate: bool
    ) -> None:
        logger.warning(
            "adopted a DRS job of this execution that its chunk had not recorded",
            extra={
                "executionId": step.execution.execution_id,
                "wave": run.wave_name,
                "chunk": chunk_index,
                "jobId": job_id,
                "duplicate": duplicate,
            },
        )
        step.record(
            JobAdopted(
                execution_id=step.execution.execution_id,
                wave_name=run.wave_name,
                chunk_index=chunk_index,
                job_id=job_id,
                servers=len(next(c for c in run.jobs if c.job_id == job_id).server_ids),
                duplicate=duplicate,
                at=step.now,
            )
        )

    def last_look(self, step: StepContext, run: WaveRun, drs: DrsGateway) -> None:
        """Record what DRS knows before timing out, so no launched instance goes unrecorded."""
        try:
            for chunk in run.jobs:
                if chunk.job_id is None and chunk.search_from is not None:
                    found = find_chunk_job(
                        drs,
                        step.execution.execution_id,
                        run.wave_name,
                        chunk.chunk_index,
                        since=chunk.search_from - self.margin(step, drs),
                    )
                    if found is not None:
                        apply_job(step.execution, run.wave_name, chunk.chunk_index, found, step.now)
            active = [c for c in run.jobs if c.status in (JobStatus.PENDING, JobStatus.STARTED)]
            views = describe_jobs(drs, [c.job_id for c in active if c.job_id])
            for chunk in active:
                if (view := views.get(chunk.job_id or "")) is not None:
                    self.apply_view(step, run, chunk, view)
        except DrsOrchestrationError as exc:
            logger.warning(
                "could not read the wave's jobs before timing it out",
                extra={
                    "executionId": step.execution.execution_id,
                    "wave": run.wave_name,
                    "errorCode": exc.code,
                },
            )
