"""Running recovery plans wave by wave: the executor, its quotas, readiness and hooks."""

from drs_orchestration.services.waves.executor import WaveExecutor
from drs_orchestration.services.waves.hooks import (
    CacheSyncHook,
    PostWaveHook,
    RecoveryInstanceSync,
)
from drs_orchestration.services.waves.launcher import MANAGED_BY, DrsQuotas, job_tags
from drs_orchestration.services.waves.preflight import (
    DEFAULT_READY_STATES,
    PreflightResult,
    check_replication,
)

__all__ = [
    "DEFAULT_READY_STATES",
    "MANAGED_BY",
    "CacheSyncHook",
    "DrsQuotas",
    "PostWaveHook",
    "PreflightResult",
    "RecoveryInstanceSync",
    "WaveExecutor",
    "check_replication",
    "job_tags",
]
