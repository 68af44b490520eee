"""The Lambda adapter: one handler for API Gateway, direct, EventBridge and Region switch calls.

Needs the ``lambda`` extra (``pip install "drs-orchestration[lambda]"``):
it is built on aws-lambda-powertools (event handler resolvers, ``Logger``,
``Metrics``). See ``docs/lambda.md`` for the routes, operations, error codes,
events and metrics.

Examples:
    >>> from drs_orchestration.adapters.aws_lambda import LambdaAdapter
    >>> adapter = LambdaAdapter.create(DynamoDBStorage(table_prefix="drs-orch-"))
    >>> def handler(event, context):
    ...     return adapter.handler(event, context)
"""

try:
    import aws_lambda_powertools  # noqa: F401 - checked here so the error names the extra
except ImportError as exc:  # pragma: no cover - exercised in an environment without the extra
    raise ImportError(
        "drs_orchestration.adapters.aws_lambda needs aws-lambda-powertools: "
        'pip install "drs-orchestration[lambda]"'
    ) from exc

from drs_orchestration.adapters.aws_lambda.adapter import EventKind, LambdaAdapter, classify
from drs_orchestration.adapters.aws_lambda.metrics import METRIC_UNITS, InvocationMetrics
from drs_orchestration.adapters.aws_lambda.operations import (
    Invocation,
    Operation,
    available_operations,
    execution_summary,
    failback_summary,
)
from drs_orchestration.adapters.aws_lambda.region_switch import (
    METADATA_KEYS,
    DrsExecutionFailed,
    DrsExecutionInProgress,
    RegionSwitchStep,
)

__all__ = [
    "METADATA_KEYS",
    "METRIC_UNITS",
    "DrsExecutionFailed",
    "DrsExecutionInProgress",
    "EventKind",
    "Invocation",
    "InvocationMetrics",
    "LambdaAdapter",
    "Operation",
    "RegionSwitchStep",
    "available_operations",
    "classify",
    "execution_summary",
    "failback_summary",
]
