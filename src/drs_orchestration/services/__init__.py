"""The capabilities: groups, plans, launch configurations, waves, cache, matching, failback.

Services depend on models, errors, ``aws`` (through a ``ClientFactory``) and
``storage`` (through the ``Storage`` protocol), never on a concrete backend.
"""

from drs_orchestration.services.cache import (
    RecoveryInstanceCache,
    SyncTarget,
    TerminationLimits,
)
from drs_orchestration.services.config_hash import calculate_config_hash
from drs_orchestration.services.drift import DriftReport, FieldDifference
from drs_orchestration.services.failback import (
    AgentInstaller,
    AgentInstallRequest,
    FailbackCoordinator,
    FailbackOptions,
    FailbackStepResult,
)
from drs_orchestration.services.groups import ProtectionGroupService
from drs_orchestration.services.launch_config import EnsureReadyResult, LaunchConfigService
from drs_orchestration.services.matching import InstanceMatcher, paired_targets
from drs_orchestration.services.orchestrator import Orchestrator
from drs_orchestration.services.plans import RecoveryPlanService
from drs_orchestration.services.waves import (
    CacheSyncHook,
    DrsQuotas,
    ExecutorOptions,
    PostWaveHook,
    RecoveryInstanceSync,
    WaveExecutor,
)

__all__ = [
    "AgentInstallRequest",
    "AgentInstaller",
    "CacheSyncHook",
    "DriftReport",
    "DrsQuotas",
    "EnsureReadyResult",
    "ExecutorOptions",
    "FailbackCoordinator",
    "FailbackOptions",
    "FailbackStepResult",
    "FieldDifference",
    "InstanceMatcher",
    "LaunchConfigService",
    "Orchestrator",
    "PostWaveHook",
    "ProtectionGroupService",
    "RecoveryInstanceCache",
    "RecoveryInstanceSync",
    "RecoveryPlanService",
    "SyncTarget",
    "TerminationLimits",
    "WaveExecutor",
    "calculate_config_hash",
    "paired_targets",
]
