"""Direct invocations and EventBridge events, on DynamoDB storage (moto) as a Lambda runs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from drs_orchestration.adapters.aws_lambda import EventKind, LambdaAdapter, classify
from drs_orchestration.testing import DrsSimulator

from .conftest import REGION, dynamodb_storage, make_adapter, seed
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


def test_a_drs_event_is_acknowledged_when_the_executor_cannot_take_it(
    adapter: LambdaAdapter,
) -> None:
    # WaveExecutor.on_drs_event is being added; until then the event is acknowledged
    # (EventBridge must not retry it) and polling keeps executions moving.
    assert not hasattr(adapter.orchestrator.waves, "on_drs_event")
    event = drs_launch_result_event("s-1234567890abcdef0", "drsjob-1234567890abcdef0")
    response = adapter.handler(event, FakeContext())
    assert response["statusCode"] == 200
    assert response["body"]["handled"] is False


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
