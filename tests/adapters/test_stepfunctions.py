"""The Step Functions driver: a valid, fully connected definition that ends where ``run`` ends."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from drs_orchestration import (
    Execution,
    StorageUnavailableError,
    ThrottledError,
    ValidationError,
)
from drs_orchestration.adapters.aws_lambda import LambdaAdapter
from drs_orchestration.adapters.stepfunctions import (
    PAUSED_DETAIL_TYPE,
    state_machine_definition,
    state_machine_role_statements,
)
from drs_orchestration.testing import DrsSimulator, mock_drs

from .asl import TaskError, interpret, reachable, successors, terminal
from .conftest import REGION, make_adapter
from .events import FakeContext

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:drs-orchestration"


def lint_definition(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """cfn-lint's findings on a state machine with ``definition`` (rule E3601: the ASL schema)."""
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"FunctionArn": {"Type": "String"}},
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sts:AssumeRole",
                                "Principal": {"Service": "states.amazonaws.com"},
                            }
                        ],
                    }
                },
            },
            "Driver": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Definition": definition,
                    "DefinitionSubstitutions": {"FunctionArn": {"Ref": "FunctionArn"}},
                },
            },
        },
    }
    found = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    return [(match.rule.id, match.message) for match in found]


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return state_machine_definition("${FunctionArn}")


def test_cfn_lint_accepts_the_definition_and_rejects_a_broken_one(
    definition: dict[str, Any],
) -> None:
    assert lint_definition(definition) == []
    broken = copy.deepcopy(definition)
    broken["States"]["Wait"]["Type"] = "Sleep"
    assert [rule for rule, _ in lint_definition(broken)] == ["E3601"]


def test_every_state_is_reachable_and_every_path_ends(definition: dict[str, Any]) -> None:
    states = definition["States"]
    for name, state in states.items():
        assert successors(state) <= set(states), f"{name} goes to an unknown state"
        assert terminal(state) or successors(state), f"{name} is a dead end"
        ends = [s for s in reachable(definition, name) if terminal(states[s])]
        assert ends, f"no terminal state can be reached from {name}"
    assert reachable(definition) == set(states)
    assert {s for s in states if terminal(states[s])} == {
        "Completed", "Partial", "Failed", "Cancelled", "StartRejected", "StepRejected",
        "LambdaFailed", "PauseTimedOut",
    }  # fmt: skip


def test_every_lambda_task_retries_with_backoff_and_catches(definition: dict[str, Any]) -> None:
    tasks = {n: s for n, s in definition["States"].items() if s["Type"] == "Task"}
    lambdas = [s for s in tasks.values() if s["Resource"].endswith(":lambda:invoke")]
    assert len(lambdas) == 4
    for state in lambdas:
        assert state["Parameters"]["FunctionName"] == "${FunctionArn}"
        first = state["Retry"][0]
        assert "Lambda.TooManyRequestsException" in first["ErrorEquals"]
        assert first["BackoffRate"] > 1
        assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValidationError, match="poll_interval_s"):
        state_machine_definition(FUNCTION, poll_interval_s=0)
    with pytest.raises(ValidationError, match="function_arn"):
        state_machine_definition("")


def test_the_role_may_invoke_the_function_and_publish_pauses() -> None:
    statements = state_machine_role_statements(
        FUNCTION, event_bus_arn="arn:aws:events:us-east-1:123456789012:event-bus/default"
    )
    assert statements[0]["Action"] == ["lambda:InvokeFunction"]
    assert statements[0]["Resource"] == [FUNCTION, f"{FUNCTION}:*"]
    assert statements[1]["Action"] == ["events:PutEvents"]


# ---- interpreted against the Lambda adapter -----------------------------------------------


def seed_plan(sim: DrsSimulator, adapter: LambdaAdapter, *, pause: bool = False,
              fail: bool = False) -> str:  # fmt: skip
    """Three tiers of two servers, a wave each, depending on the previous one."""
    orch = adapter.orchestrator
    waves: list[dict[str, Any]] = []
    for tier in ("database", "app", "web"):
        servers = [
            sim.add_source_server(region=REGION, hostname=f"{tier}-{i}", tags={"Tier": tier})
            for i in range(2)
        ]
        if fail and tier == "app":
            for server in servers:
                sim.faults.fail_launch(server)
        group = orch.groups.create(tier, REGION, tags={"Tier": tier})
        wave: dict[str, Any] = {"name": tier, "protectionGroupIds": [group.group_id]}
        if waves:
            wave["dependsOn"] = [waves[-1]["name"]]
        if pause and tier == "web":
            wave["pauseBefore"] = True
        waves.append(wave)
    return orch.plans.create("three-tier", waves).plan_id


