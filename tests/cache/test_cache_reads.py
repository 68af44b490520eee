"""Cache reads: get and for_execution touch storage only, batched, through the index."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drs_orchestration.errors import ValidationError
from drs_orchestration.models import RecoveryInstanceRecord, new_execution_id
from drs_orchestration.services.cache import RecoveryInstanceCache
from drs_orchestration.storage.base import BaseStorage
from drs_orchestration.storage.dynamodb import DynamoDBStorage
from drs_orchestration.testing import SimulatedClientFactory
from tests.cache.conftest import every_backend, make_storage
from tests.ids import instance_id, server_id


def _records(
    count: int, *, execution_id: str | None = None, start: int = 0
) -> list[RecoveryInstanceRecord]:
    return [
        RecoveryInstanceRecord(
            source_server_id=server_id(n),
            recovery_instance_id=instance_id(n),
            ec2_instance_id=instance_id(n),
            region="us-east-1",
            source_execution_id=execution_id,
            instance_type="m5.large",
        )
        for n in range(start, start + count)
    ]


@pytest.fixture
def cache(storage: BaseStorage, clients: SimulatedClientFactory) -> RecoveryInstanceCache:
    return RecoveryInstanceCache(storage, clients, targets=[])


@every_backend
def test_get_returns_records_and_misses_in_request_order(
    storage: BaseStorage, cache: RecoveryInstanceCache
) -> None:
    stored = _records(3)
    storage.recovery_instances.put_many(stored)
    wanted = [server_id(2), server_id(99), server_id(0), server_id(98), server_id(2)]

    found = cache.get(wanted)

    assert list(found.records) == [server_id(2), server_id(0)]
    assert found.records[server_id(0)] == stored[0]
    assert found.misses == [server_id(99), server_id(98)]
    assert server_id(2) in found
    assert found.get(server_id(99)) is None
    assert cache.get([]).records == {}


@every_backend
def test_for_execution_returns_that_executions_records_only(
    storage: BaseStorage, cache: RecoveryInstanceCache
) -> None:
    mine, theirs = new_execution_id(), new_execution_id()
    storage.recovery_instances.put_many(
        _records(3, execution_id=mine)
        + _records(2, execution_id=theirs, start=10)
        + _records(1, start=20)
    )

    records = cache.for_execution(mine)

    assert sorted(r.source_server_id for r in records) == sorted(server_id(n) for n in range(3))
    assert cache.for_execution(new_execution_id()) == []


def test_reads_reject_malformed_ids(cache: RecoveryInstanceCache) -> None:
    with pytest.raises(ValidationError, match=r"source_server_ids\[1\]") as caught:
        cache.get([server_id(1), "s-111"])
    assert caught.value.problems[0]["value"] == "s-111"
    with pytest.raises(ValidationError, match="not one string"):
        cache.get(server_id(1))
    with pytest.raises(ValidationError, match="execution_id"):
        cache.for_execution("exec-1")


@pytest.fixture
def dynamodb(aws: None, tmp_path: Path) -> Iterator[DynamoDBStorage]:
    storage = make_storage("dynamodb", tmp_path)
    assert isinstance(storage, DynamoDBStorage)
    yield storage
    storage.close()


def _count_calls(storage: DynamoDBStorage) -> Counter[str]:
    calls: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    storage.client.meta.events.register("before-call.dynamodb", count)
    return calls


def test_get_of_250_servers_is_three_batch_gets_on_dynamodb(
    dynamodb: DynamoDBStorage, clients: SimulatedClientFactory
) -> None:
    dynamodb.recovery_instances.put_many(_records(300))
    cache = RecoveryInstanceCache(dynamodb, clients, targets=[])
    calls = _count_calls(dynamodb)

    found = cache.get([server_id(n) for n in range(50, 300)])

    assert len(found.records) == 250
    assert found.misses == []
    assert calls == Counter({"BatchGetItem": 3})


def test_for_execution_queries_the_index_on_dynamodb(
    dynamodb: DynamoDBStorage, clients: SimulatedClientFactory
) -> None:
    execution_id = new_execution_id()
    dynamodb.recovery_instances.put_many(
        _records(5, execution_id=execution_id) + _records(5, start=5)
    )
    cache = RecoveryInstanceCache(dynamodb, clients, targets=[])
    calls = _count_calls(dynamodb)
    seen: list[dict[str, Any]] = []
    dynamodb.client.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: seen.append(params)
    )

    records = cache.for_execution(execution_id)

    assert len(records) == 5
    assert calls == Counter({"Query": 1})
    assert seen[0]["IndexName"] == "sourceExecutionId-index"
