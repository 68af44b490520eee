"""The day DRS exists for: a real recovery of a lost site, readiness by execution type, RPO."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drs_orchestration import ExecutionStatus, WaveStatus
from drs_orchestration.models import ServerLaunchStatus
from drs_orchestration.models.readiness import ReadinessPolicy, ReadinessRule
from tests.waves.helpers import (
    REGION,
    drs_jobs,
    make_drill,
    orchestrator,
    simulated,
    started_server_ids,
)


def test_a_lost_site_recovers_every_server_with_a_recovery_point() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2, "app": 2, "web": 2})
        # A server still in its first sync when the site is lost: nothing to launch from.
        late = sim.add_source_server(
            region=REGION,
            hostname="web-late",
            tags={"Tier": "web"},
            replication_state="INITIAL_SYNC",
            stuck=True,
        )
        web = drill.orch.groups.get(drill.plan.waves[2].protection_group_ids[0])
        drill.orch.groups.update(web.group_id)  # tag selection picks the late server up
        sim.advance(1800)
        lost = sim.outage(region=REGION)
        assert set(lost) >= {*drill.servers["database"], late}

        report = drill.orch.waves.preflight(drill.plan.plan_id, drill=False)
        assert report.not_ready.keys() == {late}
        assert "no recovery point" in report.not_ready[late]
        verdicts = {s.source_server_id: s for w in report.waves for s in w.servers}
        assert all(v.state == "STALLED" for v in verdicts.values())
        assert all(
            v.latest_recovery_point is not None for sid, v in verdicts.items() if sid != late
        )

        execution = drill.run(drill.start(drill=False, skip_not_ready=True))

        assert execution.status is ExecutionStatus.PARTIAL
        outcomes = execution.outcomes()
        launched = {s for s, o in outcomes.items() if o.status is ServerLaunchStatus.LAUNCHED}
        assert launched == set(verdicts) - {late}
        assert outcomes[late].status is ServerLaunchStatus.SKIPPED
        assert "no recovery point" in (outcomes[late].skipped_reason or "")
        # Preflight predicted exactly what launched.
        assert {s for s, v in verdicts.items() if v.ready} == launched
        for sid in launched:
            outcome = outcomes[sid]
            assert outcome.recovery_point is not None
            assert outcome.recovery_point == verdicts[sid].latest_recovery_point
            assert execution.started_at is not None
            expected = (execution.started_at - outcome.recovery_point).total_seconds()
            assert outcome.achieved_rpo_s == pytest.approx(expected, abs=0.001)
            assert outcome.achieved_rpo_s > 0
        assert execution.worst_rpo == timedelta(
            seconds=max(outcomes[s].achieved_rpo_s or 0 for s in launched)
        )
        assert execution.recovery_time is not None
        for run in execution.waves:
            assert run.worst_rpo is not None
            assert run.recovery_time is not None
        jobs = drs_jobs(sim)
        assert all(job["initiatedBy"] == "START_RECOVERY" for job in jobs)


def test_a_drill_of_a_lost_site_is_refused_by_default_and_runs_with_an_outage_policy() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2})
        sim.advance(1800)
        sim.outage(server_ids=drill.servers["database"])

        refused = drill.run(drill.start())
        assert refused.status is ExecutionStatus.FAILED
        assert refused.waves[0].error is not None
        assert refused.waves[0].error.code == "ServersNotReady"
        assert "drill readiness rule accepts CONTINUOUS" in refused.waves[0].error.message
        assert sim.calls.count("StartRecovery") == 0

        outage_drill = ReadinessPolicy(drill=ReadinessRule(states=None))
        execution = drill.run(drill.start(readiness=outage_drill))
        assert execution.status is ExecutionStatus.COMPLETED
        assert execution.readiness == outage_drill
        assert all(o.achieved_rpo_s and o.achieved_rpo_s > 0 for o in execution.outcomes().values())


def test_a_healthy_drill_records_its_on_demand_recovery_point() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2})
        execution = drill.run(drill.start())
        assert execution.status is ExecutionStatus.COMPLETED
        for outcome in execution.outcomes().values():
            assert outcome.readiness is not None
            assert outcome.readiness.state == "CONTINUOUS"
            assert outcome.recovery_point is not None
            assert execution.started_at is not None
            assert outcome.recovery_point >= execution.started_at  # snapshot taken on demand
            assert outcome.achieved_rpo_s == 0
        assert execution.worst_rpo == timedelta(0)


def test_a_drill_does_not_replace_a_recovery_instance_of_a_real_recovery() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2})
        recovery = drill.run(drill.start(drill=False))
        assert recovery.status is ExecutionStatus.COMPLETED

        refused = drill.run(drill.start())
        assert refused.status is ExecutionStatus.FAILED
        assert refused.waves[0].error is not None
        assert "replace_recovery_instances=True" in refused.waves[0].error.message
        assert sim.calls.count("StartRecovery") == 1

        allowed = drill.run(drill.start(replace_recovery_instances=True))
        assert allowed.status is ExecutionStatus.COMPLETED
        assert len(sim.calls.of("StartRecovery", succeeded=True)) == 2


def test_a_plan_follows_its_group_when_servers_leave_and_join() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2})
        group_id = drill.plan.waves[0].protection_group_ids[0]
        kept, _removed = drill.servers["database"]
        drill.orch.groups.update(group_id, server_ids=[kept])

        execution = drill.run(drill.start())
        assert execution.status is ExecutionStatus.COMPLETED
        assert execution.waves[0].server_ids == [kept]
        assert started_server_ids(sim) == [[kept]]
        group = drill.orch.groups.get(group_id)
        assert execution.waves[0].group_versions == {group_id: group.version}

        joined = sim.add_source_server(region=REGION, hostname="db-new", tags={"Tier": "database"})
        drill.orch.groups.update(group_id, server_ids=[kept, joined])
        assert drill.orch.groups.get(group_id).launch_config_status.status.value == "ready"

        again = drill.run(drill.start())
        assert again.status is ExecutionStatus.COMPLETED
        assert again.waves[0].config_path is not None
        assert again.waves[0].config_path.value == "fast"
        assert started_server_ids(sim)[-1] == [kept, joined]


def test_any_plan_name_labels_its_jobs() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1})
        plan = drill.orch.plans.update(drill.plan.plan_id, name="Payroll & HR (prod) #1")
        execution = drill.run(drill.orch.waves.start(plan.plan_id))
        assert execution.status is ExecutionStatus.COMPLETED
        [job] = drs_jobs(sim)
        assert job["tags"]["PlanName"] == "Payroll _ HR _prod_ _1"


_STATES = ["CONTINUOUS", "STALLED", "PAUSED", "BACKLOG", "INITIAL_SYNC", "STOPPED", "DISCONNECTED"]


@given(
    mix=st.lists(st.tuples(st.sampled_from(_STATES), st.booleans()), min_size=1, max_size=6),
    drill_mode=st.booleans(),
)
def test_servers_launched_are_exactly_those_the_policy_accepts(
    mix: list[tuple[str, bool]], drill_mode: bool
) -> None:
    """For any mix of states (with or without a recovery point), launch == preflight == policy."""
    with simulated(ec2=False) as sim:
        orch = orchestrator(sim)
        servers = [
            # A server that never finished its first sync has no recovery point.
            sim.add_source_server(
                region=REGION,
                hostname=f"db-{i}",
                tags={"Tier": "database"},
                replication_state="CONTINUOUS" if has_point else "INITIAL_SYNC",
                stuck=not has_point,
            )
            for i, (_, has_point) in enumerate(mix)
        ]
        group = orch.groups.create("database", REGION, tags={"Tier": "database"})
        plan = orch.plans.create("p", [{"name": "db", "protectionGroupIds": [group.group_id]}])
        sim.advance(1800)  # the replicating servers take point-in-time snapshots
        for sid, (state, _) in zip(servers, mix, strict=True):
            sim.set_replication_state(sid, state, stuck=True)
        rule = plan.readiness.rule(drill=drill_mode)
        expected = {
            sid
            for sid, (state, has_point) in zip(servers, mix, strict=True)
            if rule.accepts_state(state) and (state == "CONTINUOUS" or has_point)
        }

        report = orch.waves.preflight(plan.plan_id, drill=drill_mode)
        execution = orch.waves.start(plan.plan_id, drill=drill_mode, skip_not_ready=True)
        while execution.waves[0].status in (
            WaveStatus.PENDING,
            WaveStatus.PREFLIGHT,
            WaveStatus.CONFIGURING,
            WaveStatus.LAUNCHING,
        ):
            execution = orch.waves.step(execution.execution_id).execution

        assert set(report.waves[0].ready) == expected
        launched = {sid for call in started_server_ids(sim) for sid in call}
        assert launched == expected
        skipped = {
            s
            for s, o in execution.waves[0].servers.items()
            if o.status is ServerLaunchStatus.SKIPPED
        }
        assert skipped == set(servers) - expected
