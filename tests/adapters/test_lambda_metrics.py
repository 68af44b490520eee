"""Metrics: the library's events become one EMF document per invocation."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from drs_orchestration.adapters.aws_lambda import METRIC_UNITS, InvocationMetrics, LambdaAdapter
from drs_orchestration.testing import DrsSimulator

from .conftest import REGION, make_adapter, seed
from .events import FakeContext


def emf_documents(out: str) -> list[dict[str, Any]]:
    documents = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_values(document: dict[str, Any]) -> dict[str, float]:
    """Each metric's total (EMF holds one value, or a list of them)."""
    directive = document["_aws"]["CloudWatchMetrics"][0]
    totals = {}
    for metric in directive["Metrics"]:
        value = document[metric["Name"]]
        totals[metric["Name"]] = sum(value) if isinstance(value, list) else value
    return totals


def invoke(adapter: LambdaAdapter, capsys: pytest.CaptureFixture[str], operation: str,
           **params: Any) -> tuple[dict[str, Any], dict[str, float]]:  # fmt: skip
    capsys.readouterr()
    response = adapter.handler({"operation": operation, **params}, FakeContext())
    documents = emf_documents(capsys.readouterr().out)
    assert len(documents) <= 1, "one EMF document per invocation"
    return response, metric_values(documents[0]) if documents else {}


def test_a_drill_publishes_waves_servers_rto_and_rpo(
    sim: DrsSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    adapter = make_adapter(sim)
    seed(sim, adapter, count=3)
    sim.faults.fail_launch(seed(sim, adapter, count=1, tier="app").servers[0])
    response, published = invoke(
        adapter, capsys, "create_protection_group",
        name="db", region=REGION, tags={"Tier": "db"},
    )  # fmt: skip
    db = response["body"]["groupId"]
    response, _ = invoke(
        adapter, capsys, "create_protection_group",
        name="app", region=REGION, tags={"Tier": "app"}, apply=False,
    )  # fmt: skip
    app = response["body"]["groupId"]
    response, _ = invoke(
        adapter, capsys, "create_recovery_plan", name="shop", failurePolicy="continue",
        waves=[{"name": "db", "protectionGroupIds": [db]},
               {"name": "app", "protectionGroupIds": [app], "dependsOn": ["db"]}],
    )  # fmt: skip
    plan_id = response["body"]["planId"]
    response, _ = invoke(adapter, capsys, "start_execution", planId=plan_id, executionType="DRILL")
    execution_id = response["body"]["executionId"]

    totals: dict[str, float] = {}
    for _ in range(200):
        response, published = invoke(adapter, capsys, "step_execution", executionId=execution_id)
        for name, value in published.items():
            totals[name] = totals.get(name, 0) + value
        if response["body"]["finished"]:
            break
        if not response["body"]["progressed"]:
            sim.advance(30)
    assert response["body"]["status"] == "PARTIAL"
    execution = adapter.orchestrator.waves.get(execution_id)

    assert totals["FastPathWaves"] == 1  # db was applied when its group was created
    assert totals["FallbackWaves"] == 1  # app was not: applied just before its wave
    assert totals["ServersLaunched"] == 3
    assert totals["ServersFailed"] == 1
    assert totals["ExecutionsFinished"] == 1
    assert execution.recovery_time is not None
    assert totals["RecoveryTime"] == pytest.approx(execution.recovery_time.total_seconds())
    assert execution.worst_rpo is not None
    assert totals["WorstRPO"] == pytest.approx(execution.worst_rpo.total_seconds())


def test_drift_apply_failures_and_cache_misses_are_counted(
    sim: DrsSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    adapter = make_adapter(sim)
    servers = seed(sim, adapter, count=2).servers
    response, _ = invoke(
        adapter, capsys, "create_protection_group", name="db", region=REGION,
        tags={"Tier": "db"}, launchSettings={"copyTags": False},
    )  # fmt: skip
    group_id = response["body"]["groupId"]
    drs = boto3.client("drs", region_name=REGION)
    for server in servers:  # someone changes DRS behind the library's back
        drs.update_launch_configuration(sourceServerID=server, copyTags=True)
    response, published = invoke(adapter, capsys, "detect_drift", groupId=group_id, remote=True)
    assert response["body"]["hasDrift"] is True
    assert published["DriftedServers"] == 2

    sim.faults.throttle(rate=1.0, operations="UpdateLaunchConfiguration")
    response, published = invoke(
        adapter, capsys, "apply_launch_configs", groupId=group_id, force=True
    )
    assert response["body"]["status"] == "failed"
    assert published["LaunchConfigApplyFailures"] == 2

    response, published = invoke(
        adapter, capsys, "get_recovery_instances", sourceServerIds=",".join(servers)
    )
    assert response["body"]["misses"] == servers
    assert published["CacheMisses"] == 2


def test_nothing_is_printed_when_nothing_was_counted(
    adapter: LambdaAdapter, capsys: pytest.CaptureFixture[str]
) -> None:
    _, published = invoke(adapter, capsys, "list_recovery_plans")
    assert published == {}


def test_unknown_metric_names_are_refused() -> None:
    metrics = InvocationMetrics()
    with pytest.raises(KeyError, match="unknown metric 'Nope'"):
        metrics.add("Nope")
    assert set(METRIC_UNITS) >= {"RecoveryTime", "WorstRPO", "CacheMisses"}
