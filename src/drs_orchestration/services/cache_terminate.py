"""Terminating the recovery instances of one execution.

The instances come from the execution itself: the recovery instances its
server outcomes recorded, the participating servers of its recorded jobs,
and the cache records tagged with it. Never "every recovery instance of
these source servers": another execution's instances must survive. Each
candidate is checked against DRS before anything is terminated, and the
TERMINATE jobs are followed to their end.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drs_orchestration.aws.drs import DrsGateway, chunked
from drs_orchestration.aws.ec2 import Ec2Gateway
from drs_orchestration.aws.quotas import DrsQuotas
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import (
    AwsConflictError,
    AwsValidationError,
    DrsOrchestrationError,
    JobTimeoutError,
    ServiceQuotaExceededError,
    TerminationRefusedError,
    ValidationError,
)
from drs_orchestration.events import EventSink, InstancesTerminated, emit
from drs_orchestration.models import (
    AccountContext,
    ErrorRecord,
    Execution,
    InstanceTermination,
    TerminationReport,
    TerminationStatus,
)
from drs_orchestration.models.base import Clock, check_duration
from drs_orchestration.models.matching import LAUNCH_INTO_TAG

if TYPE_CHECKING:
    from drs_orchestration.aws.clients import ClientFactory
    from drs_orchestration.storage.base import Storage

__all__ = ["TerminationLimits", "Terminator"]

logger = logging.getLogger(__name__)

AccountResolver = Callable[[str | None], AccountContext | None]


@dataclass(frozen=True, kw_only=True)
class TerminationLimits:
    """How termination splits its work into jobs, and how long it waits for them.

    The DRS limits are the account's quotas, shared with launching
    (:class:`~drs_orchestration.aws.DrsQuotas`): TERMINATE jobs count
    towards the same jobs in progress and servers across jobs as launches.

    Attributes:
        quotas: The DRS account quotas: ``max_servers_per_job`` caps a
            ``TerminateRecoveryInstances`` call, ``max_jobs_in_progress`` and
            ``max_servers_in_progress`` cap this library's TERMINATE jobs
            running at once per account and region.
        chunk_size: Recovery instances per ``TerminateRecoveryInstances`` call,
            at most ``quotas.max_servers_per_job`` (default: that quota).
        poll_interval_s: Seconds between polls of running jobs (and between
            attempts while DRS answers that a quota is full).
        timeout_s: Give up waiting after this long (at most a week); instances
            whose jobs have not finished are reported failed and keep their records.

    Raises:
        ValidationError: naming the field and value that is out of range
            (intervals and timeouts must be positive and finite).
    """

    quotas: DrsQuotas = field(default_factory=DrsQuotas)
    chunk_size: int | None = None
    poll_interval_s: float = 15.0
    timeout_s: float = 1800.0

    def __post_init__(self) -> None:
        if not isinstance(self.quotas, DrsQuotas):
            raise ValidationError.for_field("quotas", self.quotas, "must be a DrsQuotas")
        if self.chunk_size is not None and (
            isinstance(self.chunk_size, bool)
            or not isinstance(self.chunk_size, int)
            or not 1 <= self.chunk_size <= self.quotas.max_servers_per_job
        ):
            raise ValidationError.for_field(
                "chunk_size",
                self.chunk_size,
                "must be a whole number between 1 and quotas.max_servers_per_job "
                f"({self.quotas.max_servers_per_job})",
            )
        check_duration(self.poll_interval_s, "poll_interval_s")
        check_duration(self.timeout_s, "timeout_s")

    @property
    def servers_per_job(self) -> int:
        """Recovery instances per ``TerminateRecoveryInstances`` call."""
        return self.chunk_size if self.chunk_size is not None else self.quotas.max_servers_per_job


@dataclass(frozen=True)
class _Location:
    region: str
    account: AccountContext | None

    @property
    def account_id(self) -> str | None:
        return self.account.account_id if self.account else None

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.region, self.account_id)


@dataclass
class _Candidate:
    recovery_instance_id: str
    source_server_id: str | None
    launch_job_id: str | None
    location: _Location
    ec2_instance_id: str | None = None


@dataclass
class _Job:
    job_id: str
    location: _Location
    candidates: list[_Candidate]


@dataclass
class _Run:
    """The state of one ``terminate_execution`` call."""

    execution: Execution
    report: TerminationReport
    job_ids: set[str] = field(default_factory=set)
    outcomes: dict[str, InstanceTermination] = field(default_factory=dict)

    def settle(
        self,
        candidate: _Candidate,
        status: TerminationStatus,
        *,
        reason: str | None = None,
        error: BaseException | None = None,
        terminate_job_id: str | None = None,
    ) -> None:
        self.outcomes[candidate.recovery_instance_id] = InstanceTermination(
            recovery_instance_id=candidate.recovery_instance_id,
            source_server_id=candidate.source_server_id,
            region=candidate.location.region,
            account_id=candidate.location.account_id,
            launch_job_id=candidate.launch_job_id,
            terminate_job_id=terminate_job_id,
            status=status,
            reason=reason,
            error=ErrorRecord.from_exception(error) if error is not None else None,
        )


class Terminator:
    """Terminates the recovery instances of executions, for ``RecoveryInstanceCache``."""

    def __init__(
        self,
        storage: Storage,
        clients: ClientFactory,
        *,
        retry: RetryPolicy,
        clock: Clock,
        sleep: Callable[[float], None],
        events: EventSink | None,
        resolve_account: AccountResolver,
    ) -> None:
        self._storage = storage
        self._clients = clients
        self._retry = retry
        self._clock = clock
        self._sleep = sleep
        self._events = events
        self._resolve_account = resolve_account

    def _drs(self, location: _Location) -> DrsGateway:
        # A gateway holds no connection (the factory caches the clients), so one per use.
        return DrsGateway(self._clients, location.region, location.account, retry=self._retry)

    def terminate(
        self,
        execution_id: str,
        *,
        dry_run: bool,
        include_recovery: bool,
        include_launched_into: bool = False,
        limits: TerminationLimits,
    ) -> TerminationReport:
        """Terminate (or list, on a dry run) the recovery instances of one execution."""
        execution = self._storage.executions.get(execution_id)
        if not execution.is_drill and not include_recovery:
            raise TerminationRefusedError(
                f"execution {execution_id} is a {execution.execution_type.value}, not a drill: "
                "terminating its recovery instances would take down recovered production; "
                "pass include_recovery=True if that is really intended",
                execution_id=execution_id,
                details={"executionType": execution.execution_type.value},
            )
        run = _Run(
            execution,
            TerminationReport(
                execution_id=execution_id,
                execution_type=execution.execution_type,
                dry_run=dry_run,
                started_at=self._clock(),
            ),
        )
        candidates = self._candidates(run)
        to_terminate = self._verify(run, candidates, include_recovery=include_recovery)
        if not include_launched_into:
            to_terminate = self._spare_launched_into(run, to_terminate)
        if dry_run:
            for candidate in to_terminate:
                run.settle(candidate, TerminationStatus.WOULD_TERMINATE)
        elif to_terminate:
            self._run_jobs(run, to_terminate, limits)
        if not dry_run:
            self._forget(run)
        return self._finish(run, candidates)

    # ---- what to terminate ----------------------------------------------------------

    def _candidates(self, run: _Run) -> dict[str, _Candidate]:
        execution = run.execution
        found: dict[str, _Candidate] = {}
        jobs_by_location: dict[tuple[str, str | None], tuple[_Location, list[str]]] = {}
        job_locations: dict[str, _Location] = {}
        accounts: dict[str | None, AccountContext | None] = {}

        def account(account_id: str | None) -> AccountContext | None:
            # Resolving may read the protection groups: once per account is enough.
            if account_id not in accounts:
                accounts[account_id] = self._resolve_account(account_id)
            return accounts[account_id]

        def add(candidate: _Candidate) -> None:
            existing = found.get(candidate.recovery_instance_id)
            if existing is None:
                found[candidate.recovery_instance_id] = candidate
                return
            existing.source_server_id = existing.source_server_id or candidate.source_server_id
            existing.launch_job_id = existing.launch_job_id or candidate.launch_job_id

        for wave in execution.waves:
            wave_location = _Location(wave.region, wave.account)
            for job in wave.jobs:
                if job.job_id is None:
                    continue
                if job.account_id in (None, wave_location.account_id):
                    location = _Location(job.region, wave.account)
                else:
                    location = _Location(job.region, account(job.account_id))
                job_locations[job.job_id] = location
                run.job_ids.add(job.job_id)
                jobs_by_location.setdefault(location.key, (location, []))[1].append(job.job_id)
            for outcome in wave.servers.values():
                if outcome.recovery_instance_id:
                    add(
                        _Candidate(
                            outcome.recovery_instance_id,
                            outcome.source_server_id,
                            outcome.job_id,
                            job_locations.get(outcome.job_id or "", wave_location),
                        )
                    )
        # The jobs themselves name every instance they launched, including any
        # whose outcome was not recorded before a crash.
        for location, job_ids in jobs_by_location.values():
            try:
                jobs = self._drs(location).describe_jobs(job_ids=job_ids)
            except DrsOrchestrationError as error:
                run.report.errors.append(ErrorRecord.from_exception(error))
                logger.warning(
                    "could not read an execution's jobs; using its recorded outcomes",
                    extra={"executionId": execution.execution_id, "region": location.region},
                )
                continue
            for described in jobs:
                for server in described.get("participatingServers") or []:
                    instance_id = server.get("recoveryInstanceID")
                    if instance_id:
                        add(
                            _Candidate(
                                instance_id, server["sourceServerID"], described["jobID"], location
                            )
                        )
        # Cache records tagged with this execution (through the index).
        for record in self._storage.recovery_instances.for_execution(execution.execution_id):
            if record.job_id:
                run.job_ids.add(record.job_id)
            location = _Location(record.region, account(record.account_id))
            add(
                _Candidate(
                    record.recovery_instance_id, record.source_server_id, record.job_id, location
                )
            )
        return found

    def _verify(
        self, run: _Run, candidates: Mapping[str, _Candidate], *, include_recovery: bool
    ) -> list[_Candidate]:
        """Check each candidate against DRS; return those this call may terminate."""
        by_location: dict[tuple[str, str | None], list[_Candidate]] = {}
        for candidate in candidates.values():
            by_location.setdefault(candidate.location.key, []).append(candidate)
        approved: list[_Candidate] = []
        for group in by_location.values():
            location = group[0].location
            try:
                live = {
                    item["recoveryInstanceID"]: item
                    for item in self._drs(location).describe_recovery_instances(
                        recovery_instance_ids=[c.recovery_instance_id for c in group]
                    )
                }
            except DrsOrchestrationError as error:
                for candidate in group:
                    run.settle(
                        candidate,
                        TerminationStatus.FAILED,
                        reason="could not check the instance in DRS",
                        error=error,
                    )
                continue
            for candidate in group:
                item = live.get(candidate.recovery_instance_id)
                if item is None:
                    run.settle(
                        candidate,
                        TerminationStatus.ALREADY_GONE,
                        reason="DRS no longer has this recovery instance",
                    )
                    continue
                candidate.source_server_id = candidate.source_server_id or item["sourceServerID"]
                candidate.ec2_instance_id = item.get("ec2InstanceID")
                launched_by = item.get("jobID")
                if launched_by and launched_by not in run.job_ids:
                    run.settle(
                        candidate,
                        TerminationStatus.SKIPPED,
                        reason=(
                            f"launched by job {launched_by}, which is not a job of execution "
                            f"{run.execution.execution_id}"
                        ),
                    )
                elif item.get("isDrill") is False and not include_recovery:
                    run.settle(
                        candidate,
                        TerminationStatus.SKIPPED,
                        reason="a recovery instance, not a drill; pass include_recovery=True",
                    )
                else:
                    approved.append(candidate)
        return approved

    def _spare_launched_into(self, run: _Run, approved: list[_Candidate]) -> list[_Candidate]:
        """Leave alone the instances that existed before the execution: those DRS launched into.

        Terminating the recovery instance of a launch into an existing instance
        terminates that instance — a standby, or the original server after a
        failback. Such an instance is recognised by its stored instance pair
        or by the ``AWSDRS=AllowLaunchingIntoThisInstance`` tag it had to carry;
        one whose tags cannot be read is not terminated either.
        """
        if not approved:
            return approved
        pairs = self._storage.instance_pairs.get_many(
            c.source_server_id for c in approved if c.source_server_id
        )
        by_location: dict[tuple[str, str | None], list[_Candidate]] = {}
        for candidate in approved:
            by_location.setdefault(candidate.location.key, []).append(candidate)
        key, value = LAUNCH_INTO_TAG
        kept: list[_Candidate] = []
        for group in by_location.values():
            location = group[0].location
            instance_ids = [c.ec2_instance_id or c.recovery_instance_id for c in group]
            try:
                tags = {
                    instance["InstanceId"]: {
                        t.get("Key"): t.get("Value") for t in instance.get("Tags", [])
                    }
                    for instance in Ec2Gateway(
                        self._clients, location.region, location.account, retry=self._retry
                    ).describe_instances(instance_ids)
                }
            except DrsOrchestrationError as error:
                for candidate in group:
                    run.settle(
                        candidate,
                        TerminationStatus.FAILED,
                        reason=(
                            "could not read the instance in EC2 to rule out an existing instance "
                            "DRS launched into; pass include_launched_into=True to terminate anyway"
                        ),
                        error=error,
                    )
                continue
            for candidate, instance_id in zip(group, instance_ids, strict=True):
                pair = pairs.get(candidate.source_server_id or "")
                if pair is not None and pair.target_instance_id == instance_id:
                    reason = f"paired with source server {pair.source_server_id} by the matcher"
                elif tags.get(instance_id, {}).get(key) == value:
                    reason = f"tagged {key}={value}"
                else:
                    kept.append(candidate)
                    continue
                run.settle(
                    candidate,
                    TerminationStatus.SKIPPED,
                    reason=(
                        f"an existing instance DRS launched into ({reason}): it existed before "
                        "the execution; pass include_launched_into=True to terminate it"
                    ),
                )
        return kept

    # ---- terminating -------------------------------------------------------------------

    def _run_jobs(
        self, run: _Run, approved: Sequence[_Candidate], limits: TerminationLimits
    ) -> None:
        pending: list[tuple[_Location, list[_Candidate]]] = []
        by_location: dict[tuple[str, str | None], list[_Candidate]] = {}
        for candidate in approved:
            by_location.setdefault(candidate.location.key, []).append(candidate)
        for group in by_location.values():
            pending.extend(
                (group[0].location, chunk) for chunk in chunked(group, limits.servers_per_job)
            )
        running: list[_Job] = []
        started = self._clock()
        slept = 0.0

        def elapsed() -> float:
            # Counting the sleeps too keeps the wait bounded even with a clock that stands still.
            return max(slept, (self._clock() - started).total_seconds())

        while pending or running:
            pending = self._start_jobs(run, pending, running, limits)
            if not pending and not running:
                break
            if elapsed() >= limits.timeout_s:
                self._give_up(run, pending, running, limits)
                return
            self._sleep(limits.poll_interval_s)
            slept += limits.poll_interval_s
            running = self._poll(run, running)

    def _start_jobs(
        self,
        run: _Run,
        pending: list[tuple[_Location, list[_Candidate]]],
        running: list[_Job],
        limits: TerminationLimits,
    ) -> list[tuple[_Location, list[_Candidate]]]:
        """Start the chunks that fit within the quotas; return the ones still waiting."""
        queue = deque(pending)
        waiting: list[tuple[_Location, list[_Candidate]]] = []
        full: set[tuple[str, str | None]] = set()
        while queue:
            location, chunk = queue.popleft()
            in_flight = [job for job in running if job.location.key == location.key]
            servers = sum(len(job.candidates) for job in in_flight)
            if (
                location.key in full
                or len(in_flight) >= limits.quotas.max_jobs_in_progress
                or servers + len(chunk) > limits.quotas.max_servers_in_progress
            ):
                waiting.append((location, chunk))
                continue
            ids = [c.recovery_instance_id for c in chunk]
            try:
                job = self._drs(location).terminate_recovery_instances(ids)
            except ServiceQuotaExceededError:
                # Jobs of others hold the quota: wait for them rather than fail.
                logger.info(
                    "DRS job quota full; waiting before terminating more instances",
                    extra={"region": location.region, "accountId": location.account_id},
                )
                full.add(location.key)
                waiting.append((location, chunk))
                continue
            except (AwsConflictError, AwsValidationError) as error:
                busy = (
                    self._held_by_jobs_in_progress(location, chunk)
                    if isinstance(error, AwsConflictError)
                    else set()
                )
                if busy:
                    # DRS refuses instances whose source servers are in a job still in
                    # progress (the launch job winding down, another team's drill):
                    # those wait for it, the others are tried again at once.
                    held = [c for c in chunk if c.recovery_instance_id in busy]
                    free = [c for c in chunk if c.recovery_instance_id not in busy]
                    logger.info(
                        "source servers are in a DRS job in progress; waiting to terminate",
                        extra={"region": location.region, "recoveryInstanceIds": sorted(busy)},
                    )
                    if free:
                        queue.appendleft((location, free))
                    waiting.append((location, held))
                    continue
                if len(chunk) > 1:
                    # DRS refuses a whole call for one busy or unknown instance; halving
                    # the chunk finds it and lets the others go through.
                    half = len(chunk) // 2
                    queue.appendleft((location, chunk[half:]))
                    queue.appendleft((location, chunk[:half]))
                    continue
                if isinstance(error, AwsValidationError) and self._gone(location, chunk[0]):
                    # Gone while it waited: a newer launch of its source server replaced it.
                    run.settle(
                        chunk[0],
                        TerminationStatus.ALREADY_GONE,
                        reason="DRS no longer has this recovery instance",
                    )
                    continue
                self._refused(run, chunk, error)
                continue
            except DrsOrchestrationError as error:
                self._refused(run, chunk, error)
                continue
            job_id = job["jobID"]
            run.report.terminate_job_ids.append(job_id)
            running.append(_Job(job_id, location, chunk))
            logger.info(
                "started a TERMINATE job",
                extra={
                    "executionId": run.execution.execution_id,
                    "jobId": job_id,
                    "region": location.region,
                    "accountId": location.account_id,
                    "recoveryInstanceIds": ids,
                },
            )
        return waiting

    def _gone(self, location: _Location, candidate: _Candidate) -> bool:
        """Whether DRS no longer has the instance (a failed read answers no)."""
        try:
            return not self._drs(location).describe_recovery_instances(
                recovery_instance_ids=[candidate.recovery_instance_id]
            )
        except DrsOrchestrationError:
            return False

    def _held_by_jobs_in_progress(
        self, location: _Location, chunk: Sequence[_Candidate]
    ) -> set[str]:
        """The chunk's instances whose source servers a job in progress holds.

        Read through each source server's ``lifeCycle.lastLaunch`` and that
        job's status; a failed read answers "none", so the conflict is
        handled as a refusal, as before.
        """
        by_source = {
            c.source_server_id: c.recovery_instance_id for c in chunk if c.source_server_id
        }
        if not by_source:
            return set()
        try:
            jobs = self._drs(location).last_launch_jobs(sorted(by_source))
        except DrsOrchestrationError:
            return set()
        return {
            by_source[source_id]
            for source_id, job in jobs.items()
            if job.get("status") in ("PENDING", "STARTED")
        }

    @staticmethod
    def _refused(run: _Run, chunk: Sequence[_Candidate], error: DrsOrchestrationError) -> None:
        for candidate in chunk:
            run.settle(
                candidate,
                TerminationStatus.FAILED,
                reason="TerminateRecoveryInstances was refused",
                error=error,
            )

    def _poll(self, run: _Run, running: list[_Job]) -> list[_Job]:
        """Settle the instances of finished jobs; return the jobs still running."""
        still: list[_Job] = []
        by_location: dict[tuple[str, str | None], list[_Job]] = {}
        for job in running:
            by_location.setdefault(job.location.key, []).append(job)
        for jobs in by_location.values():
            location = jobs[0].location
            try:
                described = {
                    j["jobID"]: j
                    for j in self._drs(location).describe_jobs(job_ids=[j.job_id for j in jobs])
                }
            except DrsOrchestrationError as error:
                # Reading progress failed even after retries; the jobs run on, ask again later.
                logger.warning(
                    "could not poll TERMINATE jobs",
                    extra={"region": location.region, "errorCode": getattr(error, "code", "")},
                )
                still.extend(jobs)
                continue
            for job in jobs:
                state = described.get(job.job_id)
                if state is None or state.get("status") != "COMPLETED":
                    still.append(job)
                    continue
                self._settle_job(run, job, state)
        return still

    def _settle_job(self, run: _Run, job: _Job, state: Mapping[str, Any]) -> None:
        statuses = {
            s.get("recoveryInstanceID"): s.get("launchStatus")
            for s in state.get("participatingServers") or []
        }
        unclear: list[_Candidate] = []
        for candidate in job.candidates:
            status = statuses.get(candidate.recovery_instance_id)
            if status == "TERMINATED":
                run.settle(candidate, TerminationStatus.TERMINATED, terminate_job_id=job.job_id)
            elif status == "FAILED":
                run.settle(
                    candidate,
                    TerminationStatus.FAILED,
                    reason=f"TERMINATE job {job.job_id} reports the instance FAILED",
                    terminate_job_id=job.job_id,
                )
            else:
                unclear.append(candidate)
        if not unclear:
            return
        # The job finished without a verdict on these: whether DRS still has them decides.
        try:
            remaining = {
                item["recoveryInstanceID"]
                for item in self._drs(job.location).describe_recovery_instances(
                    recovery_instance_ids=[c.recovery_instance_id for c in unclear]
                )
            }
        except DrsOrchestrationError as error:
            for candidate in unclear:
                run.settle(
                    candidate,
                    TerminationStatus.FAILED,
                    reason=(
                        f"TERMINATE job {job.job_id} completed; "
                        "could not confirm that the instance is gone"
                    ),
                    error=error,
                    terminate_job_id=job.job_id,
                )
            return
        for candidate in unclear:
            if candidate.recovery_instance_id in remaining:
                run.settle(
                    candidate,
                    TerminationStatus.FAILED,
                    reason=f"TERMINATE job {job.job_id} completed but the instance still exists",
                    terminate_job_id=job.job_id,
                )
            else:
                run.settle(candidate, TerminationStatus.TERMINATED, terminate_job_id=job.job_id)

    def _give_up(
        self,
        run: _Run,
        pending: Iterable[tuple[_Location, list[_Candidate]]],
        running: Iterable[_Job],
        limits: TerminationLimits,
    ) -> None:
        for job in running:
            error = JobTimeoutError(
                f"TERMINATE job {job.job_id} did not finish within {limits.timeout_s:g}s",
                details={"jobId": job.job_id, "timeoutSeconds": limits.timeout_s},
            )
            for candidate in job.candidates:
                run.settle(
                    candidate,
                    TerminationStatus.FAILED,
                    reason="its TERMINATE job did not finish in time; it may still end",
                    error=error,
                    terminate_job_id=job.job_id,
                )
        for location, chunk in pending:
            error = JobTimeoutError(
                f"no DRS job capacity in {location.region} within {limits.timeout_s:g}s",
                details={"region": location.region, "timeoutSeconds": limits.timeout_s},
            )
            for candidate in chunk:
                run.settle(
                    candidate,
                    TerminationStatus.FAILED,
                    reason="never started: the DRS job quota stayed full",
                    error=error,
                )

    # ---- the cache and the report ---------------------------------------------------------

    def _forget(self, run: _Run) -> None:
        """Delete the cache records of instances that are gone, and only those."""
        gone = {
            o.source_server_id: o.recovery_instance_id
            for o in run.outcomes.values()
            if o.status in (TerminationStatus.TERMINATED, TerminationStatus.ALREADY_GONE)
            and o.source_server_id
        }
        if not gone:
            return
        try:
            cached = self._storage.recovery_instances.get_many(gone)
            # A record naming another instance is a later launch's: it stays.
            stale = [
                sid for sid, record in cached.items() if record.recovery_instance_id == gone[sid]
            ]
            self._storage.recovery_instances.delete_many(stale)
        except Exception as error:  # the instances are terminated; say so rather than raise
            run.report.errors.append(ErrorRecord.from_exception(error))
            logger.warning(
                "terminated recovery instances but could not delete their cache records",
                exc_info=True,
                extra={"executionId": run.execution.execution_id},
            )

    def _finish(self, run: _Run, candidates: Mapping[str, _Candidate]) -> TerminationReport:
        report = run.report
        report.instances = sorted(
            (run.outcomes[i] for i in candidates if i in run.outcomes),
            key=lambda o: (
                o.region,
                o.account_id or "",
                o.source_server_id or "",
                o.recovery_instance_id,
            ),
        )
        finished = report.finished_at = self._clock()
        counts = {status: len(report.with_status(status)) for status in TerminationStatus}
        logger.info(
            "terminated the recovery instances of an execution"
            if not report.dry_run
            else "listed the recovery instances an execution would terminate",
            extra={
                "executionId": report.execution_id,
                "dryRun": report.dry_run,
                **{f"count{s.value.title().replace('_', '')}": n for s, n in counts.items()},
                "terminateJobIds": report.terminate_job_ids,
            },
        )
        emit(
            self._events,
            InstancesTerminated(
                at=finished,
                execution_id=report.execution_id,
                dry_run=report.dry_run,
                terminated=counts[TerminationStatus.TERMINATED],
                failed=counts[TerminationStatus.FAILED],
                skipped=counts[TerminationStatus.SKIPPED],
                already_gone=counts[TerminationStatus.ALREADY_GONE],
                would_terminate=counts[TerminationStatus.WOULD_TERMINATE],
            ),
        )
        return report
