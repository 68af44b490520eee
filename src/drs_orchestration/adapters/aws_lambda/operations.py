"""The operations the Lambda adapter exposes, each once: an HTTP route and a direct-invocation name.

An :class:`Operation` names its parameters' model (from
:mod:`~drs_orchestration.adapters.aws_lambda.requests`), the HTTP method and
path it answers, and the service call it makes. API Gateway events and
direct invocations (``{"operation": "start_execution", ...}``) both end up in
:func:`run_operation`, so a route and its direct twin cannot drift apart.

Operations that change an execution or a failback answer a *summary*
(:func:`execution_summary`, :func:`failback_summary`): what a driver
branches on, small enough for a Step Functions state; the ``get_``
operations answer the whole record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic.alias_generators import to_camel

from drs_orchestration.adapters.aws_lambda.requests import (
    AcknowledgeIpMismatchRequest,
    ApplyLaunchConfigsRequest,
    ApplyMatchesRequest,
    CancelExecutionRequest,
    CleanupFailbackRequest,
    ConfigureFailbackReplicationRequest,
    CreateGroupRequest,
    CreatePlanRequest,
    DeleteGroupRequest,
    DriftRequest,
    ExecutionRef,
    FailbackServerRef,
    FailbackServersRequest,
    GroupRef,
    LaunchFailbackRequest,
    MatchRequest,
    NoParameters,
    PauseExecutionRequest,
    PlanRef,
    PreflightRequest,
    RecoveryInstancesRequest,
    StartExecutionRequest,
    StartFailbackRequest,
    StopFailbackRequest,
    TerminateRequest,
    UnpairRequest,
    UpdateGroupRequest,
    UpdatePlanRequest,
    split_ids,
)
from drs_orchestration.adapters.aws_lambda.responses import to_json_ready
from drs_orchestration.errors import ValidationError
from drs_orchestration.models import Execution, ExecutionType, Failback
from drs_orchestration.models.base import DrsModel

if TYPE_CHECKING:
    from drs_orchestration.services import Orchestrator

__all__ = [
    "OPERATIONS",
    "Invocation",
    "Operation",
    "available_operations",
    "execution_summary",
    "failback_summary",
    "run_operation",
]


@dataclass
class Invocation:
    """What an operation knows about the call it serves.

    Attributes:
        caller: Who called (the API Gateway principal, or ``None`` for a direct call).
        request_id: The Lambda request ID.
        counters: Metric name → value added by operations (cache misses...).
    """

    caller: str | None = None
    request_id: str | None = None
    counters: dict[str, float] = field(default_factory=dict)

    def count(self, name: str, value: float = 1) -> None:
        """Add ``value`` to the counter ``name``."""
        self.counters[name] = self.counters.get(name, 0) + value


Runner = Callable[["Orchestrator", Any, Invocation], Any]


@dataclass(frozen=True)
class Operation:
    """One thing the adapter can do.

    Attributes:
        name: The direct-invocation name (``start_execution``).
        method: The HTTP method of its route.
        path: The route, path parameters in camelCase (``/executions/<executionId>``).
        request: The model its parameters are validated with.
        run: The service call; returns a model, a dataclass or JSON-ready data.
        status: The HTTP status of a success.
        summary: One line for the route table in the docs.
    """

    name: str
    method: str
    path: str
    request: type[DrsModel]
    run: Runner
    status: int = 200
    summary: str = ""


def execution_summary(execution: Execution) -> dict[str, Any]:
    """A small view of an execution: what a driver branches on, bounded by the number of waves.

    A whole execution grows with the plan (hundreds of KB at a thousand
    servers), past Step Functions' 256 KB state limit; this does not.
    """
    summary: dict[str, Any] = to_json_ready(
        {
            "executionId": execution.execution_id,
            "planId": execution.plan_id,
            "executionType": execution.execution_type,
            "status": execution.status,
            "pausedBefore": execution.paused_before,
            "cancelRequested": execution.cancel_request is not None,
            "version": execution.version,
            "createdAt": execution.created_at,
            "startedAt": execution.started_at,
            "endedAt": execution.ended_at,
            "startedBy": execution.started_by,
            "error": execution.error.code if execution.error else None,
            "waves": [{"waveName": w.wave_name, "status": w.status} for w in execution.waves],
        }
    )
    return summary


# ---- protection groups -----------------------------------------------------------------


def _create_group(orch: Orchestrator, req: CreateGroupRequest, _: Invocation) -> Any:
    return orch.groups.create(
        req.name,
        req.region,
        server_ids=req.server_ids,
        tags=req.tags,
        launch_settings=req.launch_settings,
        server_overrides=req.server_overrides,
        account=req.account,
        description=req.description,
        apply=req.apply,
        timeout_s=req.timeout_s,
    )


def _update_group(orch: Orchestrator, req: UpdateGroupRequest, _: Invocation) -> Any:
    return orch.groups.update(
        req.group_id,
        name=req.name,
        description=req.description,
        server_ids=req.server_ids,
        tags=req.tags,
        launch_settings=req.launch_settings,
        server_overrides=req.server_overrides,
        force=req.force,
        timeout_s=req.timeout_s,
        expected_version=req.expected_version,
    )


def _delete_group(orch: Orchestrator, req: DeleteGroupRequest, _: Invocation) -> Any:
    orch.groups.delete(req.group_id, expected_version=req.expected_version)
    return {"groupId": req.group_id, "deleted": True}


def _apply(orch: Orchestrator, req: ApplyLaunchConfigsRequest, inv: Invocation) -> Any:
    return orch.launch_configs.apply_to_group(
        req.group_id, force=req.force, timeout_s=req.timeout_s, applied_by=inv.caller
    )


def _drift(orch: Orchestrator, req: DriftRequest, _: Invocation) -> Any:
    report = orch.launch_configs.detect_drift(req.group_id, remote=req.remote)
    return {**to_json_ready(report), "hasDrift": report.has_drift}


# ---- recovery plans --------------------------------------------------------------------


def _create_plan(orch: Orchestrator, req: CreatePlanRequest, _: Invocation) -> Any:
    return orch.plans.create(
        req.name,
        req.waves,
        description=req.description,
        failure_policy=req.failure_policy,
        allow_concurrent_waves=req.allow_concurrent_waves,
        readiness=req.readiness,
    )


def _update_plan(orch: Orchestrator, req: UpdatePlanRequest, _: Invocation) -> Any:
    return orch.plans.update(
        req.plan_id,
        name=req.name,
        waves=req.waves,
        description=req.description,
        failure_policy=req.failure_policy,
        allow_concurrent_waves=req.allow_concurrent_waves,
        readiness=req.readiness,
        expected_version=req.expected_version,
    )


def _delete_plan(orch: Orchestrator, req: PlanRef, _: Invocation) -> Any:
    orch.plans.delete(req.plan_id)
    return {"planId": req.plan_id, "deleted": True}


def _check_plan(orch: Orchestrator, req: PlanRef, _: Invocation) -> Any:
    check = orch.plans.check(req.plan_id)
    return {
        **to_json_ready(check),
        "ok": check.ok,
        "errors": len(check.errors),
        "warnings": len(check.warnings),
    }


# ---- executions ------------------------------------------------------------------------


def _start(orch: Orchestrator, req: StartExecutionRequest, inv: Invocation) -> Any:
    return orch.waves.start(
        req.plan_id,
        drill=req.execution_type is ExecutionType.DRILL,
        skip_not_ready=req.skip_not_ready,
        started_by=req.started_by or inv.caller,
        readiness=req.readiness,
        replace_recovery_instances=req.replace_recovery_instances,
        drill_into_paired_instances=req.drill_into_paired_instances,
    )


def _list_executions(orch: Orchestrator, req: PlanRef, _: Invocation) -> Any:
    orch.plans.get(req.plan_id)  # an unknown plan is a 404, not an empty list
    executions = orch.storage.executions.list_for_plan(req.plan_id)
    executions.sort(key=lambda e: e.created_at, reverse=True)
    return {"planId": req.plan_id, "executions": [execution_summary(e) for e in executions]}


def _step(orch: Orchestrator, req: ExecutionRef, _: Invocation) -> Any:
    result = orch.waves.step(req.execution_id)
    return {
        # The header is all the summary needs: a step of a large plan reads no more.
        **execution_summary(result.header),
        "progressed": result.progressed,
        "finished": result.finished,
    }


def _cancel(orch: Orchestrator, req: CancelExecutionRequest, inv: Invocation) -> Any:
    who = req.requested_by or inv.caller or "lambda"
    return execution_summary(orch.waves.cancel(req.execution_id, who, req.reason))


def _pause(orch: Orchestrator, req: PauseExecutionRequest, _: Invocation) -> Any:
    return execution_summary(orch.waves.pause(req.execution_id, before=req.before))


def _resume(orch: Orchestrator, req: ExecutionRef, _: Invocation) -> Any:
    return execution_summary(orch.waves.resume(req.execution_id))


def _preflight(orch: Orchestrator, req: PreflightRequest, _: Invocation) -> Any:
    return orch.waves.preflight(
        req.plan_id,
        drill=req.execution_type is ExecutionType.DRILL,
        readiness=req.readiness,
        replace_recovery_instances=req.replace_recovery_instances,
        drill_into_paired_instances=req.drill_into_paired_instances,
    )


# ---- recovery-instance cache -----------------------------------------------------------


def _cache_get(orch: Orchestrator, req: RecoveryInstancesRequest, inv: Invocation) -> Any:
    lookup = orch.cache.get(req.source_server_ids)
    inv.count("CacheMisses", len(lookup.misses))
    return lookup


def _sync_status(orch: Orchestrator, _req: NoParameters, _: Invocation) -> Any:
    status = orch.cache.get_sync_status()
    return to_json_ready(status) if status is not None else {"synced": False}


def _for_execution(orch: Orchestrator, req: ExecutionRef, _: Invocation) -> Any:
    records = orch.cache.for_execution(req.execution_id)
    return {"executionId": req.execution_id, "recoveryInstances": to_json_ready(records)}


def _terminate(orch: Orchestrator, req: TerminateRequest, _: Invocation) -> Any:
    return orch.cache.terminate_execution(
        req.execution_id,
        dry_run=req.dry_run,
        include_recovery=req.include_recovery,
        include_launched_into=req.include_launched_into,
    )


# ---- instance matching -----------------------------------------------------------------


def _match(orch: Orchestrator, req: MatchRequest, _: Invocation) -> Any:
    return orch.matcher.match(
        source_server_ids=req.source_server_ids,
        group_id=req.group_id,
        region=req.region,
        account=req.account,
        rules=req.rules,
    )


def _apply_matches(orch: Orchestrator, req: ApplyMatchesRequest, _: Invocation) -> Any:
    return orch.matcher.apply(req.report, group_id=req.group_id, add_tag=req.add_tag)


def _unpair(orch: Orchestrator, req: UnpairRequest, _: Invocation) -> Any:
    pairs = orch.matcher.unpair(req.source_server_ids, req.group_id)
    return {"groupId": req.group_id, "unpaired": to_json_ready(pairs)}


# ---- failback ----------------------------------------------------------------------------


def failback_summary(failback: Failback) -> dict[str, Any]:
    """A small view of a failback: its phase, each server's phase, and the servers' errors.

    ``servers`` maps each source server to its phase and ``errors`` each
    server that has an error to its code; ``get_failback`` answers the whole
    record (lag, reversed servers, launches, after-care).
    """
    summary: dict[str, Any] = to_json_ready(
        {
            "executionId": failback.execution_id,
            "phase": failback.phase,
            "servers": {s.source_server_id: s.phase for s in failback.servers},
            "errors": {s.source_server_id: s.error.code for s in failback.servers if s.error},
        }
    )
    return summary


def _get_failback(orch: Orchestrator, req: ExecutionRef, _: Invocation) -> Any:
    failback = orch.failback.get(req.execution_id)
    return {**to_json_ready(failback), "phase": failback.phase.value}


def _start_failback(orch: Orchestrator, req: StartFailbackRequest, inv: Invocation) -> Any:
    failback = orch.failback.start_failback(
        req.execution_id,
        servers=req.servers,
        drill_ok=req.drill_ok,
        started_by=req.started_by or inv.caller,
    )
    return failback_summary(failback)


def _step_failback(orch: Orchestrator, req: ExecutionRef, _: Invocation) -> Any:
    result = orch.failback.step(req.execution_id)
    return {
        **failback_summary(result.failback),
        "progressed": result.progressed,
        "pending": result.pending,
    }


def _launch_failback(orch: Orchestrator, req: LaunchFailbackRequest, _: Invocation) -> Any:
    failback = orch.failback.launch_failback(
        req.execution_id,
        servers=req.servers,
        drill=req.drill,
        into_original=req.into_original,
        pairs=req.pairs,
        add_tag=req.add_tag,
        drill_into_original=req.drill_into_original,
    )
    return failback_summary(failback)


def _reprotect(orch: Orchestrator, req: FailbackServersRequest, _: Invocation) -> Any:
    return failback_summary(orch.failback.reprotect(req.execution_id, servers=req.servers))


def _cleanup_failback(orch: Orchestrator, req: CleanupFailbackRequest, _: Invocation) -> Any:
    failback = orch.failback.cleanup(
        req.execution_id,
        servers=req.servers,
        stop_replication=req.stop_replication,
        terminate=req.terminate,
        include_launched_into=req.include_launched_into,
    )
    return failback_summary(failback)


def _stop_failback(orch: Orchestrator, req: StopFailbackRequest, _: Invocation) -> Any:
    failback = orch.failback.stop_failback(
        req.execution_id, servers=req.servers, reason=req.reason or ""
    )
    return failback_summary(failback)


def _acknowledge(orch: Orchestrator, req: AcknowledgeIpMismatchRequest, inv: Invocation) -> Any:
    who = req.acknowledged_by or inv.caller
    if who is None:
        raise ValidationError.for_field(
            "acknowledgedBy", who, "name who accepts the mismatch (no caller identity to use)"
        )
    return orch.failback.acknowledge_ip_mismatch(
        req.execution_id, req.source_server_id, acknowledged_by=who, reason=req.reason
    )


def _replication_configuration(orch: Orchestrator, req: FailbackServerRef, _: Invocation) -> Any:
    answer = orch.failback.failback_replication_configuration(
        req.execution_id, req.source_server_id
    )
    # DRS's names (``recoveryInstanceID``, ``usePrivateIP``) in the adapter's camelCase.
    return {
        "executionId": req.execution_id,
        "sourceServerId": req.source_server_id,
        "recoveryInstanceId": answer.get("recoveryInstanceID"),
        "name": answer.get("name"),
        "bandwidthThrottling": answer.get("bandwidthThrottling"),
        "usePrivateIp": answer.get("usePrivateIP"),
        "internetProtocol": answer.get("internetProtocol"),
    }


def _configure_replication(
    orch: Orchestrator, req: ConfigureFailbackReplicationRequest, _: Invocation
) -> Any:
    orch.failback.configure_failback_replication(
        req.execution_id,
        servers=req.servers,
        name=req.name,
        bandwidth_throttling=req.bandwidth_throttling,
        use_private_ip=req.use_private_ip,
        internet_protocol=req.internet_protocol,
    )
    settings = req.model_dump(
        by_alias=True,
        exclude_none=True,
        include={"name", "bandwidth_throttling", "use_private_ip", "internet_protocol"},
    )
    return {"executionId": req.execution_id, "settings": settings}


_G = "/protection-groups"
_P = "/recovery-plans"
_E = "/executions/<executionId>"
_F = f"{_E}/failback"

OPERATIONS: tuple[Operation, ...] = (
    Operation("create_protection_group", "POST", _G, CreateGroupRequest, _create_group, 201,
              "Create a group (explicit servers or tags) and apply its launch settings"),
    Operation("list_protection_groups", "GET", _G, NoParameters,
              lambda o, _r, _i: {"protectionGroups": to_json_ready(o.groups.list())},
              summary="Every protection group"),
    Operation("get_protection_group", "GET", f"{_G}/<groupId>", GroupRef,
              lambda o, r, _i: o.groups.get(r.group_id), summary="One group"),
    Operation("update_protection_group", "PATCH", f"{_G}/<groupId>", UpdateGroupRequest,
              _update_group, summary="Change a group; re-apply settings only if they changed"),
    Operation("delete_protection_group", "DELETE", f"{_G}/<groupId>", DeleteGroupRequest,
              _delete_group, summary="Delete a group"),
    Operation("apply_launch_configs", "POST", f"{_G}/<groupId>/apply", ApplyLaunchConfigsRequest,
              _apply, summary="Apply the group's launch settings (``force`` re-applies all)"),
    Operation("get_launch_config_status", "GET", f"{_G}/<groupId>/launch-config-status", GroupRef,
              lambda o, r, _i: o.launch_configs.get_status(r.group_id),
              summary="The group's per-server launch-configuration status"),
    Operation("detect_drift", "GET", f"{_G}/<groupId>/drift", DriftRequest, _drift,
              summary="Drift of the group's servers (``remote=true`` reads DRS back)"),
    Operation("create_recovery_plan", "POST", _P, CreatePlanRequest, _create_plan, 201,
              "Create a plan of waves"),
    Operation("list_recovery_plans", "GET", _P, NoParameters,
              lambda o, _r, _i: {"recoveryPlans": to_json_ready(o.plans.list())},
              summary="Every plan"),
    Operation("get_recovery_plan", "GET", f"{_P}/<planId>", PlanRef,
              lambda o, r, _i: o.plans.get(r.plan_id), summary="One plan"),
    Operation("update_recovery_plan", "PATCH", f"{_P}/<planId>", UpdatePlanRequest, _update_plan,
              summary="Change a plan"),
    Operation("delete_recovery_plan", "DELETE", f"{_P}/<planId>", PlanRef, _delete_plan,
              summary="Delete a plan (its executions stay)"),
    Operation("check_recovery_plan", "GET", f"{_P}/<planId>/check", PlanRef, _check_plan,
              summary="Check a plan against its groups (no AWS call)"),
    Operation("preflight", "POST", f"{_P}/<planId>/preflight", PreflightRequest, _preflight,
              summary="Readiness of every server, as a drill or recovery would see it"),
    Operation("start_execution", "POST", f"{_P}/<planId>/executions", StartExecutionRequest,
              _start, 201, "Start a drill or recovery (``executionType`` required)"),
    Operation("list_executions", "GET", f"{_P}/<planId>/executions", PlanRef, _list_executions,
              summary="The plan's executions, newest first (summaries)"),
    Operation("get_execution", "GET", _E, ExecutionRef,
              lambda o, r, _i: o.waves.get(r.execution_id), summary="One execution, in full"),
    Operation("step_execution", "POST", f"{_E}/step", ExecutionRef, _step,
              summary="Take one step; ``progressed`` false means wait before the next"),
    Operation("cancel_execution", "POST", f"{_E}/cancel", CancelExecutionRequest, _cancel,
              summary="Ask the execution to stop before its next wave"),
    Operation("pause_execution", "POST", f"{_E}/pause", PauseExecutionRequest, _pause,
              summary="Pause before wave ``before`` (default: the next one not started)"),
    Operation("resume_execution", "POST", f"{_E}/resume", ExecutionRef, _resume,
              summary="Release a pause before a wave"),
    Operation("get_execution_recovery_instances", "GET", f"{_E}/recovery-instances", ExecutionRef,
              _for_execution, summary="Cached recovery instances the execution launched"),
    Operation("terminate_execution_instances", "POST", f"{_E}/terminate", TerminateRequest,
              _terminate, summary="Terminate its recovery instances (a dry run unless "
              "``dryRun`` is false)"),
    Operation("sync_cache", "POST", "/cache/sync", NoParameters,
              lambda o, _r, _i: o.cache.sync_all(), summary="Sync every target into the cache"),
    Operation("get_cache_sync_status", "GET", "/cache/sync-status", NoParameters, _sync_status,
              summary="The last full sync"),
    Operation("get_recovery_instances", "GET", "/cache/recovery-instances",
              RecoveryInstancesRequest, _cache_get,
              summary="Cached recovery instances of ``sourceServerIds`` (comma-separated)"),
    Operation("match_instances", "POST", "/matching/match", MatchRequest, _match,
              summary="Pair source servers with existing instances (writes nothing)"),
    Operation("apply_instance_matches", "POST", "/matching/apply", ApplyMatchesRequest,
              _apply_matches, summary="Store a reviewed match report's pairs"),
    Operation("unpair_instances", "POST", f"{_G}/<groupId>/unpair", UnpairRequest, _unpair,
              summary="Stop launching servers into existing instances"),
    Operation("get_failback", "GET", _F, ExecutionRef, _get_failback,
              summary="The execution's failback, every server's record in full"),
    Operation("start_failback", "POST", f"{_F}/start", StartFailbackRequest, _start_failback,
              summary="Check and record the failback of a recovery (``drillOk`` for a drill)"),
    Operation("step_failback", "POST", f"{_F}/step", ExecutionRef, _step_failback,
              summary="Take one failback step; ``pending`` false means it waits for a request"),
    Operation("launch_failback", "POST", f"{_F}/launch", LaunchFailbackRequest,
              _launch_failback, summary="Launch the ``READY`` servers back (steps launch them)"),
    Operation("reprotect", "POST", f"{_F}/reprotect", FailbackServersRequest, _reprotect,
              summary="Replicate the failed-back instances to the recovery region again"),
    Operation("cleanup_failback", "POST", f"{_F}/cleanup", CleanupFailbackRequest,
              _cleanup_failback, summary="Stop the replication back, terminate the old "
              "recovery instances"),
    Operation("stop_failback", "POST", f"{_F}/stop", StopFailbackRequest, _stop_failback,
              summary="Stop replicating back servers not launched back yet"),
    Operation("acknowledge_ip_mismatch", "POST",
              f"{_F}/servers/<sourceServerId>/acknowledge-ip-mismatch",
              AcknowledgeIpMismatchRequest, _acknowledge,
              summary="Accept a server's lost paired instance or IP so it may fail back"),
    Operation("get_failback_replication_configuration", "GET",
              f"{_F}/servers/<sourceServerId>/replication-configuration", FailbackServerRef,
              _replication_configuration, summary="A server's failback replication settings"),
    Operation("configure_failback_replication", "PATCH", f"{_F}/replication-configuration",
              ConfigureFailbackReplicationRequest, _configure_replication,
              summary="Change failback replication settings (only those given)"),
)  # fmt: skip
"""Every operation the adapter exposes, in the order of the docs' route table."""


