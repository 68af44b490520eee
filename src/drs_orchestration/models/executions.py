"""Executions: one run of a recovery plan, as a drill or a real recovery."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field, StringConstraints

from drs_orchestration.errors import DrsOrchestrationError, ValidationError
from drs_orchestration.models.account import AccountContext
from drs_orchestration.models.base import (
    MAX_TIMEOUT_S,
    DrsModel,
    Timestamp,
    VersionedModel,
    utc_now,
)
from drs_orchestration.models.ids import (
    Ec2InstanceId,
    ExecutionId,
    JobId,
    PlanId,
    RecoveryInstanceId,
    Region,
    SourceServerId,
    new_execution_id,
)
from drs_orchestration.models.plans import FailurePolicy, RecoveryPlan, ResolvedWave
from drs_orchestration.models.readiness import ReadinessPolicy, ServerReadiness

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CancelRequest",
    "ConfigPath",
    "EndedWaves",
    "ErrorRecord",
    "Execution",
    "ExecutionStatus",
    "ExecutionType",
    "JobRecord",
    "JobStatus",
    "JobWatch",
    "PhaseTimes",
    "PlaceClaim",
    "ServerIdentity",
    "ServerLaunchStatus",
    "ServerOutcome",
    "WaveRun",
    "WaveStatus",
    "WaveSummary",
]

EXECUTION_RETENTION = timedelta(days=90)
"""How long execution history is kept where the backend expires items (DynamoDB TTL)."""


class ExecutionType(StrEnum):
    """A drill (isolated test launch) or a real recovery."""

    DRILL = "DRILL"
    RECOVERY = "RECOVERY"


class ExecutionStatus(StrEnum):
    """Where an execution is in its life."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """Whether nothing more will happen to the execution."""
        return self in _TERMINAL_EXECUTION


_TERMINAL_EXECUTION = frozenset(
    {
        ExecutionStatus.COMPLETED,
        ExecutionStatus.PARTIAL,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
    }
)


class WaveStatus(StrEnum):
    """Where one wave of an execution is.

    ``PENDING`` → ``PREFLIGHT`` (replication readiness) → ``CONFIGURING``
    (launch configurations, chunk planning) → ``LAUNCHING`` (jobs being
    started) → ``MONITORING`` (every chunk has its job) → a terminal status.
    """

    PENDING = "PENDING"
    PREFLIGHT = "PREFLIGHT"
    CONFIGURING = "CONFIGURING"
    LAUNCHING = "LAUNCHING"
    MONITORING = "MONITORING"
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"

    @property
    def is_terminal(self) -> bool:
        """Whether the wave has finished (successfully or not)."""
        return self in _TERMINAL_WAVE


_TERMINAL_WAVE = frozenset(
    {
        WaveStatus.COMPLETED,
        WaveStatus.PARTIAL,
        WaveStatus.FAILED,
        WaveStatus.CANCELLED,
        WaveStatus.SKIPPED,
    }
)


class ConfigPath(StrEnum):
    """How a wave's launch configurations were ensured before its jobs started."""

    FAST = "fast"
    """Already applied and not drifted: no launch-configuration API calls."""
    FALLBACK = "fallback"
    """Applied (or re-applied) just before the jobs started."""


class JobStatus(StrEnum):
    """A chunk's DRS job, including the intent recorded before ``StartRecovery``."""

    INTENT = "INTENT"
    """Planned; no job known yet (see :attr:`JobRecord.start_requested_at`)."""
    PENDING = "PENDING"
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    START_FAILED = "START_FAILED"
    """DRS refused ``StartRecovery`` for the chunk on every attempt; its servers failed."""

    @property
    def has_job(self) -> bool:
        """Whether DRS holds a job for the chunk."""
        return self in (JobStatus.PENDING, JobStatus.STARTED, JobStatus.COMPLETED)


class ServerLaunchStatus(StrEnum):
    """A server's launch in a job (DRS's ``launchStatus``), plus states of our own."""

    NOT_STARTED = "NOT_STARTED"
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    LAUNCHED = "LAUNCHED"
    FAILED = "FAILED"
    TERMINATED = "TERMINATED"
    SKIPPED = "SKIPPED"


