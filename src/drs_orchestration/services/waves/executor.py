"""WaveExecutor: runs a recovery plan wave by wave as a drill or a recovery, resumably.

Every :meth:`WaveExecutor.step` reads the execution from storage, does one
unit of work, and writes it back with its version, so any process can take
the next step: a loop in a script (:meth:`~WaveExecutor.run`), a Lambda
invoked by Step Functions or an EventBridge schedule, a notebook cell. A
chunk's claim is persisted before ``StartRecovery`` and its job ID right
after; a resumed execution looks for a job whose ID was never saved (by its
tags) before starting one, so no chunk is launched twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from botocore.config import Config

from drs_orchestration.aws.clients import ClientFactory, request_timeout_bound_s
from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import (
    ConcurrentModificationError,
    ConflictError,
    DrsOrchestrationError,
    InvalidStateTransitionError,
    ValidationError,
)
from drs_orchestration.events import EventSink, ExecutionFinished, ExecutionStarted, emit
from drs_orchestration.models import (
    AccountContext,
    CancelRequest,
    Execution,
    ExecutionStatus,
    RecoveryPlan,
    WaveRun,
    WaveStatus,
    utc_now,
)
from drs_orchestration.models.base import aware_now, check_duration
from drs_orchestration.models.readiness import PlanReadiness, ReadinessPolicy, WaveReadiness
from drs_orchestration.services.launch_config import LaunchConfigService
from drs_orchestration.services.plans import resolve_waves
from drs_orchestration.services.waves.chunks import EXECUTION_ID_TAG, DrsQuotas, tag_value
from drs_orchestration.services.waves.context import ExecutorSettings, LostRace, StepContext
from drs_orchestration.services.waves.hooks import CacheSyncHook, PostWaveHook, RecoveryInstanceSync
from drs_orchestration.services.waves.monitor import JobView
from drs_orchestration.services.waves.preflight import assess_readiness
from drs_orchestration.services.waves.stepper import WaveStepper
from drs_orchestration.services.waves.watch import poll_watched
from drs_orchestration.storage.base import Storage
from drs_orchestration.storage.claims import ClaimRecord, claim_id
from drs_orchestration.storage.executions import LoadedExecution
from drs_orchestration.storage.transactions import Check, Operation, Put

__all__ = ["ExecutorOptions", "StepResult", "WaveExecutor"]

logger = logging.getLogger(__name__)


class ExecutorOptions(TypedDict, total=False):
    """The wave executor settings an :class:`~drs_orchestration.Orchestrator` passes on.

    Each is the :class:`WaveExecutor` argument of the same name, with the
    same default.

    Examples:
        >>> Orchestrator(storage, executor_options={"progress_write_interval_s": 60})
    """

    start_lease_s: float
    max_start_attempts: int
    quota_window: timedelta
    search_skew: timedelta
    progress_write_interval_s: float


EXECUTOR_OPTIONS = frozenset(ExecutorOptions.__optional_keys__)
"""The names :class:`ExecutorOptions` accepts."""

_WRITE_RETRIES = 10
_EVENT_STEPS = 100
_WAVES_CLOSED_PER_STEP = 40
"""Pending waves one stopping step ends at most: each adds its wave record to the step's
transaction (DynamoDB takes 100 items), and a plan may have 1,000 waves."""
DRS_LAUNCH_RESULT = "DRS Source Server Launch Result"
"""The EventBridge detail type DRS publishes when a server's launch ends."""
PLAN_CLAIM = "plan"
"""The claim namespace of a plan's running execution (``plan:<plan ID>``)."""
RUNNING_EXECUTION = "running-execution"


