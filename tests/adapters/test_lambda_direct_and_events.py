"""Direct invocations and EventBridge events (schedules, DRS), on memory and DynamoDB (moto)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from drs_orchestration.adapters.aws_lambda import EventKind, LambdaAdapter, classify
from drs_orchestration.testing import DrsSimulator
from drs_orchestration.testing.events import STALLED_CHANGE

from .conftest import REGION, dynamodb_storage, make_adapter, seed, tiered_plan
from .events import (
    FakeContext,
    drs_launch_result_event,
    http_event,
    region_switch_event,
    rest_event,
    scheduled_event,
)


def direct(adapter: LambdaAdapter, operation: str, **params: Any) -> tuple[int, Any]:
    response = adapter.handler({"operation": operation, **params}, FakeContext())
    assert set(response) == {"statusCode", "body"}
    json.dumps(response)  # a direct answer is plain JSON, the body an object
    return response["statusCode"], response["body"]


@pytest.fixture
def ddb_adapter(sim: DrsSimulator) -> LambdaAdapter:
    return make_adapter(sim, dynamodb_storage(), sync_cache=True)


def run_drill(sim: DrsSimulator, adapter: LambdaAdapter) -> str:
    seed(sim, adapter)
    status, group = direct(
        adapter, "create_protection_group", name="db", region=REGION, tags={"Tier": "db"}
    )
    assert status == 201, group
    status, plan = direct(
        adapter, "create_recovery_plan", name="shop",
        waves=[{"name": "db", "protectionGroupIds": [group["groupId"]]}],
    )  # fmt: skip
    assert status == 201, plan
    status, started = direct(
        adapter, "start_execution", planId=plan["planId"], executionType="DRILL"
    )
    assert status == 201, started
    for _ in range(100):
        status, step = direct(adapter, "step_execution", executionId=started["executionId"])
        assert status == 200, step
        if step["finished"]:
            break
        if not step["progressed"]:
            sim.advance(30)
    assert step["status"] == "COMPLETED"
    return str(started["executionId"])


def test_direct_operations_drive_a_drill_on_dynamodb(
    sim: DrsSimulator, ddb_adapter: LambdaAdapter
) -> None:
    execution_id = run_drill(sim, ddb_adapter)
    status, records = direct(
        ddb_adapter, "get_execution_recovery_instances", executionId=execution_id
    )
    assert status == 200
    assert len(records["recoveryInstances"]) == 3
    server = records["recoveryInstances"][0]["sourceServerId"]
    status, lookup = direct(ddb_adapter, "get_recovery_instances", sourceServerIds=[server])
    assert (status, list(lookup["records"]), lookup["misses"]) == (200, [server], [])


def test_a_schedule_without_input_syncs_the_cache(
    sim: DrsSimulator, ddb_adapter: LambdaAdapter
) -> None:
    run_drill(sim, ddb_adapter)
    response = ddb_adapter.handler(scheduled_event(), FakeContext())
    assert response["statusCode"] == 200
    assert [t["instances"] for t in response["body"]["targets"]] == [3]
    _, sync = direct(ddb_adapter, "get_cache_sync_status")
    assert sync["finishedAt"] == response["body"]["finishedAt"]


def test_unknown_operations_and_parameters_are_400(adapter: LambdaAdapter) -> None:
    status, body = direct(adapter, "launch_everything")
    assert (status, body["error"]) == (400, "UnknownOperation")
    assert "start_execution" in body["details"]["operations"]
    status, body = direct(adapter, "get_execution", executionId="not-an-id")
    assert (status, body["error"]) == (400, "Validation")
    assert body["details"]["problems"][0]["field"] == "executionId"
    status, body = direct(adapter, "get_execution", executionId="ex-0123456789abcdefghij")
    assert (status, body["error"]) == (404, "NotFound")
    status, body = direct(adapter, "list_recovery_plans", extra=1)
    assert status == 400


def stepped_to_its_first_job(adapter: LambdaAdapter, execution_id: str) -> dict[str, Any]:
    """Step a started execution until it waits on DRS: its first wave's job is running."""
    for _ in range(50):
        status, step = direct(adapter, "step_execution", executionId=execution_id)
        assert status == 200, step
        if not step["progressed"]:
            return dict(step)
    raise AssertionError("the execution never waited on DRS")