class ErrorRecord(DrsModel):
    """An error kept on a record: the library error code, message and details."""

    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    at: Timestamp = Field(default_factory=utc_now)

    @classmethod
    def from_exception(cls, error: BaseException, *, at: datetime | None = None) -> ErrorRecord:
        """Record an exception (library errors keep their code and details).

        Args:
            error: The exception to record.
            at: When it happened (default: now).
        """
        if isinstance(error, DrsOrchestrationError):
            record = cls(code=error.code, message=error.message, details=error.to_dict()["details"])
        else:
            record = cls(code=type(error).__name__, message=str(error) or type(error).__name__)
        if at is not None:
            record.at = at
        return record


class ServerIdentity(DrsModel):
    """What a launch into a paired instance must keep: that instance, and its private IP.

    Captured before the wave launches — the source server's private IP (from
    DRS) and the target instance's (from EC2) — and checked once the launch
    ended: the recovery instance must be the target instance itself, with the
    target's private IP. DRS requires ``copyPrivateIp`` off when launching
    into an instance, so the IP kept is the target's (pre-provisioned to
    match the source where that matters), not a copy of the source's.

    Attributes:
        target_instance_id: The paired instance the launch settings name.
        source_private_ip: The source server's primary private IP, before the launch.
        target_private_ip: The target instance's private IP, before the launch.
        recovery_private_ip: The recovery instance's private IP, after the launch.
        recovery_ec2_instance_id: The EC2 instance DRS launched (the target, if kept).
        instance_kept: The recovery instance is the target instance.
        ip_preserved: The recovery instance has the target's private IP.
        error: ``PrivateIPMismatch`` when either check failed (both IPs and how
            to fix it), or why the checks could not be made.
    """

    target_instance_id: Ec2InstanceId
    source_private_ip: str | None = None
    target_private_ip: str | None = None
    recovery_private_ip: str | None = None
    recovery_ec2_instance_id: Ec2InstanceId | None = None
    captured_at: Timestamp | None = None
    verified_at: Timestamp | None = None
    instance_kept: bool | None = None
    ip_preserved: bool | None = None
    error: ErrorRecord | None = None

    @property
    def verified(self) -> bool:
        """Whether the launch kept both the instance and its private IP."""
        return self.instance_kept is True and self.ip_preserved is True


class CancelRequest(DrsModel):
    """Who asked to cancel an execution, why and when."""

    requested_by: Annotated[str, StringConstraints(min_length=1)]
    reason: str | None = None
    requested_at: Timestamp = Field(default_factory=utc_now)


class PhaseTimes(DrsModel):
    """Per-server phase times from ``DescribeJobLogItems`` (what an RTO report is made of).

    DRS logs no per-server "launch finished" event, so ``launch_end`` is the
    time a poll of the job first saw the server ``LAUNCHED`` (an upper
    bound, as fine as the polling interval).
    """

    job_start: Timestamp | None = None
    snapshot_start: Timestamp | None = None
    snapshot_end: Timestamp | None = None
    conversion_start: Timestamp | None = None
    conversion_end: Timestamp | None = None
    launch_start: Timestamp | None = None
    launch_end: Timestamp | None = None
    launch_failed: Timestamp | None = None
    job_end: Timestamp | None = None


class ServerOutcome(DrsModel):
    """What happened to one source server in a wave.

    Attributes:
        readiness: What preflight saw (replication state, lag, latest recovery
            point) and its verdict, when the wave's preflight ran.
        recovery_point: The recovery point the launch used: the recovery
            instance's ``pointInTimeSnapshotDateTime``, else the chosen
            snapshot's time, else the end of the job's snapshot.
        achieved_rpo_s: Seconds of data the recovery lost: the execution's
            start minus ``recovery_point`` (0 when the point is later, as an
            on-demand snapshot of a healthy source is).
        identity: For a server launched into a paired instance, whether the
            launch kept that instance and its private IP (:class:`ServerIdentity`).
    """

    source_server_id: SourceServerId
    status: ServerLaunchStatus = ServerLaunchStatus.NOT_STARTED
    job_id: JobId | None = None
    recovery_snapshot_id: str | None = None
    recovery_instance_id: RecoveryInstanceId | None = None
    ec2_instance_id: Ec2InstanceId | None = None
    phases: PhaseTimes = Field(default_factory=PhaseTimes)
    readiness: ServerReadiness | None = None
    recovery_point: Timestamp | None = None
    achieved_rpo_s: Annotated[float, Field(ge=0)] | None = None
    skipped_reason: str | None = None
    error: ErrorRecord | None = None
    identity: ServerIdentity | None = None
    """For a server launched into a paired instance: the IPs before and after, and the verdict."""


