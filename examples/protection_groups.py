"""Protection groups with pre-applied launch configurations, drift, and the wave fast path.

Runs offline against the DRS simulator: ``python examples/protection_groups.py``
(needs ``pip install "drs-orchestration[sim]"``).
"""

from __future__ import annotations

import logging

from moto import mock_aws

from drs_orchestration.services import (
    LaunchConfigService,
    ProtectionGroupService,
    RecoveryPlanService,
)
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.testing import SimulatedClientFactory, mock_drs

logger = logging.getLogger(__name__)


def main() -> None:
    with mock_aws(), mock_drs() as sim:
        for i in range(3):
            sim.add_source_server(region="us-east-1", hostname=f"db-{i}", tags={"Tier": "db"})
        storage, clients = MemoryStorage(), SimulatedClientFactory(sim)
        launch_configs = LaunchConfigService(storage, clients)
        groups = ProtectionGroupService(storage, clients, launch_configs=launch_configs)

        database = groups.create(
            "database",
            "us-east-1",
            tags={"Tier": "db"},  # resolved now, and again only on update
            launch_settings={
                "copyPrivateIp": True,
                "targetInstanceTypeRightSizingMethod": "NONE",
                "instanceType": "r6i.xlarge",
            },
        )
        status = database.launch_config_status
        logger.info(
            "group %s: %s on %d servers",
            database.name,
            status.status.value,
            len(status.server_configs),
        )

        plan = RecoveryPlanService(storage).create(
            "shop", [{"name": "database", "protectionGroupIds": [database.group_id]}]
        )
        logger.info("plan %s wave servers: %s", plan.name, plan.wave("database").server_ids)

        ready = launch_configs.ensure_ready(database.group_id)
        logger.info("before the wave: %s path", ready.path.value)  # fast: no DRS calls

        drs = clients.client("drs", "us-east-1")
        drs.update_launch_configuration(
            sourceServerID=database.source_server_ids[0], copyPrivateIp=False
        )
        drift = launch_configs.detect_drift(database.group_id, remote=True)
        for server_id, reasons in drift.drifted.items():
            logger.info("drifted %s: %s", server_id, "; ".join(reasons))
        launch_configs.apply_to_group(database.group_id, force=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
