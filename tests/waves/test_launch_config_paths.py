"""Fast path vs fallback (DESIGN.md contract 6), counted in the simulator's call log."""

from __future__ import annotations

from drs_orchestration import (
    ExecutionStatus,
    LaunchConfigApplicationError,
    Orchestrator,
    WaveStatus,
)
from drs_orchestration.models import ConfigPath, LaunchSettings, ProtectionGroup, RecoveryPlan
from drs_orchestration.testing import DrsSimulator
from tests.waves.helpers import REGION, add_servers, make_drill, orchestrator, simulated

LAUNCH_CONFIG_OPERATIONS = ("GetLaunchConfiguration", "UpdateLaunchConfiguration")


def _launch_config_calls(sim: object) -> int:
    return sum(sim.calls.count(op) for op in LAUNCH_CONFIG_OPERATIONS)  # type: ignore[attr-defined]


def _unapplied_plan(
    orch: Orchestrator, sim: DrsSimulator, servers: int
) -> tuple[list[str], ProtectionGroup, RecoveryPlan]:
    """A one-wave plan of a group whose launch settings were never applied to DRS."""
    server_ids = add_servers(sim, "db", servers)
    group = orch.groups.create(
        "db", REGION, tags={"Tier": "db"}, launch_settings={"copyPrivateIp": True}, apply=False
    )
    plan = orch.plans.create("p", [{"name": "db", "protectionGroupIds": [group.group_id]}])
    return server_ids, group, plan


def test_fast_path_makes_zero_launch_configuration_calls() -> None:
    with simulated() as sim:
        drill = make_drill(sim, settings={"copyPrivateIp": True, "copyTags": True})
        before = _launch_config_calls(sim)
        assert before > 0  # the groups applied their settings when they were created

        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.COMPLETED
        assert _launch_config_calls(sim) == before
        assert [w.config_path for w in execution.waves] == [ConfigPath.FAST] * 3
        assert all(w.applied_servers == [] for w in execution.waves)


def test_fallback_applies_before_the_job_starts() -> None:
    with simulated() as sim:
        orch = orchestrator(sim)
        servers, group, plan = _unapplied_plan(orch, sim, 2)
        sim.calls.clear()

        execution = orch.waves.run(orch.waves.start(plan.plan_id).execution_id)

        assert execution.status is ExecutionStatus.COMPLETED
        wave = execution.waves[0]
        assert wave.config_path is ConfigPath.FALLBACK
        assert wave.applied_servers == sorted(servers)
        operations = [c.operation for c in sim.calls]
        updates = [i for i, op in enumerate(operations) if op == "UpdateLaunchConfiguration"]
        assert len(updates) == 2
        assert max(updates) < operations.index("StartRecovery")
        assert orch.launch_configs.get_status(group.group_id).status.value == "ready"


def test_drift_triggers_a_reapply_of_the_drifted_servers_only() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"db": 2}, settings={"copyPrivateIp": True})
        storage = drill.orch.storage
        group = storage.protection_groups.list()[0]
        drifted = group.source_server_ids[0]
        # Someone changed the desired settings of one server without applying them.
        storage.protection_groups.put(
            group.model_copy(update={"server_overrides": {drifted: LaunchSettings(copy_tags=True)}})
        )
        sim.calls.clear()

        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.COMPLETED
        assert execution.waves[0].config_path is ConfigPath.FALLBACK
        assert execution.waves[0].applied_servers == [drifted]
        updates = sim.calls.of("UpdateLaunchConfiguration")
        assert [c.params["sourceServerID"] for c in updates] == [drifted]


def test_a_group_that_cannot_be_configured_fails_the_wave_before_any_job() -> None:
    with simulated() as sim:
        orch = orchestrator(sim)
        _, group, plan = _unapplied_plan(orch, sim, 1)
        sim.faults.server_error(1.0, "UpdateLaunchConfiguration")

        execution = orch.waves.run(orch.waves.start(plan.plan_id).execution_id)

        assert execution.status is ExecutionStatus.FAILED
        wave = execution.waves[0]
        assert wave.status is WaveStatus.FAILED
        assert wave.error is not None
        assert wave.error.code == LaunchConfigApplicationError.code
        assert group.group_id in wave.error.message
        assert sim.calls.count("StartRecovery") == 0


def test_a_configuration_failing_in_the_readiness_checks_step_keeps_the_verdicts() -> None:
    with simulated() as sim:
        orch = orchestrator(sim)
        servers, _, plan = _unapplied_plan(orch, sim, 2)
        execution = orch.waves.start(plan.plan_id)
        orch.waves.step(execution.execution_id)  # the execution starts
        sim.faults.server_error(1.0, "UpdateLaunchConfiguration")
        sim.calls.clear()

        result = orch.waves.step(execution.execution_id)

        assert sim.calls.count("DescribeSourceServers") == 1  # checked in this very step
        wave = orch.waves.get(execution.execution_id).waves[0]
        assert wave.status is WaveStatus.FAILED
        assert wave.error is not None
        assert wave.error.code == LaunchConfigApplicationError.code
        assert wave.jobs == []
        assert {sid: o.readiness.ready for sid, o in wave.servers.items() if o.readiness} == (
            dict.fromkeys(servers, True)
        )
        assert result.execution.waves[0].servers == wave.servers
        assert sim.calls.count("StartRecovery") == 0
