"""Seed 003's 8.1.7: validation failures and launch failures on the way back.

(Agent failures are in ``test_agent_and_on_premises.py``.)
"""

from __future__ import annotations

import pytest

from drs_orchestration.errors import InstanceMatchingError, ValidationError
from drs_orchestration.models import FailbackPhase
from tests.failback.conftest import ORIGIN, World


def _ready(world: World, count: int, **details: object) -> tuple[str, list[str]]:
    servers = world.servers(count, **details)  # type: ignore[arg-type]
    execution = world.fail_over({"app": servers})
    world.orch.failback.start_failback(execution.execution_id)
    assert world.orch.failback.run(execution.execution_id).phase is FailbackPhase.READY
    return execution.execution_id, servers


def test_an_original_instance_drs_may_not_launch_into_is_refused_before_any_launch(
    world: World,
) -> None:
    eid, servers = _ready(world, 1, allow=False)
    coordinator = world.orch.failback
    original = world.originals[servers[0]]

    with pytest.raises(InstanceMatchingError, match="AllowLaunchingIntoThisInstance") as caught:
        coordinator.launch_failback(eid, into_original=True)

    assert servers[0] in caught.value.details["servers"]
    assert coordinator.get(eid).servers[0].phase is FailbackPhase.READY
    assert [c for c in world.sim.calls.of("StartRecovery") if c.region == ORIGIN] == []

    coordinator.launch_failback(eid, into_original=True, add_tag=True)
    failback = coordinator.run(eid)

    (state,) = failback.servers
    assert state.phase is FailbackPhase.COMPLETED
    assert state.failback_ec2_instance_id == original
    tags = {t["Key"]: t["Value"] for t in world.ec2_instance(original, ORIGIN)["Tags"]}
    assert tags["AWSDRS"] == "AllowLaunchingIntoThisInstance"


def test_explicit_pairs_must_name_servers_launched_back(world: World) -> None:
    eid, _ = _ready(world, 1)

    with pytest.raises(ValidationError) as caught:
        world.orch.failback.launch_failback(
            eid, pairs={"s-0000000000000000a": "i-0123456789abcdef0"}
        )

    assert caught.value.problems[0]["field"] == "pairs"


def test_a_launch_back_that_fails_in_drs_fails_that_server_with_drs_reason(
    world: World,
) -> None:
    eid, servers = _ready(world, 2)
    coordinator = world.coordinator()
    broken = coordinator.get(eid).server(servers[0])
    world.sim.faults.fail_launch(
        str(broken.reversed_source_server_id), reason="insufficient capacity in us-west-2a"
    )

    coordinator.launch_failback(eid)
    failback = coordinator.run(eid)

    assert failback.phase is FailbackPhase.FAILED
    failed = failback.server(servers[0])
    assert failed.phase is FailbackPhase.FAILED
    assert failed.error is not None
    assert "insufficient capacity in us-west-2a" in failed.error.message
    assert failback.server(servers[1]).phase is FailbackPhase.COMPLETED
