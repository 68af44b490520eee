"""Starting a failback: which recovered servers can go back, checked before anything is written.

For each server chosen: the execution launched it and DRS still holds its
recovery instance, running (a stopped or terminated instance replicates
nothing); the execution is a real recovery, unless a drill is explicitly
allowed; its origin decides the way back (an EC2-originated server in AWS,
anything else with the Failback Client, which needs the installation hook).
Its source server's staging account and original instance are read from DRS
and recorded, and the failover's identity check is copied: a paired server
whose instance or IP was not kept waits for an acknowledgement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drs_orchestration.errors import ConflictError, ValidationError
from drs_orchestration.models import (
    AccountContext,
    Execution,
    FailbackMode,
    FailbackState,
    ServerLaunchStatus,
    WaveRun,
)
from drs_orchestration.services.failback.context import FailbackContext

__all__ = ["Candidate", "choose", "prepare_states"]

_HEALTHY_EC2 = frozenset({"RUNNING", "PENDING"})


@dataclass(frozen=True)
class Candidate:
    """A recovered server of the execution that takes part in the failback."""

    source_server_id: str
    recovery_instance_id: str
    run: WaveRun


def choose(execution: Execution, servers: Sequence[str] | None) -> list[Candidate]:
    """The execution's recovered servers to fail back (``servers``: these only).

    Raises:
        ValidationError: a named server is not in the execution, or has no
            launched recovery instance (each named, with its status).
    """
    by_server = {sid: run for run in execution.waves for sid in run.servers}
    if servers is None:
        wanted = [
            sid
            for run in execution.waves
            for sid, outcome in run.servers.items()
            if outcome.status is ServerLaunchStatus.LAUNCHED and outcome.recovery_instance_id
        ]
    else:
        if isinstance(servers, str):
            raise ValidationError.for_field("servers", servers, "must be a list of server IDs")
        wanted = list(dict.fromkeys(servers))
    problems: list[dict[str, Any]] = []
    chosen: list[Candidate] = []
    for index, sid in enumerate(wanted):
        run = by_server.get(sid)
        outcome = run.servers[sid] if run is not None else None
        if run is None or outcome is None:
            problems.append(
                {
                    "field": f"servers.{index}",
                    "message": f"is not a server of execution {execution.execution_id}",
                    "value": sid,
                }
            )
        elif outcome.status is not ServerLaunchStatus.LAUNCHED or not outcome.recovery_instance_id:
            problems.append(
                {
                    "field": f"servers.{index}",
                    "message": f"was not launched by the execution (status "
                    f"{outcome.status.value}): there is nothing to fail back",
                    "value": sid,
                }
            )
        else:
            chosen.append(Candidate(sid, outcome.recovery_instance_id, run))
    if problems:
        raise ValidationError(
            "cannot fail back: " + "; ".join(f"{p['value']} {p['message']}" for p in problems),
            problems=problems,
        )
    if not chosen:
        raise ValidationError.for_field(
            "servers",
            servers,
            f"execution {execution.execution_id} launched no server to fail back",
        )
    return chosen


def _by_place(
    candidates: Sequence[Candidate],
) -> dict[tuple[str, str | None], tuple[AccountContext | None, list[Candidate]]]:
    places: dict[tuple[str, str | None], tuple[AccountContext | None, list[Candidate]]] = {}
    for candidate in candidates:
        account = candidate.run.account
        key = (candidate.run.region, account.account_id if account else None)
        places.setdefault(key, (account, []))[1].append(candidate)
    return places


def _hints(server: Mapping[str, Any]) -> Mapping[str, Any]:
    properties: Mapping[str, Any] = server.get("sourceProperties") or {}
    hints: Mapping[str, Any] = properties.get("identificationHints") or {}
    return hints


def prepare_states(
    ctx: FailbackContext,
    execution: Execution,
    candidates: Sequence[Candidate],
    *,
    at: datetime,
) -> list[FailbackState]:
    """Read DRS and build a new record per candidate, or refuse the whole start.

    Raises:
        ValidationError: a server cannot fail back (each named, with the reason
            and what to do); on-premises servers without an installation hook.
        AwsApiError: DRS could not be read.
    """
    problems: list[dict[str, Any]] = []
    states: list[FailbackState] = []
    for (region, _), (account, members) in _by_place(candidates).items():
        drs = ctx.drs(region, account)
        instances = {
            str(ri["recoveryInstanceID"]): ri
            for ri in drs.describe_recovery_instances(
                recovery_instance_ids=[c.recovery_instance_id for c in members]
            )
        }
        servers = {
            str(s["sourceServerID"]): s
            for s in drs.describe_source_servers(
                source_server_ids=[c.source_server_id for c in members]
            )
        }
        for candidate in members:
            instance = instances.get(candidate.recovery_instance_id)
            reason = _unusable(instance)
            if reason is not None:
                problems.append(
                    {
                        "field": f"servers.{candidate.source_server_id}",
                        "message": f"recovery instance {candidate.recovery_instance_id} {reason}",
                        "value": candidate.recovery_instance_id,
                    }
                )
                continue
            assert instance is not None
            server = servers.get(candidate.source_server_id) or {}
            mode = (
                FailbackMode.IN_AWS
                if instance.get("originEnvironment") == "AWS"
                else FailbackMode.ON_PREMISES
            )
            if mode is FailbackMode.ON_PREMISES and ctx.settings.install_agent is None:
                problems.append(
                    {
                        "field": f"servers.{candidate.source_server_id}",
                        "message": "did not originate in EC2, so it fails back through the "
                        "Failback Client; give the coordinator install_agent= (a hook that "
                        "installs it) to fail it back",
                        "value": candidate.recovery_instance_id,
                    }
                )
                continue
            outcome = candidate.run.servers[candidate.source_server_id]
            staging = (server.get("stagingArea") or {}).get("stagingAccountID")
            original = _hints(server).get("awsInstanceID")
            states.append(
                FailbackState(
                    recovery_instance_id=candidate.recovery_instance_id,
                    execution_id=execution.execution_id,
                    wave_name=candidate.run.wave_name,
                    source_server_id=candidate.source_server_id,
                    region=region,
                    account=account,
                    ec2_instance_id=instance.get("ec2InstanceID") or outcome.ec2_instance_id,
                    mode=mode,
                    execution_is_drill=execution.is_drill,
                    original_instance_id=original or None,
                    staging_account_id=staging or None,
                    identity=outcome.identity,
                    created_at=at,
                    updated_at=at,
                )
            )
    if problems:
        raise ValidationError(
            "cannot fail back: " + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            problems=problems,
        )
    return states


def _unusable(instance: Mapping[str, Any] | None) -> str | None:
    if instance is None:
        return "is no longer known to DRS (terminated or deleted)"
    state = str(instance.get("ec2InstanceState") or "NOT_FOUND")
    if state not in _HEALTHY_EC2:
        return f"is {state}: start it (a recovery instance that is not running replicates nothing)"
    replication = (instance.get("dataReplicationInfo") or {}).get("dataReplicationState")
    if replication == "DISCONNECTED":
        return "is disconnected from DRS, which cannot replicate it back"
    return None


def check_owned(existing: Mapping[str, FailbackState], execution_id: str) -> None:
    """Refuse recovery instances whose failback belongs to another execution.

    Raises:
        ConflictError: naming each instance and the execution holding it.
    """
    taken = {
        key: state.execution_id
        for key, state in existing.items()
        if state.execution_id != execution_id
    }
    if taken:
        raise ConflictError(
            "recovery instances already being failed back by another execution: "
            + ", ".join(f"{k} ({v})" for k, v in sorted(taken.items())),
            details={"instances": taken},
        )
