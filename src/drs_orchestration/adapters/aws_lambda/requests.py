"""Request models of the Lambda adapter's operations, built from the library's models.

Each operation validates its parameters (path parameters, query string and
JSON body merged, or a direct invocation's fields) with one of these models
before calling a service: camelCase or snake_case names, unknown fields
refused, every problem reported with its field path as a
:class:`~drs_orchestration.errors.ValidationError` (400).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from drs_orchestration.models import (
    AccountContext,
    Ec2InstanceId,
    ExecutionId,
    ExecutionType,
    FailurePolicy,
    LaunchSettings,
    MatchReport,
    MatchRules,
    PlanId,
    ProtectionGroupId,
    ReadinessPolicy,
    Region,
    SourceServerId,
    Wave,
)
from drs_orchestration.models.base import MAX_TIMEOUT_S, DrsModel
from drs_orchestration.models.plans import WaveName

__all__ = [
    "AcknowledgeIpMismatchRequest",
    "ApplyLaunchConfigsRequest",
    "ApplyMatchesRequest",
    "CancelExecutionRequest",
    "CleanupFailbackRequest",
    "ConfigureFailbackReplicationRequest",
    "CreateGroupRequest",
    "CreatePlanRequest",
    "DeleteGroupRequest",
    "DriftRequest",
    "ExecutionRef",
    "FailbackServerRef",
    "FailbackServersRequest",
    "GroupRef",
    "LaunchFailbackRequest",
    "MatchRequest",
    "NoParameters",
    "PauseExecutionRequest",
    "PlanRef",
    "PreflightRequest",
    "RecoveryInstancesRequest",
    "StartExecutionRequest",
    "StartFailbackRequest",
    "StopFailbackRequest",
    "TerminateRequest",
    "UnpairRequest",
    "UpdateGroupRequest",
    "UpdatePlanRequest",
    "split_ids",
]

TimeoutS = Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S)]
Who = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class NoParameters(DrsModel):
    """An operation that takes no parameters (anything given is refused)."""


class GroupRef(DrsModel):
    """One protection group."""

    group_id: ProtectionGroupId


class CreateGroupRequest(DrsModel):
    """``ProtectionGroupService.create``: explicit servers or a tag selection, and settings."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    region: Region
    server_ids: list[SourceServerId] | None = None
    tags: dict[str, str] | None = None
    launch_settings: LaunchSettings | None = None
    server_overrides: dict[SourceServerId, LaunchSettings] | None = None
    account: AccountContext | None = None
    description: str | None = None
    apply: bool = True
    timeout_s: TimeoutS = 300


class UpdateGroupRequest(GroupRef):
    """``ProtectionGroupService.update``: only the fields given change."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    description: str | None = None
    server_ids: list[SourceServerId] | None = None
    tags: dict[str, str] | None = None
    launch_settings: LaunchSettings | None = None
    server_overrides: dict[SourceServerId, LaunchSettings] | None = None
    force: bool = False
    timeout_s: TimeoutS = 300
    expected_version: Annotated[int, Field(ge=0)] | None = None


class DeleteGroupRequest(GroupRef):
    """``ProtectionGroupService.delete``."""

    expected_version: Annotated[int, Field(ge=0)] | None = None


class ApplyLaunchConfigsRequest(GroupRef):
    """``LaunchConfigService.apply_to_group``."""

    force: bool = False
    timeout_s: TimeoutS = 300


class DriftRequest(GroupRef):
    """``LaunchConfigService.detect_drift``; ``remote`` reads DRS back."""

    remote: bool = False


class PlanRef(DrsModel):
    """One recovery plan."""

    plan_id: PlanId


class CreatePlanRequest(DrsModel):
    """``RecoveryPlanService.create``."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    waves: Annotated[list[Wave], Field(min_length=1)]
    description: str | None = None
    failure_policy: FailurePolicy = FailurePolicy.STOP
    allow_concurrent_waves: bool = False
    readiness: ReadinessPolicy | None = None


