"""Preflight: which of a wave's servers DRS can launch, by the execution's readiness rule.

The verdict per server follows :mod:`drs_orchestration.models.readiness`:
a drill launches ``CONTINUOUS`` servers by default; a recovery launches
every server with a recovery point whose replication resources still exist
(``STALLED``, ``PAUSED``, lagging servers recover from their latest recovery
point). A server DRS did not return is never ready. The check runs in the
wave's own region and account and reads, per server, its replication state
and lag; the latest recovery snapshot is looked up only where the verdict
depends on it (a server not replicating continuously) or when asked.

A drill also refuses servers whose current recovery instance came from a
real recovery: DRS keeps one recovery instance per source server, so the
drill would replace the instance production now runs on. And it refuses
servers launched into an existing instance (a paired production standby,
see :mod:`drs_orchestration.services.matching`), which it would overwrite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from drs_orchestration.aws.drs import DrsGateway, parse_drs_duration, parse_drs_timestamp
from drs_orchestration.models.readiness import (
    NOT_FOUND,
    UNKNOWN,
    UNRECOVERABLE_STATES,
    ReadinessRule,
    ServerReadiness,
)

if TYPE_CHECKING:
    from mypy_boto3_drs.type_defs import SourceServerTypeDef

__all__ = ["ReadinessReport", "assess_readiness", "replication_state"]

_GONE_EC2_STATES = frozenset({"TERMINATED", "SHUTTING-DOWN", "NOT_FOUND"})


@dataclass(frozen=True)
class ReadinessReport:
    """The readiness of a wave's servers, in the wave's order.

    Attributes:
        servers: One verdict per server.
    """

    servers: list[ServerReadiness] = field(default_factory=list)

    @property
    def ready(self) -> list[str]:
        """Servers the execution launches."""
        return [s.source_server_id for s in self.servers if s.ready]

    @property
    def not_ready(self) -> dict[str, str]:
        """Each server that is not launched, with its replication state."""
        return {s.source_server_id: s.state for s in self.servers if not s.ready}

    @property
    def reasons(self) -> dict[str, str]:
        """Each server that is not launched, with the reason."""
        return {s.source_server_id: s.reason for s in self.servers if not s.ready}

    @property
    def all_ready(self) -> bool:
        """Whether every server is launched."""
        return all(s.ready for s in self.servers)


def replication_state(server: SourceServerTypeDef | Mapping[str, Any]) -> str:
    """A source server's replication state (``UNKNOWN`` without replication information)."""
    info: Mapping[str, Any] = server.get("dataReplicationInfo") or {}
    return str(info.get("dataReplicationState") or UNKNOWN)


def _lag_s(server: Mapping[str, Any]) -> float | None:
    info: Mapping[str, Any] = server.get("dataReplicationInfo") or {}
    return parse_drs_duration(info.get("lagDuration"))


def _hostname(server: Mapping[str, Any]) -> str | None:
    hints = (server.get("sourceProperties") or {}).get("identificationHints") or {}
    name = hints.get("hostname") or hints.get("fqdn")
    return str(name) if name else None


def _snapshot_time(snapshot: Mapping[str, Any] | None) -> datetime | None:
    if not snapshot:
        return None
    value = snapshot.get("timestamp") or snapshot.get("expectedTimestamp")
    return parse_drs_timestamp(str(value)) if value else None


def _lag_text(lag_s: float | None) -> str:
    if lag_s is None:
        return "lag unknown"
    if lag_s < 120:
        return f"lag {lag_s:.0f} s"
    if lag_s < 7200:
        return f"lag {lag_s / 60:.0f} min"
    return f"lag {lag_s / 3600:.1f} h"


def _verdict(
    state: str,
    lag_s: float | None,
    latest: datetime | None,
    rule: ReadinessRule,
    *,
    drill: bool,
) -> tuple[bool, str]:
    kind = "drill" if drill else "recovery"
    if state == NOT_FOUND:
        return False, "DRS does not return this source server in the wave's region and account"
    if state in UNRECOVERABLE_STATES:
        return False, (
            f"replication is {state}: its replication resources and snapshots are gone, "
            "so DRS cannot launch it"
        )
    if not rule.accepts_state(state):
        accepted = "any launchable state" if rule.states is None else ", ".join(sorted(rule.states))
        hint = (
            " (a drill proves most from a healthy source; pass a ReadinessPolicy to drill "
            "an outage)"
            if drill
            else ""
        )
        return False, f"replication is {state}; the {kind} readiness rule accepts {accepted}{hint}"
    if state != "CONTINUOUS" and latest is None:
        return False, f"replication is {state} and there is no recovery point yet to launch from"
    if rule.max_lag_s is not None and lag_s is not None and lag_s > rule.max_lag_s:
        return False, (
            f"replication is {state} with {_lag_text(lag_s)}, more than the {kind} rule's "
            f"max_lag_s of {rule.max_lag_s:g} s"
        )
    if state == "CONTINUOUS":
        return True, f"replication is CONTINUOUS ({_lag_text(lag_s)})"
    assert latest is not None
    return True, (
        f"replication is {state} ({_lag_text(lag_s)}): launches from its latest recovery point "
        f"of {latest.isoformat()}"
    )