@pytest.mark.parametrize("backend", ["memory", "dynamodb"])
def test_drs_events_alone_drive_a_multi_wave_drill_to_its_end(
    sim: DrsSimulator, backend: str
) -> None:
    adapter = make_adapter(sim, dynamodb_storage() if backend == "dynamodb" else None)
    plan = tiered_plan(sim, adapter, {"db": 2, "app": 2, "web": 1})
    status, started = direct(adapter, "start_execution", planId=plan.plan_id, executionType="DRILL")
    assert (status, started["status"]) == (201, "PENDING")  # nothing sent to DRS yet
    execution_id = started["executionId"]
    first = stepped_to_its_first_job(adapter, execution_id)
    assert [w["status"] for w in first["waves"]][1:] == ["PENDING", "PENDING"]
    assert first["waves"][0]["status"] not in ("PENDING", "COMPLETED")
    assert sim.calls.count("StartRecovery") == 1

    answered: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def to_the_function(event: dict[str, Any]) -> None:
        response = adapter.handler(event, FakeContext())
        json.dumps(response)  # what Lambda returns must be plain JSON
        answered.append((event, response))

    sim.events.subscribe(to_the_function)
    sim.advance_until_idle()  # no step_execution from here on: only the events

    status, execution = direct(adapter, "get_execution", executionId=execution_id)
    assert execution["status"] == "COMPLETED"
    assert [w["status"] for w in execution["waves"]] == ["COMPLETED"] * 3
    assert sim.calls.count("StartRecovery") == 3
    assert {response["statusCode"] for _, response in answered} == {200}
    bodies = [response["body"] for event, response in answered]
    assert len(bodies) == 5  # a launch result per server
    assert all(body["handled"] for body in bodies)
    assert {body["executionId"] for body in bodies} == {execution_id}
    assert set(bodies[-1]) == {"handled", "executionId", "status", "progressed", "finished"}
    assert (bodies[-1]["status"], bodies[-1]["finished"]) == ("COMPLETED", True)
    assert [b["status"] for b in bodies[:-1]] == ["RUNNING"] * 4

    stray_server = sim.add_source_server(region=REGION, hostname="batch-1")
    stray = adapter.orchestrator.clients.client("drs", REGION).start_recovery(
        sourceServers=[{"sourceServerID": stray_server}], isDrill=True
    )["job"]["jobID"]
    sim.advance_until_idle()
    event, response = answered[-1]
    assert event["detail"]["job-id"] == stray
    assert response["statusCode"] == 200
    assert response["body"]["handled"] is False
    assert stray in response["body"]["reason"]

    sim.outage(server_ids=[stray_server])
    sim.advance(1)  # delivers what the outage published
    event, response = answered[-1]
    assert event["detail-type"] == STALLED_CHANGE
    assert response == {
        "statusCode": 200,
        "body": {"handled": False, "reason": f"{STALLED_CHANGE!r} events do not move executions"},
    }


def test_a_malformed_drs_event_answers_400_naming_the_field(adapter: LambdaAdapter) -> None:
    event = drs_launch_result_event("s-1234567890abcdef0", "drsjob-1234567890abcdef0")
    del event["detail"]["job-id"]
    response = adapter.handler(event, FakeContext())
    json.dumps(response)
    assert (response["statusCode"], response["body"]["error"]) == (400, "Validation")
    assert response["body"]["details"]["problems"][0]["field"] == "event.detail.job-id"


def test_other_events_are_refused_with_a_reason(adapter: LambdaAdapter) -> None:
    event = {**scheduled_event(), "source": "aws.ec2", "detail-type": "EC2 Instance State"}
    response = adapter.handler(event, FakeContext())
    assert (response["statusCode"], response["body"]["error"]) == (400, "UnsupportedEvent")
    assert "aws.ec2" in response["body"]["message"]
    response = adapter.handler({"hello": "world"}, FakeContext())
    assert response["statusCode"] == 400


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (rest_event("GET", "/recovery-plans"), EventKind.REST_API),
        (http_event("GET", "/recovery-plans"), EventKind.HTTP_API),
        ({"operation": "list_recovery_plans"}, EventKind.DIRECT),
        (scheduled_event(), EventKind.SCHEDULE),
        (drs_launch_result_event("s-1234567890abcdef0", "drsjob-1234567890abcdef0"),
         EventKind.DRS_EVENT),
        (region_switch_event({"planId": "rp-x", "executionType": "RECOVERY"}),
         EventKind.REGION_SWITCH),
        (region_switch_event({"operation": "list_recovery_plans"}), EventKind.REGION_SWITCH),
        ({**scheduled_event(), "source": "aws.health"}, EventKind.EVENTBRIDGE),
        (["not", "a", "mapping"], EventKind.UNKNOWN),
    ],
)  # fmt: skip
def test_events_are_told_apart_by_their_shape(event: Any, kind: EventKind) -> None:
    assert classify(event) is kind


def test_the_wave_executors_options_are_set_through_the_adapter(sim: DrsSimulator) -> None:
    adapter = make_adapter(
        sim, executor_options={"progress_write_interval_s": 0, "start_lease_s": 900}
    )

    settings = adapter.orchestrator.waves.settings
    assert settings.progress_write_interval == timedelta(0)
    assert settings.start_lease == timedelta(seconds=900)
    run_drill(sim, adapter)