def available_operations() -> dict[str, Operation]:
    """Every operation of :data:`OPERATIONS`, by name."""
    return {op.name: op for op in OPERATIONS}


def _prepare(request: type[DrsModel], params: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(params)
    if request is RecoveryInstancesRequest:
        for key in ("sourceServerIds", "source_server_ids"):
            if key in data:
                data[key] = split_ids(data[key])
    return data


def run_operation(
    orchestrator: Orchestrator,
    operation: Operation,
    params: Mapping[str, Any],
    invocation: Invocation,
) -> Any:
    """Validate ``params`` with the operation's model, run it, and return JSON-ready camelCase.

    Raises:
        ValidationError: the parameters do not fit the operation's model, or the service
            refused them (each field named by its camelCase path).
        DrsOrchestrationError: whatever the service raised.
    """
    if not isinstance(params, Mapping):
        raise ValidationError.for_field("(body)", params, "must be a JSON object")
    request = operation.request.parse(_prepare(operation.request, params))
    try:
        result = operation.run(orchestrator, request, invocation)
    except ValidationError as exc:
        # A service names its Python parameters (``drill_ok``); the caller sent camelCase.
        for problem in exc.problems:
            problem["field"] = _wire_path(str(problem.get("field", "")))
        raise
    return to_json_ready(result)


_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")


def _wire_path(path: str) -> str:
    """``servers.0.drill_ok`` as the caller wrote it: ``servers.0.drillOk``."""
    return ".".join(to_camel(part) if _SNAKE.match(part) else part for part in path.split("."))
