"""Region to region and back: recover → reverse → CONTINUOUS → launch back → re-protect → clean up.

Every DRS object (the source server, the recovery instance, the reversed
source server, the failed-back instance, their EC2 instances, the jobs) is
read back through plain boto3 clients at each step. Seed 003's end-to-end
scenarios 8.1.2 (complete failback) and 8.1.5 (several waves, launched into
existing instances) are these tests.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from drs_orchestration.events import FailbackProgressed
from drs_orchestration.models import ExecutionStatus, FailbackPhase, ServerLaunchStatus
from tests.failback.conftest import ORIGIN, RECOVERY, World


def _calls(world: World, operation: str, region: str | None = None) -> list[Any]:
    return [
        c
        for c in world.sim.calls.of(operation, succeeded=True)
        if region is None or c.region == region
    ]


def _state(item: dict[str, Any]) -> str:
    return str(item["dataReplicationInfo"]["dataReplicationState"])


def _instance_of(world: World, server_id: str, region: str = RECOVERY) -> str:
    return str(world.source_server(server_id, region)["recoveryInstanceId"])


def _volumes(world: World, instance_id: str, region: str) -> list[str]:
    mappings = world.ec2_instance(instance_id, region)["BlockDeviceMappings"]
    return [m["Ebs"]["VolumeId"] for m in mappings]


def test_region_to_region_failback_round_trip_checks_every_drs_object(world: World) -> None:
    db = world.servers(1, tier="database")
    app = world.servers(2, tier="app")
    originals = dict(world.originals)
    original_ips = {sid: world.ip_of(i, ORIGIN) for sid, i in originals.items()}
    original_volumes = {sid: _volumes(world, i, ORIGIN) for sid, i in originals.items()}
    execution = world.fail_over({"database": db, "app": app})
    coordinator = world.orch.failback
    eid = execution.execution_id

    # Failed over: the sources are stalled, each has a running recovery instance.
    recovered = {sid: _instance_of(world, sid) for sid in db + app}
    for sid, rid in recovered.items():
        assert _state(world.source_server(sid)) == "STALLED"
        instance = world.recovery_instance(rid)
        assert instance["isDrill"] is False
        assert instance["ec2InstanceState"] == "RUNNING"
        assert instance["failback"]["state"] == "FAILBACK_NOT_STARTED"
        assert "reversedDirectionSourceServerArn" not in world.source_server(sid)
    assert world.drs(ORIGIN).describe_source_servers()["items"] == []

    # Started: checked and recorded, nothing asked of DRS.
    failback = coordinator.start_failback(eid)
    assert failback.phase is FailbackPhase.NOT_STARTED
    assert {s.source_server_id for s in failback.servers} == set(recovered)
    for state in failback.servers:
        assert state.original_instance_id == originals[state.source_server_id]
        assert state.staging_account_id == "123456789012"
        assert state.ec2_instance_id == recovered[state.source_server_id]
    assert failback.staging_consistent
    assert _calls(world, "ReverseReplication") == []

    # Replicated back until caught up.
    failback = coordinator.run(eid)
    assert failback.phase is FailbackPhase.READY
    reversals = Counter(c.params["recoveryInstanceID"] for c in _calls(world, "ReverseReplication"))
    assert reversals == dict.fromkeys(recovered.values(), 1)
    reversed_ids: dict[str, str] = {}
    for state in failback.servers:
        sid = state.source_server_id
        assert state.lag_seconds is not None
        assert state.lag_seconds <= 60
        assert state.replication_state == "CONTINUOUS"
        back = world.source_server(str(state.reversed_source_server_id), ORIGIN)
        assert back["replicationDirection"] == "FAILBACK"
        assert back["reversedDirectionSourceServerArn"].endswith(sid)
        assert back["sourceProperties"]["identificationHints"]["awsInstanceID"] == recovered[sid]
        assert _state(back) == "CONTINUOUS"
        assert world.source_server(sid)["reversedDirectionSourceServerArn"] == back["arn"]
        assert world.recovery_instance(recovered[sid])["failback"]["state"] == (
            "FAILBACK_READY_FOR_LAUNCH"
        )
        assert state.drs_failback_state == "FAILBACK_READY_FOR_LAUNCH"
        reversed_ids[sid] = str(state.reversed_source_server_id)

    # Launched back into the original instances, in the failover's wave order.
    coordinator.launch_failback(eid, into_original=True)
    failback = coordinator.run(eid)
    assert failback.phase is FailbackPhase.COMPLETED
    launch = failback.servers[0].launch
    assert launch is not None
    assert launch.execution_id is not None
    assert launch.plan_id is not None
    plan = world.orch.plans.get(launch.plan_id)
    assert [w.name for w in plan.waves] == ["database", "app"]
    launched = world.orch.waves.get(launch.execution_id)
    assert launched.status is ExecutionStatus.COMPLETED
    assert not launched.is_drill
    starts = _calls(world, "StartRecovery", ORIGIN)
    assert [[s["sourceServerID"] for s in c.params["sourceServers"]] for c in starts] == [
        [reversed_ids[sid] for sid in db],
        [reversed_ids[sid] for sid in app],
    ]
    for state in failback.servers:
        sid = state.source_server_id
        original = originals[sid]
        assert state.failback_ec2_instance_id == original
        assert state.launched_into_original is True
        assert state.failback_private_ip == original_ips[sid]
        assert world.ip_of(original, ORIGIN) == original_ips[sid]
        outcome = launched.outcomes()[reversed_ids[sid]]
        assert outcome.status is ServerLaunchStatus.LAUNCHED
        assert outcome.identity is not None
        assert outcome.identity.verified
        # The original's volumes were replaced; the old ones stay in the account.
        assert set(_volumes(world, original, ORIGIN)).isdisjoint(original_volumes[sid])
        for volume in original_volumes[sid]:
            described = world.ec2(ORIGIN).describe_volumes(VolumeIds=[volume])["Volumes"][0]
            assert described["State"] == "available"
        assert _instance_of(world, reversed_ids[sid], ORIGIN) == original
        assert world.recovery_instance(recovered[sid])["failback"]["state"] == (
            "FAILBACK_COMPLETED"
        )
        assert _state(world.source_server(sid)) == "STALLED"  # untouched until re-protected

    # Re-protected: the original source servers replicate the failed-back instances.
    coordinator.reprotect(eid)
    failback = coordinator.run(eid)
    reprotects = [
        c.params["recoveryInstanceID"] for c in _calls(world, "ReverseReplication", ORIGIN)
    ]
    assert sorted(reprotects) == sorted(originals.values())
    for state in failback.servers:
        sid = state.source_server_id
        assert state.reprotect is not None
        assert state.reprotect.done_at is not None
        assert state.reprotect.reversed_source_server_arn == world.source_server(sid)["arn"]
        source = world.source_server(sid)
        assert _state(source) == "CONTINUOUS"
        assert source["sourceProperties"]["identificationHints"]["awsInstanceID"] == originals[sid]
        assert source["sourceCloudProperties"]["originRegion"] == ORIGIN
        assert len(world.drs().describe_source_servers()["items"]) == len(recovered)

    # Cleaned up: the temporary servers stopped, the old recovery instances gone.
    coordinator.cleanup(eid)
    failback = coordinator.run(eid)
    for state in failback.servers:
        sid = state.source_server_id
        assert state.stop_replication is not None
        assert state.stop_replication.done_at is not None
        assert state.terminate is not None
        assert state.terminate.done_at is not None
        assert _state(world.source_server(reversed_ids[sid], ORIGIN)) == "STOPPED"
        assert world.recovery_instance(recovered[sid]) == {}
        assert world.ec2_instance(recovered[sid])["State"]["Name"] == "terminated"
        assert world.ec2_instance(originals[sid], ORIGIN)["State"]["Name"] == "running"
        assert _state(world.source_server(sid)) == "CONTINUOUS"
    terminations = _calls(world, "TerminateRecoveryInstances", RECOVERY)
    assert len(terminations) == 1
    assert sorted(terminations[0].params["recoveryInstanceIDs"]) == sorted(recovered.values())

    # Each step once, in order, told to the event sink.
    actions = [e.action for e in world.events if isinstance(e, FailbackProgressed)]
    for action in ("recorded", "reverse_started", "ready", "launch_started", "failed_back"):
        assert actions.count(action) == len(recovered), action
    assert actions.index("ready") < actions.index("launch_started") < actions.index("failed_back")
    assert len(_calls(world, "ReverseReplication", RECOVERY)) == len(recovered)


def test_a_failback_without_a_target_launches_new_instances_in_the_origin(world: World) -> None:
    servers = world.servers(1)
    execution = world.fail_over({"app": servers})
    coordinator = world.orch.failback
    coordinator.start_failback(execution.execution_id)
    coordinator.run(execution.execution_id)
    coordinator.launch_failback(execution.execution_id)

    failback = coordinator.run(execution.execution_id)

    (state,) = failback.servers
    assert state.phase is FailbackPhase.COMPLETED
    assert state.launched_into_original is False
    assert state.failback_ec2_instance_id not in (None, world.originals[servers[0]])
    assert world.ec2_instance(str(state.failback_ec2_instance_id), ORIGIN)["State"]["Name"] == (
        "running"
    )
    assert world.ec2_instance(world.originals[servers[0]], ORIGIN)["State"]["Name"] == "stopped"


def test_drs_launch_into_source_instance_setting_takes_the_failback_home(world: World) -> None:
    servers = world.servers(1)
    execution = world.fail_over({"app": servers})
    origin = world.drs(ORIGIN)
    template = origin.describe_launch_configuration_templates()["items"][0]
    origin.update_launch_configuration_template(
        launchConfigurationTemplateID=template["launchConfigurationTemplateID"],
        launchIntoSourceInstance=True,
    )
    coordinator = world.orch.failback
    coordinator.start_failback(execution.execution_id)
    coordinator.run(execution.execution_id)
    (state,) = coordinator.get(execution.execution_id).servers
    config = origin.get_launch_configuration(sourceServerID=state.reversed_source_server_id)
    assert config["launchIntoInstanceProperties"] == {
        "launchIntoEC2InstanceID": world.originals[servers[0]]
    }

    coordinator.launch_failback(execution.execution_id)
    failback = coordinator.run(execution.execution_id)

    (state,) = failback.servers
    assert state.launched_into_original is True
    assert state.failback_ec2_instance_id == world.originals[servers[0]]