def projection(execution: Execution) -> dict[str, Any]:
    """What must be equal between drivers: outcomes and timings, not generated IDs.

    Times are relative to the execution's start: each simulator starts at its own "now".
    """
    origin = execution.started_at
    assert origin is not None

    def since(moment: Any) -> Any:
        return None if moment is None else moment - origin

    return {
        "status": execution.status,
        "type": execution.execution_type,
        "recoveryTime": execution.recovery_time,
        "worstRpo": execution.worst_rpo,
        "endedAt": since(execution.ended_at),
        "waves": [
            {
                "name": w.wave_name,
                "status": w.status,
                "configPath": w.config_path,
                "jobs": len(w.jobs),
                "servers": {sid: o.status for sid, o in w.servers.items()},
                "startedAt": since(w.started_at),
                "endedAt": since(w.ended_at),
            }
            for w in execution.waves
        ],
    }


def handler_invoker(adapter: LambdaAdapter) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def invoke(payload: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(adapter.handler(payload, FakeContext())))

    return invoke


@pytest.mark.parametrize("fail", [False, True], ids=["completed", "failed"])
def test_the_interpreted_state_machine_ends_where_wave_executor_run_ends(fail: bool) -> None:
    definition = state_machine_definition(FUNCTION, poll_interval_s=30)
    with mock_drs() as sim_a:
        adapter = make_adapter(sim_a)
        plan_id = seed_plan(sim_a, adapter, fail=fail)
        run = interpret(
            definition,
            {"planId": plan_id, "executionType": "DRILL"},
            invoke=handler_invoker(adapter),
            wait=sim_a.advance,
        )
        driven = adapter.orchestrator.storage.executions.list_for_plan(plan_id)
    with mock_drs() as sim_b:
        reference = make_adapter(sim_b)
        plan_b = seed_plan(sim_b, reference, fail=fail)
        started = reference.orchestrator.waves.start(plan_b, drill=True)
        expected = reference.orchestrator.waves.run(started.execution_id, poll_interval=30)

    assert len(driven) == 1
    assert projection(driven[0]) == projection(expected)
    if fail:
        assert (run.status, run.error) == ("FAILED", "DrsOrchestration.ExecutionFailed")
    else:
        assert (run.status, run.visited[-1]) == ("SUCCEEDED", "Completed")
    assert run.waited_s > 0


@pytest.mark.parametrize("action", ["resume", "cancel"])
def test_a_pause_waits_for_the_task_token_answer(sim: DrsSimulator, action: str) -> None:
    adapter = make_adapter(sim)
    plan_id = seed_plan(sim, adapter, pause=True)
    published: list[dict[str, Any]] = []

    def answer(entry: dict[str, Any]) -> dict[str, Any]:
        published.append(entry)
        return {"action": action}

    run = interpret(
        state_machine_definition(FUNCTION),
        {"planId": plan_id, "executionType": "DRILL"},
        invoke=handler_invoker(adapter),
        wait=sim.advance,
        answer_pause=answer,
    )
    (entry,) = published
    assert entry["DetailType"] == PAUSED_DETAIL_TYPE
    assert entry["Detail"]["pausedBefore"] == "web"
    assert entry["Detail"]["taskToken"].startswith("token-")
    execution = adapter.orchestrator.storage.executions.list_for_plan(plan_id)[0]
    if action == "resume":
        assert (run.status, execution.status.value) == ("SUCCEEDED", "COMPLETED")
    else:
        assert (run.error, execution.status.value) == (
            "DrsOrchestration.ExecutionCancelled", "CANCELLED",
        )  # fmt: skip
        assert execution.wave_run("web").status.value == "CANCELLED"


