"""The public API is exactly ``__all__``; this test pins it so every change is deliberate."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

EXPECTED: dict[str, set[str]] = {
    "drs_orchestration": {
        "AccountContext",
        "AgentInstallationError",
        "AssumeRoleClientFactory",
        "AwsApiError",
        "ClientFactory",
        "ConcurrentModificationError",
        "ConfigStatus",
        "CrossAccountError",
        "DrsOrchestrationError",
        "DynamoDBStorage",
        "DrsQuotas",
        "Event",
        "EventSink",
        "Execution",
        "ExecutionStatus",
        "ExecutionType",
        "FailbackState",
        "FailurePolicy",
        "InstanceMatchingError",
        "InstancePair",
        "JobRecord",
        "JobTimeoutError",
        "LaunchConfigApplicationError",
        "LaunchConfigStatus",
        "LaunchConfigTimeoutError",
        "LaunchConfigValidationError",
        "LaunchSettings",
        "MemoryStorage",
        "NotFoundError",
        "Orchestrator",
        "PlanReadiness",
        "PrivateIPMismatchError",
        "ProtectionGroup",
        "RecoveryError",
        "RecoveryInstanceCache",
        "RecoveryInstanceRecord",
        "ReadinessPolicy",
        "ReadinessRule",
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
    },
    "drs_orchestration.aws": {
        "NON_IDEMPOTENT_OPERATIONS",
        "RETRYABLE_ERROR_CODES",
        "AssumeRoleClientFactory",
        "ClientFactory",
        "RetryPolicy",
        "SessionClientFactory",
        "default_config",
        "is_retryable",
        "may_have_applied",
        "request_timeout_bound_s",
        "translate_aws_errors",
    },
    "drs_orchestration.reports": {
        "EvidenceReport",
        "FailureEvidence",
        "MissingExtraError",
        "PhaseEvidence",
        "ReportFormat",
        "ServerEvidence",
        "WaveEvidence",
        "evidence",
    },
    "drs_orchestration.storage": {
        "BaseStorage",
        "DynamoDBStorage",
        "ExecutionRepository",
        "MemoryStorage",
        "RecoveryInstanceRepository",
        "Repository",
        "SqliteStorage",
        "Storage",
        "cloudformation_template",
        "default_sqlite_path",
        "table_definitions",
        "ttl_attributes",
    },
    "drs_orchestration.services": {
        "CacheSyncHook",
        "DriftReport",
        "DrsQuotas",
        "EnsureReadyResult",
        "FieldDifference",
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
    },
    "drs_orchestration.models": {
        "WaveReadiness",
        "ServerReadiness",
        "ReadinessRule",
        "ReadinessPolicy",
        "PlanReadiness",
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
        "ProtectionGroup",
        "ProtectionGroupId",
        "RecoveryInstanceId",
        "RecoveryInstanceRecord",
        "RecoveryMode",
        "RecoveryPlan",
        "Region",
        "RightSizingMethod",
        "ServerConfigStatus",
        "ServerLaunchStatus",
        "ServerOutcome",
        "SourceServerId",
        "SyncStatus",
        "SyncTargetResult",
        "TerminationReport",
        "TerminationStatus",
        "VersionedModel",
        "Wave",
        "WaveRun",
        "WaveStatus",
        "new_execution_id",
        "new_plan_id",
        "new_protection_group_id",
        "utc_now",
    },
    "drs_orchestration.errors": {
        "AgentInstallationError",
        "AwsAccessDeniedError",
        "AwsApiError",
        "AwsConflictError",
        "AwsResourceNotFoundError",
        "AwsValidationError",
        "ConcurrentModificationError",
        "ConflictError",
        "CrossAccountError",
        "DrsOrchestrationError",
        "FieldProblem",
        "InstanceMatchingError",
        "InvalidFields",
        "InvalidStateTransitionError",
        "JobTimeoutError",
        "LaunchConfigApplicationError",
        "LaunchConfigTimeoutError",
        "LaunchConfigValidationError",
        "NotFoundError",
        "PrivateIPMismatchError",
        "RecoveryError",
        "ServersNotReadyError",
        "ServiceQuotaExceededError",
        "TerminationRefusedError",
        "ThrottledError",
        "ValidationError",
    },
    "drs_orchestration.events": {
        "CacheSyncFailed",
        "CacheSynced",
        "ConfigApplied",
        "DriftDetected",
        "Event",
        "EventSink",
        "ExecutionFinished",
        "ExecutionPaused",
        "ExecutionStarted",
        "InstancesTerminated",
        "JobAdopted",
        "JobProgress",
        "JobStarted",
        "ServerConfigApplied",
        "ServerFailed",
        "ServerLaunched",
        "WaveFinished",
        "WaveStarted",
        "emit",
    },
}


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_all_is_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == EXPECTED[module_name]
    assert len(module.__all__) == len(set(module.__all__)), "no duplicates in __all__"


@pytest.mark.parametrize(
    "module_name",
    [
        "drs_orchestration",
        "drs_orchestration.aws",
        "drs_orchestration.errors",
        "drs_orchestration.events",
        "drs_orchestration.models",
        "drs_orchestration.reports",
        "drs_orchestration.services",
        "drs_orchestration.storage",
        "drs_orchestration.testing",
    ],
)
def test_every_exported_name_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_top_level_models_are_the_models_package_ones() -> None:
    import drs_orchestration
    from drs_orchestration import models

    for name in drs_orchestration.__all__:
        if hasattr(models, name):
            assert getattr(drs_orchestration, name) is getattr(models, name)


def test_import_has_no_side_effects() -> None:
    code = textwrap.dedent(
        """
        import logging, boto3
        root_handlers = list(logging.getLogger().handlers)
        import drs_orchestration, drs_orchestration.storage, drs_orchestration.aws
        assert logging.getLogger().handlers == root_handlers, "root logging configured"
        handlers = logging.getLogger("drs_orchestration").handlers
        assert any(isinstance(h, logging.NullHandler) for h in handlers), handlers
        assert boto3.DEFAULT_SESSION is None, "a boto3 session was created at import"
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