class UpdatePlanRequest(PlanRef):
    """``RecoveryPlanService.update``: only the fields given change."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    waves: Annotated[list[Wave], Field(min_length=1)] | None = None
    description: str | None = None
    failure_policy: FailurePolicy | None = None
    allow_concurrent_waves: bool | None = None
    readiness: ReadinessPolicy | None = None
    expected_version: Annotated[int, Field(ge=0)] | None = None


class StartExecutionRequest(PlanRef):
    """``WaveExecutor.start``.

    ``executionType`` is required: whether a request launches a drill or a
    real recovery is never left to a default.
    """

    execution_type: ExecutionType
    skip_not_ready: bool = False
    started_by: Who | None = None
    readiness: ReadinessPolicy | None = None
    replace_recovery_instances: bool = False
    drill_into_paired_instances: bool = False


class PreflightRequest(PlanRef):
    """``WaveExecutor.preflight``."""

    execution_type: ExecutionType = ExecutionType.DRILL
    readiness: ReadinessPolicy | None = None
    replace_recovery_instances: bool = False
    drill_into_paired_instances: bool = False


class ExecutionRef(DrsModel):
    """One execution."""

    execution_id: ExecutionId


class CancelExecutionRequest(ExecutionRef):
    """``WaveExecutor.cancel``; ``requestedBy`` defaults to the caller's identity."""

    requested_by: Who | None = None
    reason: Annotated[str, StringConstraints(max_length=1024)] | None = None


class PauseExecutionRequest(ExecutionRef):
    """``WaveExecutor.pause``: before wave ``before``, or the next wave not started."""

    before: WaveName | None = None


class FailbackServersRequest(ExecutionRef):
    """A failback request on some of its servers (default: every server it applies to)."""

    servers: Annotated[list[SourceServerId], Field(min_length=1)] | None = None


class StartFailbackRequest(FailbackServersRequest):
    """``FailbackCoordinator.start_failback``; ``startedBy`` defaults to the caller's identity.

    ``drillOk`` must be true to fail back a drill's instances (DRS itself
    refuses to reverse them, and says so per server).
    """

    drill_ok: bool = False
    started_by: Who | None = None


class LaunchFailbackRequest(FailbackServersRequest):
    """``FailbackCoordinator.launch_failback``: launch the ``READY`` servers back.

    ``intoOriginal`` launches each into the instance it replicated from;
    ``pairs`` names instances explicitly (source server ID → EC2 instance ID).
    """

    drill: bool = False
    into_original: bool = False
    pairs: dict[SourceServerId, Ec2InstanceId] | None = None
    add_tag: bool = False
    drill_into_original: bool = False


class CleanupFailbackRequest(FailbackServersRequest):
    """``FailbackCoordinator.cleanup``: stop the temporary replication, terminate the old instances.

    An instance DRS launched into (a paired one) is kept unless
    ``includeLaunchedInto``.
    """

    stop_replication: bool = True
    terminate: bool = True
    include_launched_into: bool = False


class StopFailbackRequest(FailbackServersRequest):
    """``FailbackCoordinator.stop_failback``: stop replicating back servers not launched back."""

    reason: Annotated[str, StringConstraints(max_length=1024)] | None = None


class FailbackServerRef(ExecutionRef):
    """One server of an execution's failback."""

    source_server_id: SourceServerId


class AcknowledgeIpMismatchRequest(FailbackServerRef):
    """``FailbackCoordinator.acknowledge_ip_mismatch``: accept a lost paired instance or IP.

    ``acknowledgedBy`` defaults to the caller's identity.
    """

    acknowledged_by: Who | None = None
    reason: Annotated[str, StringConstraints(max_length=2048)] | None = None


class ConfigureFailbackReplicationRequest(FailbackServersRequest):
    """``FailbackCoordinator.configure_failback_replication``: only the settings given change."""

    name: Annotated[str, StringConstraints(max_length=256)] | None = None
    bandwidth_throttling: Annotated[int, Field(ge=0)] | None = None
    use_private_ip: bool | None = None
    internet_protocol: Literal["IPV4", "IPV6"] | None = None


class RecoveryInstancesRequest(DrsModel):
    """``RecoveryInstanceCache.get``: a comma-separated list in a query string is accepted."""

    source_server_ids: Annotated[list[SourceServerId], Field(min_length=1, max_length=1000)]


class TerminateRequest(ExecutionRef):
    """``RecoveryInstanceCache.terminate_execution``; a dry run unless ``dryRun`` is false."""

    dry_run: bool = True
    include_recovery: bool = False
    include_launched_into: bool = False


class MatchRequest(DrsModel):
    """``InstanceMatcher.match``: a group, or servers with their region (and account)."""

    group_id: ProtectionGroupId | None = None
    source_server_ids: list[SourceServerId] | None = None
    region: Region | None = None
    account: AccountContext | None = None
    rules: MatchRules | None = None


class ApplyMatchesRequest(DrsModel):
    """``InstanceMatcher.apply``: a reviewed match report."""

    report: MatchReport
    group_id: ProtectionGroupId | None = None
    add_tag: bool = False


class UnpairRequest(GroupRef):
    """``InstanceMatcher.unpair``."""

    source_server_ids: Annotated[list[SourceServerId], Field(min_length=1)]


def split_ids(value: Any) -> Any:
    """A query string's ``a,b,c`` as a list; anything else unchanged."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value
