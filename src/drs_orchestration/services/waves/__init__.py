"""Running recovery plans wave by wave: the executor, its quotas, readiness and hooks."""

from drs_orchestration.services.waves.chunks import MANAGED_BY, DrsQuotas, job_tags
from drs_orchestration.services.waves.executor import ExecutorOptions, StepResult, WaveExecutor
from drs_orchestration.services.waves.hooks import (
    CacheSyncHook,
    PostWaveHook,
    RecoveryInstanceSync,
)
from drs_orchestration.services.waves.preflight import ReadinessReport, assess_readiness

__all__ = [
    "MANAGED_BY",
    "CacheSyncHook",
    "DrsQuotas",
    "ExecutorOptions",
    "PostWaveHook",
    "ReadinessReport",
    "RecoveryInstanceSync",
    "StepResult",
    "WaveExecutor",
    "assess_readiness",
    "job_tags",
]
