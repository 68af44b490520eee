"""A complete Lambda function for drs-orchestration (needs the ``lambda`` extra).

One handler answers API Gateway (REST and HTTP APIs), direct invocations
(``{"operation": "step_execution", "executionId": ...}``, what Step Functions
sends), EventBridge (a schedule syncs the recovery-instance cache) and ARC
Region switch custom actions. ``TABLE_PREFIX`` names the DynamoDB tables.
"""

from __future__ import annotations

import os
from typing import Any

from drs_orchestration import AssumeRoleClientFactory, DynamoDBStorage
from drs_orchestration.adapters.aws_lambda import LambdaAdapter

# Built once per container; warm invocations reuse the clients and tables.
adapter = LambdaAdapter.create(
    DynamoDBStorage(table_prefix=os.environ.get("TABLE_PREFIX", "drs-orch-")),
    AssumeRoleClientFactory(),  # groups in other accounts are reached through their roles
)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The function's entry point."""
    return adapter.handler(event, context)
