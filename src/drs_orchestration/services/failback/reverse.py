"""Replicating back: install (when asked), reverse once, follow until caught up or timed out.

In AWS, ``ReverseReplication`` on the recovery instance makes DRS replicate it
to a source server in its origin (``replicationDirection=FAILBACK``); that
server's replication is followed until it is ``CONTINUOUS`` with a lag under
the threshold. On premises, the Failback Client (installed by the user's
hook) replicates the recovery instance to the machine; its ``failback.state``
is followed until ``FAILBACK_READY_FOR_LAUNCH``.

``ReverseReplication`` has no client token, so it is called at most once per
persisted intent (``reverse_requested_at``). A server found with an intent
and no recorded ARN is first looked for in DRS: a recovery instance whose
``failback.state`` moved on was reversed, and its source server's
``reversedDirectionSourceServerArn`` names the reversed server (accepted only
when that server replicates this very instance). Only when DRS shows nothing,
after the longest time the request could still be in flight, is it sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from drs_orchestration.aws.drs import parse_drs_duration
from drs_orchestration.errors import (
    AgentInstallationError,
    AwsApiError,
    AwsConflictError,
    DrsOrchestrationError,
    RecoveryError,
    ReplicationTimeoutError,
)
from drs_orchestration.models import (
    ErrorRecord,
    FailbackMode,
    FailbackPhase,
    FailbackState,
)
from drs_orchestration.services.failback.context import FailbackContext
from drs_orchestration.services.failback.installer import AgentInstallRequest, run_installer
from drs_orchestration.services.matching.discovery import parse_server_arn

__all__ = ["begin", "fail", "grouped", "lag_text", "poll_replication", "resolve_reverse"]

_GONE = frozenset({"STOPPED", "DISCONNECTED"})


def fail(ctx: FailbackContext, state: FailbackState, error: DrsOrchestrationError) -> None:
    """Mark a server failed with ``error`` (recorded with its code and details)."""
    state.phase = FailbackPhase.FAILED
    state.error = ErrorRecord.from_exception(error, at=ctx.now())
    ctx.record(state, "failed", error.message)


def lag_text(lag_s: float | None) -> str:
    """A lag for people (``lag 5 s``, ``lag 12 min``, ``lag 2.0 h``, ``lag unknown``)."""
    if lag_s is None:
        return "lag unknown"
    if lag_s < 120:
        return f"lag {lag_s:.0f} s"
    if lag_s < 7200:
        return f"lag {lag_s / 60:.0f} min"
    return f"lag {lag_s / 3600:.1f} h"


def _needs_install(ctx: FailbackContext, state: FailbackState) -> bool:
    if state.agent_installed_at is not None:
        return False
    return state.mode is FailbackMode.ON_PREMISES or ctx.settings.install_agent is not None


def _install(ctx: FailbackContext, state: FailbackState) -> FailbackState:
    installer = ctx.settings.install_agent
    assert installer is not None
    state.agent_install_started_at = ctx.now()
    state = ctx.save(state)
    request = AgentInstallRequest(
        kind="failback-client" if state.mode is FailbackMode.ON_PREMISES else "replication-agent",
        execution_id=state.execution_id,
        source_server_id=state.source_server_id,
        recovery_instance_id=state.recovery_instance_id,
        ec2_instance_id=state.ec2_instance_id,
        region=state.region,
        account_id=state.account_id,
        timeout_s=ctx.settings.install_timeout_s,
    )
    try:
        run_installer(installer, request)
    except AgentInstallationError as exc:
        fail(ctx, state, exc)
        return ctx.save(state)
    state.agent_installed_at = ctx.now()
    state.error = None
    ctx.record(state, "agent_installed", request.kind)
    return ctx.save(state)


def begin(ctx: FailbackContext, state: FailbackState) -> None:
    """Take a server that has not started replicating back one unit further.

    One unit: install what it needs (the hook), or — once installed —
    start replicating back (``ReverseReplication`` in AWS; on premises the
    Failback Client replicates on its own once installed).
    """
    now = ctx.now()
    if _needs_install(ctx, state):
        _install(ctx, state)
        return
    state.phase = FailbackPhase.REVERSE_REPLICATING
    state.deadline = state.deadline or now + ctx.settings.replication_timeout
    if state.mode is FailbackMode.ON_PREMISES:
        ctx.record(state, "replicating_back", "the Failback Client replicates the instance back")
        ctx.save(state)
        return
    state.reverse_requested_at = now
    state.reverse_attempts += 1
    # The intent reaches storage before the call: a crash after it makes the next
    # step look for the reversal in DRS instead of reversing a second time.
    state = ctx.save(state)
    _reverse(ctx, state)


def _reverse(ctx: FailbackContext, state: FailbackState) -> None:
    drs = ctx.drs(state.region, state.account)
    try:
        arn = drs.reverse_replication(state.recovery_instance_id)
    except DrsOrchestrationError as exc:
        state.error = ErrorRecord.from_exception(exc, at=ctx.now())
        if isinstance(exc, AwsApiError) and (
            exc.maybe_applied or isinstance(exc, AwsConflictError)
        ):
            # It may have taken effect (or DRS says a reversal runs): keep the intent,
            # so the next step looks in DRS before anything is sent again.
            ctx.save(state)
            return
        if exc.retryable:
            state.reverse_requested_at = None  # throttled: DRS did nothing, try again later
            ctx.save(state)
            return
        fail(ctx, state, exc)
        ctx.save(state)
        return
    if not _record_arn(ctx, state, arn):
        fail(
            ctx,
            state,
            RecoveryError(
                f"ReverseReplication of {state.recovery_instance_id} answered an ARN that "
                f"names no source server ({arn!r})",
                details={"recoveryInstanceId": state.recovery_instance_id, "arn": arn},
            ),
        )
    ctx.save(state)


def _record_arn(ctx: FailbackContext, state: FailbackState, arn: str) -> bool:
    parsed = parse_server_arn(arn)
    if parsed is None:
        return False
    state.reversed_source_server_arn = arn
    state.reversed_source_server_id = parsed.source_server_id
    state.reversed_region = parsed.region
    state.reversed_account_id = parsed.account_id
    state.error = None
    ctx.record(state, "reverse_started", f"replicating back to {parsed.source_server_id}")
    return True


def _reversed_arn(ctx: FailbackContext, state: FailbackState) -> str | None:
    """The reversed server's ARN, read from DRS: only if it replicates this recovery instance."""
    drs = ctx.drs(state.region, state.account)
    servers = drs.describe_source_servers(source_server_ids=[state.source_server_id])
    arn = servers[0].get("reversedDirectionSourceServerArn") if servers else None
    parsed = parse_server_arn(arn)
    if arn is None or parsed is None:
        return None
    where = ctx.drs(parsed.region, ctx.reach(parsed.account_id, state.account))
    found = where.describe_source_servers(source_server_ids=[parsed.source_server_id])
    hints = (
        ((found[0].get("sourceProperties") or {}).get("identificationHints") or {}) if found else {}
    )
    return arn if hints.get("awsInstanceID") == state.ec2_instance_id else None


