"""A Lambda keeping the recovery-instance cache fresh, on DynamoDB.

Schedule it with an EventBridge rule, ``rate(5 minutes)``, whose input is
``{"operation": "sync_recovery_instances"}``; read the last sync with
``{"operation": "get_recovery_instance_sync_status"}``. Running this file
tries the handler offline (moto for DynamoDB and EC2, the DRS simulator).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from drs_orchestration import AssumeRoleClientFactory, RecoveryInstanceCache
from drs_orchestration.storage import DynamoDBStorage


@functools.cache
def recovery_instance_cache() -> RecoveryInstanceCache:
    """One cache per Lambda container, built on first use (clients and tables reused)."""
    storage = DynamoDBStorage(table_prefix=os.environ.get("TABLE_PREFIX", "drs-orch-"))
    # Targets default to the regions and accounts of the stored protection groups;
    # accounts with a role are reached through AssumeRole.
    return RecoveryInstanceCache(storage, AssumeRoleClientFactory())


def handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    """Run one cache operation named by ``event["operation"]``."""
    operation = event.get("operation")
    cache = recovery_instance_cache()
    if operation == "sync_recovery_instances":
        return cache.sync_recovery_instances().to_wire()
    if operation == "get_recovery_instance_sync_status":
        status = cache.get_recovery_instance_sync_status()
        return status.to_wire() if status is not None else {"status": "never synced"}
    raise ValueError(f"unknown operation {operation!r}")


if __name__ == "__main__":
    import boto3
    from moto import mock_aws

    from drs_orchestration import ProtectionGroup
    from drs_orchestration.testing import mock_drs

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(), mock_drs() as sim:
        tables = DynamoDBStorage(table_prefix="drs-orch-")
        tables.create_tables()
        server = sim.add_source_server(region="eu-west-1", hostname="db-1")
        tables.protection_groups.put(
            ProtectionGroup(name="db", region="eu-west-1", source_server_ids=[server])
        )
        boto3.client("drs", region_name="eu-west-1").start_recovery(
            sourceServers=[{"sourceServerID": server}], isDrill=True
        )
        sim.advance(3600)

        result = handler({"operation": "sync_recovery_instances"})
        print("targets:", [(t["region"], t["instances"]) for t in result["targets"]])
        print("status:", handler({"operation": "get_recovery_instance_sync_status"})["finishedAt"])
        record = recovery_instance_cache().get([server]).records[server]
        print(record.source_server_id, "->", record.ec2_instance_id, record.ec2_instance_state)