def test_a_pause_asked_through_the_api_stops_the_state_machine_at_that_wave(
    sim: DrsSimulator,
) -> None:
    adapter = make_adapter(sim)
    plan_id = seed_plan(sim, adapter)  # no wave pauses by itself
    invoke = handler_invoker(adapter)
    paused: list[dict[str, Any]] = []
    published: list[dict[str, Any]] = []

    def operator_pauses_during_the_first_wave(payload: dict[str, Any]) -> dict[str, Any]:
        answer = invoke(payload)
        body = answer["body"]
        in_first_wave = payload["operation"] == "step_execution" and (
            body["waves"][0]["status"] != "PENDING"
        )
        if in_first_wave and not paused:
            pause = {"operation": "pause_execution", "executionId": body["executionId"]}
            paused.append(invoke({**pause, "before": "web"}))
        return answer

    def resume(entry: dict[str, Any]) -> dict[str, Any]:
        published.append(entry)
        return {"action": "resume"}

    run = interpret(
        state_machine_definition(FUNCTION),
        {"planId": plan_id, "executionType": "DRILL"},
        invoke=operator_pauses_during_the_first_wave,
        wait=sim.advance,
        answer_pause=resume,
    )
    [answer] = paused
    assert (answer["statusCode"], answer["body"]["status"]) == (200, "RUNNING")
    (entry,) = published
    assert entry["Detail"]["pausedBefore"] == "web"
    assert "WaitForResume" in run.visited
    execution = adapter.orchestrator.storage.executions.list_for_plan(plan_id)[0]
    assert (run.status, execution.status.value) == ("SUCCEEDED", "COMPLETED")


def test_lambda_errors_are_retried_and_a_given_execution_is_driven(sim: DrsSimulator) -> None:
    adapter = make_adapter(sim)
    plan_id = seed_plan(sim, adapter)
    execution = adapter.orchestrator.waves.start(plan_id, drill=True)
    invoke = handler_invoker(adapter)
    failures = iter(["Lambda.TooManyRequestsException", "Lambda.ServiceException"])

    def flaky(payload: dict[str, Any]) -> dict[str, Any]:
        failure = next(failures, None)
        if failure is not None:
            raise TaskError(failure)
        return invoke(payload)

    run = interpret(
        state_machine_definition(FUNCTION),
        {"executionId": execution.execution_id},
        invoke=flaky,
        wait=sim.advance,
    )
    assert run.status == "SUCCEEDED"
    assert run.visited[:2] == ["HasExecution", "Step"]


def test_a_plan_that_cannot_start_and_a_lambda_that_keeps_failing_end_in_fail_states(
    sim: DrsSimulator,
) -> None:
    adapter = make_adapter(sim)
    definition = state_machine_definition(FUNCTION)
    run = interpret(
        definition, {"planId": "rp-0123456789abcdefghij", "executionType": "DRILL"},
        invoke=handler_invoker(adapter), wait=sim.advance,
    )  # fmt: skip
    assert run.error == "DrsOrchestration.StartRejected"
    assert run.output["start"]["body"]["error"] == "NotFound"

    def broken(_: dict[str, Any]) -> dict[str, Any]:
        raise TaskError("Lambda.ServiceException")

    run = interpret(definition, {"executionId": "ex-0123456789abcdefghij"}, invoke=broken,
                    wait=sim.advance)  # fmt: skip
    assert run.error == "DrsOrchestration.LambdaFailed"
    assert run.invocations == 1 + 6  # the first call and the six retries


def test_answers_that_say_try_later_back_off_and_step_again(
    sim: DrsSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = make_adapter(sim)
    plan_id = seed_plan(sim, adapter)
    execution = adapter.orchestrator.waves.start(plan_id, drill=True)
    step = adapter.orchestrator.waves.step
    outages = iter(
        [
            StorageUnavailableError("table throttled"),
            ThrottledError(
                "throttled", aws_code="ThrottlingException", operation="DescribeJobs", service="drs"
            ),
        ]
    )

    def sometimes_unavailable(execution_id: str) -> Any:
        outage = next(outages, None)
        if outage is not None:
            raise outage
        return step(execution_id)

    monkeypatch.setattr(adapter.orchestrator.waves, "step", sometimes_unavailable)
    run = interpret(
        state_machine_definition(FUNCTION),
        {"executionId": execution.execution_id},
        invoke=handler_invoker(adapter),
        wait=sim.advance,
    )
    assert run.status == "SUCCEEDED"
    assert run.visited[:6] == ["HasExecution", "Step", "Answered", "Backoff", "Step", "Answered"]
    assert run.visited.count("Backoff") == 2
