"""Readiness: which source servers a drill or a recovery launches, and why.

A drill proves most from a healthy source, so by default it launches only
servers whose replication is ``CONTINUOUS``. A recovery happens because the
source is gone: its servers are ``STALLED`` (agent not seen), lagging or
paused, and DRS launches them from their latest recovery point. So by default
a recovery accepts every server that has a recovery point and whose
replication resources still exist. The library is never stricter than DRS in
a real recovery; a policy can only narrow what DRS would launch.

What DRS itself cannot launch, whatever the policy says:

- a server DRS does not return (``NOT_FOUND``): fail closed;
- ``STOPPED`` and ``DISCONNECTED`` servers: their replication servers,
  staging disks and snapshots are gone;
- a server with no recovery point that is not replicating continuously
  (``INITIATING``/``INITIAL_SYNC`` before the first snapshot): there is no
  data to launch from. A ``CONTINUOUS`` server needs no earlier snapshot:
  DRS takes one on demand when the job starts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from drs_orchestration.models.base import DrsModel, Timestamp

__all__ = [
    "LAUNCHABLE_STATES",
    "NOT_FOUND",
    "REPLICATION_STATES",
    "UNRECOVERABLE_STATES",
    "PlanReadiness",
    "ReadinessPolicy",
    "ReadinessRule",
    "ServerReadiness",
    "WaveReadiness",
]

ReplicationState = Literal[
    "STOPPED",
    "INITIATING",
    "INITIAL_SYNC",
    "BACKLOG",
    "CREATING_SNAPSHOT",
    "CONTINUOUS",
    "PAUSED",
    "RESCAN",
    "STALLED",
    "DISCONNECTED",
]
"""DRS's ``DataReplicationState`` values."""

REPLICATION_STATES: frozenset[str] = frozenset(ReplicationState.__args__)  # type: ignore[attr-defined]
"""Every replication state DRS reports."""
UNRECOVERABLE_STATES: frozenset[str] = frozenset({"STOPPED", "DISCONNECTED"})
"""States whose replication resources and snapshots are gone: DRS cannot launch them."""
LAUNCHABLE_STATES: frozenset[str] = REPLICATION_STATES - UNRECOVERABLE_STATES
"""States DRS can launch from, given a recovery point (``CONTINUOUS`` takes one on demand)."""
NOT_FOUND = "NOT_FOUND"
"""The state reported for a server DRS did not return (never ready)."""
UNKNOWN = "UNKNOWN"
"""The state reported for a server without replication information."""


class ReadinessRule(DrsModel):
    """Which servers one kind of execution (drill or recovery) launches.

    Attributes:
        states: Replication states accepted; ``None`` accepts every state DRS
            can launch from (all but ``STOPPED`` and ``DISCONNECTED``).
        max_lag_s: Refuse servers whose replication lag is longer than this
            (``None``: any lag; the lag is still reported).
    """

    states: frozenset[ReplicationState] | None = None
    max_lag_s: Annotated[float, Field(gt=0, le=366 * 86400)] | None = None

    @model_validator(mode="after")
    def _launchable(self) -> Self:
        if self.states is not None:
            if not self.states:
                raise ValueError("states must name at least one replication state (or be None)")
            impossible = sorted(self.states & UNRECOVERABLE_STATES)
            if impossible:
                raise ValueError(
                    f"DRS cannot launch servers in {', '.join(impossible)} (their replication "
                    "resources and snapshots are gone); remove them from states"
                )
        return self

    def accepts_state(self, state: str) -> bool:
        """Whether a server in ``state`` passes this rule's state filter."""
        if state not in LAUNCHABLE_STATES:
            return False
        return self.states is None or state in self.states


class ReadinessPolicy(DrsModel):
    """Readiness rules for drills and for recoveries (per plan, overridable per execution).

    Examples:
        >>> # An outage drill: rehearse the disaster with the sources stalled.
        >>> policy = ReadinessPolicy(drill=ReadinessRule(states=None))
        >>> executor.start(plan_id, drill=True, readiness=policy)
    """

    drill: ReadinessRule = Field(
        default_factory=lambda: ReadinessRule(states=frozenset({"CONTINUOUS"}))
    )
    recovery: ReadinessRule = Field(default_factory=ReadinessRule)

    def rule(self, *, drill: bool) -> ReadinessRule:
        """The rule for a drill or for a recovery."""
        return self.drill if drill else self.recovery


class ServerReadiness(DrsModel):
    """One server's readiness as preflight saw it, and the verdict with its reason.

    Attributes:
        source_server_id: The server.
        state: Its replication state (``NOT_FOUND`` when DRS did not return it).
        lag_s: Replication lag in seconds, when DRS reports one.
        latest_recovery_point: Its latest recovery snapshot, when one was looked
            up (``None`` for a ``CONTINUOUS`` server: DRS snapshots it on demand).
        hostname: The host name DRS knows, when returned.
        ready: Whether the execution launches it.
        reason: Why (or why not), in words an operator can act on.
        checked_at: When preflight looked.
    """

    source_server_id: str
    state: str
    lag_s: float | None = None
    latest_recovery_point: Timestamp | None = None
    hostname: str | None = None
    ready: bool
    reason: str
    checked_at: Timestamp

    def rpo_at(self, moment: datetime) -> float | None:
        """Seconds of data a launch from the latest recovery point would lose at ``moment``."""
        if self.latest_recovery_point is None:
            return None
        return max((moment - self.latest_recovery_point).total_seconds(), 0.0)


class WaveReadiness(DrsModel):
    """The readiness of one wave's servers, in the wave's region and account."""

    wave_name: str
    region: str
    account_id: str | None = None
    servers: list[ServerReadiness] = Field(default_factory=list)

    @property
    def ready(self) -> list[str]:
        """Servers the wave would launch."""
        return [s.source_server_id for s in self.servers if s.ready]

    @property
    def not_ready(self) -> list[ServerReadiness]:
        """Servers the wave would not launch, with their reasons."""
        return [s for s in self.servers if not s.ready]


class PlanReadiness(DrsModel):
    """What a drill or recovery of a plan would launch if it started now.

    Examples:
        >>> report = executor.preflight(plan_id, drill=False)
        >>> for wave in report.waves:
        ...     for server in wave.not_ready:
        ...         print(wave.wave_name, server.source_server_id, server.reason)
    """

    plan_id: str
    plan_name: str
    drill: bool
    checked_at: Timestamp
    waves: list[WaveReadiness] = Field(default_factory=list)

    @property
    def all_ready(self) -> bool:
        """Whether every server of every wave would launch."""
        return all(s.ready for w in self.waves for s in w.servers)

    @property
    def not_ready(self) -> dict[str, str]:
        """Every server that would not launch, with the reason."""
        return {s.source_server_id: s.reason for w in self.waves for s in w.not_ready}

    def _repr_html_(self) -> str:
        from drs_orchestration.reports.html import plan_readiness_html

        return plan_readiness_html(self)
