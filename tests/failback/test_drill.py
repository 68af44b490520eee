"""A failback drill: launch the reversed servers as a drill and leave everything else as it was.

The original source servers keep their replication and their recovery
instances (production keeps running in the recovery region); nothing is
re-protected or cleaned up; an existing instance is overwritten only when
asked. Then the real failback still works.
"""

from __future__ import annotations

import pytest

from drs_orchestration.errors import ValidationError
from drs_orchestration.models import FailbackPhase
from tests.failback.conftest import ORIGIN, World


def _ready(world: World, count: int = 1) -> tuple[str, list[str]]:
    servers = world.servers(count)
    execution = world.fail_over({"app": servers})
    world.orch.failback.start_failback(execution.execution_id)
    assert world.orch.failback.run(execution.execution_id).phase is FailbackPhase.READY
    return execution.execution_id, servers


def test_a_failback_drill_leaves_the_original_replication_untouched(world: World) -> None:
    eid, servers = _ready(world)
    (sid,) = servers
    original = world.originals[sid]
    before = world.source_server(sid)
    volumes = world.ec2_instance(original, ORIGIN)["BlockDeviceMappings"]
    coordinator = world.orch.failback

    coordinator.launch_failback(eid, drill=True)
    failback = coordinator.run(eid)

    (state,) = failback.servers
    assert state.phase is FailbackPhase.COMPLETED
    assert state.launch is not None
    assert state.launch.drill
    assert state.launch.execution_id is not None
    assert world.orch.waves.get(state.launch.execution_id).is_drill
    drill_instance = world.recovery_instance(str(state.failback_recovery_instance_id), ORIGIN)
    assert drill_instance["isDrill"] is True
    assert state.failback_ec2_instance_id != original
    # The original source server, its recovery instance and the original instance: as before.
    after = world.source_server(sid)
    for key in ("dataReplicationState", "dataReplicationError", "dataReplicationInitiation"):
        assert after["dataReplicationInfo"].get(key) == before["dataReplicationInfo"].get(key)
    assert after["recoveryInstanceId"] == before["recoveryInstanceId"]
    assert after["sourceCloudProperties"] == before["sourceCloudProperties"]
    recovery = world.recovery_instance(state.recovery_instance_id)
    assert recovery["ec2InstanceState"] == "RUNNING"
    assert recovery["failback"]["state"] == "FAILBACK_READY_FOR_LAUNCH"
    assert recovery["failback"]["failbackLaunchType"] == "DRILL"
    assert world.ec2_instance(original, ORIGIN)["BlockDeviceMappings"] == volumes
    assert world.ec2_instance(original, ORIGIN)["State"]["Name"] == "stopped"
    # After-care is for real failbacks only.
    with pytest.raises(ValidationError, match="failback drill leaves the original replication"):
        coordinator.reprotect(eid)
    with pytest.raises(ValidationError, match="failback drill leaves the original replication"):
        coordinator.cleanup(eid, servers=[sid])
    assert world.sim.calls.of("StopReplication") == []
    assert world.sim.calls.of("TerminateRecoveryInstances") == []

    # The real failback still follows.
    coordinator.launch_failback(eid, into_original=True)
    failback = coordinator.run(eid)
    (state,) = failback.servers
    assert state.phase is FailbackPhase.COMPLETED
    assert state.launch is not None
    assert not state.launch.drill
    assert state.failback_ec2_instance_id == original
    assert world.recovery_instance(state.recovery_instance_id)["failback"]["state"] == (
        "FAILBACK_COMPLETED"
    )


def test_a_drill_into_the_original_instances_needs_to_be_asked_for(world: World) -> None:
    eid, servers = _ready(world)
    coordinator = world.orch.failback

    with pytest.raises(ValidationError, match="drill_into_original=True") as caught:
        coordinator.launch_failback(eid, drill=True, into_original=True)
    assert world.originals[servers[0]] in caught.value.message

    coordinator.launch_failback(eid, drill=True, into_original=True, drill_into_original=True)
    failback = coordinator.run(eid)
    (state,) = failback.servers
    assert state.failback_ec2_instance_id == world.originals[servers[0]]
    assert state.launched_into_original is True


def test_a_drill_refuses_drs_own_launch_into_the_source_instance(world: World) -> None:
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

    with pytest.raises(ValidationError, match="overwrite") as caught:
        coordinator.launch_failback(execution.execution_id, drill=True)
    assert world.originals[servers[0]] in caught.value.message
    assert world.sim.calls.of("StartRecovery", succeeded=True)[-1].region != ORIGIN
