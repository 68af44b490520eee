"""Hypothesis interleavings of group creates, updates and deletes never put a server in two groups.

Each operation runs in a thread of its own over one MemoryStorage, one storage
call at a time, hypothesis choosing which thread makes the next one
(``tests/storage/scheduling.py``): it explores and shrinks interleavings,
including the ones where one write reads between another's claim and its
group write. Half the examples allow so few operations per transaction that
every write takes the multi-transaction path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drs_orchestration.errors import ConcurrentModificationError, ConflictError, NotFoundError
from drs_orchestration.models import ProtectionGroup
from drs_orchestration.services.group_membership import GroupMembership, holder_of, server_claim
from drs_orchestration.storage import ClaimRecord, MemoryStorage, retry_conflicts
from tests.storage.scheduling import ScheduledStorage, Scheduler, Worker, no_sleep, replay

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SERVERS = [f"s-{n:017d}" for n in range(3)]
GROUPS = [f"pg-{n:020d}" for n in range(4)]


def _group(gid: str, servers: list[str]) -> ProtectionGroup:
    return ProtectionGroup(
        group_id=gid, name=gid[-2:], region="us-east-1", source_server_ids=servers
    )


def _race(
    storage: MemoryStorage,
    operations: list[tuple[str, str, list[str]]],
    choose: Callable[[int], tuple[int, int]],
    *,
    limit: int = 2,
) -> list[Worker]:
    """Run each (kind, group ID, servers) in a thread, one storage call at a time."""
    scheduler = Scheduler()
    scheduled = ScheduledStorage(storage, scheduler)
    membership = GroupMembership(scheduled, clock=lambda: T0, transaction_items=limit)  # type: ignore[arg-type]

    def run(kind: str, gid: str, servers: list[str]) -> None:
        def once() -> None:
            if kind == "create":
                membership.save(_group(gid, servers), None)
                return
            current = scheduled.protection_groups.get(gid)
            if kind == "delete":
                membership.delete(current)
            else:
                changed = current.model_copy(update={"source_server_ids": servers})
                membership.save(changed, current)

        retry_conflicts(once, attempts=3, sleep=no_sleep)

    return scheduler.run([functools.partial(run, *op) for op in operations], choose)


def _stored(initial: list[str]) -> MemoryStorage:
    """A storage holding group ``GROUPS[0]`` with ``initial`` servers, claimed."""
    storage = MemoryStorage()
    GroupMembership(storage, clock=lambda: T0).save(_group(GROUPS[0], initial), None)
    return storage


server_sets = st.lists(st.sampled_from(SERVERS), unique=True, min_size=1, max_size=3)
# One group exists before the race (it may hold no servers); updates and deletes race on it,
# creates make the others.
operation = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(GROUPS[1:3]), server_sets),
    st.tuples(st.just("update"), st.just(GROUPS[0]), server_sets),
    st.tuples(st.just("delete"), st.just(GROUPS[0]), st.just([])),
)
leftovers = st.dictionaries(st.sampled_from(SERVERS), st.sampled_from([*GROUPS, "pg-" + "9" * 20]))


@given(
    initial=st.lists(st.sampled_from(SERVERS), unique=True, max_size=2),
    leftovers=leftovers,
    operations=st.lists(operation, min_size=2, max_size=3),
    limit=st.sampled_from([2, 100]),
    data=st.data(),
)
def test_no_interleaving_puts_a_server_in_two_groups(
    initial: list[str],
    leftovers: dict[str, str],
    operations: list[tuple[str, str, list[str]]],
    limit: int,
    data: st.DataObject,
) -> None:
    storage = _stored(initial)
    taken = set(initial)
    for server, owner in leftovers.items():
        # Claims left by writes that crashed: their owner does not list the server.
        if server not in taken:
            storage.claims.put(
                ClaimRecord(claim_id=server_claim(server), owner_id=owner, kind="group-membership")
            )

    workers = _race(
        storage,
        operations,
        lambda n: (data.draw(st.integers(0, n - 1)), data.draw(st.integers(1, 8))),
        limit=limit,
    )

    for worker in workers:
        allowed = (ConflictError, ConcurrentModificationError, NotFoundError)
        if worker.error is not None and not isinstance(worker.error, allowed):
            raise worker.error
    members: dict[str, str] = {}
    for group in storage.protection_groups.list():
        for sid in group.source_server_ids:
            assert sid not in members, f"{sid} is in {members[sid]} and {group.group_id}"
            members[sid] = group.group_id
            claim = storage.claims.find(server_claim(sid))
            assert holder_of(claim) == group.group_id, f"{sid} listed by {group.group_id}"


def test_a_claim_taken_from_a_write_in_flight_makes_that_write_fail() -> None:
    # G is created in steps (one claim per transaction). Right after G claims s0, H
    # wants s0: G does not list it yet, so H may take the claim over — and must move G
    # on to a new version while doing so, or G's final write would list s0 too.
    storage = MemoryStorage()
    transact = storage.transact
    raced: list[bool] = []

    def h_races_after_the_first_claim(operations: Any) -> Any:
        stored = transact(operations)
        if not raced:
            raced.append(True)
            GroupMembership(storage, clock=lambda: T0).save(_group(GROUPS[3], [SERVERS[0]]), None)
        return stored

    storage.transact = h_races_after_the_first_claim  # type: ignore[method-assign]
    g = GroupMembership(storage, clock=lambda: T0, transaction_items=2)

    with pytest.raises(ConcurrentModificationError) as caught:
        g.save(_group(GROUPS[2], SERVERS), None)

    assert caught.value.key == GROUPS[2]  # G's own final write lost

    assert [g.group_id for g in storage.protection_groups.list()] == [GROUPS[3]]
    assert holder_of(storage.claims.get(server_claim(SERVERS[0]))) == GROUPS[3]
    # G's other claims were released again when it gave up.
    assert all(holder_of(storage.claims.find(server_claim(s))) is None for s in SERVERS[1:])


def test_a_release_racing_an_update_that_lists_its_server_again_cannot_delete_the_claim() -> None:
    # G lists s0. A moves G to [s1] in steps: it claims s1, writes G (v2) and only then
    # releases s0's claim, checking G at v2. B reads G at v2 and moves it back to [s0]:
    # s0's claim is still G's, but G at v2 does not list it, so A's release may delete it
    # under B. B must put the claim again at its version: one of the two then conflicts.
    s0, s1 = SERVERS[0], SERVERS[1]
    storage = _stored([s0])

    # The schedule hypothesis found.
    schedule = [(0, 1)] * 6 + [(1, 1), (1, 1), (0, 1), (0, 1), (1, 5)] + [(0, 1)] * 2
    workers = _race(
        storage, [("update", GROUPS[0], [s1]), ("update", GROUPS[0], [s0])], replay(schedule)
    )

    assert [w.error for w in workers] == [None, None]
    for group in storage.protection_groups.list():
        for sid in group.source_server_ids:
            assert holder_of(storage.claims.find(server_claim(sid))) == group.group_id


def test_a_release_that_retries_does_not_delete_a_claim_put_again_meanwhile() -> None:
    # G lists s0. A moves G to [s1]: it writes G (v2), then releases s0's claim. B reads
    # G at v2 and moves it to [s0, s2]: it puts s0's claim again (left over), so A's
    # delete conflicts. A's release reads the claim again and must not delete it at the
    # version B put, or B's write of G commits s0 without its claim.
    s0, s1, s2 = SERVERS
    storage = _stored([s0])

    # The schedule hypothesis found.
    schedule = [(0, 1), (0, 6), (1, 6), (0, 3), (0, 5)]
    workers = _race(
        storage, [("update", GROUPS[0], [s1]), ("update", GROUPS[0], [s0, s2])], replay(schedule)
    )

    assert [w.error for w in workers] == [None, None]
    group = storage.protection_groups.get(GROUPS[0])
    assert group.source_server_ids == [s0, s2]
    for sid in group.source_server_ids:
        assert holder_of(storage.claims.find(server_claim(sid))) == GROUPS[0]


def test_a_take_over_cannot_overwrite_a_claim_released_and_put_again_meanwhile() -> None:
    # G0 lists s0 and s2 and is deleted in steps; G1 (s0, s1, s2) reads s2's claim while
    # G0 still holds it and plans to take it over from the deleted G0 at its version.
    # Meanwhile G0's delete releases it and G2 claims s2. Had the release deleted the
    # claim, G2's would be a new claim at the version G1 read, and G1 would overwrite it.
    s0, s1, s2 = SERVERS
    storage = _stored([s0, s2])

    # The schedule hypothesis found.
    schedule = [(2, 7), (1, 2), (2, 1), (0, 1), (0, 4), (0, 8)]
    operations = [
        ("create", GROUPS[2], [s2]),
        ("create", GROUPS[1], [s0, s1, s2]),
        ("delete", GROUPS[0], []),
    ]
    workers = _race(storage, operations, replay(schedule))

    assert workers[0].error is None
    assert isinstance(workers[1].error, ConflictError)
    assert workers[1].error.details["otherGroupId"] == GROUPS[2]
    assert [g.group_id for g in storage.protection_groups.list()] == [GROUPS[2]]
    assert holder_of(storage.claims.get(server_claim(s2))) == GROUPS[2]
    assert all(holder_of(storage.claims.find(server_claim(s))) is None for s in (s0, s1))
