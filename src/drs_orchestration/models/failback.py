"""Source-to-target instance pairs, and the failback of recovered servers.

A failback is kept as one :class:`FailbackState` per recovery instance (the
``failback_states`` collection, keyed by the recovery instance ID), so each
record stays the size of one server whatever the size of the execution;
:class:`Failback` is the view of one execution's records together.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from drs_orchestration.models.account import AccountContext
from drs_orchestration.models.base import DrsModel, Timestamp, VersionedModel, utc_now
from drs_orchestration.models.executions import ErrorRecord, ServerIdentity
from drs_orchestration.models.ids import (
    AccountId,
    Ec2InstanceId,
    ExecutionId,
    JobId,
    PlanId,
    ProtectionGroupId,
    RecoveryInstanceId,
    Region,
    SourceServerId,
)

__all__ = [
    "DRS_FAILBACK_STATES",
    "Acknowledgement",
    "Failback",
    "FailbackLaunch",
    "FailbackMode",
    "FailbackPhase",
    "FailbackState",
    "FailbackStep",
    "InstancePair",
    "MatchMethod",
    "aggregate_phase",
    "phase_of_drs_failback_state",
]


class MatchMethod(StrEnum):
    """How a source server was paired with its target instance (rules in order of precedence)."""

    EXPLICIT = "explicit"
    """Named in ``MatchRules.explicit_pairs``."""
    ORIGINAL_INSTANCE = "original_instance"
    """The instance a failing-back server originally replicated from."""
    NAME_TAG = "name_tag"
    """Equal names (source ``Name`` tag or host name, target ``Name`` tag) once normalised."""


class InstancePair(VersionedModel):
    """A source server and the existing EC2 instance DRS should launch into.

    Keyed by ``source_server_id``. ``region`` and ``account_id`` are where DRS
    launches the server, which is where the target instance is (``None``: the
    client factory's own account). ``validated`` is true when no check of the
    pair failed; ``validation_errors`` holds the failed checks and
    ``warnings`` the others worth a look.
    """

    source_server_id: SourceServerId
    target_instance_id: Ec2InstanceId
    region: Region
    account_id: AccountId | None = None
    group_id: ProtectionGroupId | None = None
    match_method: MatchMethod = MatchMethod.NAME_TAG
    source_name: str | None = None
    target_name: str | None = None
    source_private_ip: str | None = None
    target_private_ip: str | None = None
    validated: bool = False
    validation_errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    updated_at: Timestamp = Field(default_factory=utc_now)


class FailbackPhase(StrEnum):
    """Where a recovered server (or a whole failback) is on its way back.

    ``NOT_STARTED`` → ``REVERSE_REPLICATING`` → ``READY`` → ``LAUNCHING`` →
    ``COMPLETED`` | ``FAILED``.
    """

    NOT_STARTED = "NOT_STARTED"
    """Recorded and checked; replication back has not been asked for yet."""
    REVERSE_REPLICATING = "REVERSE_REPLICATING"
    """Replicating back (reverse replication, or the Failback Client's), not yet caught up."""
    READY = "READY"
    """Caught up: ``CONTINUOUS`` with a lag under the threshold; can be launched back."""
    LAUNCHING = "LAUNCHING"
    """The launch back is under way."""
    COMPLETED = "COMPLETED"
    """Launched back (a drill launch included)."""
    FAILED = "FAILED"
    """Stopped on an error (``FailbackState.error`` says which and what to do)."""

    @property
    def is_terminal(self) -> bool:
        """Whether nothing more happens to the server without a new request."""
        return self in (FailbackPhase.COMPLETED, FailbackPhase.FAILED)


DRS_FAILBACK_STATES: dict[str, FailbackPhase] = {
    "FAILBACK_NOT_STARTED": FailbackPhase.NOT_STARTED,
    "FAILBACK_IN_PROGRESS": FailbackPhase.REVERSE_REPLICATING,
    "FAILBACK_NOT_READY_FOR_LAUNCH": FailbackPhase.REVERSE_REPLICATING,
    "FAILBACK_LAUNCH_STATE_NOT_AVAILABLE": FailbackPhase.REVERSE_REPLICATING,
    "FAILBACK_READY_FOR_LAUNCH": FailbackPhase.READY,
    "FAILBACK_COMPLETED": FailbackPhase.COMPLETED,
    "FAILBACK_ERROR": FailbackPhase.FAILED,
}
"""Every ``failback.state`` DRS reports on a recovery instance, as a phase.

``FAILBACK_IN_PROGRESS`` with a ``failbackJobID`` is a launch under way
(:func:`phase_of_drs_failback_state`); ``FAILBACK_LAUNCH_STATE_NOT_AVAILABLE``
is read as "not ready yet", never as ready.
"""


def phase_of_drs_failback_state(state: str | None, *, job_id: str | None = None) -> FailbackPhase:
    """The phase DRS's ``failback.state`` of a recovery instance means.

    An unknown state (a newer DRS than the library) reads as still replicating:
    never as ready, never as failed.
    """
    if state == "FAILBACK_IN_PROGRESS" and job_id:
        return FailbackPhase.LAUNCHING
    return DRS_FAILBACK_STATES.get(state or "", FailbackPhase.REVERSE_REPLICATING)


class FailbackMode(StrEnum):
    """How a server goes back."""

    IN_AWS = "IN_AWS"
    """An EC2-originated server: ``ReverseReplication``, then a recovery of the reversed
    source server in its origin (``StartRecovery`` through a wave execution)."""
    ON_PREMISES = "ON_PREMISES"
    """Anything else: the Failback Client on the machine, then ``StartFailbackLaunch``."""


class Acknowledgement(DrsModel):
    """Who accepted a finding (an IP mismatch) and why, so the failback may proceed."""

    acknowledged_by: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    reason: Annotated[str, StringConstraints(max_length=2048)] | None = None
    at: Timestamp = Field(default_factory=utc_now)


class FailbackStep(DrsModel):
    """One opt-in action on a server after its launch back: re-protection or clean-up.

    ``requested_at`` is persisted before the (non-idempotent) call, so a
    process that resumes knows to look for its effect before calling again.
    """

    requested_at: Timestamp | None = None
    attempts: Annotated[int, Field(ge=0)] = 0
    done_at: Timestamp | None = None
    reversed_source_server_arn: str | None = None
    """Re-protection: the source server replicating the failed-back instance."""
    replication_state: str | None = None
    """Re-protection: that server's replication state when last read."""
    job_id: JobId | None = None
    """Termination: the ``TERMINATE`` job."""
    skipped_reason: str | None = None
    error: ErrorRecord | None = None

    @property
    def done(self) -> bool:
        """Whether the step finished (or was skipped) without an error left to fix."""
        return self.done_at is not None or self.skipped_reason is not None


class FailbackLaunch(DrsModel):
    """The launch back a server takes part in (the same record on each of its servers).

    In-AWS servers are recovered through a recovery plan of frozen waves in
    their origin, run by a wave execution; on-premises ones through
    ``StartFailbackLaunch``. Each ID is recorded as soon as it exists, and
    the plan's name (unique to the launch) finds a plan whose ID was lost.
    """

    launch_id: Annotated[str, StringConstraints(pattern=r"^fl-[0-9a-z]{20}$")]
    drill: bool = False
    into_original: bool = False
    """Some servers launch into existing instances (their originals or explicit pairs),
    through a protection group per wave."""
    add_tag: bool = False
    """Tag those instances ``AWSDRS=AllowLaunchingIntoThisInstance`` where they lack it."""
    requested_at: Timestamp
    plan_name: str
    plan_id: PlanId | None = None
    execution_id: ExecutionId | None = None
    group_id: ProtectionGroupId | None = None
    job_id: JobId | None = None
    start_requested_at: Timestamp | None = None
    """On premises: set before ``StartFailbackLaunch``; the job is looked for before a retry."""


class FailbackState(VersionedModel):
    """The failback of one recovered server, keyed by its recovery instance.

    Creating the record (version 0 → 1) is the claim on the recovery
    instance: one failback per instance. Every call with a side effect in DRS
    is preceded by a persisted intent (``reverse_requested_at``,
    ``launch.start_requested_at``, a step's ``requested_at``), so a process
    resuming after a crash looks for the effect before it calls again.
    """

    recovery_instance_id: RecoveryInstanceId
    execution_id: ExecutionId
    wave_name: str
    source_server_id: SourceServerId
    region: Region
    account: AccountContext | None = None
    ec2_instance_id: Ec2InstanceId | None = None
    mode: FailbackMode = FailbackMode.IN_AWS
    phase: FailbackPhase = FailbackPhase.NOT_STARTED
    execution_is_drill: bool = False
    original_instance_id: Ec2InstanceId | None = None
    """The EC2 instance the source server replicated from (a failback can go back into it)."""
    staging_account_id: AccountId | None = None
    """``stagingArea.stagingAccountID`` of the source server when the failback started."""
    identity: ServerIdentity | None = None
    """The failover's identity check, copied from the execution."""
    ip_acknowledgement: Acknowledgement | None = None
    agent_install_started_at: Timestamp | None = None
    agent_installed_at: Timestamp | None = None
    reverse_requested_at: Timestamp | None = None
    reverse_attempts: Annotated[int, Field(ge=0)] = 0
    reversed_source_server_arn: str | None = None
    reversed_source_server_id: SourceServerId | None = None
    reversed_region: Region | None = None
    reversed_account_id: AccountId | None = None
    reversed_staging_account_id: AccountId | None = None
    replication_state: str | None = None
    """The reversed source server's (in-AWS) or the instance's (on premises) replication state."""
    lag_seconds: Annotated[float, Field(ge=0)] | None = None
    drs_failback_state: str | None = None
    """The recovery instance's ``failback.state`` when last read."""
    deadline: Timestamp | None = None
    """When replicating back must have caught up, or the server fails."""
    ready_at: Timestamp | None = None
    launch: FailbackLaunch | None = None
    launch_into_instance_id: Ec2InstanceId | None = None
    """The existing instance the launch back goes into (its original one, or an explicit pair)."""
    failback_recovery_instance_id: RecoveryInstanceId | None = None
    failback_ec2_instance_id: Ec2InstanceId | None = None
    failback_private_ip: str | None = None
    launched_into_original: bool | None = None
    reprotect: FailbackStep | None = None
    stop_replication: FailbackStep | None = None
    terminate: FailbackStep | None = None
    error: ErrorRecord | None = None
    warnings: list[str] = Field(default_factory=list)
    created_at: Timestamp = Field(default_factory=utc_now)
    updated_at: Timestamp = Field(default_factory=utc_now)

    @property
    def account_id(self) -> str | None:
        """The account of the recovery instance (``None``: the client factory's own)."""
        return self.account.account_id if self.account else None

    @property
    def ip_validated(self) -> bool | None:
        """The failover kept the paired instance and its IP (``None``: it was not paired)."""
        return None if self.identity is None else self.identity.verified

    @property
    def ip_blocks_failback(self) -> bool:
        """An unverified identity, not acknowledged, stops this server's failback."""
        return self.ip_validated is False and self.ip_acknowledgement is None


class Failback(DrsModel):
    """The failback of one execution: its servers' records, and where they stand together.

    Attributes:
        execution_id: The recovery (or drill) being failed back.
        servers: One record per recovered server taking part, by source server.
    """

    execution_id: ExecutionId
    servers: list[FailbackState] = Field(default_factory=list)

    @property
    def phase(self) -> FailbackPhase:
        """The failback's phase, from its servers'.

        While a server is on its way: ``LAUNCHING`` if any is, else the least
        advanced phase among them. Once none is: ``FAILED`` if any server
        failed (a failback is done when every server is back), else
        ``COMPLETED``.
        """
        return aggregate_phase(s.phase for s in self.servers)

    def server(self, source_server_id: str) -> FailbackState:
        """The record of one source server.

        Raises:
            KeyError: the server takes no part in this failback.
        """
        for state in self.servers:
            if state.source_server_id == source_server_id:
                return state
        raise KeyError(source_server_id)

    def in_phase(self, phase: FailbackPhase) -> list[str]:
        """Source servers in ``phase``."""
        return [s.source_server_id for s in self.servers if s.phase is phase]

    @property
    def staging_accounts(self) -> dict[str, list[str]]:
        """Staging account → the source servers that replicated through it (recorded at start)."""
        found: dict[str, list[str]] = {}
        for state in self.servers:
            if state.staging_account_id is not None:
                found.setdefault(state.staging_account_id, []).append(state.source_server_id)
        return found

    @property
    def staging_consistent(self) -> bool:
        """Whether every server of the execution replicated through one staging account."""
        return len(self.staging_accounts) <= 1


_ORDER = (
    FailbackPhase.NOT_STARTED,
    FailbackPhase.REVERSE_REPLICATING,
    FailbackPhase.READY,
    FailbackPhase.LAUNCHING,
)


def aggregate_phase(phases: Iterable[FailbackPhase]) -> FailbackPhase:
    """The phase of several servers together (see :attr:`Failback.phase`)."""
    seen = list(phases)
    if not seen:
        return FailbackPhase.NOT_STARTED
    moving = [p for p in seen if not p.is_terminal]
    if not moving:
        return FailbackPhase.FAILED if FailbackPhase.FAILED in seen else FailbackPhase.COMPLETED
    if FailbackPhase.LAUNCHING in moving:
        return FailbackPhase.LAUNCHING
    return min(moving, key=_ORDER.index)
