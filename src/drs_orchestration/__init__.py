"""drs-orchestration: disaster-recovery orchestration for AWS Elastic Disaster Recovery.

The public API is exactly ``__all__``. The library logs through
``logging.getLogger("drs_orchestration...")`` with a ``NullHandler`` on the
package logger; it never configures logging and creates no AWS clients at
import time.
"""

import logging

from drs_orchestration._version import __version__
from drs_orchestration.aws import (
    AssumeRoleClientFactory,
    ClientFactory,
    RetryPolicy,
    SessionClientFactory,
)
from drs_orchestration.errors import (
    AgentInstallationError,
    AwsApiError,
    ConcurrentModificationError,
    CrossAccountError,
    DrsOrchestrationError,
    InstanceMatchingError,
    JobTimeoutError,
    LaunchConfigApplicationError,
    LaunchConfigTimeoutError,
    LaunchConfigValidationError,
    NotFoundError,
    PrivateIPMismatchError,
    RecoveryError,
    ServersNotReadyError,
    ValidationError,
)
from drs_orchestration.events import Event, EventSink
from drs_orchestration.models import (
    AccountContext,
    ConfigStatus,
    Execution,
    ExecutionStatus,
    ExecutionType,
    FailbackState,
    FailurePolicy,
    InstancePair,
    JobRecord,
    LaunchConfigStatus,
    LaunchSettings,
    MatchReport,
    MatchRules,
    PlanReadiness,
    ProtectionGroup,
    ReadinessPolicy,
    ReadinessRule,
    RecoveryInstanceRecord,
    RecoveryPlan,
    ServerConfigStatus,
    ServerOutcome,
    SyncStatus,
    Wave,
    WaveRun,
    WaveStatus,
)
from drs_orchestration.services import (
    DrsQuotas,
    InstanceMatcher,
    Orchestrator,
    RecoveryInstanceCache,
    WaveExecutor,
)
from drs_orchestration.storage import DynamoDBStorage, MemoryStorage, SqliteStorage, Storage

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AccountContext",
    "AgentInstallationError",
    "AssumeRoleClientFactory",
    "AwsApiError",
    "ClientFactory",
    "ConcurrentModificationError",
    "ConfigStatus",
    "CrossAccountError",
    "DrsOrchestrationError",
    "DrsQuotas",
    "DynamoDBStorage",
    "Event",
    "EventSink",
    "Execution",
    "ExecutionStatus",
    "ExecutionType",
    "FailbackState",
    "FailurePolicy",
    "InstanceMatcher",
    "InstanceMatchingError",
    "InstancePair",
    "JobRecord",
    "JobTimeoutError",
    "LaunchConfigApplicationError",
    "LaunchConfigStatus",
    "LaunchConfigTimeoutError",
    "LaunchConfigValidationError",
    "LaunchSettings",
    "MatchReport",
    "MatchRules",
    "MemoryStorage",
    "NotFoundError",
    "Orchestrator",
    "PlanReadiness",
    "PrivateIPMismatchError",
    "ProtectionGroup",
    "ReadinessPolicy",
    "ReadinessRule",
    "RecoveryError",
    "RecoveryInstanceCache",
    "RecoveryInstanceRecord",
    "RecoveryPlan",
    "RetryPolicy",
    "ServerConfigStatus",
    "ServerOutcome",
    "ServersNotReadyError",
    "SessionClientFactory",
    "SqliteStorage",
    "Storage",
    "SyncStatus",
    "ValidationError",
    "Wave",
    "WaveExecutor",
    "WaveRun",
    "WaveStatus",
    "__version__",
]
