"""Fixtures for the adapters: moto + the DRS simulator, an adapter over memory or DynamoDB."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from drs_orchestration import DynamoDBStorage, MemoryStorage, RetryPolicy
from drs_orchestration.adapters.aws_lambda import LambdaAdapter
from drs_orchestration.storage.base import Storage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory

from .events import FakeContext, content_type, decode, http_event, rest_event

REGION = "us-east-1"
NO_WAIT_RETRY = RetryPolicy(
    max_attempts=3, initial_wait_s=0.0, max_wait_s=0.0, sleep=lambda _: None
)


@pytest.fixture
def sim(drs_sim: DrsSimulator) -> DrsSimulator:
    return drs_sim


def dynamodb_storage(prefix: str = "lambda-test-") -> DynamoDBStorage:
    """DynamoDB storage on moto (``mock_aws`` must be active), tables created."""
    client = boto3.session.Session().client("dynamodb", region_name=REGION)
    storage = DynamoDBStorage(table_prefix=prefix, client=client, retry=NO_WAIT_RETRY)
    storage.create_tables()
    return storage


def make_adapter(
    sim: DrsSimulator, storage: Storage | None = None, **options: Any
) -> LambdaAdapter:
    """An adapter whose orchestrator runs on the simulator's clock."""
    options.setdefault("sync_cache", False)
    return LambdaAdapter.create(
        storage if storage is not None else MemoryStorage(),
        SimulatedClientFactory(sim),
        clock=sim.now,
        retry=NO_WAIT_RETRY,
        sleep=sim.advance,
        **options,
    )


@dataclass
class Seeded:
    """Servers replicating in the simulator, tagged for one group."""

    sim: DrsSimulator
    adapter: LambdaAdapter
    servers: list[str]


def seed(sim: DrsSimulator, adapter: LambdaAdapter, count: int = 3, tier: str = "db") -> Seeded:
    servers = [
        sim.add_source_server(region=REGION, hostname=f"{tier}-{i}", tags={"Tier": tier})
        for i in range(count)
    ]
    return Seeded(sim, adapter, servers)


@pytest.fixture
def adapter(sim: DrsSimulator) -> LambdaAdapter:
    return make_adapter(sim)


@dataclass
class TieredPlan:
    """A plan of one wave per tier, each wave a protection group of its tier's servers."""

    plan_id: str
    servers: dict[str, list[str]]


def tiered_plan(sim: DrsSimulator, adapter: LambdaAdapter, tiers: dict[str, int]) -> TieredPlan:
    """Servers per tier (``{"db": 2, "app": 1}``), a group each, a plan of waves in that order."""
    orch = adapter.orchestrator
    servers: dict[str, list[str]] = {}
    waves: list[dict[str, Any]] = []
    for tier, count in tiers.items():
        servers[tier] = seed(sim, adapter, count, tier).servers
        group = orch.groups.create(tier, REGION, tags={"Tier": tier})
        waves.append({"name": tier, "protectionGroupIds": [group.group_id]})
    return TieredPlan(orch.plans.create("tiers", waves).plan_id, servers)


TRANSPORTS = ("direct", "rest-v1", "http-v2")
"""How an operation can reach the adapter: a direct invocation, or an API Gateway route."""


def invoke(
    adapter: LambdaAdapter, transport: str, operation: str, **params: Any
) -> tuple[int, Any]:
    """Run ``operation`` through ``transport``; its status and JSON body.

    Over HTTP the path parameters go in the operation's path, the others in
    the body (the query string for a GET).
    """
    if transport == "direct":
        response = adapter.handler({"operation": operation, **params}, FakeContext())
        assert set(response) == {"statusCode", "body"}
        return response["statusCode"], json.loads(json.dumps(response["body"]))
    route = adapter.operations[operation]
    path = route.path
    for name in [n for n in params if f"<{n}>" in path]:
        path = path.replace(f"<{name}>", str(params.pop(name)))
    build = rest_event if transport == "rest-v1" else http_event
    if route.method == "GET":
        event = build(route.method, path, query={k: str(v) for k, v in params.items()} or None)
    else:
        event = build(route.method, path, params or None)
    response = adapter.handler(event, FakeContext())
    assert content_type(response) == "application/json"
    return response["statusCode"], decode(response)
