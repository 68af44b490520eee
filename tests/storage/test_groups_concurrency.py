"""One group per server and no lost group updates, under threads and processes, on every backend.

Broken items 2 and 3 of issue 12: 8 concurrent ``groups.create`` calls put one
server in 4-8 groups (membership was checked with a list, then written), and
``groups.update`` wrote the caller's values over a re-read, so concurrent
read-modify-write cycles lost updates.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from drs_orchestration.aws import RetryPolicy
from drs_orchestration.errors import ConcurrentModificationError, ConflictError
from drs_orchestration.models import ProtectionGroup
from drs_orchestration.services import LaunchConfigService, ProtectionGroupService
from drs_orchestration.services.group_membership import GroupMembership, holder_of, server_claim
from drs_orchestration.storage import BaseStorage, ClaimRecord, SqliteStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs
from tests.storage.conftest import REGION, no_sleep
from tests.storage.group_process import create_in_a_process

THREADS = 8
SHARED = "s-" + "5" * 17


@dataclass
class Groups:
    sim: DrsSimulator
    clients: SimulatedClientFactory
    make_storage: Callable[[], BaseStorage]

    def service(self, storage: BaseStorage | None = None) -> ProtectionGroupService:
        """A group service of its own, over its own connection or client (as a process has)."""
        storage = storage or self.make_storage()
        retry = RetryPolicy(max_attempts=4, sleep=no_sleep)
        launch_configs = LaunchConfigService(storage, self.clients, retry=retry)
        return ProtectionGroupService(
            storage, self.clients, launch_configs=launch_configs, retry=retry
        )


@pytest.fixture
def groups(
    make_storage: Callable[[], BaseStorage], request: pytest.FixtureRequest
) -> Iterator[Groups]:
    request.getfixturevalue("_moto")  # the simulator's EC2 side runs in moto
    # Unseeded: moto (and the launch templates the simulator keeps there) lives for the
    # whole module, so every test needs server IDs of its own.
    with mock_drs(seed=None) as sim:
        yield Groups(sim, SimulatedClientFactory(sim), make_storage)


def assert_one_group_per_server(storage: BaseStorage) -> None:
    """No server is in two groups, and each listed server is claimed for its group."""
    members: dict[str, str] = {}
    for group in storage.protection_groups.list():
        for sid in group.source_server_ids:
            assert sid not in members, f"{sid} is in {members[sid]} and {group.group_id}"
            members[sid] = group.group_id
    claims = storage.claims.get_many(server_claim(s) for s in members)
    for sid, owner in members.items():
        assert holder_of(claims.get(server_claim(sid))) == owner, f"{sid} not claimed for {owner}"


# --- broken item 2: one server, eight groups ------------------------------------------


def test_eight_threads_creating_groups_with_one_shared_server(groups: Groups) -> None:
    shared = groups.sim.add_source_server(region=REGION, hostname="shared")
    own = [groups.sim.add_source_server(region=REGION, hostname=f"own-{n}") for n in range(THREADS)]
    services = [groups.service() for _ in range(THREADS)]
    start = threading.Barrier(THREADS)

    def create(n: int) -> ProtectionGroup | ConflictError:
        start.wait()
        try:
            return services[n].create(f"g{n}", REGION, server_ids=[shared, own[n]], apply=False)
        except ConflictError as error:
            return error

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(create, range(THREADS)))

    winners = [r for r in results if isinstance(r, ProtectionGroup)]
    losers = [r for r in results if isinstance(r, ConflictError)]
    assert len(winners) == 1
    assert len(losers) == THREADS - 1
    winner = winners[0]
    assert all(e.details["otherGroupId"] == winner.group_id for e in losers)
    assert all(winner.group_id in e.message and shared in e.message for e in losers)
    storage = groups.make_storage()
    holding = [g for g in storage.protection_groups.list() if shared in g.source_server_ids]
    assert [g.group_id for g in holding] == [winner.group_id]
    assert_one_group_per_server(storage)


def test_a_second_group_cannot_take_a_server_and_deleting_releases_it(groups: Groups) -> None:
    a, b = (groups.sim.add_source_server(region=REGION, hostname=h) for h in ("a", "b"))
    service = groups.service()
    first = service.create("first", REGION, server_ids=[a, b], apply=False)

    with pytest.raises(ConflictError, match="first") as caught:
        service.create("second", REGION, server_ids=[b], apply=False)
    assert caught.value.details["servers"] == [b]

    service.update(first.group_id, server_ids=[a])
    second = service.create("second", REGION, server_ids=[b], apply=False)
    with pytest.raises(ConflictError, match="second"):
        service.update(first.group_id, server_ids=[a, b])

    service.delete(second.group_id)
    third = service.create("third", REGION, server_ids=[b], apply=False)
    storage = groups.make_storage()
    assert_one_group_per_server(storage)
    assert {g.name for g in storage.protection_groups.list()} == {"first", "third"}
    assert holder_of(storage.claims.get(server_claim(b))) == third.group_id


# --- broken item 3: lost updates ---------------------------------------------------------


def test_a_stale_expected_version_is_refused(groups: Groups) -> None:
    sid = groups.sim.add_source_server(region=REGION, hostname="a")
    first, second = groups.service(), groups.service()
    group = first.create("g", REGION, server_ids=[sid], description="0", apply=False)
    read_by_first = first.get(group.group_id)
    read_by_second = second.get(group.group_id)

    first.update(group.group_id, description="1", expected_version=read_by_first.version)
    with pytest.raises(ConcurrentModificationError) as caught:
        second.update(group.group_id, description="1", expected_version=read_by_second.version)

    assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)
    assert first.get(group.group_id).version == 2


def test_concurrent_updates_without_a_version_lose_nothing(groups: Groups) -> None:
    sid = groups.sim.add_source_server(region=REGION, hostname="a")
    services = [groups.service() for _ in range(THREADS)]
    group = services[0].create("n", REGION, server_ids=[sid], description="d", apply=False)
    start = threading.Barrier(THREADS)
    field = ["name" if n % 2 else "description" for n in range(THREADS)]

    def worker(n: int) -> list[tuple[str, str, ProtectionGroup]]:
        start.wait()
        written = []
        for k in range(50):
            value = f"{n}-{k}"
            stored = services[n].update(group.group_id, **{field[n]: value})
            written.append((field[n], value, stored))
        return written

    with ThreadPoolExecutor(THREADS) as pool:
        writes = [w for ws in pool.map(worker, range(THREADS)) for w in ws]

    # Every update was one write of its own: versions 2..401, each returned once.
    by_version = {stored.version: (f, value, stored) for f, value, stored in writes}
    assert sorted(by_version) == list(range(2, 2 + THREADS * 50))
    history = {1: group} | {v: stored for v, (_, _, stored) in by_version.items()}
    for version, (changed, value, stored) in by_version.items():
        before = history[version - 1]
        other = "description" if changed == "name" else "name"
        # The caller's change was applied to the version before it, never to a stale copy.
        assert getattr(stored, changed) == value
        assert getattr(stored, other) == getattr(before, other), f"version {version}"
    final = services[0].get(group.group_id)
    assert final == history[1 + THREADS * 50]


# --- processes over one SQLite file -----------------------------------------------------


def test_processes_creating_groups_with_one_shared_server(tmp_path: Path) -> None:
    database = str(tmp_path / "shared.db")
    SqliteStorage(database).close()
    context = multiprocessing.get_context("spawn")
    processes = 4
    start = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=create_in_a_process, args=(database, n, SHARED, start, results))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)

    assert [w.exitcode for w in workers] == [0] * processes
    assert sorted(o for _, o in outcomes) == ["conflict"] * (processes - 1) + ["created"]
    with SqliteStorage(database) as storage:
        assert len(storage.protection_groups.list()) == 1
        assert_one_group_per_server(storage)


# --- the multi-transaction path --------------------------------------------------------


def test_a_group_larger_than_one_transaction(storage: BaseStorage) -> None:
    membership = GroupMembership(storage, clock=lambda: _T0, transaction_items=4)
    servers = [f"s-{n:017d}" for n in range(10)]
    first = membership.save(_pg("first", servers[:7]), None)
    assert first.version == 2  # stored empty first, then with its servers

    # A stale claim (its owner no longer lists the server) is taken over, the owner moved on.
    lone = membership.save(_pg("lone", []), None)
    storage.claims.put(_claim(servers[9], lone.group_id))
    second = membership.save(_pg("second", servers[7:]), None)
    assert holder_of(storage.claims.get(server_claim(servers[9]))) == second.group_id
    assert storage.protection_groups.get(lone.group_id).version == lone.version + 1

    with pytest.raises(ConflictError, match="first"):
        membership.save(_pg("third", servers[5:8]), None)
    # The failed create left nothing behind: no group, no claim of its own.
    assert {g.name for g in storage.protection_groups.list()} == {"first", "lone", "second"}

    shrunk = membership.save(first.model_copy(update={"source_server_ids": servers[:2]}), first)
    assert shrunk.source_server_ids == servers[:2]
    assert all(holder_of(storage.claims.find(server_claim(s))) is None for s in servers[2:7])
    membership.delete(storage.protection_groups.get(second.group_id))
    assert all(holder_of(storage.claims.find(server_claim(s))) is None for s in servers[7:])
    assert_one_group_per_server(storage)


_T0 = ProtectionGroup(name="x", region=REGION).created_at


def _pg(name: str, servers: list[str]) -> ProtectionGroup:
    return ProtectionGroup(name=name, region=REGION, source_server_ids=servers)


def _claim(sid: str, owner: str) -> ClaimRecord:
    return ClaimRecord(claim_id=server_claim(sid), owner_id=owner, kind="group-membership")