class StepResult:
    """What one step did, and where the execution is now.

    Attributes:
        execution_id: The execution.
        status: Its status after the step.
        version: Its stored version after the step.
        progressed: The step did work; ``False`` means it is waiting on DRS
            (a job still running, a quota, another process's claim), so the
            caller should wait about ``poll_interval`` before the next step.
        paused: It is paused before a wave, waiting for ``resume``.
        header: The execution as the step left it, read no further than the step
            needed: its own fields and ``ended_waves``, every wave's name,
            status and region, the dependencies and summary of each wave not
            yet ended, and the settings, timings and outcomes of the waves the
            step worked on only (the other waves' are at their defaults). Use
            :attr:`execution` for everything.
    """

    def __init__(
        self,
        execution: Execution,
        progressed: bool,
        read: Callable[[], Execution],
    ) -> None:
        self.execution_id = execution.execution_id
        self.status = execution.status
        self.version = execution.version
        self.progressed = progressed
        self.paused = execution.status is ExecutionStatus.PAUSED and (
            execution.cancel_request is None
        )
        self.header = execution
        self._read = read
        self._execution: Execution | None = None

    @property
    def finished(self) -> bool:
        """Whether nothing more will happen without ``resume`` (ended or paused)."""
        return self.status.is_terminal or self.paused

    @property
    def execution(self) -> Execution:
        """The whole execution as stored after the step (read from storage when first asked).

        A driver that only needs :attr:`status`, :attr:`finished` and
        :attr:`progressed` (a Step Functions loop) never pays for this read.
        """
        if self._execution is None:
            self._execution = self._read()
        return self._execution

    def __repr__(self) -> str:
        return (
            f"StepResult(execution_id={self.execution_id!r}, status={self.status.value}, "
            f"progressed={self.progressed}, finished={self.finished})"
        )


