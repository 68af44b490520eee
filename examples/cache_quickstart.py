"""The recovery-instance cache: filled after each wave, read in one batch, drill torn down.

Runs offline: moto serves EC2, the DRS simulator serves DRS.
"""

from moto import mock_aws

from drs_orchestration import Orchestrator
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.testing import SimulatedClientFactory, mock_drs

with mock_aws(), mock_drs() as sim:
    servers = [
        sim.add_source_server(region="us-east-1", hostname=f"web-{n}", tags={"Tier": "web"})
        for n in range(3)
    ]
    storage = MemoryStorage()
    orchestrator = Orchestrator(
        storage=storage, clients=SimulatedClientFactory(sim), clock=sim.now, sleep=sim.advance
    )
    # The orchestrator's cache syncs each wave's servers after the wave. With no targets
    # given, a full sync covers the regions and accounts of the protection groups.
    cache = orchestrator.cache
    group = orchestrator.groups.create("web", "us-east-1", tags={"Tier": "web"})
    plan = orchestrator.plans.create(
        "web", [{"name": "web", "protectionGroupIds": [group.group_id]}]
    )
    drill = orchestrator.waves.run(orchestrator.waves.start(plan.plan_id).execution_id)

    # Reads come from storage only: one batched read, misses listed.
    found = cache.get([*servers, "s-00000000000000000"])
    for server_id, record in found.records.items():
        print(server_id, record.ec2_instance_id, record.private_ip, record.ec2_instance_state)
    print("misses:", found.misses)
    print("launched by the drill:", len(cache.for_execution(drill.execution_id)))

    # The scheduled full sync (EventBridge every 5 minutes calls this).
    status = cache.sync_recovery_instances()
    print("synced", status.instances, "instances in", [t.region for t in status.targets])

    # Tear the drill down: first see what would go, then do it.
    preview = cache.terminate_execution(drill.execution_id, dry_run=True)
    print("would terminate:", len(preview.instances))
    report = cache.terminate_execution(drill.execution_id)
    print("terminated:", len(report.terminated), "failed:", report.failed)
    print("left in the cache:", len(storage.recovery_instances.list()))
