"""End-to-end drills on the simulator: outcomes, tags, events, dependency order, concurrency."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from drs_orchestration import (
    ExecutionStatus,
    Orchestrator,
    RecoveryInstanceCache,
    SessionClientFactory,
    WaveStatus,
)
from drs_orchestration.events import JobStarted, WaveFinished, WaveStarted
from drs_orchestration.models import ConfigPath, ServerLaunchStatus
from drs_orchestration.storage import MemoryStorage
from tests.waves.helpers import (
    REGION,
    add_servers,
    drs_jobs,
    make_drill,
    orchestrator,
    simulated,
    started_server_ids,
)


def test_three_wave_drill_records_every_server_with_phases_and_instances() -> None:
    with simulated() as sim:
        drill = make_drill(sim)
        execution = drill.run(drill.start(started_by="auditor"))

        assert execution.status is ExecutionStatus.COMPLETED
        assert [w.wave_name for w in execution.waves] == ["database", "app", "web"]
        assert all(w.status is WaveStatus.COMPLETED for w in execution.waves)
        ec2 = boto3.client("ec2", region_name=REGION)
        running = {
            i["InstanceId"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
        }
        for outcome in execution.outcomes().values():
            assert outcome.status is ServerLaunchStatus.LAUNCHED
            assert outcome.recovery_instance_id is not None
            assert outcome.ec2_instance_id in running
            phases = outcome.phases
            assert phases.job_start is not None
            assert phases.job_start <= phases.conversion_start  # type: ignore[operator]
            assert phases.launch_start is not None
            assert phases.launch_end is not None
            assert phases.launch_start <= phases.launch_end
        assert execution.recovery_time is not None
        assert execution.recovery_time > timedelta(0)
        assert execution.started_by == "auditor"


def test_jobs_carry_the_tracking_tags_and_only_model_parameters() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1, "app": 1})
        execution = drill.run(drill.start())

        calls = sim.calls.of("StartRecovery", succeeded=True)
        assert len(calls) == 2
        for call, wave in zip(calls, ["database", "app"], strict=True):
            assert set(call.params) == {"sourceServers", "isDrill", "tags"}
            assert call.params["isDrill"] is True
            assert call.params["tags"] == {
                "ExecutionId": execution.execution_id,
                "PlanId": drill.plan.plan_id,
                "PlanName": "three-tier",
                "Wave": wave,
                "Chunk": "0",
                "ExecutionType": "DRILL",
                "ManagedBy": "drs-orchestration",
            }
            assert all(set(s) == {"sourceServerID"} for s in call.params["sourceServers"])
        tagged = {j["jobID"]: j["tags"]["Wave"] for j in drs_jobs(sim)}
        assert tagged == {w.jobs[0].job_id: w.wave_name for w in execution.waves}


def test_a_recovery_is_not_a_drill() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1})
        execution = drill.run(drill.start(drill=False))

        assert execution.status is ExecutionStatus.COMPLETED
        call = sim.calls.of("StartRecovery")[0]
        assert call.params["isDrill"] is False
        assert call.params["tags"]["ExecutionType"] == "RECOVERY"


def test_seed_000_a_server_tagged_like_the_group_after_the_plan_is_not_recovered() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2})
        late = add_servers(sim, "database", 1)[0]

        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.COMPLETED
        assert started_server_ids(sim) == [drill.servers["database"]]
        assert late not in execution.outcomes()
        # Tags were resolved once, at group creation (the one unfiltered listing); every
        # call of the execution (preflight, the post-wave cache sync) names the plan's servers.
        listings = sim.calls.of("DescribeSourceServers")
        assert [c.params.get("filters", {}).get("sourceServerIDs") for c in listings[:1]] == [None]
        for call in listings[1:]:
            assert sorted(call.params["filters"]["sourceServerIDs"]) == sorted(
                drill.servers["database"]
            )
        assert len(listings) >= 2


def test_waves_start_in_dependency_order_one_at_a_time() -> None:
    with simulated() as sim:
        drill = make_drill(
            sim,
            {"web": 1, "app": 1, "database": 1},
            waves=[{"dependsOn": ["app"]}, {"dependsOn": ["database"]}, {"dependsOn": []}],
        )
        execution = drill.run(drill.start())

        assert [w.wave_name for w in execution.waves] == ["database", "app", "web"]
        started = [c.params["tags"]["Wave"] for c in sim.calls.of("StartRecovery")]
        assert started == ["database", "app", "web"]
        for earlier, later in zip(execution.waves, execution.waves[1:], strict=False):
            assert earlier.ended_at is not None
            assert later.started_at is not None
            assert earlier.ended_at <= later.started_at
        order = [(type(e).__name__, getattr(e, "wave_name", None)) for e in drill.events]
        assert order.index(("WaveFinished", "database")) < order.index(("WaveStarted", "app"))


def test_independent_waves_run_concurrently_when_the_plan_allows_it() -> None:
    with simulated() as sim:
        drill = make_drill(
            sim,
            {"database": 1, "cache": 1, "web": 1},
            waves=[{}, {"dependsOn": []}, {"dependsOn": ["database", "cache"]}],
            allow_concurrent_waves=True,
        )
        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.COMPLETED
        by_name = {w.wave_name: w for w in execution.waves}
        db, cache, web = by_name["database"], by_name["cache"], by_name["web"]
        assert cache.started_at < db.ended_at  # type: ignore[operator]
        assert db.started_at < cache.ended_at  # type: ignore[operator]
        assert web.started_at >= max(db.ended_at, cache.ended_at)  # type: ignore[operator, type-var]


def test_without_concurrency_independent_waves_still_run_one_at_a_time() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1, "cache": 1}, waves=[{}, {"dependsOn": []}])
        execution = drill.run(drill.start())

        db, cache = execution.waves
        assert db.ended_at <= cache.started_at  # type: ignore[operator]


def test_events_tell_the_story_with_timings() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2})
        execution = drill.run(drill.start())

        kinds = drill.kinds()
        assert kinds[0] == "execution_started"
        assert kinds[-1] == "execution_finished"
        assert (
            kinds.index("wave_started") < kinds.index("job_started") < kinds.index("job_progress")
        )
        assert kinds.count("server_launched") == 2
        started = next(e for e in drill.events if isinstance(e, WaveStarted))
        assert started.config_path == "fast"
        job = next(e for e in drill.events if isinstance(e, JobStarted))
        assert job.job_id == execution.waves[0].jobs[0].job_id
        finished = next(e for e in drill.events if isinstance(e, WaveFinished))
        assert finished.launched == 2
        assert finished.failed == 0
        assert finished.duration_s
        assert finished.duration_s > 0
        assert execution.waves[0].config_path is ConfigPath.FAST


def test_step_does_one_unit_and_any_executor_can_take_the_next() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1})
        execution = drill.start()
        other = orchestrator(sim, storage=drill.orch.storage)

        statuses = []
        for executor in [drill.orch.waves, other.waves] * 200:
            execution = executor.step(execution.execution_id).execution
            statuses.append(execution.status)
            if execution.status.is_terminal:
                break
            sim.advance(15)

        assert execution.status is ExecutionStatus.COMPLETED
        assert sim.calls.count("StartRecovery") == 1
        assert statuses[0] is ExecutionStatus.RUNNING


def test_orchestrator_defaults_need_no_aws_at_construction() -> None:
    orch = Orchestrator(MemoryStorage())

    assert isinstance(orch.storage, MemoryStorage)
    assert isinstance(orch.clients, SessionClientFactory)
    assert isinstance(orch.cache, RecoveryInstanceCache)
    assert orch.waves is not None
    assert orch.groups is not None
    assert orch.plans is not None
    assert orch.launch_configs is not None


@pytest.mark.parametrize("sync_cache", [True, False])
def test_the_orchestrator_caches_each_wave_unless_told_not_to(sync_cache: bool) -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2, "app": 1}, sync_cache=sync_cache)
        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.COMPLETED
        cached = drill.orch.cache.for_execution(execution.execution_id)
        if sync_cache:
            assert sorted(r.source_server_id for r in cached) == sorted(
                drill.servers["database"] + drill.servers["app"]
            )
            assert all(r.ec2_instance_id for r in cached)
        else:
            assert cached == []
