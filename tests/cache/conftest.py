"""Fixtures for the recovery-instance cache: moto + the DRS simulator, and every storage backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.events import Event
from drs_orchestration.services.cache import RecoveryInstanceCache, TerminationLimits
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.storage.base import BaseStorage
from drs_orchestration.storage.dynamodb import DynamoDBStorage
from drs_orchestration.storage.sqlite import SqliteStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory

BACKENDS = ("memory", "sqlite", "dynamodb")


def fast_retry() -> RetryPolicy:
    """Retries without waiting, so tests never sleep through backoff."""
    return RetryPolicy(max_attempts=3, initial_wait_s=0.0, max_wait_s=0.0, sleep=lambda _s: None)


def make_storage(kind: str, tmp_path: Path) -> BaseStorage:
    """A storage backend of ``kind``; DynamoDB expects moto's ``mock_aws()`` to be active."""
    if kind == "memory":
        return MemoryStorage()
    if kind == "sqlite":
        return SqliteStorage(tmp_path / f"cache-{id(tmp_path)}.db")
    client = boto3.session.Session().client("dynamodb", region_name="us-east-1")
    storage = DynamoDBStorage(table_prefix="cache-test-", client=client, retry=fast_retry())
    storage.create_tables()
    return storage


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def sim(aws: None, drs_sim: DrsSimulator) -> DrsSimulator:
    return drs_sim


@pytest.fixture
def clients(simulated_clients: SimulatedClientFactory) -> SimulatedClientFactory:
    return simulated_clients


every_backend = pytest.mark.parametrize("storage", BACKENDS, indirect=True)
"""Run a storage-facing test on every backend (other tests use memory storage)."""


@pytest.fixture
def storage(request: pytest.FixtureRequest, aws: None, tmp_path: Path) -> Iterator[BaseStorage]:
    backend = make_storage(getattr(request, "param", "memory"), tmp_path)
    yield backend
    backend.close()


@pytest.fixture
def memory_storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def events() -> list[Event]:
    return []


CacheFactory = Callable[..., RecoveryInstanceCache]


@pytest.fixture
def make_cache(
    storage: BaseStorage,
    clients: SimulatedClientFactory,
    sim: DrsSimulator,
    events: list[Event],
) -> CacheFactory:
    """Build a cache on the parametrised storage, the simulator's clock and a fake sleep."""

    def build(**overrides: Any) -> RecoveryInstanceCache:
        chosen = overrides.pop("storage", storage)
        options: dict[str, Any] = {
            "events": events.append,
            "retry": fast_retry(),
            "clock": sim.now,
            "sleep": sim.advance,
            "termination": TerminationLimits(poll_interval_s=10.0, timeout_s=3600.0),
        }
        options.update(overrides)
        return RecoveryInstanceCache(chosen, clients, **options)

    return build