class JobRecord(DrsModel):
    """One chunk of a wave and its DRS job.

    The intent (``status == INTENT``, no ``job_id``) is persisted when the
    wave's chunks are planned. Before each ``StartRecovery`` call,
    ``start_requested_at`` is persisted (a versioned write, so two processes
    cannot both claim the chunk); the job ID right after the call. A chunk
    with ``search_from`` set but no job ID may have a job whose ID was never
    saved: it is looked for among the jobs created since ``search_from``, by
    its tags (``ExecutionId``, ``Wave``, ``Chunk``), before any new attempt.
    """

    chunk_index: Annotated[int, Field(ge=0)]
    idempotency_key: str
    server_ids: Annotated[list[SourceServerId], Field(min_length=1)]
    region: Region
    account_id: str | None = None
    job_id: JobId | None = None
    status: JobStatus = JobStatus.INTENT
    intent_at: Timestamp = Field(default_factory=utc_now)
    start_requested_at: Timestamp | None = None
    """Set (in DRS's time) before a ``StartRecovery`` attempt; cleared when DRS's answer
    proves the attempt started nothing."""
    search_from: Timestamp | None = None
    """When the first attempt was claimed, in DRS's time: where the search for its job starts."""
    start_attempts: Annotated[int, Field(ge=0)] = 0
    """Claims made to start the chunk (a crashed process's claim counts too)."""
    start_failures: Annotated[int, Field(ge=0)] = 0
    """``StartRecovery`` calls DRS refused for the chunk (quota refusals aside)."""
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    outcomes_recorded: bool = False
    """Phase times, recovery and EC2 instance IDs of the completed job have been recorded."""
    progress_recorded_at: Timestamp | None = None
    """When servers that reached a final launch status while the job ran were last
    recorded: such writes are spaced by the executor's ``progress_write_interval_s``."""
    adopted: bool = False
    """A job DRS holds with this chunk's tags that the chunk's own start did not record
    (a request that outlived its claim): recorded so it is followed and terminable."""
    error: ErrorRecord | None = None


class JobWatch(DrsModel):
    """A running job as the wave last recorded it: what a poll compares DRS's view with.

    Kept in the execution's header while its wave does nothing but wait on
    DRS, so a poll that finds nothing new reads neither the wave's record
    nor its outcomes.

    Attributes:
        job_id: The DRS job.
        status: Its status as recorded.
        ended_at: Its end as recorded.
        launch_statuses: How many of its servers are recorded in each launch status.
        recovery_instances: How many of its servers have a recorded recovery instance.
        progress_recorded_at: The chunk's
            :attr:`~JobRecord.progress_recorded_at`.
    """

    job_id: JobId
    status: JobStatus
    ended_at: Timestamp | None = None
    launch_statuses: dict[ServerLaunchStatus, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict
    )
    recovery_instances: Annotated[int, Field(ge=0)] = 0
    progress_recorded_at: Timestamp | None = None

    @classmethod
    def of(cls, chunk: JobRecord, outcomes: Iterable[ServerOutcome]) -> JobWatch:
        """What ``chunk`` records of its job, over the outcomes the job owns.

        Raises:
            ValidationError: the chunk has no job yet.
        """
        if chunk.job_id is None:
            raise ValidationError.for_field(
                "job_id", None, f"chunk {chunk.chunk_index} has no DRS job to watch yet"
            )
        statuses: dict[ServerLaunchStatus, int] = {}
        instances = 0
        for outcome in outcomes:
            if outcome.job_id != chunk.job_id:
                continue
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
            instances += outcome.recovery_instance_id is not None
        return cls(
            job_id=chunk.job_id,
            status=chunk.status,
            ended_at=chunk.ended_at,
            launch_statuses=statuses,
            recovery_instances=instances,
            progress_recorded_at=chunk.progress_recorded_at,
        )


