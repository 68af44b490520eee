"""A three-wave drill with the Orchestrator, offline: groups, a plan, a resumable execution.

Run it with ``python examples/drill.py`` (needs the ``sim`` extra:
``pip install "drs-orchestration[sim]"``). ``docs/waves.md`` walks through it.
"""

from __future__ import annotations

import logging

from moto import mock_aws

from drs_orchestration import Execution, MemoryStorage, Orchestrator
from drs_orchestration.testing import SimulatedClientFactory, mock_drs

logger = logging.getLogger(__name__)


def run_drill() -> Execution:
    """Seed a three-tier application, plan it in three waves and drill it."""
    with mock_aws(), mock_drs() as sim:
        for tier in ("database", "app", "web"):
            for i in range(2):
                sim.add_source_server(
                    region="us-east-1", hostname=f"{tier}-{i}", tags={"Tier": tier}
                )
        # The simulator's clock and sleep make ten simulated minutes pass in a moment.
        orchestrator = Orchestrator(
            MemoryStorage(), SimulatedClientFactory(sim), clock=sim.now, sleep=sim.advance
        )
        waves = []
        for tier, after in (("database", []), ("app", ["database"]), ("web", ["app"])):
            group = orchestrator.groups.create(
                tier, "us-east-1", tags={"Tier": tier}, launch_settings={"copyPrivateIp": True}
            )
            waves.append({"name": tier, "protectionGroupIds": [group.group_id], "dependsOn": after})
        plan = orchestrator.plans.create("shop", waves)

        # The three lines: start a drill, run it to the end, read the outcome.
        execution = orchestrator.waves.start(plan.plan_id, drill=True)
        execution = orchestrator.waves.run(execution.execution_id, poll_interval=15)
        return orchestrator.waves.get(execution.execution_id)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run_drill()
    logger.info(
        "drill %s: %s, RTO %s", result.execution_id, result.status.value, result.recovery_time
    )
    for wave in result.waves:
        for server_id, outcome in wave.servers.items():
            logger.info(
                "  %-8s %s %s -> %s",
                wave.wave_name,
                server_id,
                outcome.status.value,
                outcome.ec2_instance_id,
            )
    if result.status.value != "COMPLETED":
        raise SystemExit(1)
