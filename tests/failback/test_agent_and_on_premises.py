"""The installation hook and the on-premises way back (Failback Client, StartFailbackLaunch).

Seed 003's 6.3 (agent installation with a timeout and remediation), 8.1.2
(reverse replication → agent installation → failback → validation) and the
agent part of 8.1.7 (error scenarios).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from drs_orchestration.errors import NotFoundError, ValidationError
from drs_orchestration.models import ExecutionStatus, FailbackMode, FailbackPhase
from drs_orchestration.services.failback import AgentInstallRequest
from drs_orchestration.services.failback.launch import FAILBACK_LAUNCH_TAG, FAILBACK_OF_TAG
from tests.failback.conftest import RECOVERY, World


def _on_premises_failover(world: World, count: int = 1) -> tuple[str, list[str]]:
    servers = [
        world.sim.add_source_server(region=RECOVERY, hostname=f"dc1-db-{i}") for i in range(count)
    ]
    group = world.orch.groups.create("db", RECOVERY, server_ids=servers)
    plan = world.orch.plans.create("dc1", [{"name": "db", "protectionGroupIds": [group.group_id]}])
    world.sim.outage(server_ids=servers)
    execution = world.orch.waves.run(
        world.orch.waves.start(plan.plan_id, drill=False).execution_id, poll_interval=30
    )
    assert execution.status is ExecutionStatus.COMPLETED
    return execution.execution_id, servers


class Installer:
    """A hook standing in for another team's installer: connects the Failback Client."""

    def __init__(self, world: World, *, error: Exception | None = None) -> None:
        self.world = world
        self.error = error
        self.requests: list[AgentInstallRequest] = []

    def __call__(self, request: AgentInstallRequest) -> None:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        if request.kind == "failback-client":
            self.world.sim.connect_failback_client(request.recovery_instance_id)


def test_on_premises_servers_fail_back_through_the_failback_client(world: World) -> None:
    eid, _ = _on_premises_failover(world, 2)
    installer = Installer(world)
    coordinator = world.coordinator(install_agent=installer)

    failback = coordinator.start_failback(eid)
    assert {s.mode for s in failback.servers} == {FailbackMode.ON_PREMISES}
    failback = coordinator.run(eid)

    assert failback.phase is FailbackPhase.READY
    assert [r.kind for r in installer.requests] == ["failback-client", "failback-client"]
    assert {r.recovery_instance_id for r in installer.requests} == {
        s.recovery_instance_id for s in failback.servers
    }
    assert installer.requests[0].to_dict()["recoveryInstanceId"] == (
        installer.requests[0].recovery_instance_id
    )
    for state in failback.servers:
        assert state.agent_installed_at is not None
        assert state.drs_failback_state == "FAILBACK_READY_FOR_LAUNCH"
    assert world.sim.calls.of("ReverseReplication") == []

    with pytest.raises(ValidationError, match="no drill"):
        coordinator.launch_failback(eid, drill=True)
    coordinator.launch_failback(eid)
    failback = coordinator.run(eid)

    assert failback.phase is FailbackPhase.COMPLETED
    (call,) = world.sim.calls.of("StartFailbackLaunch", succeeded=True)
    assert sorted(call.params["recoveryInstanceIDs"]) == sorted(
        s.recovery_instance_id for s in failback.servers
    )
    assert call.params["tags"][FAILBACK_OF_TAG] == eid
    assert call.params["tags"][FAILBACK_LAUNCH_TAG] == failback.servers[0].launch.launch_id  # type: ignore[union-attr]
    for state in failback.servers:
        instance = world.recovery_instance(state.recovery_instance_id)
        assert instance["failback"]["state"] == "FAILBACK_COMPLETED"
        assert state.launch is not None
        assert instance["failback"]["failbackJobID"] == state.launch.job_id


def test_on_premises_failback_needs_the_hook(world: World) -> None:
    eid, _ = _on_premises_failover(world)

    with pytest.raises(ValidationError, match="install_agent="):
        world.orch.failback.start_failback(eid)


def test_a_failing_hook_fails_the_server_with_remediation(world: World) -> None:
    eid, _ = _on_premises_failover(world)
    coordinator = world.coordinator(install_agent=Installer(world, error=RuntimeError("no route")))
    coordinator.start_failback(eid)

    failback = coordinator.run(eid)

    (state,) = failback.servers
    assert state.phase is FailbackPhase.FAILED
    assert state.error is not None
    assert state.error.code == "AgentInstallation"
    assert "RuntimeError: no route" in state.error.message
    assert "Failback Client ISO" in state.error.details["remediation"]
    assert state.agent_installed_at is None


def test_a_hook_that_does_not_return_in_time_fails_the_server(world: World) -> None:
    eid, _ = _on_premises_failover(world)
    release = threading.Event()

    def hang(request: AgentInstallRequest) -> None:
        release.wait(5)

    coordinator = world.coordinator(install_agent=hang, install_timeout_s=0.05)
    coordinator.start_failback(eid)
    try:
        failback = coordinator.run(eid)
    finally:
        release.set()

    (state,) = failback.servers
    assert state.error is not None
    assert state.error.code == "AgentInstallation"
    assert "did not finish within 0.05 s" in state.error.message


def test_in_aws_the_hook_installs_the_agent_before_reversing(world: World) -> None:
    servers = world.servers(1)
    execution = world.fail_over({"app": servers})
    order: list[str] = []
    installer = Installer(world)

    def install(request: AgentInstallRequest) -> None:
        order.append(f"install:{len(world.sim.calls.of('ReverseReplication'))}")
        installer(request)

    coordinator = world.coordinator(install_agent=install)
    coordinator.start_failback(execution.execution_id)
    failback = coordinator.run(execution.execution_id)

    assert failback.phase is FailbackPhase.READY
    assert order == ["install:0"]
    assert [r.kind for r in installer.requests] == ["replication-agent"]
    assert len(world.sim.calls.of("ReverseReplication")) == 1


def test_failback_replication_settings_are_read_and_changed(world: World) -> None:
    eid, servers = _on_premises_failover(world)
    coordinator = world.coordinator(install_agent=Installer(world))
    coordinator.start_failback(eid)

    coordinator.configure_failback_replication(
        eid, name="dc1-back", bandwidth_throttling=100, use_private_ip=True
    )
    settings: dict[str, Any] = coordinator.failback_replication_configuration(eid, servers[0])

    assert settings["name"] == "dc1-back"
    assert settings["bandwidthThrottling"] == 100
    assert settings["usePrivateIP"] is True
    with pytest.raises(ValidationError, match="at least one setting"):
        coordinator.configure_failback_replication(eid)
    with pytest.raises(NotFoundError, match="s-0000000000000000f") as missing:
        coordinator.failback_replication_configuration(eid, "s-0000000000000000f")
    assert missing.value.details["executionId"] == eid