def _readiness(value: ReadinessPolicy | Mapping[str, Any]) -> ReadinessPolicy:
    return value if isinstance(value, ReadinessPolicy) else ReadinessPolicy.parse(value)


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class WaveExecutor:
    """Runs recovery plans wave by wave; every step is persisted and resumable.

    Args:
        storage: Where plans and executions are kept.
        clients: Where DRS clients come from (each wave in its own region and account).
        launch_configs: Ensures each wave's groups are configured before it starts.
        events: Optional event sink (execution/wave/job/server progress, with timings).
        clock: Source of every timestamp and deadline (pass the simulator's in tests).
        sleep: How :meth:`run` waits between polls.
        retry: Retry policy of every DRS call.
        quotas: The DRS account quotas to stay within (chunk size, jobs and servers
            in progress).
        hooks: Called after each wave (errors recorded on the wave, never failing it).
        cache: A recovery-instance cache; its ``sync_servers`` runs after each wave.
        start_lease_s: How long a claimed chunk without a job is assumed to be in
            the hands of another process before it is started again; never less
            than the longest time a ``StartRecovery`` of ``clients`` can be in
            flight (checked here when the factory exposes its botocore config,
            and on every takeover).
        max_start_attempts: ``StartRecovery`` refusals per chunk (errors DRS answered,
            quota refusals aside) before its servers are recorded as failed.
        quota_window: How far back jobs are counted as possibly in progress.
        search_skew: Slack before a chunk's claim time when looking for its job
            (clock differences between this host and DRS).
        progress_write_interval_s: Least time between two writes of servers
            reaching a final launch status while their job runs (0: every poll
            that sees one). A job's status or end, and the poll that sees its last
            server end, are written at once; in between, every poll reports each
            server's status in a ``JobProgress`` event, and storage catches up
            within this interval. Each such write rewrites the job's outcome
            record (about 45 KB for 100 servers), so spacing them saves
            DynamoDB write capacity and step CPU. A server's observed launch end,
            used only when the job's log has none, is the time it was written.

    Examples:
        >>> executor = WaveExecutor(storage, clients)
        >>> execution = executor.start(plan.plan_id, drill=True)
        >>> execution = executor.run(execution.execution_id, poll_interval=15)
        >>> execution.status
        <ExecutionStatus.COMPLETED: 'COMPLETED'>
    """

    def __init__(
        self,
        storage: Storage,
        clients: ClientFactory,
        *,
        launch_configs: LaunchConfigService | None = None,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
        quotas: DrsQuotas | None = None,
        hooks: Sequence[PostWaveHook] = (),
        cache: RecoveryInstanceSync | None = None,
        start_lease_s: float = 300.0,
        max_start_attempts: int = 3,
        quota_window: timedelta = timedelta(hours=24),
        search_skew: timedelta = timedelta(minutes=5),
        progress_write_interval_s: float = 120.0,
    ) -> None:
        if isinstance(max_start_attempts, bool) or not isinstance(max_start_attempts, int):
            raise ValidationError.for_field(
                "max_start_attempts", max_start_attempts, "must be a whole number"
            )
        if not 1 <= max_start_attempts <= 100:
            raise ValidationError.for_field(
                "max_start_attempts", max_start_attempts, "must be between 1 and 100"
            )
        check_duration(start_lease_s, "start_lease_s")
        check_duration(progress_write_interval_s, "progress_write_interval_s", allow_zero=True)
        for name, window in (("quota_window", quota_window), ("search_skew", search_skew)):
            if not isinstance(window, timedelta):
                raise ValidationError.for_field(name, window, "must be a timedelta")
            check_duration(window.total_seconds(), name)
        self._storage = storage
        self._clients = clients
        self._events = events
        self._clock = clock
        self._sleep = sleep
        self._retry = retry or RetryPolicy()
        config = getattr(clients, "config", None)
        if isinstance(config, Config):
            flight = self._retry.call_timeout_bound_s(request_timeout_bound_s(config))
            if start_lease_s < flight:
                raise ValidationError.for_field(
                    "start_lease_s",
                    start_lease_s,
                    f"must be at least {flight:g} s: a StartRecovery of these clients can be in "
                    "flight that long (connect and read timeouts over every retry), and a chunk "
                    "taken over sooner could be started twice",
                )
        self.settings = ExecutorSettings(
            quotas=quotas or DrsQuotas(),
            start_lease=timedelta(seconds=start_lease_s),
            max_start_attempts=max_start_attempts,
            quota_window=quota_window,
            search_skew=search_skew,
            progress_write_interval=timedelta(seconds=progress_write_interval_s),
        )
        all_hooks = list(hooks)
        if cache is not None:
            all_hooks.append(CacheSyncHook(cache))
        configs = launch_configs or LaunchConfigService(
            storage, clients, events=events, retry=self._retry, clock=clock
        )
        self._stepper = WaveStepper(self.settings, self._gateway, configs, all_hooks)

    def _now(self) -> datetime:
        return _ms(aware_now(self._clock))

    def _gateway(self, region: str, account: AccountContext | None) -> DrsGateway:
        # A gateway holds no connection (the factory caches the clients), so one per use.
        return DrsGateway(self._clients, region, account, retry=self._retry)

    # ---- public API -----------------------------------------------------------------

    def get(self, execution_id: str) -> Execution:
        """Return a stored execution.

        Raises:
            NotFoundError: if it does not exist.
        """
        return self._storage.executions.get(execution_id)

    def start(
        self,
        plan_id: str,
        *,
        drill: bool = True,
        skip_not_ready: bool = False,
        started_by: str | None = None,
        readiness: ReadinessPolicy | Mapping[str, Any] | None = None,
        replace_recovery_instances: bool = False,
        drill_into_paired_instances: bool = False,
    ) -> Execution:
        """Persist a new execution of a plan (nothing is sent to DRS yet).

        Each wave's servers are resolved now from its groups' stored server
        IDs (a frozen wave keeps its saved list) and recorded on the
        execution with the groups' versions; region, account and settings
        are copied from the plan, in its execution order.

        Args:
            plan_id: The recovery plan to run.
            drill: A drill (isolated test launch) or, with ``False``, a real recovery.
            skip_not_ready: Record servers that are not ready as skipped instead
                of refusing the wave with :class:`ServersNotReadyError`.
            started_by: Who started it (kept on the execution).
            readiness: Which servers to launch, instead of the plan's policy
                (e.g. ``ReadinessPolicy(drill=ReadinessRule(states=None))`` to
                drill an outage).
            replace_recovery_instances: Let a drill replace recovery instances
                that a real recovery launched (refused by default: DRS keeps
                one recovery instance per server, so the drill would replace
                what production runs on).
            drill_into_paired_instances: Let a drill launch servers into the
                existing instances their launch settings name (refused by
                default: a drill overwrites a production-standby instance).

        Raises:
            NotFoundError: the plan does not exist.
            ValidationError: a wave cannot run (missing group, no servers, a
                server in two waves: each named), or a bad argument.
            ConflictError: another execution of the plan is still running.
        """
        plan = self._storage.recovery_plans.get(plan_id)
        policy = plan.readiness if readiness is None else _readiness(readiness)
        resolved = resolve_waves(self._storage, plan)
        now = self._now()
        execution = Execution.from_plan(
            plan,
            resolved,
            now=now,
            drill=drill,
            skip_not_ready=skip_not_ready,
            readiness=policy,
            replace_recovery_instances=replace_recovery_instances,
            drill_into_paired_instances=drill_into_paired_instances,
            started_by=started_by,
        )
        stored = self._claim_plan(plan, execution)
        logger.info(
            "execution created",
            extra={
                "executionId": stored.execution_id,
                "planId": plan_id,
                "executionType": stored.execution_type.value,
                "waves": len(stored.waves),
                "servers": sum(len(w.server_ids) for w in stored.waves),
            },
        )
        return stored

    def _claim_plan(self, plan: RecoveryPlan, execution: Execution) -> Execution:
        """Store ``execution`` together with the plan's running-execution claim, atomically.

        The claim ``plan:<plan ID>`` is a conditional insert written in one
        transaction with the execution, so of any number of concurrent starts
        exactly one stores its execution. A released claim is taken at its
        version. A claim whose execution has ended (or vanished) is stale: it
        is handed over in a transaction that also checks that execution is
        still as read. Claims are never deleted, so the version a hand-over
        is conditional on is the claim that was read, not one taken since.
        """
        claim = claim_id(PLAN_CLAIM, plan.plan_id)
        record = ClaimRecord(
            claim_id=claim,
            owner_id=execution.execution_id,
            kind=RUNNING_EXECUTION,
            claimed_at=execution.created_at,
            details={"planName": tag_value(plan.name)[:128]},
        )
        for _ in range(_WRITE_RETRIES):
            try:
                stored = self._storage.transact(
                    [Put(execution, expected_version=0), Put(record, expected_version=0)]
                )
                return cast(Execution, stored[0])
            except ConcurrentModificationError as conflict:
                if conflict.key != claim:
                    raise
            holder = self._storage.claims.find(claim)
            if holder is None:
                continue  # removed by hand meanwhile
            stale: list[Operation] = []
            if holder.held:
                running = self._storage.executions.find(holder.owner_id)
                if running is not None and not running.status.is_terminal:
                    raise ConflictError(
                        f"plan {plan.name!r} ({plan.plan_id}) already has a running execution: "
                        f"{running.execution_id} ({running.status.value}, started by "
                        f"{running.started_by or 'unknown'}); cancel it or wait for it to end",
                        details={"planId": plan.plan_id, "executionIds": [running.execution_id]},
                    )
                # Stale: its execution ended (or vanished) without releasing it.
                version = running.version if running is not None else None
                stale = [Check(Execution, holder.owner_id, version)]
            try:
                stored = self._storage.transact(
                    [
                        *stale,
                        Put(execution, expected_version=0),
                        Put(record, expected_version=holder.version),
                    ]
                )
            except ConcurrentModificationError:
                continue
            if stale:
                logger.info(
                    "took over a stale running-execution claim",
                    extra={"planId": plan.plan_id, "staleExecutionId": holder.owner_id},
                )
            return cast(Execution, stored[0])
        raise ConcurrentModificationError(
            "claim", claim, expected_version=None, actual_version=None, attempts=_WRITE_RETRIES
        )

    def _release_plan(self, execution: Execution) -> None:
        """Give the plan back once its execution has ended (a failure leaves a stale claim)."""
        try:
            self._storage.claims.release(
                claim_id(PLAN_CLAIM, execution.plan_id), execution.execution_id
            )
        except DrsOrchestrationError as exc:
            logger.warning(
                "could not release the plan's running-execution claim; the next start takes "
                "it over",
                extra={"executionId": execution.execution_id, "errorCode": exc.code},
            )

    def preflight(
        self,
        plan_id: str,
        *,
        drill: bool = True,
        readiness: ReadinessPolicy | Mapping[str, Any] | None = None,
        replace_recovery_instances: bool = False,
        drill_into_paired_instances: bool = False,
    ) -> PlanReadiness:
        """Check every server of a plan as a drill or recovery would, without starting anything.

        The readiness report for a pre-drill checklist or a 3 a.m. go/no-go:
        per wave and server the replication state, lag, latest recovery point
        and the verdict with its reason, read from DRS in each wave's region
        and account.

        Raises:
            NotFoundError: the plan does not exist.
            ValidationError: a wave cannot run (see :meth:`start`).
            AwsApiError: DRS could not be read.
        """
        plan = self._storage.recovery_plans.get(plan_id)
        policy = plan.readiness if readiness is None else _readiness(readiness)
        rule = policy.rule(drill=drill)
        now = self._now()
        waves = []
        for resolved in resolve_waves(self._storage, plan):
            drs = DrsGateway(self._clients, resolved.region, resolved.account, retry=self._retry)
            report = assess_readiness(
                drs,
                resolved.server_ids,
                rule,
                drill=drill,
                now=now,
                all_recovery_points=True,
                replace_recovery_instances=replace_recovery_instances,
                launch_into={} if drill_into_paired_instances else resolved.launch_into,
            )
            waves.append(
                WaveReadiness(
                    wave_name=resolved.wave.name,
                    region=resolved.region,
                    account_id=resolved.account.account_id if resolved.account else None,
                    servers=report.servers,
                )
            )
        return PlanReadiness(
            plan_id=plan.plan_id, plan_name=plan.name, drill=drill, checked_at=now, waves=waves
        )

    def step(self, execution_id: str) -> StepResult:
        """Advance an execution by one unit of work; say whether to wait before the next.

        Safe to call from several processes: each step writes with the
        version it read, and a step that loses the race does nothing. A step
        reads the execution's header and the records of the waves it works
        on, never the whole execution, so a step of a 5,000-server plan costs
        what one of a 100-server plan costs. This is what a driver outside
        :meth:`run` calls: a Step Functions loop or an EventBridge poller
        steps again at once while ``progressed`` is true, and waits (a
        ``Wait`` state, the next schedule) when it is false.

        Raises:
            NotFoundError: the execution does not exist.

        Examples:
            >>> result = executor.step(execution_id)
            >>> if result.finished: ...           # ended, or paused before a wave
            >>> elif not result.progressed: ...   # wait poll_interval, then step again
        """
        loaded, progressed = self._advance(execution_id)
        return StepResult(loaded.execution, progressed, lambda: self.get(execution_id))

    def on_drs_event(
        self, event: Mapping[str, Any], *, account: AccountContext | None = None
    ) -> StepResult | None:
        """Take the next step of the execution a DRS event concerns, at once.

        DRS publishes ``DRS Source Server Launch Result`` on EventBridge
        (``source: aws.drs``) when a server's launch ends, with the job's ID.
        The job's ``ExecutionId`` tag names the execution, which is stepped
        until it has to wait again: the steps read DRS and record what
        changed, end the wave and start the next, so waves follow each other
        at event latency instead of a poll interval. Polling stays the
        safety net for events that are late, lost or delivered twice (a step
        is idempotent: it decides from DRS's state, not from the event).

        Args:
            event: The EventBridge event as delivered (a Lambda's ``event``).
            account: The account the job runs in (default: the protection
                group's account context whose ID is the event's ``account``, so
                an event forwarded from a workload account's bus is read with
                that group's role; else the clients' own account).

        Returns:
            The step's result, or ``None`` for an event that is not a launch
            result of a job this library started.

        Raises:
            ValidationError: the event is not an EventBridge event of DRS.
        """
        if not isinstance(event, Mapping) or event.get("source") != "aws.drs":
            raise ValidationError.for_field(
                "event.source",
                event.get("source") if isinstance(event, Mapping) else event,
                "must be an EventBridge event of DRS (source aws.drs)",
            )
        if event.get("detail-type") != DRS_LAUNCH_RESULT:
            return None
        detail = event.get("detail") or {}
        job_id = detail.get("job-id") if isinstance(detail, Mapping) else None
        region = event.get("region")
        if not isinstance(job_id, str) or not isinstance(region, str):
            raise ValidationError.for_field(
                "event.detail.job-id", job_id, "a launch result names its job and region"
            )
        if account is None:
            account = self._account_of(event.get("account"))
        drs = DrsGateway(self._clients, region, account, retry=self._retry)
        jobs = drs.describe_jobs(job_ids=[job_id])
        execution_id = (jobs[0].get("tags") or {}).get(EXECUTION_ID_TAG) if jobs else None
        if execution_id is None or self._storage.executions.version_of(execution_id) is None:
            logger.info(
                "a DRS launch result of a job this library did not start",
                extra={"jobId": job_id, "region": region},
            )
            return None
        # The event may let several units of work go at once (record the outcomes,
        # end the wave, start the next one): take them now, up to the next wait.
        result = self.step(execution_id)
        for _ in range(_EVENT_STEPS):
            if result.finished or not result.progressed:
                break
            result = self.step(execution_id)
        return result

    def _account_of(self, account_id: object) -> AccountContext | None:
        """The protection groups' account context (with its role) for an event's account.

        ``None`` (the clients' own credentials) for an account no group names:
        the event came from the library's own account, or one it reaches
        without assuming a role.
        """
        if not isinstance(account_id, str):
            return None
        for group in self._storage.protection_groups.list():
            if group.account is not None and group.account.account_id == account_id:
                return group.account
        return None

    def run(
        self, execution_id: str, *, poll_interval: float = 15.0, max_steps: int | None = None
    ) -> Execution:
        """Step until the execution ends or pauses, sleeping only while waiting on DRS.

        Between steps the loop keeps what it last wrote and asks storage for
        the version alone: it reads again only when another process (a
        ``cancel``, a second runner) wrote since.

        Args:
            execution_id: The execution to run (a new one, or one to resume after a crash).
            poll_interval: Seconds to wait when a step made no progress.
            max_steps: Stop after this many steps (the execution stays resumable).

        Returns:
            The whole execution as stored when the loop stopped.
        """
        check_duration(poll_interval, "poll_interval")
        if max_steps is not None and (isinstance(max_steps, bool) or max_steps < 1):
            raise ValidationError.for_field("max_steps", max_steps, "must be at least 1")
        steps = 0
        working: LoadedExecution | None = None
        while True:
            working, progressed = self._advance(execution_id, reuse=working)
            result = StepResult(working.execution, progressed, lambda: self.get(execution_id))
            steps += 1
            if result.finished or (max_steps is not None and steps >= max_steps):
                return self.get(execution_id)
            if not progressed:
                self._sleep(poll_interval)

    def pause(self, execution_id: str, *, before: str | None = None) -> Execution:
        """Pause an execution before a wave that has not started yet.

        A wave in flight is never interrupted (its DRS jobs run on): the
        execution stops before the next wave that has not started, or before
        wave ``before``, as ``PAUSED``, and :meth:`resume` releases it. The
        plan is not changed. Pausing a paused execution, or one already
        marked to pause before that wave, changes nothing.

        Args:
            execution_id: The execution.
            before: The wave to pause before (default: the next one not started).

        Raises:
            InvalidStateTransitionError: the execution has already ended.
            ValidationError: it has no wave ``before``.
            ConflictError: that wave (or, without ``before``, every wave) has
                already started; :meth:`cancel` stops an execution after the
                wave in flight.
        """

        def request(execution: Execution) -> bool:
            self._check_not_ended(execution, ExecutionStatus.PAUSED)
            names = [wave.wave_name for wave in execution.waves]
            if before is not None and before not in names:
                raise ValidationError.for_field(
                    "before", before, f"no such wave in this execution (waves: {names})"
                )
            if execution.status is ExecutionStatus.PAUSED:
                return False
            run: WaveRun | None
            if before is not None:
                run = execution.wave_run(before)
            else:
                run = next((r for r in execution.waves if r.status is WaveStatus.PENDING), None)
            if run is None or run.status is not WaveStatus.PENDING:
                which = f"wave {before!r} has" if before else "every wave has"
                raise ConflictError(
                    f"execution {execution_id} cannot pause: {which} already started, and a "
                    "wave in flight is never interrupted; cancel the execution to stop it "
                    "after the wave in flight",
                    details={"executionId": execution_id, "waveName": before},
                )
            if run.pause_before and not run.pause_released:
                return False
            run.pause_before = True
            run.pause_released = False
            return True

        if self._change_header(execution_id, request):
            logger.info(
                "execution pause requested", extra={"executionId": execution_id, "before": before}
            )
        return self.get(execution_id)

    def resume(self, execution_id: str) -> Execution:
        """Release a ``pause_before`` pause; the next step starts the paused wave.

        An execution that is not paused is returned unchanged.

        Raises:
            InvalidStateTransitionError: the execution has already ended.
        """

        def release(execution: Execution) -> bool:
            self._check_not_ended(execution, ExecutionStatus.RUNNING)
            if execution.status is not ExecutionStatus.PAUSED:
                return False
            if execution.paused_before is not None:
                execution.wave_run(execution.paused_before).pause_released = True
            execution.status = ExecutionStatus.RUNNING
            execution.paused_before = None
            return True

        if self._change_header(execution_id, release):
            logger.info("execution resumed", extra={"executionId": execution_id})
        return self.get(execution_id)

    def cancel(self, execution_id: str, requested_by: str, reason: str | None = None) -> Execution:
        """Ask an execution to stop: no later wave starts, and it ends ``CANCELLED``.

        A wave that has already asked DRS for jobs finishes (its launched
        instances are recorded); one that has not is cancelled at the next step.

        Raises:
            InvalidStateTransitionError: the execution has already ended.
        """

        def request(execution: Execution) -> bool:
            self._check_not_ended(execution, ExecutionStatus.CANCELLED)
            if execution.cancel_request is not None:
                return False
            execution.cancel_request = CancelRequest.parse(
                {"requested_by": requested_by, "reason": reason, "requested_at": self._now()}
            )
            return True

        if self._change_header(execution_id, request):
            logger.info(
                "execution cancel requested",
                extra={"executionId": execution_id, "requestedBy": requested_by, "reason": reason},
            )
        return self.get(execution_id)

    def _change_header(self, execution_id: str, change: Callable[[Execution], bool]) -> bool:
        """Apply ``change`` to the execution's header as stored, again after a lost race.

        ``change`` returns whether it changed anything (nothing is written
        then); it sees the stored header each time, so a concurrent write is
        never overwritten with stale values.
        """
        for _ in range(_WRITE_RETRIES):
            loaded = self._storage.executions.load(execution_id)
            if not change(loaded.execution):
                return False
            loaded.execution.updated_at = self._now()
            try:
                self._storage.executions.save(loaded, loaded.execution)
            except ConcurrentModificationError:
                continue
            return True
        raise ConcurrentModificationError(
            "execution", execution_id, expected_version=None, actual_version=None
        )

    @staticmethod
    def _check_not_ended(execution: Execution, target: ExecutionStatus) -> None:
        if execution.status.is_terminal:
            raise InvalidStateTransitionError(
                "execution", execution.status.value, target.value, allowed=[]
            )

    # ---- one step ---------------------------------------------------------------------

    def _read(self, execution_id: str, reuse: LoadedExecution | None) -> LoadedExecution:
        executions = self._storage.executions
        if reuse is not None and executions.version_of(execution_id) == reuse.version:
            return reuse
        return executions.load(execution_id)

    def _advance(
        self, execution_id: str, reuse: LoadedExecution | None = None
    ) -> tuple[LoadedExecution, bool]:
        loaded = self._read(execution_id, reuse)
        stored = loaded.execution
        if stored.status.is_terminal or (
            stored.status is ExecutionStatus.PAUSED and stored.cancel_request is None
        ):
            return loaded, False
        needed = self._needed(stored)
        # ``run`` hands back what it last wrote: keep only what this step may work on.
        loaded.keep_only(needed)
        now = self._now()
        views: dict[str, JobView] = {}
        errors: dict[str, DrsOrchestrationError] = {}
        if not loaded.loaded.issuperset(needed) and self._only_polling(stored):
            watched = poll_watched(
                execution_id,
                [stored.waves[i] for i in needed],
                now,
                self._gateway,
                progress_write_interval=self.settings.progress_write_interval,
            )
            if watched is not None and watched.quiet:
                for event in watched.events:
                    emit(self._events, event)
                return loaded, False
            if watched is not None:
                views, errors = watched.views, watched.errors
        self._storage.executions.load_waves(loaded, needed)
        # The step works on the execution just read (or ``run``'s own, as stored); a
        # step that changes nothing leaves it as stored.
        step = StepContext(
            execution=stored,
            now=now,
            save=lambda execution: self._save_claim(loaded, execution),
            load=lambda run: self._storage.executions.load_waves(loaded, [stored.waves.index(run)]),
            job_views=views,
            job_errors=errors,
        )
        try:
            self._dispatch(step)
        except LostRace:
            return self._storage.executions.load(execution_id), True
        if not step.changed:
            # Observations that were not worth a write (a poll's progress) still reach the sink.
            for event in step.events:
                emit(self._events, event)
            return loaded, step.progressed
        step.execution.updated_at = step.now
        saved = self._write(loaded, step)
        if saved is None:
            return self._storage.executions.load(execution_id), True
        if saved.execution.status.is_terminal:
            self._release_plan(saved.execution)
        for event in step.events:
            emit(self._events, event)
        return saved, step.progressed

    @staticmethod
    def _only_polling(execution: Execution) -> bool:
        """Whether the next step can do no more than poll jobs (no start, pause or stop).

        Then a poll that finds nothing new ends the step before the waves are
        read (:func:`~drs_orchestration.services.waves.watch.poll_watched`).
        """
        return (
            execution.status is ExecutionStatus.RUNNING
            and execution.cancel_request is None
            and execution.error is None
        )

    def _needed(self, execution: Execution) -> list[int]:
        """The waves whose detail the next step may work on (one, unless waves run at once)."""
        if execution.status is ExecutionStatus.PENDING:
            return []
        stopping = execution.cancel_request is not None or execution.error is not None
        wanted = {run.wave_name for run in self._runnable(execution, stopping=stopping)}
        return [i for i, run in enumerate(execution.waves) if run.wave_name in wanted]

    def _save_claim(self, loaded: LoadedExecution, execution: Execution) -> None:
        execution.updated_at = self._now()
        try:
            self._storage.executions.save(loaded, execution)
        except ConcurrentModificationError as exc:
            raise LostRace(execution.execution_id) from exc

    def _write(self, loaded: LoadedExecution, step: StepContext) -> LoadedExecution | None:
        executions = self._storage.executions
        touched = set(loaded.loaded)
        try:
            executions.save(loaded, step.execution)
            return loaded
        except ConcurrentModificationError:
            if not step.keep:
                return None
        # A job was started in this step: its ID must reach storage even though
        # another process wrote meanwhile, so it is re-applied to the latest state.
        for _ in range(_WRITE_RETRIES):
            latest = executions.load(step.execution.execution_id)
            executions.load_waves(latest, touched)
            for keep in step.keep:
                keep(latest.execution)
            latest.execution.updated_at = step.now
            try:
                executions.save(latest, latest.execution)
                return latest
            except ConcurrentModificationError:
                continue
        raise ConcurrentModificationError(
            "execution", step.execution.execution_id, expected_version=None, actual_version=None
        )

    def _dispatch(self, step: StepContext) -> None:
        execution = step.execution
        if execution.status is ExecutionStatus.PENDING:
            execution.status = ExecutionStatus.RUNNING
            execution.started_at = step.now
            step.record(
                ExecutionStarted(
                    execution_id=execution.execution_id,
                    plan_id=execution.plan_id,
                    plan_name=execution.plan_name,
                    execution_type=execution.execution_type.value,
                    waves=len(execution.waves),
                    servers=sum(w.summary.server_count for w in execution.waves),
                    at=step.now,
                )
            )
            step.done()
            return
        stopping = execution.cancel_request is not None or execution.error is not None
        if execution.status is ExecutionStatus.PAUSED:
            execution.status = ExecutionStatus.RUNNING
            execution.paused_before = None
            step.done()
        if stopping:
            self._stop_waves(step)
            if step.changed:
                return
        for run in self._runnable(execution, stopping=stopping):
            self._stepper.advance(step, run)
            if step.changed or step.progressed:
                return
        if all(run.status.is_terminal for run in execution.waves):
            self._finish(step)

    def _stop_waves(self, step: StepContext) -> None:
        execution = step.execution
        cancelled = execution.cancel_request is not None and execution.error is None
        closed = 0
        for run in execution.waves:
            if run.status is WaveStatus.PENDING:
                if closed == _WAVES_CLOSED_PER_STEP:
                    continue  # the next step ends the others
                # Its record is read first: ending it sets fields the header does not hold.
                step.load(run)
                status = WaveStatus.CANCELLED if cancelled else WaveStatus.SKIPPED
                self._stepper.close_pending(step, run, status)
                closed += 1
            elif cancelled:
                self._stepper.cancel_before_launch(step, run)

    @staticmethod
    def _runnable(execution: Execution, *, stopping: bool) -> list[WaveRun]:
        done = {run.wave_name for run in execution.waves if run.status.is_terminal}
        in_flight = [
            run
            for run in execution.waves
            if not run.status.is_terminal and run.status is not WaveStatus.PENDING
        ]
        if stopping:
            return in_flight
        waiting = [
            run
            for run in execution.waves
            if run.status is WaveStatus.PENDING and all(d in done for d in run.depends_on)
        ]
        if not execution.allow_concurrent_waves:
            # Waves are stored in the plan's execution order: one at a time, in order.
            return in_flight[:1] if in_flight else waiting[:1]
        return in_flight + waiting

    def _finish(self, step: StepContext) -> None:
        execution = step.execution
        self._stepper.reconcile_ended(step)
        statuses = {run.status for run in execution.waves}
        if execution.error is not None:
            execution.status = ExecutionStatus.FAILED
        elif execution.cancel_request is not None:
            execution.status = ExecutionStatus.CANCELLED
        elif statuses & {WaveStatus.PARTIAL, WaveStatus.FAILED, WaveStatus.SKIPPED}:
            execution.status = ExecutionStatus.PARTIAL
        else:
            execution.status = ExecutionStatus.COMPLETED
        execution.ended_at = step.now
        rto = execution.recovery_time
        step.record(
            ExecutionFinished(
                execution_id=execution.execution_id,
                status=execution.status.value,
                duration_s=(
                    round((step.now - execution.started_at).total_seconds(), 3)
                    if execution.started_at
                    else None
                ),
                recovery_time_s=rto.total_seconds() if rto is not None else None,
                error=execution.error.message if execution.error else None,
                at=step.now,
            )
        )
        logger.info(
            "execution finished",
            extra={"executionId": execution.execution_id, "status": execution.status.value},
        )
        step.done()
