"""``examples/lambda/handler.py`` as Lambda runs it: DynamoDB on moto, DRS on the simulator."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

from drs_orchestration import DynamoDBStorage
from drs_orchestration.adapters.aws_lambda import DrsExecutionInProgress
from drs_orchestration.testing import DrsSimulator, mock_drs

from .conftest import REGION
from .events import (
    FakeContext,
    decode,
    http_event,
    region_switch_event,
    rest_event,
    scheduled_event,
)

HANDLER = Path(__file__).resolve().parents[2] / "examples" / "lambda" / "handler.py"


@pytest.fixture
def function(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, DrsSimulator]]:
    monkeypatch.setenv("TABLE_PREFIX", "example-")
    with mock_aws(), mock_drs() as sim:
        DynamoDBStorage(table_prefix="example-").create_tables()  # the stack creates them
        spec = importlib.util.spec_from_file_location("example_lambda_handler", HANDLER)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # the cold start
        yield module, sim


def test_the_example_is_a_complete_function_in_at_most_30_lines() -> None:
    assert len(HANDLER.read_text().splitlines()) <= 30


def test_the_example_answers_every_invocation_style(
    function: tuple[ModuleType, DrsSimulator],
) -> None:
    module, sim = function
    for i in range(2):
        sim.add_source_server(region=REGION, hostname=f"db-{i}", tags={"Tier": "db"})

    def invoke(event: dict[str, Any]) -> Any:
        return json.loads(json.dumps(module.handler(event, FakeContext())))

    group = {"name": "db", "region": REGION, "tags": {"Tier": "db"}}
    created = invoke(rest_event("POST", "/protection-groups", group))
    assert created["statusCode"] == 201, created
    group_id = decode(created)["groupId"]
    planned = invoke(http_event("POST", "/recovery-plans", {
        "name": "shop", "waves": [{"name": "db", "protectionGroupIds": [group_id]}]}))  # fmt: skip
    assert planned["statusCode"] == 201, planned
    plan_id = decode(planned)["planId"]

    started = invoke({"operation": "start_execution", "planId": plan_id, "executionType": "DRILL"})
    assert started["statusCode"] == 201, started
    execution_id = started["body"]["executionId"]
    for _ in range(60):
        step = invoke({"operation": "step_execution", "executionId": execution_id})["body"]
        if step["finished"]:
            break
        if not step["progressed"]:
            sim.advance(30)
    assert step["status"] == "COMPLETED"

    synced = invoke(scheduled_event())
    assert synced["statusCode"] == 200
    assert sum(t["instances"] for t in synced["body"]["targets"]) == 2

    step_event = region_switch_event({"planId": plan_id, "executionType": "DRILL"})
    with pytest.raises(DrsExecutionInProgress):
        invoke(step_event)
    for _ in range(30):
        sim.advance(60)
        try:
            report = invoke(step_event)
            break
        except DrsExecutionInProgress:
            continue
    assert report["status"] == "COMPLETED"
    assert report["drsExecutionId"] != execution_id