def assess_readiness(
    drs: DrsGateway,
    server_ids: Sequence[str],
    rule: ReadinessRule,
    *,
    drill: bool,
    now: datetime,
    all_recovery_points: bool = False,
    replace_recovery_instances: bool = False,
    launch_into: Mapping[str, str] | None = None,
) -> ReadinessReport:
    """Read the servers from DRS and give each its verdict under ``rule``.

    Args:
        drs: The gateway of the wave's region and account.
        server_ids: The wave's servers, in order.
        rule: The readiness rule of the execution's type.
        drill: Whether the execution is a drill.
        now: When the check runs (recorded on each verdict).
        all_recovery_points: Look up the latest recovery point of every
            server (a report), not only where the verdict needs it.
        replace_recovery_instances: Let a drill replace recovery instances
            launched by a real recovery.
        launch_into: Servers launched into an existing instance, and that
            instance: a drill refuses them (it would overwrite a standby).

    Raises:
        AwsApiError: if DRS cannot be read (after the gateway's retries).
    """
    found = {
        s["sourceServerID"]: s for s in drs.describe_source_servers(source_server_ids=server_ids)
    }
    verdicts: list[ServerReadiness] = []
    for sid in server_ids:
        server = found.get(sid)
        state = NOT_FOUND if server is None else replication_state(server)
        lag_s = None if server is None else _lag_s(server)
        latest: datetime | None = None
        # A continuous server needs no earlier snapshot (DRS takes one on demand), and a
        # server the rule refuses anyway is not worth a call.
        needs_point = state != "CONTINUOUS" and rule.accepts_state(state)
        if server is not None and (needs_point or all_recovery_points):
            latest = _snapshot_time(drs.latest_recovery_snapshot(sid))
        ready, reason = _verdict(state, lag_s, latest, rule, drill=drill)
        verdicts.append(
            ServerReadiness(
                source_server_id=sid,
                state=state,
                lag_s=lag_s,
                latest_recovery_point=latest,
                hostname=None if server is None else _hostname(server),
                ready=ready,
                reason=reason,
                checked_at=now,
            )
        )
    if drill and launch_into:
        verdicts = [
            v.model_copy(
                update={
                    "ready": False,
                    "reason": (
                        f"its launch settings launch it into existing instance "
                        f"{launch_into[v.source_server_id]} (a paired standby) and a drill "
                        "would overwrite it; pass drill_into_paired_instances=True to drill "
                        "it anyway"
                    ),
                }
            )
            if v.ready and v.source_server_id in launch_into
            else v
            for v in verdicts
        ]
    if drill and not replace_recovery_instances:
        verdicts = _refuse_replacing_recoveries(drs, verdicts)
    return ReadinessReport(verdicts)


def _refuse_replacing_recoveries(
    drs: DrsGateway, verdicts: list[ServerReadiness]
) -> list[ServerReadiness]:
    ready = [v.source_server_id for v in verdicts if v.ready]
    if not ready:
        return verdicts
    production = {
        str(ri["sourceServerID"]): str(ri.get("recoveryInstanceID") or ri.get("ec2InstanceID"))
        for ri in drs.describe_recovery_instances(source_server_ids=ready)
        if ri.get("isDrill") is False
        and str(ri.get("ec2InstanceState", "")).upper() not in _GONE_EC2_STATES
    }
    if not production:
        return verdicts
    return [
        v.model_copy(
            update={
                "ready": False,
                "reason": (
                    f"its recovery instance {production[v.source_server_id]} comes from a real "
                    "recovery and a drill would replace it; pass replace_recovery_instances=True "
                    "to drill it anyway"
                ),
            }
        )
        if v.ready and v.source_server_id in production
        else v
        for v in verdicts
    ]
