"""The nouns of drs-orchestration: pydantic v2 models with validated IDs.

Attributes are snake_case; ``model_dump(by_alias=True)`` (or ``to_wire()``)
gives camelCase, the form used on the wire and in storage. Both names are
accepted on input and unknown fields are rejected.
"""

from drs_orchestration.models.account import AccountContext
from drs_orchestration.models.base import DrsModel, VersionedModel, utc_now
from drs_orchestration.models.executions import (
    CancelRequest,
    ConfigPath,
    ErrorRecord,
    Execution,
    ExecutionStatus,
    ExecutionType,
    JobRecord,
    JobStatus,
    PhaseTimes,
    ServerLaunchStatus,
    ServerOutcome,
    WaveRun,
    WaveStatus,
)
from drs_orchestration.models.failback import (
    FailbackPhase,
    FailbackState,
    InstancePair,
    MatchMethod,
)
from drs_orchestration.models.groups import (
    ConfigStatus,
    LaunchConfigStatus,
    ProtectionGroup,
    ServerConfigStatus,
)
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
    new_execution_id,
    new_plan_id,
    new_protection_group_id,
)
from drs_orchestration.models.launch import (
    LaunchDisposition,
    LaunchIntoInstanceProperties,
    LaunchSettings,
    Licensing,
    RecoveryMode,
    RightSizingMethod,
)
from drs_orchestration.models.plans import FailurePolicy, RecoveryPlan, Wave
from drs_orchestration.models.readiness import (
    PlanReadiness,
    ReadinessPolicy,
    ReadinessRule,
    ServerReadiness,
    WaveReadiness,
)
from drs_orchestration.models.recovery import (
    CacheLookup,
    InstanceTermination,
    RecoveryInstanceRecord,
    SyncStatus,
    SyncTargetResult,
    TerminationReport,
    TerminationStatus,
)

__all__ = [
    "AccountContext",
    "AccountId",
    "CacheLookup",
    "CancelRequest",
    "ConfigPath",
    "ConfigStatus",
    "DrsModel",
    "Ec2InstanceId",
    "ErrorRecord",
    "Execution",
    "ExecutionId",
    "ExecutionStatus",
    "ExecutionType",
    "FailbackPhase",
    "FailbackState",
    "FailurePolicy",
    "InstancePair",
    "InstanceTermination",
    "JobId",
    "JobRecord",
    "JobStatus",
    "LaunchConfigStatus",
    "LaunchDisposition",
    "LaunchIntoInstanceProperties",
    "LaunchSettings",
    "Licensing",
    "MatchMethod",
    "PhaseTimes",
    "PlanId",
    "PlanReadiness",
    "ProtectionGroup",
    "ProtectionGroupId",
    "ReadinessPolicy",
    "ReadinessRule",
    "RecoveryInstanceId",
    "RecoveryInstanceRecord",
    "RecoveryMode",
    "RecoveryPlan",
    "Region",
    "RightSizingMethod",
    "ServerConfigStatus",
    "ServerLaunchStatus",
    "ServerOutcome",
    "ServerReadiness",
    "SourceServerId",
    "SyncStatus",
    "SyncTargetResult",
    "TerminationReport",
    "TerminationStatus",
    "VersionedModel",
    "Wave",
    "WaveReadiness",
    "WaveRun",
    "WaveStatus",
    "new_execution_id",
    "new_plan_id",
    "new_protection_group_id",
    "utc_now",
]
