"""Fail over to another region and come home: recover, reverse, launch back, re-protect, clean up.

Runs offline against the DRS simulator and moto: ``python examples/failback_round_trip.py``
(needs ``pip install "drs-orchestration[sim]"``). ``docs/failback.md`` walks through it.
"""

from __future__ import annotations

import logging
import os

from moto import mock_aws

from drs_orchestration import FailbackPhase, MemoryStorage, Orchestrator, RetryPolicy
from drs_orchestration.testing import JobTimings, SimulatedClientFactory, mock_drs

logger = logging.getLogger(__name__)
ORIGIN = "us-west-2"  # where the applications run
RECOVERY = "us-east-1"  # where DRS replicates them, and where they fail over to
AMAZON_LINUX = "ami-04681a1dbd79675a5"  # from moto's catalogue: HVM, x86_64, EBS-backed


def main() -> None:
    # moto's catalogue images carry the platform and architecture the matcher checks.
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "true"
    timings = JobTimings(reverse_replication=1200.0)  # replicating back takes 20 minutes
    with mock_aws(), mock_drs(timings=timings) as sim:
        clients = SimulatedClientFactory(sim)
        origin_ec2 = clients.client("ec2", ORIGIN)
        servers: dict[str, str] = {}
        originals: list[str] = []
        for name in ("db-1", "app-1"):
            instance = origin_ec2.run_instances(
                ImageId=AMAZON_LINUX,
                InstanceType="m5.large",
                MinCount=1,
                MaxCount=1,
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": [
                            {"Key": "Name", "Value": name},
                            # The failback launches back into this instance: allow DRS to.
                            {"Key": "AWSDRS", "Value": "AllowLaunchingIntoThisInstance"},
                        ],
                    }
                ],
            )["Instances"][0]
            originals.append(instance["InstanceId"])
            servers[name] = sim.add_source_server(
                region=RECOVERY,
                hostname=name,
                source_instance_id=instance["InstanceId"],
                origin_region=ORIGIN,
                private_ip=instance["PrivateIpAddress"],
            )
        orchestrator = Orchestrator(
            MemoryStorage(),
            clients,
            clock=sim.now,
            sleep=sim.advance,  # waits move simulated time on
            retry=RetryPolicy(sleep=sim.advance),
            sync_cache=False,
        )
        db = orchestrator.groups.create("db", RECOVERY, server_ids=[servers["db-1"]])
        app = orchestrator.groups.create("app", RECOVERY, server_ids=[servers["app-1"]])
        plan = orchestrator.plans.create(
            "shop",
            [
                {"name": "db", "protectionGroupIds": [db.group_id]},
                {"name": "app", "protectionGroupIds": [app.group_id], "dependsOn": ["db"]},
            ],
        )

        # The origin region goes down: fail over to the recovery region.
        sim.outage(region=RECOVERY)
        origin_ec2.stop_instances(InstanceIds=originals)
        failover = orchestrator.waves.start(plan.plan_id, drill=False)
        failover = orchestrator.waves.run(failover.execution_id)
        logger.info("failover %s: %s", failover.execution_id, failover.status.value)

        # The origin is back: replicate back and wait until caught up.
        failback = orchestrator.failback
        eid = failover.execution_id
        failback.start_failback(eid)
        state = failback.run(eid)
        assert state.phase is FailbackPhase.READY, state.phase
        for server in state.servers:
            logger.info(
                "%s replicates back to %s in %s: %s, lag %s s (staging account %s)",
                server.source_server_id,
                server.reversed_source_server_id,
                server.reversed_region,
                server.replication_state,
                server.lag_seconds,
                server.staging_account_id,
            )

        # Launch back into the original instances, in the failover's wave order.
        failback.launch_failback(eid, into_original=True)
        state = failback.run(eid)
        assert state.phase is FailbackPhase.COMPLETED, [s.error for s in state.servers]
        for server in state.servers:
            logger.info(
                "%s is back on %s (its original: %s) with IP %s",
                server.source_server_id,
                server.failback_ec2_instance_id,
                server.launched_into_original,
                server.failback_private_ip,
            )

        # Protect it again towards the recovery region, then clear the failover away.
        failback.reprotect(eid)
        failback.cleanup(eid)
        state = failback.run(eid)
        for server in state.servers:
            assert server.reprotect is not None
            assert server.terminate is not None
            logger.info(
                "%s re-protected (%s), old recovery instance %s terminated at %s",
                server.source_server_id,
                server.reprotect.replication_state,
                server.recovery_instance_id,
                server.terminate.done_at,
            )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