def resolve_reverse(ctx: FailbackContext, state: FailbackState) -> None:
    """A reversal asked for but not recorded: find it in DRS, or (only then) ask again."""
    drs = ctx.drs(state.region, state.account)
    found = drs.describe_recovery_instances(recovery_instance_ids=[state.recovery_instance_id])
    if not found:
        fail(
            ctx,
            state,
            RecoveryError(
                f"recovery instance {state.recovery_instance_id} is no longer known to DRS; "
                "there is nothing to replicate back",
                details={"recoveryInstanceId": state.recovery_instance_id},
            ),
        )
        ctx.save(state)
        return
    failback: Mapping[str, Any] = found[0].get("failback") or {}
    drs_state = failback.get("state")
    state.drs_failback_state = str(drs_state) if drs_state else None
    if drs_state and drs_state != "FAILBACK_NOT_STARTED":
        arn = _reversed_arn(ctx, state)
        if arn is not None and _record_arn(ctx, state, arn):
            ctx.save(state)
            return
        fail(
            ctx,
            state,
            RecoveryError(
                f"reverse replication of {state.recovery_instance_id} was started (its failback "
                f"state is {drs_state}) but the source server replicating it back cannot be "
                f"identified from source server {state.source_server_id}'s "
                "reversedDirectionSourceServerArn; find it in DRS in the origin region. The "
                "library does not reverse replication a second time",
                details={
                    "recoveryInstanceId": state.recovery_instance_id,
                    "failbackState": drs_state,
                },
            ),
        )
        ctx.save(state)
        return
    assert state.reverse_requested_at is not None
    lease = max(ctx.settings.reverse_lease, timedelta(seconds=drs.request_flight_bound_s()))
    if ctx.now() < state.reverse_requested_at + lease:
        return  # the last request may still be in flight: wait before sending another
    if state.reverse_attempts >= ctx.settings.max_reverse_attempts:
        last = state.error.message if state.error else "no error was recorded"
        fail(
            ctx,
            state,
            RecoveryError(
                f"ReverseReplication of {state.recovery_instance_id} took no effect in "
                f"{state.reverse_attempts} attempt(s) (last: {last}); check the instance and "
                "start the failback of this server again",
                details={"recoveryInstanceId": state.recovery_instance_id},
            ),
        )
        ctx.save(state)
        return
    state.reverse_requested_at = ctx.now()
    state.reverse_attempts += 1
    state = ctx.save(state)
    _reverse(ctx, state)


