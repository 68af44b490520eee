"""The adapter behind API Gateway: REST (v1) and HTTP (v2) proxy events, over the simulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from drs_orchestration.adapters.aws_lambda import LambdaAdapter
from drs_orchestration.testing import DrsSimulator

from .conftest import REGION, seed
from .events import USER_ARN, FakeContext, content_type, decode, http_event, rest_event

Builder = Callable[..., dict[str, Any]]
BOTH = pytest.mark.parametrize("build", [rest_event, http_event], ids=["rest-v1", "http-v2"])


def call(adapter: LambdaAdapter, build: Builder, method: str, path: str, body: Any = None,
         **kwargs: Any) -> tuple[int, Any]:  # fmt: skip
    response = adapter.handler(build(method, path, body, **kwargs), FakeContext())
    assert content_type(response) == "application/json"
    return response["statusCode"], decode(response)


def create_group_and_plan(adapter: LambdaAdapter, build: Builder) -> tuple[str, str]:
    status, group = call(
        adapter, build, "POST", "/protection-groups",
        {"name": "database", "region": REGION, "tags": {"Tier": "db"},
         "launchSettings": {"copyTags": True}},
    )  # fmt: skip
    assert status == 201, group
    status, plan = call(
        adapter, build, "POST", "/recovery-plans",
        {"name": "shop", "waves": [{"name": "db", "protectionGroupIds": [group["groupId"]]}]},
    )  # fmt: skip
    assert status == 201, plan
    return group["groupId"], plan["planId"]


@BOTH
def test_a_drill_runs_end_to_end_through_the_api(
    sim: DrsSimulator, adapter: LambdaAdapter, build: Builder
) -> None:
    servers = seed(sim, adapter).servers
    group_id, plan_id = create_group_and_plan(adapter, build)

    status, group = call(adapter, build, "GET", f"/protection-groups/{group_id}")
    assert status == 200
    assert sorted(group["sourceServerIds"]) == sorted(servers)
    assert group["launchConfigStatus"]["status"] == "ready"  # camelCase on the wire

    status, started = call(
        adapter, build, "POST", f"/recovery-plans/{plan_id}/executions",
        {"executionType": "DRILL"},
    )  # fmt: skip
    assert status == 201
    assert started["executionType"] == "DRILL"
    assert started["startedBy"] == USER_ARN
    execution_id = started["executionId"]

    for _ in range(100):
        status, step = call(adapter, build, "POST", f"/executions/{execution_id}/step")
        assert status == 200
        if step["finished"]:
            break
        if not step["progressed"]:
            sim.advance(30)
    assert step["status"] == "COMPLETED"
    assert step["waves"] == [{"waveName": "db", "status": "COMPLETED"}]

    status, execution = call(adapter, build, "GET", f"/executions/{execution_id}")
    assert execution["status"] == "COMPLETED"
    assert {o["status"] for o in execution["waves"][0]["servers"].values()} == {"LAUNCHED"}

    status, listing = call(adapter, build, "GET", f"/recovery-plans/{plan_id}/executions")
    assert [e["executionId"] for e in listing["executions"]] == [execution_id]

    status, check = call(adapter, build, "GET", f"/recovery-plans/{plan_id}/check")
    assert status == 200
    assert check["ok"] is True


@BOTH
def test_group_and_plan_routes_read_update_and_delete(
    sim: DrsSimulator, adapter: LambdaAdapter, build: Builder
) -> None:
    seed(sim, adapter)
    group_id, plan_id = create_group_and_plan(adapter, build)

    status, groups = call(adapter, build, "GET", "/protection-groups")
    assert [g["groupId"] for g in groups["protectionGroups"]] == [group_id]
    status, updated = call(
        adapter, build, "PATCH", f"/protection-groups/{group_id}", {"description": "primary db"}
    )
    assert (status, updated["description"]) == (200, "primary db")
    status, drift = call(adapter, build, "GET", f"/protection-groups/{group_id}/drift")
    assert (status, drift["hasDrift"]) == (200, False)
    status, config = call(
        adapter, build, "GET", f"/protection-groups/{group_id}/launch-config-status"
    )
    assert config["status"] == "ready"
    status, applied = call(
        adapter, build, "POST", f"/protection-groups/{group_id}/apply", {"force": True}
    )
    assert (status, applied["status"]) == (200, "ready")

    status, plan = call(adapter, build, "PATCH", f"/recovery-plans/{plan_id}", {"name": "shop-2"})
    assert (status, plan["name"], plan["version"]) == (200, "shop-2", 2)
    status, plans = call(adapter, build, "GET", "/recovery-plans")
    assert [p["name"] for p in plans["recoveryPlans"]] == ["shop-2"]
    status, deleted = call(adapter, build, "DELETE", f"/recovery-plans/{plan_id}")
    assert (status, deleted) == (200, {"planId": plan_id, "deleted": True})
    status, missing = call(adapter, build, "GET", f"/recovery-plans/{plan_id}")
    assert (status, missing["error"]) == (404, "NotFound")
    status, _ = call(adapter, build, "DELETE", f"/protection-groups/{group_id}")
    assert status == 200


@BOTH
def test_bad_requests_name_the_field_and_the_value(
    sim: DrsSimulator, adapter: LambdaAdapter, build: Builder
) -> None:
    seed(sim, adapter)
    _, plan_id = create_group_and_plan(adapter, build)

    status, body = call(adapter, build, "POST", f"/recovery-plans/{plan_id}/executions", {})
    assert (status, body["error"]) == (400, "Validation")
    assert [p["field"] for p in body["details"]["problems"]] == ["executionType"]

    status, body = call(
        adapter, build, "POST", f"/recovery-plans/{plan_id}/executions",
        {"executionType": "DRILL", "dril": True},
    )  # fmt: skip
    assert status == 400
    assert body["details"]["problems"][0]["field"] == "dril"

    status, body = call(
        adapter, build, "POST", "/recovery-plans",
        {"name": "x", "waves": [{"name": "w", "protectionGroupIds": ["pg-nope"]}]},
    )  # fmt: skip
    assert status == 400
    assert body["details"]["problems"][0]["field"].startswith("waves.0.protectionGroupIds")

    status, body = call(adapter, build, "POST", "/recovery-plans", raw_body="{not json")
    assert (status, body["details"]["problems"][0]["field"]) == (400, "(body)")
    status, body = call(adapter, build, "POST", "/recovery-plans", raw_body="[1, 2]")
    assert (status, body["details"]["problems"][0]["field"]) == (400, "(body)")

    status, body = call(
        adapter, build, "GET", f"/recovery-plans/{plan_id}/check", query={"planId": "rp-other"}
    )
    assert status == 400
    assert body["details"]["problems"][0]["field"] == "planId"


@BOTH
def test_a_base64_body_is_decoded(
    sim: DrsSimulator, adapter: LambdaAdapter, build: Builder
) -> None:
    seed(sim, adapter)
    status, group = call(
        adapter, build, "POST", "/protection-groups",
        {"name": "database", "region": REGION, "tags": {"Tier": "db"}}, base64_body=True,
    )  # fmt: skip
    assert (status, group["name"]) == (201, "database")


@BOTH
def test_unknown_routes_and_conflicts_answer_404_and_409(
    sim: DrsSimulator, adapter: LambdaAdapter, build: Builder
) -> None:
    seed(sim, adapter)
    _, plan_id = create_group_and_plan(adapter, build)

    status, body = call(adapter, build, "GET", "/nothing-here")
    assert (status, body["error"]) == (404, "RouteNotFound")
    assert "GET /nothing-here" in body["message"]
    assert "POST /recovery-plans/<planId>/executions" in body["details"]["routes"]

    status, body = call(adapter, build, "GET", "/protection-groups/pg-0123456789abcdefghij")
    assert (status, body["error"]) == (404, "NotFound")

    start = f"/recovery-plans/{plan_id}/executions"
    status, _ = call(adapter, build, "POST", start, {"executionType": "DRILL"})
    assert status == 201
    status, body = call(adapter, build, "POST", start, {"executionType": "RECOVERY"})
    assert (status, body["error"]) == (409, "Conflict")
    assert body["details"]["planId"] == plan_id
    assert body["details"]["requestId"]


@BOTH
def test_cancel_records_the_caller_and_terminate_defaults_to_a_dry_run(
    sim: DrsSimulator, adapter: LambdaAdapter, build: Builder
) -> None:
    seed(sim, adapter)
    _, plan_id = create_group_and_plan(adapter, build)
    _, started = call(
        adapter, build, "POST", f"/recovery-plans/{plan_id}/executions",
        {"executionType": "DRILL"},
    )  # fmt: skip
    execution_id = started["executionId"]
    for _ in range(100):
        _, step = call(adapter, build, "POST", f"/executions/{execution_id}/step")
        if step["finished"]:
            break
        if not step["progressed"]:
            sim.advance(30)

    status, report = call(adapter, build, "POST", f"/executions/{execution_id}/terminate")
    assert (status, report["dryRun"]) == (200, True)
    assert sim.calls.count("TerminateRecoveryInstances") == 0
    assert len(report["instances"]) == 3

    status, body = call(adapter, build, "POST", f"/executions/{execution_id}/cancel")
    assert (status, body["error"]) == (409, "InvalidStateTransition")

    _, second = call(
        adapter, build, "POST", f"/recovery-plans/{plan_id}/executions",
        {"executionType": "DRILL"},
    )  # fmt: skip
    status, cancelled = call(
        adapter, build, "POST", f"/executions/{second['executionId']}/cancel",
        {"reason": "wrong window"},
    )  # fmt: skip
    assert (status, cancelled["cancelRequested"]) == (200, True)
    status, full = call(adapter, build, "GET", f"/executions/{second['executionId']}")
    assert full["cancelRequest"]["requestedBy"] == USER_ARN
    assert full["cancelRequest"]["reason"] == "wrong window"
