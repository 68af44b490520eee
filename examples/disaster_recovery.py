"""A real recovery of a lost site, offline: preflight, recover from the last recovery points, RPO.

Run it with ``python examples/disaster_recovery.py`` (needs the ``sim`` extra:
``pip install "drs-orchestration[sim]"``). ``docs/waves.md`` walks through it.
"""

from __future__ import annotations

import logging

from moto import mock_aws

from drs_orchestration import Execution, MemoryStorage, Orchestrator
from drs_orchestration.testing import SimulatedClientFactory, mock_drs

logger = logging.getLogger(__name__)


def recover_lost_site() -> Execution:
    """Lose the site of a two-tier application an hour after it was protected, and recover it."""
    with mock_aws(), mock_drs() as sim:
        for tier in ("database", "app"):
            for i in range(2):
                sim.add_source_server(hostname=f"{tier}-{i}", tags={"Tier": tier})
        # Still in its first sync when the site goes: it has no recovery point.
        sim.add_source_server(
            hostname="app-new", tags={"Tier": "app"}, replication_state="INITIAL_SYNC", stuck=True
        )
        orchestrator = Orchestrator(
            MemoryStorage(), SimulatedClientFactory(sim), clock=sim.now, sleep=sim.advance
        )
        waves = []
        for tier, after in (("database", []), ("app", ["database"])):
            group = orchestrator.groups.create(tier, "us-east-1", tags={"Tier": tier})
            waves.append({"name": tier, "protectionGroupIds": [group.group_id], "dependsOn": after})
        plan_id = orchestrator.plans.create("shop", waves).plan_id
        sim.advance(3600)
        sim.outage(region="us-east-1")  # every source server STALLED, AGENT_NOT_SEEN

        # Nothing changes in the plan: a recovery launches from the latest recovery points.
        report = orchestrator.waves.preflight(plan_id, drill=False)
        for server_id, reason in report.not_ready.items():
            logger.info("%s: %s", server_id, reason)  # still in its first sync: nothing to launch

        recovery = orchestrator.waves.start(plan_id, drill=False, skip_not_ready=True)
        recovery = orchestrator.waves.run(recovery.execution_id)
        logger.info("RTO %s, worst RPO %s", recovery.recovery_time, recovery.worst_rpo)
        return recovery


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = recover_lost_site()
    if result.status.value != "PARTIAL" or result.worst_rpo is None:
        raise SystemExit(f"expected a partial recovery with an RPO, got {result!r}")
