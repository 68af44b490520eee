"""After the launch back: re-protect the failed-back instances, then clean up. Both opt-in.

Re-protection is ``ReverseReplication`` on the failed-back instance in the
origin: DRS replicates it to the recovery region again (into the original
source server). Clean-up stops the replication of the temporary source
server that carried the data back (``StopReplication``; its snapshots go)
and terminates the old recovery instance (``TerminateRecoveryInstances``).
Each is asked for by the coordinator (an intent on the server's record) and
done by its steps; the non-idempotent calls are made once per intent and
looked for in DRS before any second call, like the reversal itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.errors import (
    AwsApiError,
    AwsConflictError,
    DrsOrchestrationError,
    RecoveryError,
    ReplicationTimeoutError,
)
from drs_orchestration.models import ErrorRecord, FailbackState, FailbackStep
from drs_orchestration.services.failback.context import FailbackContext
from drs_orchestration.services.failback.reverse import grouped
from drs_orchestration.services.matching.discovery import ServerArn, parse_server_arn

__all__ = ["advance_cleanup", "advance_reprotect", "pending_step"]

_STOPPED = frozenset({"STOPPED", "DISCONNECTED"})


def pending_step(step: FailbackStep | None) -> bool:
    """Whether a requested step still has work to do."""
    return step is not None and not step.done and step.error is None


def _origin(ctx: FailbackContext, state: FailbackState) -> DrsGateway:
    """DRS where the server failed back to (the reversed source server's region and account)."""
    return ctx.drs(str(state.reversed_region), ctx.reach(state.reversed_account_id, state.account))


def _step_failed(
    ctx: FailbackContext, state: FailbackState, step: FailbackStep, error: Any
) -> None:
    step.error = ErrorRecord.from_exception(error, at=ctx.now())
    ctx.record(state, "step_failed", step.error.message)


# ---- re-protection ----------------------------------------------------------------------


def _reprotected_arn(ctx: FailbackContext, state: FailbackState) -> str | None:
    """The re-protecting server's ARN, if DRS shows one replicating the failed-back instance."""
    origin = _origin(ctx, state)
    servers = origin.describe_source_servers(
        source_server_ids=[str(state.reversed_source_server_id)]
    )
    arn = servers[0].get("reversedDirectionSourceServerArn") if servers else None
    parsed = parse_server_arn(arn)
    if arn is None or parsed is None:
        return None
    target = ctx.drs(parsed.region, ctx.reach(parsed.account_id, state.account))
    found = target.describe_source_servers(source_server_ids=[parsed.source_server_id])
    hints = (
        ((found[0].get("sourceProperties") or {}).get("identificationHints") or {}) if found else {}
    )
    return arn if hints.get("awsInstanceID") == state.failback_ec2_instance_id else None


def _call_reprotect(ctx: FailbackContext, state: FailbackState, step: FailbackStep) -> None:
    step.attempts += 1
    step.requested_at = ctx.now()
    state = ctx.save(state)
    saved = state.reprotect
    assert saved is not None
    step = saved
    try:
        arn = _origin(ctx, state).reverse_replication(str(state.failback_recovery_instance_id))
    except DrsOrchestrationError as exc:
        if isinstance(exc, AwsApiError) and (
            exc.maybe_applied or isinstance(exc, AwsConflictError)
        ):
            ctx.save(state)  # maybe reversed: the next step looks in DRS first
            return
        if exc.retryable:
            step.attempts -= 1  # throttled: nothing happened
            ctx.save(state)
            return
        _step_failed(ctx, state, step, exc)
        ctx.save(state)
        return
    step.reversed_source_server_arn = arn
    ctx.record(state, "reprotect_started", arn)
    ctx.save(state)


def _resolve_reprotect(ctx: FailbackContext, state: FailbackState, step: FailbackStep) -> None:
    origin = _origin(ctx, state)
    found = origin.describe_recovery_instances(
        recovery_instance_ids=[str(state.failback_recovery_instance_id)]
    )
    failback: Mapping[str, Any] = (found[0].get("failback") or {}) if found else {}
    if failback.get("state") not in (None, "FAILBACK_NOT_STARTED"):
        arn = _reprotected_arn(ctx, state)
        if arn is not None:
            step.reversed_source_server_arn = arn
            ctx.record(state, "reprotect_started", arn)
        else:
            _step_failed(
                ctx,
                state,
                step,
                RecoveryError(
                    f"re-protection of {state.failback_recovery_instance_id} was started but the "
                    "server it replicates to cannot be identified; find it in DRS. The library "
                    "does not reverse replication a second time",
                ),
            )
        ctx.save(state)
        return
    assert step.requested_at is not None
    lease = max(ctx.settings.reverse_lease, timedelta(seconds=origin.request_flight_bound_s()))
    if ctx.now() < step.requested_at + lease:
        return
    if step.attempts >= ctx.settings.max_reverse_attempts:
        _step_failed(
            ctx,
            state,
            step,
            RecoveryError(
                f"ReverseReplication of {state.failback_recovery_instance_id} took no effect in "
                f"{step.attempts} attempt(s); ask for re-protection again"
            ),
        )
        ctx.save(state)
        return
    _call_reprotect(ctx, state, step)


def advance_reprotect(ctx: FailbackContext, states: Sequence[FailbackState]) -> None:
    """One unit of re-protection: the first server to call or resolve, else follow them all."""
    for state in states:
        step = state.reprotect
        assert step is not None
        if step.reversed_source_server_arn is None:
            if step.attempts == 0:
                _call_reprotect(ctx, state, step)
            else:
                _resolve_reprotect(ctx, state, step)
            return
    _follow_reprotect(ctx, states)


def _follow_reprotect(ctx: FailbackContext, states: Sequence[FailbackState]) -> None:
    now = ctx.now()
    targets: dict[str, ServerArn] = {}
    for state in states:
        parsed = parse_server_arn(
            state.reprotect.reversed_source_server_arn if state.reprotect else None
        )
        if parsed is not None:
            targets[state.recovery_instance_id] = parsed
    changed: list[FailbackState] = []
    for (region, account_id), group in grouped(
        [s for s in states if s.recovery_instance_id in targets],
        lambda s: (
            targets[s.recovery_instance_id].region,
            targets[s.recovery_instance_id].account_id,
        ),
    ).items():
        drs = ctx.drs(region, ctx.reach(account_id, group[0].account))
        ids = [targets[s.recovery_instance_id].source_server_id for s in group]
        found = {
            str(s["sourceServerID"]): s for s in drs.describe_source_servers(source_server_ids=ids)
        }
        for state in group:
            step = state.reprotect
            assert step is not None
            server = found.get(targets[state.recovery_instance_id].source_server_id) or {}
            replication = (server.get("dataReplicationInfo") or {}).get("dataReplicationState")
            before = (step.replication_state, step.done_at, step.error)
            step.replication_state = str(replication) if replication else None
            if replication == "CONTINUOUS":
                step.done_at = now
                ctx.record(state, "reprotected", "replicating to the recovery region again")
            elif step.requested_at and now >= step.requested_at + ctx.settings.replication_timeout:
                _step_failed(
                    ctx,
                    state,
                    step,
                    ReplicationTimeoutError(
                        f"re-protection of {state.source_server_id} did not reach CONTINUOUS "
                        f"within {ctx.settings.replication_timeout.total_seconds():g} s "
                        f"(last seen {replication or 'nowhere'}); check the failed-back "
                        "instance's network path to the recovery region's replication servers"
                    ),
                )
            if before != (step.replication_state, step.done_at, step.error):
                changed.append(state)
    if changed:
        ctx.save_all(changed)


# ---- clean-up -----------------------------------------------------------------------------


def _stop_replication(ctx: FailbackContext, state: FailbackState, step: FailbackStep) -> None:
    origin = _origin(ctx, state)
    sid = str(state.reversed_source_server_id)
    found = origin.describe_source_servers(source_server_ids=[sid])
    current = ((found[0].get("dataReplicationInfo") or {}) if found else {}).get(
        "dataReplicationState"
    )
    if not found or current in _STOPPED:
        step.done_at = ctx.now()
        ctx.record(state, "replication_stopped", f"{sid} is {current or 'gone'}")
        ctx.save(state)
        return
    step.attempts += 1
    step.requested_at = ctx.now()
    try:
        origin.stop_replication(sid)
    except DrsOrchestrationError as exc:
        if not exc.retryable and not isinstance(exc, AwsConflictError):
            _step_failed(ctx, state, step, exc)
        ctx.save(state)  # a conflict or a retryable error: read the state again next step
        return
    step.done_at = ctx.now()
    ctx.record(state, "replication_stopped", sid)
    ctx.save(state)


def _terminate(ctx: FailbackContext, states: Sequence[FailbackState]) -> None:
    """Start (once) or find the TERMINATE jobs of the old recovery instances, or follow them."""
    now = ctx.now()
    for (region, _), group in grouped(states, lambda s: (s.region, s.account_id)).items():
        drs = ctx.drs(region, group[0].account)
        live = {
            str(ri["recoveryInstanceID"]): ri
            for ri in drs.describe_recovery_instances(
                recovery_instance_ids=[s.recovery_instance_id for s in group]
            )
        }
        changed: list[FailbackState] = []
        to_start: list[FailbackState] = []
        for state in group:
            step = state.terminate
            assert step is not None
            if state.recovery_instance_id not in live:
                step.done_at = now
                ctx.record(state, "terminated", state.recovery_instance_id)
                changed.append(state)
            elif step.job_id is None:
                if (
                    step.attempts
                    and step.requested_at
                    and now
                    < step.requested_at
                    + max(
                        ctx.settings.reverse_lease,
                        timedelta(seconds=drs.request_flight_bound_s()),
                    )
                ):
                    continue  # a request may still be in flight, or its job still pending
                found_job = _job_terminating(drs, state, since=step.requested_at)
                if found_job is not None:
                    step.job_id = found_job
                    changed.append(state)
                elif step.attempts >= ctx.settings.max_reverse_attempts:
                    _step_failed(
                        ctx,
                        state,
                        step,
                        RecoveryError(
                            f"TerminateRecoveryInstances of {state.recovery_instance_id} took "
                            f"no effect in {step.attempts} attempt(s)"
                        ),
                    )
                    changed.append(state)
                else:
                    to_start.append(state)
        if changed:
            ctx.save_all(changed)
            return
        if to_start:
            for state in to_start:
                assert state.terminate is not None
                state.terminate.attempts += 1
                state.terminate.requested_at = now
            stored = ctx.save_all(to_start)
            try:
                job = drs.terminate_recovery_instances([s.recovery_instance_id for s in stored])
            except DrsOrchestrationError as exc:
                for state in stored:
                    assert state.terminate is not None
                    if not exc.retryable and not isinstance(exc, AwsConflictError):
                        _step_failed(ctx, state, state.terminate, exc)
                ctx.save_all(stored)
                return
            for state in stored:
                assert state.terminate is not None
                state.terminate.job_id = job["jobID"]
                ctx.record(state, "terminating", job["jobID"])
            ctx.save_all(stored)
            return


def _job_terminating(drs: DrsGateway, state: FailbackState, *, since: Any) -> str | None:
    """A TERMINATE job (created since the request) holding the recovery instance, if any."""
    if since is None:
        return None
    for job in drs.describe_jobs(from_date=since - timedelta(minutes=5)):
        if job.get("type") != "TERMINATE":
            continue
        if any(
            p.get("recoveryInstanceID") == state.recovery_instance_id
            for p in job.get("participatingServers", [])
        ):
            return str(job["jobID"])
    return None


def advance_cleanup(ctx: FailbackContext, states: Sequence[FailbackState]) -> None:
    """One unit of clean-up: stop one temporary server's replication, or the terminations."""
    for state in states:
        if pending_step(state.stop_replication):
            assert state.stop_replication is not None
            _stop_replication(ctx, state, state.stop_replication)
            return
    terminating = [s for s in states if pending_step(s.terminate)]
    if terminating:
        _terminate(ctx, terminating)
