"""FailbackCoordinator: bring a failed-over execution's servers home, resumably.

Each public method records what is asked (checked first, nothing half
written); :meth:`FailbackCoordinator.step` does one unit of the work and
:meth:`FailbackCoordinator.run` steps until nothing is left to do — the
shape of :class:`~drs_orchestration.services.waves.WaveExecutor`, so any
process can take the next step and a crash at any point resumes without
reversing or launching anything twice::

    failback = coordinator.start_failback(execution_id)         # checks, records
    failback = coordinator.run(execution_id)                    # reverse, wait: READY
    failback = coordinator.launch_failback(execution_id)        # a plan in the origin
    failback = coordinator.run(execution_id)                    # launched back: COMPLETED
    coordinator.reprotect(execution_id); coordinator.cleanup(execution_id)
    failback = coordinator.run(execution_id)
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from drs_orchestration.aws.clients import ClientFactory
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import (
    ConflictError,
    DrsOrchestrationError,
    NotFoundError,
    ValidationError,
)
from drs_orchestration.events import EventSink
from drs_orchestration.models import (
    AccountContext,
    Acknowledgement,
    ErrorRecord,
    Execution,
    Failback,
    FailbackLaunch,
    FailbackMode,
    FailbackPhase,
    FailbackState,
    FailbackStep,
    utc_now,
)
from drs_orchestration.models.base import check_duration
from drs_orchestration.services.failback.context import (
    FailbackContext,
    FailbackSettings,
    LostRace,
    load_states,
)
from drs_orchestration.services.failback.installer import AgentInstaller
from drs_orchestration.services.failback.launch import (
    LaunchServices,
    check_pairs,
)
from drs_orchestration.services.failback.machine import dispatch
from drs_orchestration.services.failback.prepare import check_owned, choose, prepare_states
from drs_orchestration.services.failback.requests import (
    aftercare_refusal,
    launch_targets,
    new_launch_id,
    pending,
    pick,
    refuse_drill_overwrites,
    restarted,
)
from drs_orchestration.services.groups import ProtectionGroupService
from drs_orchestration.services.launch_config import LaunchConfigService
from drs_orchestration.services.matching import InstanceMatcher
from drs_orchestration.services.plans import RecoveryPlanService
from drs_orchestration.storage.base import Storage
from drs_orchestration.storage.claims import ClaimRecord
from drs_orchestration.storage.transactions import Put, update_item

if TYPE_CHECKING:
    from drs_orchestration.services.waves import WaveExecutor

__all__ = ["FailbackCoordinator", "FailbackOptions", "FailbackStepResult"]

logger = logging.getLogger(__name__)

_START_ATTEMPTS = 3


class FailbackOptions(TypedDict, total=False):
    """The failback settings an :class:`~drs_orchestration.Orchestrator` passes on.

    Each is the :class:`FailbackCoordinator` argument of the same name, with
    the same default.

    Examples:
        >>> Orchestrator(storage, failback_options={"max_lag_s": 30, "launch_timeout_s": 7200})
    """

    max_lag_s: float
    replication_timeout_s: float
    launch_timeout_s: float
    reverse_lease_s: float
    max_reverse_attempts: int
    install_timeout_s: float
    accounts: Mapping[str, AccountContext]


FAILBACK_OPTIONS = frozenset(FailbackOptions.__optional_keys__)
"""The names :class:`FailbackOptions` accepts."""


@dataclass(frozen=True)
class FailbackStepResult:
    """What one step did.

    Attributes:
        failback: The failback as stored after the step.
        progressed: The step did work; ``False``: it waits on DRS (wait a poll interval).
        pending: Work is left that steps will do; ``False``: the failback waits for
            a request (``launch_failback``, ``reprotect``, ``cleanup``, an
            acknowledgement) or has ended.
    """

    failback: Failback
    progressed: bool
    pending: bool


class FailbackCoordinator:
    """Fails back a failed-over execution: checks, reverse replication, launch back, after-care.

    In AWS (servers that originated in EC2, failed over to another region or
    zone): ``ReverseReplication`` on each recovery instance, follow the
    reversed source server until ``CONTINUOUS`` with a lag under
    ``max_lag_s``, recover it in its origin through a wave execution
    (optionally into the original instances), then optionally re-protect and
    clean up. On premises: the Failback Client (installed by
    ``install_agent``), then ``StartFailbackLaunch``.

    Args:
        storage: Where executions, plans and failback records are kept.
        clients: Where AWS clients come from.
        waves: The executor that launches back (default: one on the same storage).
        plans: Creates the launch-back plans (default: one on the same storage).
        groups: Creates the groups a launch into existing instances needs.
        matcher: Checks and applies launches into existing instances.
        events: Receives :class:`~drs_orchestration.events.FailbackProgressed`.
        clock: Source of every timestamp, deadline and lease (the simulator's in tests).
        sleep: How :meth:`run` waits between polls.
        retry: Retry policy of every AWS call.
        max_lag_s: Replication back is caught up when ``CONTINUOUS`` with at most this lag.
        replication_timeout_s: How long replication back (and re-protection) may take.
        launch_timeout_s: How long an on-premises failback job may take.
        reverse_lease_s: How long a reversal (or termination) asked for but not
            seen in DRS is assumed to be in flight before it is asked again
            (never less than the longest a request of these clients can take).
        max_reverse_attempts: Calls per server that may take no effect before it fails.
        install_agent: The hook installing the replication agent on recovery
            instances before reversing (optional in AWS) or the Failback Client
            (required on premises); see
            :mod:`~drs_orchestration.services.failback.installer`.
        install_timeout_s: How long the hook may take per server.
        accounts: How to reach accounts other than the recovery's (origin
            accounts of a cross-account failback), by account ID.

    Examples:
        >>> coordinator = FailbackCoordinator(storage, clients, max_lag_s=30)
        >>> coordinator.start_failback(execution.execution_id)
        >>> coordinator.run(execution.execution_id).phase
        <FailbackPhase.READY: 'READY'>
        >>> coordinator.launch_failback(execution.execution_id, into_original=True)
        >>> coordinator.run(execution.execution_id).phase
        <FailbackPhase.COMPLETED: 'COMPLETED'>
    """

    def __init__(
        self,
        storage: Storage,
        clients: ClientFactory,
        *,
        waves: WaveExecutor | None = None,
        plans: RecoveryPlanService | None = None,
        groups: ProtectionGroupService | None = None,
        matcher: InstanceMatcher | None = None,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
        max_lag_s: float = 60.0,
        replication_timeout_s: float = 6 * 3600,
        launch_timeout_s: float = 4 * 3600,
        reverse_lease_s: float = 300.0,
        max_reverse_attempts: int = 3,
        install_agent: AgentInstaller | None = None,
        install_timeout_s: float = 1800.0,
        accounts: Mapping[str, AccountContext] | None = None,
    ) -> None:
        for name, value in (
            ("replication_timeout_s", replication_timeout_s),
            ("launch_timeout_s", launch_timeout_s),
            ("reverse_lease_s", reverse_lease_s),
            ("install_timeout_s", install_timeout_s),
        ):
            check_duration(value, name)
        if isinstance(max_lag_s, bool) or not isinstance(max_lag_s, int | float) or max_lag_s < 0:
            raise ValidationError.for_field("max_lag_s", max_lag_s, "must be 0 or more seconds")
        if isinstance(max_reverse_attempts, bool) or not isinstance(max_reverse_attempts, int):
            raise ValidationError.for_field(
                "max_reverse_attempts", max_reverse_attempts, "must be a whole number"
            )
        if not 1 <= max_reverse_attempts <= 10:
            raise ValidationError.for_field(
                "max_reverse_attempts", max_reverse_attempts, "must be between 1 and 10"
            )
        if install_agent is not None and not callable(install_agent):
            raise ValidationError.for_field(
                "install_agent", install_agent, "must be a callable taking an AgentInstallRequest"
            )
        self._storage = storage
        self._sleep = sleep
        retry = retry or RetryPolicy()
        settings = FailbackSettings(
            max_lag_s=float(max_lag_s),
            replication_timeout=timedelta(seconds=replication_timeout_s),
            launch_timeout=timedelta(seconds=launch_timeout_s),
            reverse_lease=timedelta(seconds=reverse_lease_s),
            max_reverse_attempts=max_reverse_attempts,
            install_timeout_s=float(install_timeout_s),
            install_agent=install_agent,
            accounts=dict(accounts or {}),
        )
        self._base = FailbackContext(storage, clients, retry, settings, clock, events)
        configs = LaunchConfigService(storage, clients, events=events, retry=retry, clock=clock)
        groups = groups or ProtectionGroupService(
            storage, clients, launch_configs=configs, retry=retry, clock=clock
        )
        if waves is None:
            # Imported here: the wave steps import this package's identity checks.
            from drs_orchestration.services.waves import WaveExecutor

            waves = WaveExecutor(
                storage,
                clients,
                launch_configs=configs,
                events=events,
                clock=clock,
                sleep=sleep,
                retry=retry,
            )
        self._services = LaunchServices(
            waves,
            plans or RecoveryPlanService(storage, clock=clock),
            groups,
            matcher
            or InstanceMatcher(
                storage, clients, retry=retry, clock=clock, events=events, groups=groups
            ),
        )
        self._executions: dict[str, Execution] = {}

    # ---- reading ---------------------------------------------------------------------

    def _context(self) -> FailbackContext:
        """A context of its own for one call: progress and events are per call (and thread)."""
        return dataclasses.replace(self._base, progressed=False, _pending=[])

    def _execution(self, execution_id: str) -> Execution:
        cached = self._executions.get(execution_id)
        if cached is not None:
            return cached
        execution = self._services.waves.get(execution_id)
        if execution.status.is_terminal:
            # An ended execution does not change: read it once per coordinator.
            self._executions[execution_id] = execution
        return execution

    def get(self, execution_id: str) -> Failback:
        """The failback of an execution, as stored.

        Raises:
            NotFoundError: the execution does not exist, or has no failback.
        """
        ctx = self._context()
        execution = self._execution(execution_id)
        if self._storage.claims.find(ctx.claim_key(execution_id)) is None:
            raise NotFoundError(
                "failback of execution",
                execution_id,
                details={"hint": "start it with start_failback(execution_id)"},
            )
        return Failback(execution_id=execution_id, servers=load_states(self._storage, execution))

    # ---- requests ----------------------------------------------------------------------

    def start_failback(
        self,
        execution_id: str,
        *,
        servers: Sequence[str] | None = None,
        drill_ok: bool = False,
        started_by: str | None = None,
    ) -> Failback:
        """Check the execution's recovered servers and record their failback (no DRS change).

        Prerequisites, per server: the execution has ended and launched it;
        DRS still holds its recovery instance, running and connected; the
        execution is a recovery, not a drill (unless ``drill_ok``: DRS itself
        refuses to reverse a drill instance's replication, and says so per
        server); an on-premises server needs ``install_agent``. Its staging
        account and original instance are recorded. A server launched into a
        paired instance whose identity was not verified (a
        ``PrivateIPMismatch``) is recorded but waits for
        :meth:`acknowledge_ip_mismatch`.

        Starting again is safe: servers already recorded keep their state,
        others are added, and failed ones start over — from replicating back
        if it was their launch back that failed (the reversal is reused, never
        repeated: DRS is asked before any new call).

        Args:
            execution_id: The failover to come back from.
            servers: Source server IDs to fail back (default: every launched one).
            drill_ok: Allow failing back a drill's instances.
            started_by: Who asked (kept on the failback's claim).

        Raises:
            NotFoundError: no such execution.
            ConflictError: the execution is still running, or an instance is
                being failed back by another execution.
            ValidationError: a server cannot fail back (each named with the reason).
            AwsApiError: DRS could not be read.
        """
        ctx = self._context()
        execution = self._execution(execution_id)
        if not execution.status.is_terminal:
            raise ConflictError(
                f"execution {execution_id} is still {execution.status.value}; fail back once "
                "it has ended",
                details={"executionId": execution_id, "status": execution.status.value},
            )
        if execution.is_drill and not drill_ok:
            raise ValidationError.for_field(
                "drill_ok",
                drill_ok,
                f"execution {execution_id} is a drill: its instances are copies, not what "
                "production runs on (DRS does not reverse drill instances); pass drill_ok=True "
                "to try anyway",
            )
        candidates = choose(execution, servers)
        for _ in range(_START_ATTEMPTS):
            existing = self._storage.failback_states.get_many(
                c.recovery_instance_id for c in candidates
            )
            check_owned(existing, execution_id)
            fresh = [c for c in candidates if c.recovery_instance_id not in existing]
            now = ctx.now()
            states = prepare_states(ctx, execution, fresh, at=now) if fresh else []
            states += [
                restarted(state, now, ctx.settings.replication_timeout)
                for state in existing.values()
                if state.phase is FailbackPhase.FAILED
            ]
            for state in states:
                if state.ip_blocks_failback and state.identity is not None:
                    state.error = state.identity.error
            claim_key = ctx.claim_key(execution_id)
            extra: list[Put] = []
            if self._storage.claims.find(claim_key) is None:
                extra.append(
                    Put(
                        ClaimRecord(
                            claim_id=claim_key,
                            owner_id=execution_id,
                            kind="failback",
                            claimed_at=now,
                            details={"startedBy": (started_by or "")[:256]},
                        ),
                        expected_version=0,
                    )
                )
            try:
                ctx.save_all(states, extra=extra)
            except LostRace:
                continue  # started concurrently: read what the other start wrote, add the rest
            for state in states:
                ctx.record(state, "recorded", f"mode {state.mode.value}")
            ctx.flush()
            return self.get(execution_id)
        raise ConflictError(
            f"the failback of execution {execution_id} kept changing while it was started",
            details={"executionId": execution_id},
        )

    def _server(self, execution_id: str, source_server_id: str) -> FailbackState:
        try:
            return self.get(execution_id).server(source_server_id)
        except KeyError:
            raise NotFoundError(
                "failback of source server",
                source_server_id,
                details={"executionId": execution_id},
            ) from None

    def _states(self, execution_id: str) -> list[FailbackState]:
        return self.get(execution_id).servers

    def launch_failback(
        self,
        execution_id: str,
        *,
        servers: Sequence[str] | None = None,
        drill: bool = False,
        into_original: bool = False,
        pairs: Mapping[str, str] | None = None,
        add_tag: bool = False,
        drill_into_original: bool = False,
    ) -> Failback:
        """Ask for the ready servers to be launched back (steps launch them).

        In AWS: a recovery (or a drill) of the reversed source servers in
        their origin, through a recovery plan of frozen waves in the
        execution's wave order, run by the wave executor. With
        ``into_original`` each goes into the instance it originally replicated
        from; ``pairs`` names instances explicitly (by original source server
        ID). Those instances are checked by the matcher first (tag, OS, boot
        mode, state...). A drill is refused when it would overwrite an existing
        instance (ours or DRS's ``launchIntoSourceInstance``), unless
        ``drill_into_original``. A server whose failback was drilled can then
        be launched back for real. On premises: ``StartFailbackLaunch`` (no drill).

        Raises:
            NotFoundError: no such failback.
            ValidationError: a named server is not ``READY``, or the options do
                not fit its way back (each named).
            InstanceMatchingError: an instance to launch into fails a check.
        """
        ctx = self._context()
        states = self._states(execution_id)

        def not_ready(state: FailbackState) -> str | None:
            if state.phase is FailbackPhase.READY:
                return None
            drilled = state.launch is not None and state.launch.drill
            if state.phase is FailbackPhase.COMPLETED and drilled and not drill:
                return None  # a failback drill leaves the server ready for the real one
            return f"is {state.phase.value}, not READY"

        chosen = pick(states, servers, not_ready, "launch back")
        in_aws = [s for s in chosen if s.mode is FailbackMode.IN_AWS]
        on_premises = [s for s in chosen if s.mode is FailbackMode.ON_PREMISES]
        if on_premises and (drill or into_original or pairs):
            raise ValidationError.for_field(
                "servers",
                [s.source_server_id for s in on_premises],
                "fail back on premises (Failback Client): StartFailbackLaunch has no drill "
                "and no launch into an instance; launch them separately",
            )
        targets = launch_targets(in_aws, into_original=into_original, pairs=pairs or {})
        if drill and not drill_into_original:
            refuse_drill_overwrites(ctx, in_aws, targets)
        if targets:
            check_pairs(ctx, self._services.matcher, in_aws, targets, add_tag=add_tag)
        now = ctx.now()
        written: list[FailbackState] = []
        for members in (in_aws, on_premises):
            if not members:
                continue
            launch_id = new_launch_id()
            launch = FailbackLaunch(
                launch_id=launch_id,
                drill=drill,
                into_original=bool(targets),
                add_tag=add_tag,
                requested_at=now,
                plan_name=f"failback {launch_id} of {execution_id}",
            )
            for state in members:
                state.phase = FailbackPhase.LAUNCHING
                state.launch = launch.model_copy()
                state.failback_recovery_instance_id = None
                state.failback_ec2_instance_id = None
                state.failback_private_ip = None
                state.launched_into_original = None
                state.launch_into_instance_id = targets.get(state.source_server_id)
                state.error = None
                written.append(state)
        ctx.save_all(written)
        for state in written:
            ctx.record(state, "launch_requested", "drill" if drill else "recovery")
        ctx.flush()
        return self.get(execution_id)

    def reprotect(self, execution_id: str, *, servers: Sequence[str] | None = None) -> Failback:
        """Ask for the failed-back instances to replicate to the recovery region again.

        Only after a real launch back in AWS (a failback drill leaves the
        original replication untouched).

        Raises:
            NotFoundError: no such failback.
            ValidationError: a named server cannot be re-protected (named, with why).
        """
        ctx = self._context()
        chosen = pick(self._states(execution_id), servers, aftercare_refusal, "re-protect")
        now = ctx.now()
        for state in chosen:
            if state.reprotect is None or state.reprotect.error is not None:
                state.reprotect = FailbackStep(requested_at=now)
        ctx.save_all(chosen)
        return self.get(execution_id)

    def cleanup(
        self,
        execution_id: str,
        *,
        servers: Sequence[str] | None = None,
        stop_replication: bool = True,
        terminate: bool = True,
        include_launched_into: bool = False,
    ) -> Failback:
        """Ask for the failover's leftovers to go, once a server is back.

        ``stop_replication`` stops the temporary source server that carried the
        data back (``StopReplication``; its snapshots are deleted);
        ``terminate`` terminates the old recovery instance — except one that
        was an existing (paired) instance DRS launched into, unless
        ``include_launched_into``. Runs after re-protection when both are asked.

        Raises:
            NotFoundError: no such failback.
            ValidationError: a named server cannot be cleaned up (named, with why).
        """
        ctx = self._context()
        chosen = pick(self._states(execution_id), servers, aftercare_refusal, "clean up")
        now = ctx.now()
        for state in chosen:
            if stop_replication and (
                state.stop_replication is None or state.stop_replication.error is not None
            ):
                state.stop_replication = FailbackStep(requested_at=now)
            if terminate and (state.terminate is None or state.terminate.error is not None):
                if state.identity is not None and not include_launched_into:
                    state.terminate = FailbackStep(
                        skipped_reason=f"recovery instance {state.recovery_instance_id} is the "
                        f"paired instance {state.identity.target_instance_id} DRS launched into; "
                        "pass include_launched_into=True to terminate it"
                    )
                else:
                    state.terminate = FailbackStep(requested_at=now)
        ctx.save_all(chosen)
        return self.get(execution_id)

    def acknowledge_ip_mismatch(
        self,
        execution_id: str,
        source_server_id: str,
        *,
        acknowledged_by: str,
        reason: str | None = None,
    ) -> FailbackState:
        """Accept that a server's failover did not keep its paired instance or IP; unblock it.

        Raises:
            NotFoundError: the server takes no part in the execution's failback.
            ValidationError: its identity was verified (nothing to acknowledge),
                or ``acknowledged_by`` is empty.
        """
        ctx = self._context()
        state = self._server(execution_id, source_server_id)
        if state.ip_validated is not False:
            raise ValidationError.for_field(
                "source_server_id",
                source_server_id,
                "its failover kept its paired instance and IP (or it was not paired): "
                "there is no mismatch to acknowledge",
            )
        acknowledgement = Acknowledgement.parse(
            {"acknowledged_by": acknowledged_by, "reason": reason, "at": ctx.now()}
        )

        def acknowledge(current: FailbackState) -> FailbackState:
            update: dict[str, Any] = {"ip_acknowledgement": acknowledgement}
            if current.phase is FailbackPhase.NOT_STARTED:
                update["error"] = None
            return current.model_copy(update=update)

        stored = update_item(self._storage.failback_states, state.recovery_instance_id, acknowledge)
        ctx.record(stored, "ip_mismatch_acknowledged", acknowledged_by)
        ctx.flush()
        return stored

    def stop_failback(
        self, execution_id: str, *, servers: Sequence[str] | None = None, reason: str = ""
    ) -> Failback:
        """Stop replicating back (``StopFailback``) for servers not launched back yet.

        Their records end ``FAILED`` (``FailbackStopped``); start their failback
        again to resume.

        Raises:
            NotFoundError: no such failback.
            ValidationError: a named server is launching or has ended.
        """

        def stoppable(state: FailbackState) -> str | None:
            if state.phase in (
                FailbackPhase.NOT_STARTED,
                FailbackPhase.REVERSE_REPLICATING,
                FailbackPhase.READY,
            ):
                return None
            return f"is {state.phase.value}"

        ctx = self._context()
        chosen = pick(self._states(execution_id), servers, stoppable, "stop")
        for state in chosen:
            if state.phase is not FailbackPhase.NOT_STARTED:
                ctx.drs(state.region, state.account).stop_failback(state.recovery_instance_id)
            state.phase = FailbackPhase.FAILED
            state.error = ErrorRecord(
                code="FailbackStopped",
                message=f"failback stopped on request{': ' + reason if reason else ''}",
                at=ctx.now(),
            )
            ctx.record(state, "stopped", reason or None)
        ctx.save_all(chosen)
        ctx.flush()
        return self.get(execution_id)

    def failback_replication_configuration(
        self, execution_id: str, source_server_id: str
    ) -> dict[str, Any]:
        """A server's failback replication settings (``GetFailbackReplicationConfiguration``).

        Raises:
            NotFoundError: no such failback, or the server takes no part in it.
        """
        ctx = self._context()
        state = self._server(execution_id, source_server_id)
        answer = ctx.drs(state.region, state.account).get_failback_replication_configuration(
            state.recovery_instance_id
        )
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"}

    def configure_failback_replication(
        self,
        execution_id: str,
        *,
        servers: Sequence[str] | None = None,
        name: str | None = None,
        bandwidth_throttling: int | None = None,
        use_private_ip: bool | None = None,
        internet_protocol: str | None = None,
    ) -> None:
        """Change failback replication settings (``UpdateFailbackReplicationConfiguration``).

        Only the settings given change, on every chosen server not yet launched back.
        """
        fields = {
            key: value
            for key, value in (
                ("name", name),
                ("bandwidthThrottling", bandwidth_throttling),
                ("usePrivateIP", use_private_ip),
                ("internetProtocol", internet_protocol),
            )
            if value is not None
        }
        if not fields:
            raise ValidationError.for_field("settings", None, "give at least one setting")

        def open_state(state: FailbackState) -> str | None:
            return f"is {state.phase.value}" if state.phase.is_terminal else None

        ctx = self._context()
        for state in pick(self._states(execution_id), servers, open_state, "configure"):
            ctx.drs(state.region, state.account).update_failback_replication_configuration(
                state.recovery_instance_id, fields
            )

    # ---- stepping ------------------------------------------------------------------------

    def step(self, execution_id: str) -> FailbackStepResult:
        """Do one unit of the failback's work; say whether it progressed and whether work is left.

        Raises:
            NotFoundError: no such failback.
        """
        execution = self._execution(execution_id)
        states = self.get(execution_id).servers
        ctx = self._context()
        try:
            dispatch(ctx, self._services, execution, states)
        except LostRace:
            ctx.progressed = True  # another process moved it on; the next step re-reads
        except DrsOrchestrationError as exc:
            if not exc.retryable:
                ctx.flush()
                raise
            logger.warning(
                "failback step failed; retrying on the next step",
                extra={"executionId": execution_id, "errorCode": exc.code, "error": exc.message},
            )
        ctx.flush()
        failback = self.get(execution_id)
        return FailbackStepResult(
            failback, ctx.progressed, any(pending(s) for s in failback.servers)
        )

    def run(
        self, execution_id: str, *, poll_interval: float = 30.0, max_steps: int | None = None
    ) -> Failback:
        """Step until no work is left (or ``max_steps``), sleeping while waiting on DRS.

        Returns when every server waits for a request or has ended: ``READY``
        servers wait for :meth:`launch_failback`, blocked ones for
        :meth:`acknowledge_ip_mismatch`.
        """
        check_duration(poll_interval, "poll_interval")
        if max_steps is not None and (isinstance(max_steps, bool) or max_steps < 1):
            raise ValidationError.for_field("max_steps", max_steps, "must be at least 1")
        steps = 0
        while True:
            result = self.step(execution_id)
            steps += 1
            if not result.pending or (max_steps is not None and steps >= max_steps):
                return result.failback
            if not result.progressed:
                self._sleep(poll_interval)
