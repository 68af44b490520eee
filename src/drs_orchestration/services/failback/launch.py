"""Launching back: reversed source servers through a wave execution, or the Failback Client's job.

In AWS a launch back is a recovery (or drill) of the reversed source servers
in their origin, run by :class:`~drs_orchestration.services.waves.WaveExecutor`
— chunked, within the DRS quotas, exactly once — from a recovery plan of
frozen waves that follows the failed-over execution's wave order. Launching
into existing instances (the originals, or explicit pairs) goes through a
protection group per wave whose overrides the
:class:`~drs_orchestration.services.matching.InstanceMatcher` writes, so the
executor's identity check covers the way back too.

Every object is found again after a crash before a new one is made: a group
by its servers' membership claims, the plan by its name (unique to the
launch), the execution by its plan. On premises, ``StartFailbackLaunch`` is
called once per persisted intent; a job whose ID was lost is read from the
recovery instance's ``failback.failbackJobID``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from drs_orchestration.aws.drs import MAX_SERVERS_PER_CALL, chunked
from drs_orchestration.errors import (
    AwsApiError,
    AwsConflictError,
    DrsOrchestrationError,
    InstanceMatchingError,
    JobTimeoutError,
    RecoveryError,
)
from drs_orchestration.models import (
    ErrorRecord,
    Execution,
    FailbackPhase,
    FailbackState,
    MatchRules,
    ServerLaunchStatus,
)
from drs_orchestration.models.matching import CheckName, CheckStatus
from drs_orchestration.services.failback.context import FailbackContext
from drs_orchestration.services.failback.identity import primary_private_ip
from drs_orchestration.services.failback.reverse import fail, grouped
from drs_orchestration.services.group_membership import holder_of, server_claim
from drs_orchestration.services.groups import ProtectionGroupService
from drs_orchestration.services.matching import InstanceMatcher
from drs_orchestration.services.plans import RecoveryPlanService
from drs_orchestration.services.waves.chunks import MANAGED_BY, tag_value

if TYPE_CHECKING:
    from drs_orchestration.services.waves import WaveExecutor

__all__ = [
    "FAILBACK_LAUNCH_TAG",
    "FAILBACK_OF_TAG",
    "LaunchServices",
    "advance_in_aws",
    "advance_on_premises",
    "check_pairs",
]

logger = logging.getLogger(__name__)

FAILBACK_OF_TAG = "FailbackOf"
"""The job tag naming the execution a failback launch brings back."""
FAILBACK_LAUNCH_TAG = "FailbackLaunch"
"""The job tag naming the launch (``fl-...``)."""


class LaunchServices:
    """The services a launch back uses (shared with the coordinator)."""

    def __init__(
        self,
        waves: WaveExecutor,
        plans: RecoveryPlanService,
        groups: ProtectionGroupService,
        matcher: InstanceMatcher,
    ) -> None:
        self.waves = waves
        self.plans = plans
        self.groups = groups
        self.matcher = matcher


# ---- choosing targets -----------------------------------------------------------------


def _allowed_failures(add_tag: bool) -> Callable[[Any], bool]:
    def refused(check: Any) -> bool:
        return check.status is CheckStatus.FAIL and not (
            add_tag and check.name is CheckName.LAUNCH_INTO_TAG
        )

    return refused


def check_pairs(
    ctx: FailbackContext,
    matcher: InstanceMatcher,
    states: Sequence[FailbackState],
    targets: Mapping[str, str],
    *,
    add_tag: bool,
) -> None:
    """Check each reversed server can be launched into its target, with the matcher's checks.

    ``targets`` maps source server IDs (the original ones) to instances.

    Raises:
        InstanceMatchingError: naming each server whose pair fails a check (or
            is not made), with the reasons; nothing is written.
    """
    refused = _allowed_failures(add_tag)
    reasons: dict[str, str] = {}
    chosen = [s for s in states if s.source_server_id in targets]
    for (region, account_id), members in grouped(
        chosen, lambda s: (str(s.reversed_region), s.reversed_account_id)
    ).items():
        by_reversed = {str(s.reversed_source_server_id): s for s in members}
        report = matcher.match(
            source_server_ids=sorted(by_reversed),
            region=region,
            account=ctx.reach(account_id, members[0].account),
            rules=MatchRules(
                explicit_pairs={r: targets[s.source_server_id] for r, s in by_reversed.items()},
                original_instance=False,
                name_tag=False,
            ),
        )
        paired = {p.source_server_id: p for p in report.pairs}
        for reversed_id, state in by_reversed.items():
            pair = paired.get(reversed_id)
            if pair is None:
                unmatched = {u.source_server_id: u.reason for u in report.unmatched_sources}
                reasons[state.source_server_id] = unmatched.get(reversed_id, "not paired")
                continue
            failures = [c for c in pair.checks if refused(c)]
            if failures:
                reasons[state.source_server_id] = "; ".join(
                    f"{c.name.value}: {c.message}" for c in failures
                )
    if reasons:
        raise InstanceMatchingError(
            "cannot launch back into the chosen instances: "
            + "; ".join(f"{sid}: {why}" for sid, why in sorted(reasons.items())),
            details={"servers": reasons},
        )


# ---- in AWS -------------------------------------------------------------------------------


def _wave_specs(
    execution: Execution, members: Sequence[FailbackState]
) -> list[tuple[str, list[FailbackState]]]:
    """The launch's waves: the execution's wave order, split where origins differ."""
    specs: list[tuple[str, list[FailbackState]]] = []
    for run in execution.waves:
        in_wave = [m for m in members if m.wave_name == run.wave_name]
        places = grouped(in_wave, lambda s: (str(s.reversed_region), s.reversed_account_id))
        for (region, account_id), group in places.items():
            name = run.wave_name if len(places) == 1 else f"{run.wave_name} {region}"
            if account_id and len(places) > 1:
                name += f" {account_id}"
            specs.append((name[:128], group))
    return specs


def _ensure_groups(
    ctx: FailbackContext,
    services: LaunchServices,
    execution: Execution,
    members: list[FailbackState],
    add_tag: bool,
) -> None:
    """One protection group per launch wave, launching each server into its target."""
    launch = members[0].launch
    assert launch is not None
    for wave_name, group in _wave_specs(execution, members):
        reversed_ids = [str(s.reversed_source_server_id) for s in group]
        first = group[0]
        account = ctx.reach(first.reversed_account_id, first.account)
        held = holder_of(ctx.storage.claims.find(server_claim(reversed_ids[0])))
        if held is not None:
            group_id = held  # made by a step that did not live to record it
        else:
            group_id = services.groups.create(
                f"{launch.plan_name} {wave_name}"[:256],
                str(first.reversed_region),
                server_ids=reversed_ids,
                account=account,
                description=f"failback of execution {execution.execution_id}",
            ).group_id
        pairs = {
            str(s.reversed_source_server_id): str(s.launch_into_instance_id)
            for s in group
            if s.launch_into_instance_id is not None
        }
        applied: set[str] = set()
        skipped: dict[str, str] = {}
        if pairs:
            report = services.matcher.match(
                group_id=group_id,
                rules=MatchRules(explicit_pairs=pairs, original_instance=False, name_tag=False),
            )
            try:
                result = services.matcher.apply(report, add_tag=add_tag)
            except InstanceMatchingError as exc:
                skipped = dict(exc.details.get("skipped") or {})
            else:
                applied = {p.source_server_id for p in result.paired}
                skipped = {s.source_server_id: s.reason for s in result.skipped}
        for state in group:
            assert state.launch is not None
            state.launch.group_id = group_id
            wanted = state.launch_into_instance_id is not None
            if wanted and str(state.reversed_source_server_id) not in applied:
                why = skipped.get(str(state.reversed_source_server_id), "the pair was not applied")
                fail(
                    ctx,
                    state,
                    InstanceMatchingError(
                        f"cannot launch {state.source_server_id} back into "
                        f"{state.launch_into_instance_id}: {why}",
                        details={"sourceServerId": state.source_server_id},
                    ),
                )
    ctx.save_all(members)


def _ensure_plan(
    ctx: FailbackContext,
    services: LaunchServices,
    execution: Execution,
    members: list[FailbackState],
) -> None:
    launch = members[0].launch
    assert launch is not None
    found = next((p for p in services.plans.list() if p.name == launch.plan_name), None)
    if found is None:
        waves: list[dict[str, Any]] = []
        for name, group in _wave_specs(execution, members):
            group_launch = group[0].launch
            if launch.into_original and group_launch is not None:
                waves.append(
                    {"name": name, "protectionGroupIds": [group_launch.group_id], "frozen": True}
                )
                continue
            first = group[0]
            account = ctx.reach(first.reversed_account_id, first.account)
            waves.append(
                {
                    "name": name,
                    "serverIds": [str(s.reversed_source_server_id) for s in group],
                    "region": first.reversed_region,
                    **({"account": account} if account is not None else {}),
                }
            )
        found = services.plans.create(
            launch.plan_name,
            waves,
            description=f"failback of execution {execution.execution_id}",
        )
    for state in members:
        assert state.launch is not None
        state.launch.plan_id = found.plan_id
    ctx.save_all(members)


def _ensure_execution(
    ctx: FailbackContext, services: LaunchServices, members: list[FailbackState]
) -> None:
    launch = members[0].launch
    assert launch is not None
    assert launch.plan_id is not None
    existing = ctx.storage.executions.list_for_plan(launch.plan_id)
    if existing:
        execution_id = min(existing, key=lambda e: e.created_at).execution_id
    else:
        execution_id = services.waves.start(
            launch.plan_id,
            drill=launch.drill,
            drill_into_paired_instances=launch.into_original and launch.drill,
            started_by=f"failback of {members[0].execution_id}",
        ).execution_id
    for state in members:
        assert state.launch is not None
        state.launch.execution_id = execution_id
        ctx.record(state, "launch_started", f"execution {execution_id}")
    ctx.save_all(members)


def _finish_in_aws(ctx: FailbackContext, launched: Execution, members: list[FailbackState]) -> None:
    outcomes = launched.outcomes()
    ips: dict[str, str | None] = {}
    done = [
        m
        for m in members
        if (o := outcomes.get(str(m.reversed_source_server_id))) is not None
        and o.status is ServerLaunchStatus.LAUNCHED
        and o.recovery_instance_id
    ]
    for (region, account_id), group in grouped(
        done, lambda s: (str(s.reversed_region), s.reversed_account_id)
    ).items():
        ids = [str(outcomes[str(s.reversed_source_server_id)].recovery_instance_id) for s in group]
        try:
            found = ctx.drs(region, ctx.reach(account_id, group[0].account))
            for ri in found.describe_recovery_instances(recovery_instance_ids=ids):
                ips[str(ri["recoveryInstanceID"])] = primary_private_ip(ri)
        except DrsOrchestrationError as exc:
            if exc.retryable:
                raise
            logger.warning("could not read the failed-back instances' IPs", exc_info=True)
    for state in members:
        if state.phase is FailbackPhase.FAILED:
            continue
        outcome = outcomes.get(str(state.reversed_source_server_id))
        if outcome is None or outcome.status is not ServerLaunchStatus.LAUNCHED:
            status = outcome.status.value if outcome is not None else "NOT_IN_EXECUTION"
            why = outcome.error.message if outcome is not None and outcome.error else status
            fail(
                ctx,
                state,
                RecoveryError(
                    f"launching {state.source_server_id} back ended {status}: {why}",
                    details={"executionId": launched.execution_id, "status": status},
                ),
            )
            continue
        state.phase = FailbackPhase.COMPLETED
        state.failback_recovery_instance_id = outcome.recovery_instance_id
        state.failback_ec2_instance_id = outcome.ec2_instance_id
        identity = outcome.identity
        state.failback_private_ip = (
            identity.recovery_private_ip
            if identity is not None and identity.recovery_private_ip
            else ips.get(str(outcome.recovery_instance_id))
        )
        state.launched_into_original = (
            state.original_instance_id is not None
            and outcome.ec2_instance_id == state.original_instance_id
        )
        if identity is not None and not identity.verified and identity.error is not None:
            state.warnings.append(f"launch back: {identity.error.message}")
        ctx.record(
            state,
            "failed_back",
            f"{'drill ' if state.launch and state.launch.drill else ''}instance "
            f"{outcome.ec2_instance_id} in {state.reversed_region}",
        )
    ctx.save_all(members)


def advance_in_aws(
    ctx: FailbackContext,
    services: LaunchServices,
    execution: Execution,
    members: list[FailbackState],
) -> None:
    """Take one in-AWS launch (its servers, all ``LAUNCHING``) one unit further."""
    launch = members[0].launch
    assert launch is not None
    if launch.into_original and any(m.launch and m.launch.group_id is None for m in members):
        _ensure_groups(ctx, services, execution, members, launch.add_tag)
        return
    members = [m for m in members if m.phase is FailbackPhase.LAUNCHING]
    if not members:
        return
    if launch.plan_id is None:
        _ensure_plan(ctx, services, execution, members)
        return
    if launch.execution_id is None:
        _ensure_execution(ctx, services, members)
        return
    result = services.waves.step(launch.execution_id)
    ctx.progressed = ctx.progressed or result.progressed
    if result.status.is_terminal:
        _finish_in_aws(ctx, result.execution, members)


# ---- on premises ----------------------------------------------------------------------


def _job_tags(state: FailbackState) -> dict[str, str]:
    assert state.launch is not None
    return {
        FAILBACK_OF_TAG: state.execution_id,
        FAILBACK_LAUNCH_TAG: state.launch.launch_id,
        "ManagedBy": MANAGED_BY,
        "Wave": tag_value(state.wave_name),
    }


def _start_jobs(ctx: FailbackContext, members: list[FailbackState]) -> None:
    for (region, _), group in grouped(members, lambda s: (s.region, s.account_id)).items():
        drs = ctx.drs(region, group[0].account)
        for chunk in chunked(group, MAX_SERVERS_PER_CALL // 2):
            for state in chunk:
                assert state.launch is not None
                state.launch.start_requested_at = ctx.now()
            # The intent reaches storage first: a crash after the call leaves a trace that
            # makes the next step read the job from DRS instead of starting another.
            stored = ctx.save_all(chunk)
            try:
                job = drs.start_failback_launch(
                    [s.recovery_instance_id for s in stored], tags=_job_tags(stored[0])
                )
            except DrsOrchestrationError as exc:
                for state in stored:
                    state.error = ErrorRecord.from_exception(exc, at=ctx.now())
                    if not (isinstance(exc, AwsApiError) and exc.maybe_applied) and (
                        exc.retryable or isinstance(exc, AwsConflictError)
                    ):
                        assert state.launch is not None
                        state.launch.start_requested_at = None
                ctx.save_all(stored)
                return
            for state in stored:
                assert state.launch is not None
                state.launch.job_id = job["jobID"]
                state.error = None
                ctx.record(state, "launch_started", f"job {job['jobID']}")
            ctx.save_all(stored)


def _find_jobs(ctx: FailbackContext, members: list[FailbackState]) -> bool:
    """Record jobs whose IDs were lost; return whether any was found."""
    found_any = False
    for (region, _), group in grouped(members, lambda s: (s.region, s.account_id)).items():
        drs = ctx.drs(region, group[0].account)
        instances = {
            str(ri["recoveryInstanceID"]): ri
            for ri in drs.describe_recovery_instances(
                recovery_instance_ids=[s.recovery_instance_id for s in group]
            )
        }
        for state in group:
            job_id = ((instances.get(state.recovery_instance_id) or {}).get("failback") or {}).get(
                "failbackJobID"
            )
            if job_id and state.launch is not None:
                state.launch.job_id = str(job_id)
                found_any = True
    if found_any:
        ctx.save_all(members)
    return found_any


def advance_on_premises(ctx: FailbackContext, members: list[FailbackState]) -> None:
    """Take one on-premises launch (its servers, all ``LAUNCHING``) one unit further."""
    now = ctx.now()
    waiting = [m for m in members if m.launch is not None and m.launch.job_id is None]
    if waiting:
        asked = [m for m in waiting if m.launch and m.launch.start_requested_at is not None]
        if asked:
            if _find_jobs(ctx, asked):
                return
            lease = ctx.settings.reverse_lease
            if any(
                m.launch
                and m.launch.start_requested_at
                and now < m.launch.start_requested_at + lease
                for m in asked
            ):
                return
        _start_jobs(ctx, waiting)
        return
    launch = members[0].launch
    assert launch is not None
    job_ids = sorted({str(m.launch.job_id) for m in members if m.launch and m.launch.job_id})
    jobs: dict[str, Mapping[str, Any]] = {}
    for (region, _), group in grouped(members, lambda s: (s.region, s.account_id)).items():
        drs = ctx.drs(region, group[0].account)
        mine = sorted({str(s.launch.job_id) for s in group if s.launch and s.launch.job_id})
        jobs.update({str(j["jobID"]): j for j in drs.describe_jobs(job_ids=mine)})
    changed: list[FailbackState] = []
    deadline = launch.requested_at + ctx.settings.launch_timeout
    for state in members:
        assert state.launch is not None
        job = jobs.get(str(state.launch.job_id))
        if job is None or job.get("status") != "COMPLETED":
            if now >= deadline:
                fail(
                    ctx,
                    state,
                    JobTimeoutError(
                        f"failback job {state.launch.job_id} of {state.source_server_id} did "
                        f"not complete within {ctx.settings.launch_timeout.total_seconds():g} s",
                        details={"jobId": state.launch.job_id, "jobIds": job_ids},
                    ),
                )
                changed.append(state)
            continue
        entry: Mapping[str, Any] = next(
            (
                p
                for p in job.get("participatingServers", [])
                if p.get("recoveryInstanceID") == state.recovery_instance_id
                or p.get("sourceServerID") == state.source_server_id
            ),
            {},
        )
        if entry.get("launchStatus") == "LAUNCHED":
            state.phase = FailbackPhase.COMPLETED
            ctx.record(state, "failed_back", f"job {state.launch.job_id}")
        else:
            fail(
                ctx,
                state,
                RecoveryError(
                    f"failback job {state.launch.job_id} ended with {state.source_server_id} "
                    f"{entry.get('launchStatus', 'not in the job')}",
                    details={"jobId": state.launch.job_id},
                ),
            )
        changed.append(state)
    if changed:
        ctx.save_all(changed)