class WaveSummary(DrsModel):
    """What an execution keeps of a wave beside its detail, derived when the wave is stored.

    Storage keeps a wave's jobs and server outcomes in records of their own
    and, until the wave ends, this summary in the execution's header (then
    in the wave's record, folded into :class:`EndedWaves`), so a step reads
    the waves it works on and never the others (an execution of 5,000
    servers costs a step what one of 100 costs).

    Attributes:
        server_count: Servers in the wave.
        outcome_count: Server outcomes recorded (how the outcome records are split).
        last_launch_end: When its last server was seen launched.
        worst_rpo_s: The largest achieved RPO among its launched servers.
        job_ids: Its DRS jobs (adopted ones included).
        first_claim_at: When its first chunk was claimed, in DRS's time.
        watched_jobs: While the wave only waits on its running jobs, what it
            records of each (see :meth:`WaveRun.watched_jobs`); empty otherwise.
        deadline: When the wave times out, while its jobs are watched.
    """

    server_count: Annotated[int, Field(ge=0)] = 0
    outcome_count: Annotated[int, Field(ge=0)] = 0
    last_launch_end: Timestamp | None = None
    worst_rpo_s: Annotated[float, Field(ge=0)] | None = None
    job_ids: list[JobId] = Field(default_factory=list)
    first_claim_at: Timestamp | None = None
    watched_jobs: list[JobWatch] = Field(default_factory=list)
    deadline: Timestamp | None = None


