"""Pausing an execution before a wave, by direct invocation and through API Gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from drs_orchestration.adapters.aws_lambda import LambdaAdapter
from drs_orchestration.testing import DrsSimulator

from .conftest import TRANSPORTS, invoke, tiered_plan

Summary = dict[str, Any]


def step_until(
    sim: DrsSimulator,
    adapter: LambdaAdapter,
    transport: str,
    execution_id: str,
    done: Callable[[Summary], bool],
) -> Summary:
    for _ in range(200):
        status, step = invoke(adapter, transport, "step_execution", executionId=execution_id)
        assert status == 200, step
        if done(step):
            return dict(step)
        if not step["progressed"]:
            sim.advance(30)
    raise AssertionError("the condition never held")


def waves(summary: Summary) -> list[str]:
    return [wave["status"] for wave in summary["waves"]]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_running_drill_pauses_before_a_wave_resumes_and_completes(
    sim: DrsSimulator, adapter: LambdaAdapter, transport: str
) -> None:
    plan = tiered_plan(sim, adapter, {"db": 1, "app": 1, "web": 1})
    status, started = invoke(
        adapter, transport, "start_execution", planId=plan.plan_id, executionType="DRILL"
    )
    assert status == 201, started
    execution_id = started["executionId"]
    step_until(sim, adapter, transport, execution_id, lambda s: waves(s)[0] != "PENDING")

    # Without ``before``: the next wave not started.
    status, paused = invoke(adapter, transport, "pause_execution", executionId=execution_id)
    assert (status, paused["status"]) == (200, "RUNNING")  # the wave in flight runs on
    step = step_until(sim, adapter, transport, execution_id, lambda s: s["finished"])
    assert (step["status"], step["pausedBefore"]) == ("PAUSED", "app")
    assert waves(step) == ["COMPLETED", "PENDING", "PENDING"]
    status, again = invoke(adapter, transport, "step_execution", executionId=execution_id)
    assert (status, again["status"], again["progressed"]) == (200, "PAUSED", False)

    status, resumed = invoke(adapter, transport, "resume_execution", executionId=execution_id)
    assert (status, resumed["status"], resumed["pausedBefore"]) == (200, "RUNNING", None)
    # With ``before``: that wave, however many waves come first.
    status, _ = invoke(
        adapter, transport, "pause_execution", executionId=execution_id, before="web"
    )
    assert status == 200
    step = step_until(sim, adapter, transport, execution_id, lambda s: s["finished"])
    assert (step["status"], step["pausedBefore"]) == ("PAUSED", "web")
    assert waves(step) == ["COMPLETED", "COMPLETED", "PENDING"]

    invoke(adapter, transport, "resume_execution", executionId=execution_id)
    step = step_until(sim, adapter, transport, execution_id, lambda s: waves(s)[2] != "PENDING")
    assert step["status"] == "RUNNING"
    status, body = invoke(adapter, transport, "pause_execution", executionId=execution_id)
    assert (status, body["error"]) == (409, "Conflict")
    assert "every wave has already started" in body["message"]

    step = step_until(sim, adapter, transport, execution_id, lambda s: s["finished"])
    assert step["status"] == "COMPLETED"
    status, body = invoke(adapter, transport, "pause_execution", executionId=execution_id)
    assert (status, body["error"]) == (409, "InvalidStateTransition")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_pausing_before_a_wave_the_execution_does_not_have_is_400_naming_it(
    sim: DrsSimulator, adapter: LambdaAdapter, transport: str
) -> None:
    plan = tiered_plan(sim, adapter, {"db": 1, "app": 1})
    _, started = invoke(
        adapter, transport, "start_execution", planId=plan.plan_id, executionType="DRILL"
    )
    execution_id = started["executionId"]

    status, body = invoke(
        adapter, transport, "pause_execution", executionId=execution_id, before="nope"
    )
    assert (status, body["error"]) == (400, "Validation")
    [problem] = body["details"]["problems"]
    assert (problem["field"], problem["value"]) == ("before", "nope")
    assert "['db', 'app']" in problem["message"]

    status, body = invoke(
        adapter, transport, "pause_execution", executionId=execution_id, before="not a name!"
    )
    assert (status, body["details"]["problems"][0]["field"]) == (400, "before")
    status, body = invoke(
        adapter, transport, "pause_execution", executionId="ex-0123456789abcdefghij"
    )
    assert (status, body["error"]) == (404, "NotFound")
    status, summary = invoke(adapter, transport, "step_execution", executionId=execution_id)
    assert summary["pausedBefore"] is None  # the refused pauses changed nothing
