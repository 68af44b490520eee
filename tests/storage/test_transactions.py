"""Atomic transactions and claims, on every backend (memory, SQLite, DynamoDB on moto)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from drs_orchestration.errors import (
    ConcurrentModificationError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from drs_orchestration.models import Execution, ProtectionGroup
from drs_orchestration.storage import (
    BaseStorage,
    Check,
    ClaimRecord,
    Delete,
    Put,
    claim_id,
    retry_conflicts,
    update_item,
)

PLAN = "rp-" + "p" * 20


def _group(n: int, **changes: Any) -> ProtectionGroup:
    return ProtectionGroup(group_id=f"pg-{n:020d}", name=f"g{n}", region="us-east-1", **changes)


def _claim(name: str, owner: str = "ex-" + "a" * 20) -> ClaimRecord:
    return ClaimRecord(claim_id=claim_id("plan", name), owner_id=owner, kind="running-execution")


def _no_sleep(_: float) -> None:
    """Retries in tests never wait."""


# --- transact --------------------------------------------------------------------


def test_puts_of_new_items_are_written_together(storage: BaseStorage) -> None:
    execution = Execution(plan_id=PLAN, plan_name="drill")

    stored = storage.transact(
        [Put(execution, expected_version=0), Put(_claim(PLAN, execution.execution_id), 0)]
    )

    assert [item.version for item in stored] == [1, 1]
    assert storage.executions.get(execution.execution_id) == stored[0]
    assert storage.claims.get(claim_id("plan", PLAN)) == stored[1]
    assert storage.executions.list_for_plan(PLAN) == [stored[0]]


def test_a_failed_condition_writes_nothing_and_names_the_item(storage: BaseStorage) -> None:
    held = storage.claims.put(_claim(PLAN, "ex-" + "b" * 20))
    execution = Execution(plan_id=PLAN, plan_name="drill")

    with pytest.raises(ConcurrentModificationError) as caught:
        storage.transact(
            [Put(execution, expected_version=0), Put(_claim(PLAN, execution.execution_id), 0)]
        )

    error = caught.value
    assert (error.kind, error.key) == ("claim", held.claim_id)
    assert (error.expected_version, error.actual_version) == (0, 1)
    assert "expected it not to exist, found version 1" in error.message
    assert storage.executions.find(execution.execution_id) is None
    assert storage.claims.get(held.claim_id) == held


def test_updates_and_deletes_are_conditional_on_versions(storage: BaseStorage) -> None:
    first = storage.protection_groups.put(_group(1))
    second = storage.protection_groups.put(_group(2))
    renamed = first.model_copy(update={"name": "renamed"})

    stored = storage.transact([Put(renamed), Delete(ProtectionGroup, second.group_id, 1)])

    assert stored[0].version == 2
    assert storage.protection_groups.get(first.group_id).name == "renamed"
    assert storage.protection_groups.find(second.group_id) is None


def test_a_stale_delete_fails_the_whole_transaction(storage: BaseStorage) -> None:
    first = storage.protection_groups.put(_group(1))
    second = storage.protection_groups.put(storage.protection_groups.put(_group(2)))

    with pytest.raises(ConcurrentModificationError) as caught:
        storage.transact(
            [
                Put(first.model_copy(update={"name": "x"})),
                Delete(ProtectionGroup, second.group_id, 1),
            ]
        )

    assert (caught.value.key, caught.value.expected_version, caught.value.actual_version) == (
        second.group_id,
        1,
        2,
    )
    assert storage.protection_groups.get(first.group_id) == first
    assert storage.protection_groups.get(second.group_id) == second


def test_a_conditional_delete_of_a_missing_item_conflicts(storage: BaseStorage) -> None:
    with pytest.raises(ConcurrentModificationError) as caught:
        storage.transact([Delete(ProtectionGroup, _group(9).group_id, 3)])

    assert (caught.value.expected_version, caught.value.actual_version) == (3, None)


def test_an_unconditional_delete_of_a_missing_item_is_fine(storage: BaseStorage) -> None:
    stored = storage.transact(
        [Delete(ProtectionGroup, _group(9).group_id), Put(_group(1), expected_version=0)]
    )

    assert storage.protection_groups.get(_group(1).group_id) == stored[0]


def test_checks_require_a_version_or_absence_and_write_nothing(storage: BaseStorage) -> None:
    present = storage.protection_groups.put(_group(1))
    absent = _group(2).group_id
    claim = _claim(PLAN)

    storage.transact(
        [
            Check(ProtectionGroup, present.group_id, present.version),
            Check(ProtectionGroup, absent),
            Put(claim, expected_version=0),
        ]
    )
    assert storage.protection_groups.get(present.group_id) == present
    assert storage.protection_groups.find(absent) is None

    for failing, actual in [
        (Check(ProtectionGroup, present.group_id, 7), 1),
        (Check(ProtectionGroup, present.group_id, None), 1),
        (Check(ProtectionGroup, absent, 1), None),
    ]:
        with pytest.raises(ConcurrentModificationError) as caught:
            storage.transact([Delete(ClaimRecord, claim.claim_id, 1), failing])
        assert caught.value.key == failing.key
        assert caught.value.actual_version == actual
    assert storage.claims.get(claim.claim_id).version == 1  # never deleted


def test_two_operations_on_one_item_are_refused(storage: BaseStorage) -> None:
    group = _group(1)

    with pytest.raises(ValidationError, match="one operation per item"):
        storage.transact([Put(group, 0), Check(ProtectionGroup, group.group_id)])

    assert storage.protection_groups.find(group.group_id) is None


def test_only_versioned_collections_take_part(storage: BaseStorage) -> None:
    class Stranger(ProtectionGroup):
        pass

    with pytest.raises(ValidationError, match=r"operations\.0"):
        storage.transact([Check(Stranger, "x")])


def test_a_transaction_of_the_most_items_any_backend_takes(storage: BaseStorage) -> None:
    groups = [_group(n) for n in range(100)]

    stored = storage.transact([Put(g, expected_version=0) for g in groups])

    assert len(storage.protection_groups.list()) == 100
    assert {g.version for g in stored} == {1}


def test_the_limit_is_enforced_where_there_is_one(storage: BaseStorage) -> None:
    limit = storage.max_transaction_items
    if limit is None:
        assert storage.transact([Put(_group(n), 0) for n in range(150)])
        return
    with pytest.raises(ValidationError, match=f"at most {limit}"):
        storage.transact([Put(_group(n), 0) for n in range(limit + 1)])
    assert storage.protection_groups.list() == []


def test_concurrent_transactions_on_one_claim_have_one_winner(
    make_storage: Callable[[], BaseStorage],
) -> None:
    storages = [make_storage() for _ in range(8)]
    start = threading.Barrier(8)

    def contend(n: int) -> str:
        start.wait()
        execution = Execution(plan_id=PLAN, plan_name=f"run {n}")
        try:
            storages[n].transact([Put(execution, 0), Put(_claim(PLAN, execution.execution_id), 0)])
        except ConcurrentModificationError:
            return "lost"
        return execution.execution_id

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(contend, range(8)))

    winners = [r for r in results if r != "lost"]
    assert len(winners) == 1
    assert [e.execution_id for e in storages[0].executions.list_for_plan(PLAN)] == winners
    assert storages[0].claims.get(claim_id("plan", PLAN)).owner_id == winners[0]


# --- claims ----------------------------------------------------------------------


def test_acquire_takes_a_free_claim_and_is_idempotent_for_its_owner(storage: BaseStorage) -> None:
    first = storage.claims.acquire("plan:" + PLAN, "ex-1", kind="running-execution")
    again = storage.claims.acquire("plan:" + PLAN, "ex-1", kind="running-execution")

    assert first.version == 1
    assert again == first


def test_acquire_of_a_held_claim_names_the_holder(storage: BaseStorage) -> None:
    storage.claims.acquire("plan:" + PLAN, "ex-1", kind="running-execution")

    with pytest.raises(ConflictError) as caught:
        storage.claims.acquire("plan:" + PLAN, "ex-2", kind="running-execution")

    assert caught.value.details["ownerId"] == "ex-1"
    assert "held by ex-1" in caught.value.message


def test_release_only_by_the_holder(storage: BaseStorage) -> None:
    storage.claims.acquire("server:s-" + "1" * 17, "pg-1", kind="group-membership")

    assert storage.claims.release("server:s-" + "1" * 17, "pg-2") is False
    assert storage.claims.get("server:s-" + "1" * 17).held
    assert storage.claims.release("server:s-" + "1" * 17, "pg-1") is True
    assert not storage.claims.get("server:s-" + "1" * 17).held
    assert storage.claims.release("server:s-" + "1" * 17, "pg-1") is False


def test_claim_ids_are_validated(storage: BaseStorage) -> None:
    with pytest.raises(Exception, match="claim_id"):
        storage.claims.acquire("no namespace", "pg-1", kind="x")


def test_eight_threads_acquiring_one_claim_have_one_winner(
    make_storage: Callable[[], BaseStorage],
) -> None:
    storages = [make_storage() for _ in range(8)]
    start = threading.Barrier(8)

    def acquire(n: int) -> bool:
        start.wait()
        try:
            storages[n].claims.acquire("chunk:ex-1/0/0", f"worker-{n}", kind="chunk-start")
        except ConflictError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(acquire, range(8)))

    assert won.count(True) == 1
    holder = storages[0].claims.get("chunk:ex-1/0/0")
    assert holder.owner_id == f"worker-{won.index(True)}"


# --- update_item ---------------------------------------------------------------------


def test_update_item_loses_no_increment_under_threads(
    make_storage: Callable[[], BaseStorage],
) -> None:
    storages = [make_storage() for _ in range(8)]
    group = storages[0].protection_groups.put(_group(1, description="0"))
    start = threading.Barrier(8)

    def increment(group: ProtectionGroup) -> ProtectionGroup:
        return group.model_copy(update={"description": str(int(group.description or 0) + 1)})

    def worker(n: int) -> None:
        start.wait()
        for _ in range(50):
            update_item(storages[n].protection_groups, group.group_id, increment)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, range(8)))

    final = storages[0].protection_groups.get(group.group_id)
    assert final.description == "400"
    assert final.version == group.version + 400


def test_update_item_writes_nothing_when_the_change_says_so(storage: BaseStorage) -> None:
    stored = storage.protection_groups.put(_group(1))

    assert update_item(storage.protection_groups, stored.group_id, lambda group: None) == stored
    assert storage.protection_groups.version_of(stored.group_id) == 1
    with pytest.raises(NotFoundError):
        update_item(storage.protection_groups, _group(2).group_id, lambda group: group)


def test_retry_conflicts_gives_up_with_a_clear_error() -> None:
    calls = [0]

    def always_conflicts() -> None:
        calls[0] += 1
        raise ConcurrentModificationError("execution", "ex-1", expected_version=3, actual_version=4)

    with pytest.raises(ConcurrentModificationError) as caught:
        retry_conflicts(always_conflicts, attempts=5, sleep=_no_sleep)

    assert calls == [5]
    assert caught.value.expected_version is None
    assert caught.value.attempts == 5
    assert "version -1" not in caught.value.message
    assert "gave up after 5 attempt(s); last found version 4" in caught.value.message
    assert isinstance(caught.value.__cause__, ConcurrentModificationError)
