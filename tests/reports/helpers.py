"""Finished executions of the simulator for report tests (run once per module, read many times)."""

from __future__ import annotations

from dataclasses import dataclass

from drs_orchestration.models import Execution, PlanReadiness, RecoveryPlan
from tests.waves.helpers import REGION, make_drill, simulated


@dataclass(frozen=True)
class Finished:
    execution: Execution
    plan: RecoveryPlan
    preflight: PlanReadiness
    failed_server: str


def drill_with_a_failed_launch() -> Finished:
    """A three-wave drill (2 + 3 + 2 servers) whose second wave has one failed launch."""
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2, "app": 3, "web": 2}, failure_policy="continue")
        failed = drill.servers["app"][1]
        sim.faults.fail_launch(failed, reason="InsufficientInstanceCapacity")
        preflight = drill.orch.waves.preflight(drill.plan.plan_id, drill=True)
        execution = drill.run(drill.start(started_by="auditor@example.com"))
        plan = drill.orch.plans.get(drill.plan.plan_id)
    return Finished(execution, plan, preflight, failed)


def recovery_of_a_lost_site() -> Finished:
    """A real recovery after an outage: every server launches from an older recovery point."""
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1, "app": 2})
        late = sim.add_source_server(
            region=REGION,
            hostname="app-late",
            tags={"Tier": "app"},
            replication_state="INITIAL_SYNC",
            stuck=True,
        )
        drill.orch.groups.update(drill.plan.waves[1].protection_group_ids[0])
        sim.advance(1800)
        sim.outage(region=REGION)
        sim.advance(600)
        preflight = drill.orch.waves.preflight(drill.plan.plan_id, drill=False)
        execution = drill.run(drill.start(drill=False, skip_not_ready=True, started_by="oncall"))
        plan = drill.orch.plans.get(drill.plan.plan_id)
    return Finished(execution, plan, preflight, late)