class WaveRun(DrsModel):
    """The run of one wave inside an execution.

    The wave's settings (servers, region, account, groups, dependencies,
    pause, point in time, timeout) are copied from the plan when the
    execution starts, so a plan edited meanwhile does not change a running
    execution.
    """

    wave_name: str
    status: WaveStatus = WaveStatus.PENDING
    region: Region
    account: AccountContext | None = None
    server_ids: list[SourceServerId] = Field(default_factory=list)
    """The servers resolved from the groups (or the frozen list) when the execution started."""
    protection_group_ids: list[str] = Field(default_factory=list)
    group_versions: dict[str, int] = Field(default_factory=dict)
    """The version of each group the servers were resolved from (what the execution saw)."""
    launch_into: dict[SourceServerId, Ec2InstanceId] = Field(default_factory=dict)
    """Servers whose launch settings launched them into an existing (paired) instance."""
    depends_on: list[str] = Field(default_factory=list)
    pause_before: bool = False
    pause_released: bool = False
    """A ``pause_before`` pause was released by ``resume``."""
    point_in_time: Timestamp | None = None
    timeout_s: Annotated[int, Field(gt=0, le=MAX_TIMEOUT_S)] = 3600
    config_path: ConfigPath | None = None
    applied_servers: list[SourceServerId] = Field(default_factory=list)
    """Servers whose launch configuration was (re-)applied on the fallback path."""
    jobs: list[JobRecord] = Field(default_factory=list)
    servers: dict[SourceServerId, ServerOutcome] = Field(default_factory=dict)
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    deadline: Timestamp | None = None
    error: ErrorRecord | None = None
    transient_error: ErrorRecord | None = None
    """The last transient AWS error (throttling, 5xx after retries); retried on the next step."""
    transient_errors: Annotated[int, Field(ge=0)] = 0
    """Consecutive steps of this wave that ended in a transient error."""
    reconciled_at: Timestamp | None = None
    """When DRS's jobs carrying the wave's tags were last matched against its chunks."""
    summary: WaveSummary = Field(default_factory=WaveSummary)
    """Derived from the wave's detail whenever the execution is stored."""

    DETAIL: ClassVar[frozenset[str]] = frozenset(
        {"server_ids", "servers", "jobs", "applied_servers", "launch_into", "hook_errors"}
    )
    """Fields that grow with the wave: stored apart from the execution's header."""
    STATE: ClassVar[frozenset[str]] = frozenset(
        {
            "protection_group_ids",
            "group_versions",
            "point_in_time",
            "timeout_s",
            "config_path",
            "started_at",
            "ended_at",
            "deadline",
            "error",
            "transient_error",
            "transient_errors",
            "reconciled_at",
        }
    )
    """Settings and timings only a step working on the wave reads: stored with its detail.

    The header keeps the rest (name, status, region, account, dependencies,
    pause flags, summary), what deciding the next step needs, whatever the
    wave's size or history; once the wave ended, only its name, status and
    region (:attr:`ENDED_IN_RECORD`).
    """
    ENDED_IN_RECORD: ClassVar[frozenset[str]] = frozenset(
        {"account", "depends_on", "pause_before", "pause_released", "summary"}
    )
    """Fields the header keeps while the wave has not ended, and only its record after.

    Deciding the next step needs no more of an ended wave than its name and
    status; what the execution needs of its ended waves together (last
    launch, worst RPO, first claims, job IDs) is :class:`EndedWaves`.
    """
    hook_errors: list[ErrorRecord] = Field(default_factory=list)
    """Errors of post-wave hooks (cache sync...): recorded, never failing the wave."""

    @property
    def job_ids(self) -> list[str]:
        """IDs of the wave's DRS jobs, in chunk order."""
        return [job.job_id for job in self.jobs if job.job_id is not None]

    def counts(self) -> dict[ServerLaunchStatus, int]:
        """How many of the wave's servers are in each launch status."""
        found = dict.fromkeys(ServerLaunchStatus, 0)
        for outcome in self.servers.values():
            found[outcome.status] += 1
        return found

    @property
    def has_detail(self) -> bool:
        """Whether the wave's outcomes are here (a step reads only the waves it works on)."""
        return bool(self.servers) or self.summary.outcome_count == 0

    @property
    def worst_rpo(self) -> timedelta | None:
        """The largest achieved RPO among the wave's launched servers (``None`` before any)."""
        if not self.has_detail:
            worst = self.summary.worst_rpo_s
            return None if worst is None else timedelta(seconds=worst)
        return _worst_rpo(self.servers.values())

    @property
    def last_launch_end(self) -> datetime | None:
        """When the wave's last server was seen launched (``None`` before any)."""
        if not self.has_detail:
            return self.summary.last_launch_end
        launched = [
            o.phases.launch_end
            for o in self.servers.values()
            if o.status is ServerLaunchStatus.LAUNCHED and o.phases.launch_end is not None
        ]
        return max(launched) if launched else None

    @property
    def recovery_time(self) -> timedelta | None:
        """The wave's RTO: from its start to its last server launched (``None`` before any)."""
        last = self.last_launch_end
        return None if last is None or self.started_at is None else last - self.started_at

    def summarised(self) -> WaveSummary:
        """The wave's summary as its detail says now (the stored one when it is not here)."""
        if not self.has_detail:
            return self.summary
        worst = self.worst_rpo
        claims = [c.search_from for c in self.jobs if c.search_from is not None]
        watched = self.watched_jobs()
        return WaveSummary(
            server_count=len(self.server_ids),
            outcome_count=len(self.servers),
            last_launch_end=self.last_launch_end,
            worst_rpo_s=None if worst is None else worst.total_seconds(),
            job_ids=[c.job_id for c in self.jobs if c.job_id is not None],
            first_claim_at=min(claims) if claims else None,
            watched_jobs=watched,
            deadline=self.deadline if watched else None,
        )

    def watched_jobs(self) -> list[JobWatch]:
        """What the wave records of its running jobs, when waiting on them is all it does.

        That is: it is monitoring, every chunk has its own job (none adopted,
        none still to start), no completed job awaits its outcomes, and at
        least one job runs. Empty otherwise: the next step has more to do
        than compare DRS's view of the jobs with the wave's record.
        """
        if self.status is not WaveStatus.MONITORING or self.deadline is None:
            return []
        running = []
        for chunk in self.jobs:
            if chunk.adopted or chunk.job_id is None:
                return []
            if chunk.status in (JobStatus.PENDING, JobStatus.STARTED):
                running.append(chunk)
            elif chunk.status is not JobStatus.COMPLETED or not chunk.outcomes_recorded:
                return []
        return [JobWatch.of(chunk, self.servers.values()) for chunk in running]

    def _repr_html_(self) -> str:
        from drs_orchestration.reports.html import wave_run_html

        return wave_run_html(self)


