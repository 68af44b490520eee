"""An ARC Region switch custom action: one DRS execution per step execution, reported safely."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from drs_orchestration import ExecutionStatus
from drs_orchestration.adapters.aws_lambda import (
    DrsExecutionFailed,
    DrsExecutionInProgress,
    LambdaAdapter,
    RegionSwitchStep,
)
from drs_orchestration.storage.base import Storage
from drs_orchestration.testing import DrsSimulator

from .conftest import REGION, dynamodb_storage, make_adapter, seed
from .events import FakeContext, region_switch_event


def plan_for(
    sim: DrsSimulator, adapter: LambdaAdapter, count: int = 3, failure_policy: str = "stop"
) -> str:
    seed(sim, adapter, count=count)
    group = adapter.orchestrator.groups.create("db", REGION, tags={"Tier": "db"})
    plan = adapter.orchestrator.plans.create(
        "shop",
        [{"name": "db", "protectionGroupIds": [group.group_id]}],
        failure_policy=failure_policy,
    )
    return plan.plan_id


def invoke_until_done(
    sim: DrsSimulator, adapter: LambdaAdapter, event: dict[str, Any], *, limit: int = 40
) -> tuple[dict[str, Any], int]:
    """Invoke as Region switch does: again after each retry interval, until success."""
    for attempt in range(1, limit + 1):
        try:
            return adapter.handler(event, FakeContext()), attempt
        except DrsExecutionInProgress:
            sim.advance(60)  # the step's retry interval
    raise AssertionError("the step never succeeded")


@pytest.mark.parametrize("backend", ["memory", "dynamodb"])
def test_a_recovery_step_starts_once_and_succeeds_when_the_execution_completes(
    sim: DrsSimulator, backend: str
) -> None:
    adapter = make_adapter(sim, dynamodb_storage() if backend == "dynamodb" else None)
    plan_id = plan_for(sim, adapter)
    sim.outage(region=REGION)  # a real disaster: the sources stop replicating
    event = region_switch_event({"planId": plan_id, "executionType": "RECOVERY"})

    with pytest.raises(DrsExecutionInProgress, match="RUNNING"):
        adapter.handler(event, FakeContext())
    report, attempts = invoke_until_done(sim, adapter, event)

    assert attempts > 1
    assert report["status"] == "COMPLETED"
    assert report["executionType"] == "RECOVERY"
    assert (report["serversLaunched"], report["servers"]) == (3, 3)
    assert report["regionSwitchExecutionId"] == event["ExecutionId"]
    executions = adapter.orchestrator.storage.executions.list_for_plan(plan_id)
    assert [e.execution_id for e in executions] == [report["drsExecutionId"]]
    assert executions[0].started_by == RegionSwitchStep.from_event(event).started_by
    assert sim.calls.count("StartRecovery", succeeded=True) == 1
    assert all(c.params["isDrill"] is False for c in sim.calls.of("StartRecovery"))

    # Region switch may invoke a succeeded step again (a retry of a lost answer): same answer.
    again = adapter.handler(event, FakeContext())
    assert again["drsExecutionId"] == report["drsExecutionId"]
    assert sim.calls.count("StartRecovery", succeeded=True) == 1


def test_another_region_switch_execution_starts_its_own_drs_execution(
    sim: DrsSimulator, adapter: LambdaAdapter
) -> None:
    plan_id = plan_for(sim, adapter)
    payload = {"planId": plan_id, "executionType": "DRILL"}
    first, _ = invoke_until_done(sim, adapter, region_switch_event(payload, execution_id="rs-1"))
    second, _ = invoke_until_done(sim, adapter, region_switch_event(payload, execution_id="rs-2"))
    assert first["drsExecutionId"] != second["drsExecutionId"]
    assert len(adapter.orchestrator.storage.executions.list_for_plan(plan_id)) == 2


def test_concurrent_first_invocations_start_one_execution(
    sim: DrsSimulator, adapter: LambdaAdapter
) -> None:
    plan_id = plan_for(sim, adapter)
    event = region_switch_event({"planId": plan_id, "executionType": "DRILL"})
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def invoke() -> None:
        barrier.wait()
        try:
            adapter.handler(event, FakeContext())
        except (DrsExecutionInProgress, DrsExecutionFailed) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=invoke) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 6
    assert "DrsExecutionFailed" not in outcomes
    assert len(adapter.orchestrator.storage.executions.list_for_plan(plan_id)) == 1
    report, _ = invoke_until_done(sim, adapter, event)
    assert report["status"] == "COMPLETED"
    assert sim.calls.count("StartRecovery", succeeded=True) == 1


def test_an_execution_started_before_a_crash_is_adopted_not_started_again(
    sim: DrsSimulator, adapter: LambdaAdapter
) -> None:
    plan_id = plan_for(sim, adapter)
    event = region_switch_event({"planId": plan_id, "executionType": "DRILL"})
    step = RegionSwitchStep.from_event(event)
    storage: Storage = adapter.orchestrator.storage
    # The first invocation took the claim and started the plan, then died before the hand-over.
    storage.claims.acquire(
        step.claim, f"starting:{step.claim}", kind="region-switch-step",
        details={"planId": plan_id, "executionType": "DRILL"},
    )  # fmt: skip
    started = adapter.orchestrator.waves.start(plan_id, drill=True, started_by=step.started_by)

    report, _ = invoke_until_done(sim, adapter, event)
    assert report["drsExecutionId"] == started.execution_id
    assert storage.claims.get(step.claim).owner_id == started.execution_id
    assert len(storage.executions.list_for_plan(plan_id)) == 1


def test_a_failed_execution_fails_the_step_on_every_invocation(
    sim: DrsSimulator, adapter: LambdaAdapter
) -> None:
    plan_id = plan_for(sim, adapter, count=2)
    for server in adapter.orchestrator.groups.list()[0].source_server_ids:
        sim.faults.fail_launch(server)
    event = region_switch_event({"planId": plan_id, "executionType": "DRILL"})
    with pytest.raises(DrsExecutionFailed, match="ended FAILED"):
        invoke_until_done(sim, adapter, event)
    with pytest.raises(DrsExecutionFailed, match="ended FAILED"):
        adapter.handler(event, FakeContext())
    assert sim.calls.count("StartRecovery", succeeded=True) == 1


def test_a_partial_execution_succeeds_only_when_the_payload_accepts_it(
    sim: DrsSimulator, adapter: LambdaAdapter
) -> None:
    plan_id = plan_for(sim, adapter, count=2, failure_policy="continue")
    sim.faults.fail_launch(adapter.orchestrator.groups.list()[0].source_server_ids[0])
    event = region_switch_event({"planId": plan_id, "executionType": "DRILL"})
    with pytest.raises(DrsExecutionFailed, match=r"ended PARTIAL \(1/2 servers launched\)"):
        invoke_until_done(sim, adapter, event)
    accepting = region_switch_event(
        {"planId": plan_id, "executionType": "DRILL", "acceptPartial": True},
        execution_id="rs-accepting",
    )
    report, _ = invoke_until_done(sim, adapter, accepting)
    assert report["status"] == "PARTIAL"


def test_a_paused_execution_is_in_progress_until_resumed(
    sim: DrsSimulator, adapter: LambdaAdapter
) -> None:
    plan_id = plan_for(sim, adapter)
    adapter.orchestrator.plans.update(
        plan_id, waves=[{**adapter.orchestrator.plans.get(plan_id).waves[0].to_wire(),
                         "pauseBefore": True}],
    )  # fmt: skip
    event = region_switch_event({"planId": plan_id, "executionType": "DRILL"})
    for _ in range(3):
        with pytest.raises(DrsExecutionInProgress, match="paused before wave 'db'"):
            adapter.handler(event, FakeContext())
    execution = adapter.orchestrator.storage.executions.list_for_plan(plan_id)[0]
    assert execution.status is ExecutionStatus.PAUSED
    adapter.orchestrator.waves.resume(execution.execution_id)
    report, _ = invoke_until_done(sim, adapter, event)
    assert report["status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"planId": "rp-0123456789abcdefghij"}, "executionType"),
        ({"planId": "rp-0123456789abcdefghij", "executionType": "DRILL", "skipNotRedy": True},
         "skipNotRedy"),
        ({"executionType": "RECOVERY"}, "planId"),
    ],
)  # fmt: skip
def test_an_invalid_payload_fails_the_step_naming_the_field(
    adapter: LambdaAdapter, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(DrsExecutionFailed, match=message):
        adapter.handler(region_switch_event(payload), FakeContext())


def test_metadata_keys_region_switch_may_add_are_ignored(adapter: LambdaAdapter) -> None:
    event = region_switch_event({"planId": "rp-0123456789abcdefghij", "executionType": "DRILL"})
    step = RegionSwitchStep.from_event({**event, "WorkflowName": "activate-us-west-2"})
    assert step.plan_id == "rp-0123456789abcdefghij"


def test_the_payload_cannot_switch_a_started_step_to_another_plan(
    sim: DrsSimulator, adapter: LambdaAdapter
) -> None:
    plan_id = plan_for(sim, adapter)
    event = region_switch_event({"planId": plan_id, "executionType": "DRILL"})
    with pytest.raises(DrsExecutionInProgress):
        adapter.handler(event, FakeContext())
    with pytest.raises(DrsExecutionFailed, match="already runs DRILL"):
        adapter.handler({**event, "executionType": "RECOVERY"}, FakeContext())


def test_a_plan_busy_with_another_execution_is_not_started_twice(
    sim: DrsSimulator, adapter: LambdaAdapter
) -> None:
    plan_id = plan_for(sim, adapter)
    drill = adapter.orchestrator.waves.start(plan_id, drill=True, started_by="someone")
    event = region_switch_event({"planId": plan_id, "executionType": "RECOVERY"})
    with pytest.raises(DrsExecutionInProgress, match=f"busy with {drill.execution_id}"):
        adapter.handler(event, FakeContext())
    adapter.orchestrator.waves.cancel(drill.execution_id, "operator")
    adapter.orchestrator.waves.run(drill.execution_id, poll_interval=30)
    report, _ = invoke_until_done(sim, adapter, event)
    assert report["executionType"] == "RECOVERY"
