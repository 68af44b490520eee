"""The storage contract, run against every backend (memory, SQLite, DynamoDB on moto).

A backend is correct when it passes this file unchanged. Round trips use
hypothesis (the project profile runs 100 examples each); one backend serves
all examples of a test, so each example first reads what an earlier one may
have stored under the same key and writes at that version.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given

from drs_orchestration.errors import ConcurrentModificationError, NotFoundError
from drs_orchestration.models import (
    Execution,
    FailbackState,
    InstancePair,
    ProtectionGroup,
    RecoveryInstanceRecord,
    RecoveryPlan,
    SyncStatus,
    VersionedModel,
    Wave,
)
from drs_orchestration.storage import BaseStorage
from drs_orchestration.storage.base import VersionedRepository
from tests.strategies import (
    executions,
    failback_states,
    instance_pairs,
    protection_groups,
    recovery_instance_records,
    recovery_plans,
    sync_statuses,
    without_derived,
)

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
_unique = itertools.count(10**6)


def _server_id(n: int) -> str:
    return f"s-{n:017d}"


def _instance_id(n: int) -> str:
    return f"i-{n:017x}"


def _plan_id(n: int) -> str:
    return f"rp-{n:020d}"


def _execution_id(n: int) -> str:
    return f"ex-{n:020d}"


def _group(name: str = "web", **changes: Any) -> ProtectionGroup:
    return ProtectionGroup(
        group_id="pg-" + "a" * 20, name=name, region="us-east-1", created_at=T0, **changes
    )


def _pair(n: int) -> InstancePair:
    return InstancePair(
        source_server_id=_server_id(n), target_instance_id=_instance_id(n), region="us-east-1"
    )


def _record(n: int, execution_id: str | None = None) -> RecoveryInstanceRecord:
    return RecoveryInstanceRecord(
        source_server_id=_server_id(n),
        recovery_instance_id=_instance_id(n),
        region="eu-west-1",
        source_execution_id=execution_id,
        last_synced=T0,
    )


def _execution(n: int, plan_id: str) -> Execution:
    return Execution(
        execution_id=_execution_id(n),
        plan_id=plan_id,
        plan_name="drill",
        created_at=T0 + timedelta(minutes=n),
    )


def _store(repository: VersionedRepository[Any], key: str, item: VersionedModel) -> Any:
    """Write ``item`` over whatever is stored under ``key``; check the version it gets."""
    existing = repository.find(key)
    expected = existing.version if existing is not None else 0
    stored = repository.put(item, expected_version=expected)
    assert stored.version == expected + 1
    assert _without_summaries(stored) == _without_summaries(
        item.model_copy(update={"version": expected + 1})
    )
    return stored


def _without_summaries(item: Any) -> Any:
    """What storage derives when it stores an execution is left out: compare the rest."""
    return without_derived(item) if isinstance(item, Execution) else item


# --- round trips (DESIGN.md contract 8) ---------------------------------------


@given(group=protection_groups())
def test_protection_group_round_trip(storage: BaseStorage, group: ProtectionGroup) -> None:
    stored = _store(storage.protection_groups, group.group_id, group)

    assert storage.protection_groups.get(group.group_id) == stored


@given(plan=recovery_plans())
def test_recovery_plan_round_trip(storage: BaseStorage, plan: RecoveryPlan) -> None:
    stored = _store(storage.recovery_plans, plan.plan_id, plan)

    assert storage.recovery_plans.get(plan.plan_id) == stored


@given(execution=executions())
def test_execution_round_trip(storage: BaseStorage, execution: Execution) -> None:
    # A plan of its own, so the index lookup finds exactly this execution.
    execution = execution.model_copy(update={"plan_id": _plan_id(next(_unique))})

    stored = _store(storage.executions, execution.execution_id, execution)

    assert storage.executions.get(execution.execution_id) == stored
    assert storage.executions.list_for_plan(execution.plan_id) == [stored]


@given(record=recovery_instance_records())
def test_recovery_instance_record_round_trip(
    storage: BaseStorage, record: RecoveryInstanceRecord
) -> None:
    if record.source_execution_id is not None:
        # An execution of its own, so the index lookup finds exactly this record.
        record = record.model_copy(update={"source_execution_id": _execution_id(next(_unique))})

    storage.recovery_instances.put_many([record])

    assert storage.recovery_instances.get_many([record.source_server_id]) == {
        record.source_server_id: record
    }
    if record.source_execution_id is not None:
        assert storage.recovery_instances.for_execution(record.source_execution_id) == [record]


@given(status=sync_statuses())
def test_sync_status_round_trip(storage: BaseStorage, status: SyncStatus) -> None:
    stored = storage.recovery_instances.put_sync_status(status)

    assert stored.version == status.version + 1
    assert storage.recovery_instances.get_sync_status() == stored


@given(pair=instance_pairs())
def test_instance_pair_round_trip(storage: BaseStorage, pair: InstancePair) -> None:
    stored = _store(storage.instance_pairs, pair.source_server_id, pair)

    assert storage.instance_pairs.get(pair.source_server_id) == stored


@given(state=failback_states())
def test_failback_state_round_trip(storage: BaseStorage, state: FailbackState) -> None:
    stored = _store(storage.failback_states, state.recovery_instance_id, state)

    assert storage.failback_states.get(state.recovery_instance_id) == stored


# --- optimistic locking (DESIGN.md contract 4) ---------------------------------


def test_put_counts_versions_from_one(storage: BaseStorage) -> None:
    first = storage.protection_groups.put(_group())
    second = storage.protection_groups.put(first.model_copy(update={"name": "web-2"}))

    assert (first.version, second.version) == (1, 2)
    assert storage.protection_groups.get(first.group_id) == second


def test_version_of_follows_every_write_and_delete(storage: BaseStorage) -> None:
    repository = storage.executions
    key = _execution_id(41)
    assert repository.version_of(key) is None

    first = repository.put(_execution(41, _plan_id(1)))
    assert repository.version_of(key) == 1
    second = repository.put(first.model_copy(update={"started_by": "ops"}))
    assert repository.version_of(key) == second.version == 2

    repository.delete(key)
    assert repository.version_of(key) is None


def test_version_of_a_large_execution(storage: BaseStorage) -> None:
    # Big enough for DynamoDB to keep it compressed: the version must stay readable alone.
    execution = _execution(42, _plan_id(1)).model_copy(update={"started_by": "x" * 400_000})
    stored = storage.executions.put(execution)

    assert storage.executions.version_of(stored.execution_id) == 1
    assert storage.executions.get(stored.execution_id) == stored


def test_stale_write_conflicts_and_changes_nothing(storage: BaseStorage) -> None:
    first = storage.protection_groups.put(_group())
    current = storage.protection_groups.put(first.model_copy(update={"name": "winner"}))

    with pytest.raises(ConcurrentModificationError) as caught:
        storage.protection_groups.put(first.model_copy(update={"name": "loser"}))

    assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)
    assert caught.value.key == first.group_id
    assert storage.protection_groups.get(first.group_id) == current


def test_version_zero_creates_only(storage: BaseStorage) -> None:
    existing = storage.protection_groups.put(_group("original"))

    with pytest.raises(ConcurrentModificationError) as caught:
        storage.protection_groups.put(_group("duplicate"))

    assert (caught.value.expected_version, caught.value.actual_version) == (0, 1)
    assert storage.protection_groups.get(existing.group_id) == existing


def test_update_of_a_missing_item_conflicts_and_creates_nothing(storage: BaseStorage) -> None:
    with pytest.raises(ConcurrentModificationError) as caught:
        storage.protection_groups.put(_group(version=3))

    assert (caught.value.expected_version, caught.value.actual_version) == (3, None)
    assert storage.protection_groups.find("pg-" + "a" * 20) is None


def test_explicit_expected_version_overrides_the_items_own(storage: BaseStorage) -> None:
    stored = storage.instance_pairs.put(_pair(1))
    stale_copy = stored.model_copy(update={"version": 0, "validated": True})

    updated = storage.instance_pairs.put(stale_copy, expected_version=1)

    assert updated.version == 2
    assert storage.instance_pairs.get(_server_id(1)).validated is True


def test_delete_at_a_stale_version_conflicts_and_keeps_the_item(storage: BaseStorage) -> None:
    first = storage.protection_groups.put(_group())
    current = storage.protection_groups.put(first)

    with pytest.raises(ConcurrentModificationError) as caught:
        storage.protection_groups.delete(first.group_id, expected_version=1)

    assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)
    assert storage.protection_groups.get(first.group_id) == current


def test_delete_at_the_current_version(storage: BaseStorage) -> None:
    stored = storage.protection_groups.put(_group())

    storage.protection_groups.delete(stored.group_id, expected_version=stored.version)

    assert storage.protection_groups.find(stored.group_id) is None
    with pytest.raises(NotFoundError):
        storage.protection_groups.get(stored.group_id)


def test_unconditional_delete(storage: BaseStorage) -> None:
    stored = storage.failback_states.put(
        FailbackState(
            recovery_instance_id=_instance_id(7),
            execution_id=_execution_id(7),
            wave_name="database",
            source_server_id=_server_id(7),
            region="us-east-1",
        )
    )

    storage.failback_states.delete(stored.recovery_instance_id)

    assert storage.failback_states.list() == []


@pytest.mark.parametrize("expected_version", [None, 0, 1])
def test_delete_of_a_missing_item_is_not_found(
    storage: BaseStorage, expected_version: int | None
) -> None:
    with pytest.raises(NotFoundError) as caught:
        storage.recovery_plans.delete(_plan_id(404), expected_version=expected_version)

    assert caught.value.key == _plan_id(404)
    assert caught.value.kind == "recovery plan"


# --- missing items -------------------------------------------------------------


@pytest.mark.parametrize(
    ("repository", "key"),
    [
        ("protection_groups", "pg-" + "z" * 20),
        ("recovery_plans", _plan_id(1)),
        ("executions", _execution_id(1)),
        ("instance_pairs", _server_id(1)),
        ("failback_states", _instance_id(1)),
    ],
)
def test_missing_items_are_not_found(storage: BaseStorage, repository: str, key: str) -> None:
    repo: VersionedRepository[Any] = getattr(storage, repository)

    with pytest.raises(NotFoundError) as caught:
        repo.get(key)

    assert caught.value.key == key
    assert repo.find(key) is None
    assert repo.get_many([key]) == {}
    assert repo.list() == []


def test_no_sync_status_before_the_first_sync(storage: BaseStorage) -> None:
    assert storage.recovery_instances.get_sync_status() is None


def test_sync_status_is_replaced(storage: BaseStorage) -> None:
    first = storage.recovery_instances.put_sync_status(SyncStatus(started_at=T0))
    second = storage.recovery_instances.put_sync_status(
        SyncStatus(started_at=T0 + timedelta(hours=1), duration_s=12.5)
    )

    assert storage.recovery_instances.get_sync_status() == second
    assert second != first


# --- batches and lists ---------------------------------------------------------


def test_batch_read_of_250_recovery_instances(storage: BaseStorage) -> None:
    records = [_record(n) for n in range(250)]
    storage.recovery_instances.put_many(records)
    missing = [_server_id(n) for n in range(1000, 1010)]
    keys = [r.source_server_id for r in records]

    found = storage.recovery_instances.get_many([*keys, *missing, *keys[:5]])

    assert found == {r.source_server_id: r for r in records}


def test_batch_read_of_250_versioned_items(storage: BaseStorage) -> None:
    stored = [storage.instance_pairs.put(_pair(n)) for n in range(250)]

    found = storage.instance_pairs.get_many([p.source_server_id for p in stored])

    assert found == {p.source_server_id: p for p in stored}


def test_put_many_replaces_and_keeps_the_last_of_duplicates(storage: BaseStorage) -> None:
    storage.recovery_instances.put_many([_record(1), _record(2)])
    newer = _record(1).model_copy(update={"ec2_instance_state": "running"})

    storage.recovery_instances.put_many([_record(1), newer])

    assert storage.recovery_instances.list() == [newer, _record(2)]


def test_delete_many_ignores_missing_records(storage: BaseStorage) -> None:
    records = [_record(n) for n in range(250)]
    storage.recovery_instances.put_many(records)

    storage.recovery_instances.delete_many(
        [r.source_server_id for r in records[:100]] + [_server_id(5000)]
    )

    assert storage.recovery_instances.list() == records[100:]


def test_list_returns_every_item_ordered_by_key(storage: BaseStorage) -> None:
    pairs = [storage.instance_pairs.put(_pair(n)) for n in (3, 1, 2)]

    assert storage.instance_pairs.list() == sorted(pairs, key=lambda p: p.source_server_id)


# --- indexed queries -----------------------------------------------------------


def test_recovery_instances_by_source_execution(storage: BaseStorage) -> None:
    drill, other = _execution_id(1), _execution_id(2)
    of_drill = [_record(n, drill) for n in range(30)]
    storage.recovery_instances.put_many(
        [
            *of_drill,
            *(_record(n, other) for n in range(30, 35)),
            *(_record(n) for n in range(40, 45)),
        ]
    )

    assert storage.recovery_instances.for_execution(drill) == of_drill
    assert len(storage.recovery_instances.for_execution(other)) == 5
    assert storage.recovery_instances.for_execution(_execution_id(3)) == []


def test_query_follows_a_record_moving_to_another_execution(storage: BaseStorage) -> None:
    first, second = _execution_id(1), _execution_id(2)
    storage.recovery_instances.put_many([_record(1, first)])

    storage.recovery_instances.put_many([_record(1, second)])

    assert storage.recovery_instances.for_execution(first) == []
    assert storage.recovery_instances.for_execution(second) == [_record(1, second)]


def test_executions_by_plan_in_creation_order(storage: BaseStorage) -> None:
    plan, other = _plan_id(1), _plan_id(2)
    mine = [storage.executions.put(_execution(n, plan)) for n in (3, 1, 2)]
    storage.executions.put(_execution(4, other))

    assert storage.executions.list_for_plan(plan) == sorted(mine, key=lambda e: e.created_at)
    assert [e.execution_id for e in storage.executions.list_for_plan(other)] == [_execution_id(4)]
    assert storage.executions.list_for_plan(_plan_id(3)) == []


def test_deleted_items_leave_the_index(storage: BaseStorage) -> None:
    plan = _plan_id(1)
    stored = storage.executions.put(_execution(1, plan))

    storage.executions.delete(stored.execution_id, expected_version=1)

    assert storage.executions.list_for_plan(plan) == []


def test_recovery_plan_with_waves_keeps_wave_order(storage: BaseStorage) -> None:
    plan = RecoveryPlan(
        plan_id=_plan_id(9),
        name="three tiers",
        waves=[
            Wave(name="app", server_ids=[_server_id(2)], depends_on=["db"]),
            Wave(name="db", server_ids=[_server_id(1)]),
            Wave(name="web", server_ids=[_server_id(3)], depends_on=["app"]),
        ],
    )

    stored = storage.recovery_plans.put(plan)

    assert [w.name for w in storage.recovery_plans.get(plan.plan_id).waves] == ["app", "db", "web"]
    assert storage.recovery_plans.get(plan.plan_id) == stored