class PlaceClaim(DrsModel):
    """The earliest chunk claim of an execution's ended waves in one region and account.

    Where the search for their jobs starts when the execution ends (jobs DRS
    started for a claim that outlived it are recorded then).
    """

    region: Region
    account: AccountContext | None = None
    first_claim_at: Timestamp


class EndedWaves(DrsModel):
    """What an execution's ended waves add up to, so a step need not read them.

    Storage folds each wave into it when the wave is stored ended, and the
    header then keeps no more of that wave than its name, status and region:
    the header stays the same size however many waves have ended.

    Attributes:
        last_launch_end: When the last of their servers was seen launched.
        worst_rpo_s: The largest achieved RPO among their launched servers.
        job_ids: Their DRS jobs (adopted ones included).
        claims: Per region and account, their earliest chunk claim.
    """

    last_launch_end: Timestamp | None = None
    worst_rpo_s: Annotated[float, Field(ge=0)] | None = None
    job_ids: list[JobId] = Field(default_factory=list)
    claims: list[PlaceClaim] = Field(default_factory=list)

    def including(self, runs: Iterable[WaveRun]) -> EndedWaves:
        """This, with the ended waves among ``runs`` folded in (what their detail says).

        Folding is idempotent: a wave folded twice counts once, and an ended
        wave whose detail was not read adds nothing.
        """
        # Its lists are rebuilt below and claims replaced, never changed in place: a
        # shallow copy leaves this one as it was.
        folded = self.model_copy()
        job_ids = dict.fromkeys(folded.job_ids)
        claims = {_place(c.region, c.account): c for c in folded.claims}
        for run in runs:
            if not run.status.is_terminal:
                continue
            summary = run.summarised()
            folded.last_launch_end = _latest(folded.last_launch_end, summary.last_launch_end)
            if summary.worst_rpo_s is not None:
                folded.worst_rpo_s = max(folded.worst_rpo_s or 0.0, summary.worst_rpo_s)
            job_ids.update(dict.fromkeys(summary.job_ids))
            if summary.first_claim_at is not None:
                place = _place(run.region, run.account)
                known = claims.get(place)
                if known is None or summary.first_claim_at < known.first_claim_at:
                    claims[place] = PlaceClaim(
                        region=run.region,
                        account=run.account,
                        first_claim_at=summary.first_claim_at,
                    )
        folded.job_ids = list(job_ids)
        folded.claims = list(claims.values())
        return folded


def _place(region: str, account: AccountContext | None) -> tuple[str, object]:
    return region, account.cache_key() if account else None


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _worst_rpo(outcomes: Iterable[ServerOutcome]) -> timedelta | None:
    achieved = [
        o.achieved_rpo_s
        for o in outcomes
        if o.status is ServerLaunchStatus.LAUNCHED and o.achieved_rpo_s is not None
    ]
    return timedelta(seconds=max(achieved)) if achieved else None


