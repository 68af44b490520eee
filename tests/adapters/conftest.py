"""Fixtures for the adapters: moto + the DRS simulator, an adapter over memory or DynamoDB."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from drs_orchestration import DynamoDBStorage, MemoryStorage, RetryPolicy
from drs_orchestration.adapters.aws_lambda import LambdaAdapter
from drs_orchestration.storage.base import Storage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory

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