def _timeout(ctx: FailbackContext, state: FailbackState) -> ReplicationTimeoutError:
    seconds = ctx.settings.replication_timeout.total_seconds()
    where = (
        f"the reversed source server {state.reversed_source_server_id} in {state.reversed_region}"
        if state.mode is FailbackMode.IN_AWS
        else f"the Failback Client's replication of {state.recovery_instance_id}"
    )
    seen = state.replication_state or "not seen"
    return ReplicationTimeoutError(
        f"replicating {state.source_server_id} back did not catch up within {seconds:g} s: "
        f"{where} is {seen} with {lag_text(state.lag_seconds)} (threshold "
        f"{ctx.settings.max_lag_s:g} s). Check the recovery instance's network path to the "
        "replication servers (TCP 1500 and 443) and its agent, or give it more time "
        "(replication_timeout_s)",
        details={
            "sourceServerId": state.source_server_id,
            "recoveryInstanceId": state.recovery_instance_id,
            "reversedSourceServerId": state.reversed_source_server_id,
            "replicationState": state.replication_state,
            "lagSeconds": state.lag_seconds,
            "maxLagS": ctx.settings.max_lag_s,
            "timeoutS": seconds,
        },
    )


def _observe(
    ctx: FailbackContext,
    state: FailbackState,
    replication: str | None,
    lag: float | None,
    now: datetime,
) -> bool:
    """Apply one reading; return whether it is worth a write.

    A new state or phase is; a lag that merely moved is kept with the next
    write (a poll of a large failback would otherwise write every record).
    """
    before = (state.replication_state, state.phase)
    state.replication_state = replication
    state.lag_seconds = lag
    caught_up = replication == "CONTINUOUS" and lag is not None and lag <= ctx.settings.max_lag_s
    if state.mode is FailbackMode.ON_PREMISES:
        caught_up = state.drs_failback_state == "FAILBACK_READY_FOR_LAUNCH" and (
            lag is None or lag <= ctx.settings.max_lag_s
        )
    if caught_up:
        state.phase = FailbackPhase.READY
        state.ready_at = now
        ctx.record(state, "ready", f"{replication} with {lag_text(lag)}")
    elif replication in _GONE and state.mode is FailbackMode.IN_AWS:
        fail(
            ctx,
            state,
            RecoveryError(
                f"replication back of {state.source_server_id} was stopped: "
                f"{state.reversed_source_server_id} is {replication}; start its failback again",
                details={"reversedSourceServerId": state.reversed_source_server_id},
            ),
        )
    elif state.deadline is not None and now >= state.deadline:
        fail(ctx, state, _timeout(ctx, state))
    return before != (state.replication_state, state.phase)


def poll_replication(ctx: FailbackContext, states: Sequence[FailbackState]) -> None:
    """Read how replicating back goes for ``states``; write what changed.

    One ``DescribeRecoveryInstances`` per region and account of the recovery
    instances, one ``DescribeSourceServers`` per region and account of the
    reversed servers.
    """
    now = ctx.now()
    instances: dict[str, Mapping[str, Any]] = {}
    for (region, _), members in grouped(states, lambda s: (s.region, s.account_id)).items():
        found = ctx.drs(region, members[0].account).describe_recovery_instances(
            recovery_instance_ids=[s.recovery_instance_id for s in members]
        )
        instances.update({str(ri["recoveryInstanceID"]): ri for ri in found})
    reversed_servers: dict[str, Mapping[str, Any]] = {}
    in_aws = [s for s in states if s.mode is FailbackMode.IN_AWS and s.reversed_region]
    for (region, account_id), members in grouped(
        in_aws, lambda s: (str(s.reversed_region), s.reversed_account_id)
    ).items():
        found_servers = ctx.drs(
            region, ctx.reach(account_id, members[0].account)
        ).describe_source_servers(
            source_server_ids=[str(s.reversed_source_server_id) for s in members]
        )
        reversed_servers.update({str(s["sourceServerID"]): s for s in found_servers})
    changed: list[FailbackState] = []
    for state in states:
        instance = instances.get(state.recovery_instance_id) or {}
        failback: Mapping[str, Any] = instance.get("failback") or {}
        drs_state = str(failback["state"]) if failback.get("state") else None
        moved = drs_state != state.drs_failback_state
        state.drs_failback_state = drs_state
        if state.mode is FailbackMode.IN_AWS:
            server = reversed_servers.get(str(state.reversed_source_server_id)) or {}
            info: Mapping[str, Any] = server.get("dataReplicationInfo") or {}
            staging = (server.get("stagingArea") or {}).get("stagingAccountID")
            if staging and staging != state.reversed_staging_account_id:
                state.reversed_staging_account_id = staging
                moved = True
        else:
            # The model types a recovery instance's lagDuration as a date-time:
            # whatever does not read as a duration is an unknown lag.
            info = instance.get("dataReplicationInfo") or {}
        replication = info.get("dataReplicationState")
        lag = parse_drs_duration(info.get("lagDuration"))
        if _observe(ctx, state, str(replication) if replication else None, lag, now) or moved:
            changed.append(state)
    if changed:
        ctx.save_all(changed)


def grouped(
    states: Sequence[FailbackState],
    key: Callable[[FailbackState], tuple[str, str | None]],
) -> dict[tuple[str, str | None], list[FailbackState]]:
    """``states`` by region and account (one describe call each)."""
    groups: dict[tuple[str, str | None], list[FailbackState]] = {}
    for state in states:
        groups.setdefault(key(state), []).append(state)
    return groups