class Execution(VersionedModel):
    """One run of a recovery plan. Persisted before and after every AWS side effect."""

    execution_id: ExecutionId = Field(default_factory=new_execution_id)
    plan_id: PlanId
    plan_name: str
    plan_version: int = 0
    execution_type: ExecutionType = ExecutionType.DRILL
    status: ExecutionStatus = ExecutionStatus.PENDING
    waves: list[WaveRun] = Field(default_factory=list)
    failure_policy: FailurePolicy = FailurePolicy.STOP
    allow_concurrent_waves: bool = False
    skip_not_ready: bool = False
    readiness: ReadinessPolicy = Field(default_factory=ReadinessPolicy)
    """Which servers the waves launch (the plan's policy, or the one given at start)."""
    replace_recovery_instances: bool = False
    """A drill may replace recovery instances launched by a real recovery."""
    drill_into_paired_instances: bool = False
    """A drill may launch into the existing (production-standby) instances servers are paired
    with, overwriting them."""
    drs_clock_skew_s: float | None = None
    """How far ahead of DRS's clock (negative: behind) the last stepping host's clock was."""
    started_by: str | None = None
    cancel_request: CancelRequest | None = None
    paused_before: str | None = None
    error: ErrorRecord | None = None
    created_at: Timestamp = Field(default_factory=utc_now)
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    updated_at: Timestamp = Field(default_factory=utc_now)
    expires_at: Timestamp = Field(default_factory=lambda: utc_now() + EXECUTION_RETENTION)
    ended_waves: EndedWaves = Field(default_factory=EndedWaves)
    """What the ended waves add up to (derived by storage when they are stored ended)."""

    @property
    def is_drill(self) -> bool:
        """Whether this is a drill (instances launched in isolation, not a failover)."""
        return self.execution_type is ExecutionType.DRILL

    @classmethod
    def from_plan(
        cls,
        plan: RecoveryPlan,
        resolved: Sequence[ResolvedWave],
        *,
        now: datetime,
        drill: bool = True,
        **options: Any,
    ) -> Execution:
        """A new execution of ``plan`` whose waves launch the servers ``resolved`` names.

        The waves' settings are copied from the plan in its execution order,
        so a plan edited later does not change the execution.

        Args:
            plan: The recovery plan.
            resolved: Each wave's servers, region, account and groups as
                resolved when the execution starts.
            now: When the execution is created.
            drill: A drill, or a recovery.
            **options: Other execution fields (``readiness``, ``started_by``...).
        """
        by_name = {r.wave.name: r for r in resolved}
        waves = [
            WaveRun(
                wave_name=w.name,
                region=by_name[w.name].region,
                account=by_name[w.name].account,
                server_ids=list(by_name[w.name].server_ids),
                protection_group_ids=list(w.protection_group_ids),
                group_versions=dict(by_name[w.name].group_versions),
                launch_into=dict(by_name[w.name].launch_into),
                depends_on=list(w.depends_on),
                pause_before=w.pause_before,
                point_in_time=w.point_in_time,
                timeout_s=w.timeout_s,
                servers={
                    sid: ServerOutcome(source_server_id=sid) for sid in by_name[w.name].server_ids
                },
            )
            for w in plan.ordered_waves()
        ]
        return cls(
            plan_id=plan.plan_id,
            plan_name=plan.name,
            plan_version=plan.version,
            execution_type=ExecutionType.DRILL if drill else ExecutionType.RECOVERY,
            waves=waves,
            failure_policy=plan.failure_policy,
            allow_concurrent_waves=plan.allow_concurrent_waves,
            created_at=now,
            updated_at=now,
            expires_at=now + EXECUTION_RETENTION,
            **options,
        )

    def wave_run(self, wave_name: str) -> WaveRun:
        """Return the run of the wave called ``wave_name``.

        Raises:
            KeyError: if the execution has no such wave.
        """
        for run in self.waves:
            if run.wave_name == wave_name:
                return run
        raise KeyError(wave_name)

    def outcomes(self) -> dict[str, ServerOutcome]:
        """Every server's outcome across the waves, by source server ID."""
        return {sid: outcome for run in self.waves for sid, outcome in run.servers.items()}

    @property
    def recovery_time(self) -> timedelta | None:
        """The drill's (or recovery's) RTO: from the start to the last server launched.

        ``None`` until some server has launched. Each server's launch time is
        its :attr:`PhaseTimes.launch_end` (when a poll first saw it launched).
        """
        launched = [end for run in self.waves if (end := run.last_launch_end) is not None]
        if (ended := self.ended_waves.last_launch_end) is not None:
            launched.append(ended)
        if self.started_at is None or not launched:
            return None
        return max(launched) - self.started_at

    @property
    def worst_rpo(self) -> timedelta | None:
        """The largest achieved RPO among every launched server (``None`` before any)."""
        worst = [rpo for run in self.waves if (rpo := run.worst_rpo) is not None]
        if (ended := self.ended_waves.worst_rpo_s) is not None:
            worst.append(timedelta(seconds=ended))
        return max(worst) if worst else None

    def _repr_html_(self) -> str:
        from drs_orchestration.reports.html import execution_html

        return execution_html(self)

    def __repr__(self) -> str:
        from drs_orchestration.reports._format import execution_repr

        return execution_repr(self)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per server: wave, chunk, job, phase times, RTO, RPO, instance, outcome.

        Raises:
            ImportError: pandas is missing (``pip install "drs-orchestration[notebook]"``).
        """
        from drs_orchestration.reports.frames import execution_frame

        return execution_frame(self)
