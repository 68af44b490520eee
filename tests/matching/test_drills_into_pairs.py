"""A drill never overwrites a paired production-standby instance unless told to."""

from __future__ import annotations

from drs_orchestration import ExecutionStatus, WaveExecutor
from drs_orchestration.models import ServerLaunchStatus
from drs_orchestration.services import RecoveryPlanService
from tests.matching.conftest import Env


def _executor(env: Env) -> WaveExecutor:
    return WaveExecutor(
        env.storage,
        env.clients,
        launch_configs=env.launch_configs,
        clock=env.sim.now,
        sleep=env.sim.advance,
        retry=env.retry,
    )


def test_a_drill_into_a_paired_instance_is_refused_unless_asked(env: Env) -> None:
    web = env.server("web-1")
    target = env.instance("web-1")
    group = env.group([web])
    env.matcher.apply(env.matcher.match(group_id=group.group_id))
    plan = RecoveryPlanService(env.storage).create(
        "p", [{"name": "web", "protectionGroupIds": [group.group_id]}]
    )
    waves = _executor(env)

    report = waves.preflight(plan.plan_id, drill=True)
    assert "a paired standby" in report.not_ready[web]
    refused = waves.run(waves.start(plan.plan_id).execution_id)
    assert refused.status is ExecutionStatus.FAILED
    assert refused.waves[0].launch_into == {web: target}
    error = refused.waves[0].error
    assert error is not None
    assert "drill_into_paired_instances=True" in error.message
    assert env.sim.calls.count("StartRecovery") == 0

    drill = waves.run(waves.start(plan.plan_id, drill_into_paired_instances=True).execution_id)
    assert drill.status is ExecutionStatus.COMPLETED
    outcome = drill.waves[0].servers[web]
    assert outcome.status is ServerLaunchStatus.LAUNCHED
    assert outcome.ec2_instance_id == target  # launched into the standby, which keeps its ID


def test_a_recovery_launches_into_its_paired_instance_without_being_asked(env: Env) -> None:
    web = env.server("web-1")
    target = env.instance("web-1")
    group = env.group([web])
    env.matcher.apply(env.matcher.match(group_id=group.group_id))
    plan = RecoveryPlanService(env.storage).create(
        "p", [{"name": "web", "protectionGroupIds": [group.group_id]}]
    )
    waves = _executor(env)

    assert waves.preflight(plan.plan_id, drill=False).all_ready
    recovery = waves.run(waves.start(plan.plan_id, drill=False).execution_id)

    assert recovery.status is ExecutionStatus.COMPLETED
    assert recovery.waves[0].servers[web].ec2_instance_id == target
