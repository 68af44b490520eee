"""Properties of the sync (seed 004, task 14): idempotency, integrity, time order, region coverage.

Each example builds a fresh simulated DRS world (regions, accounts, drills
tagged with their execution, recorded only in storage, or unknown; places
that are not configured hold instances too) inside one moto context, syncs
it twice with simulated time passing in between, and checks all four
properties.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drs_orchestration.models import (
    AccountContext,
    ExecutionType,
    RecoveryInstanceRecord,
    SyncStatus,
    new_execution_id,
)
from drs_orchestration.services.cache import RecoveryInstanceCache
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs
from tests.cache.conftest import fast_retry
from tests.cache.helpers import OTHER_ACCOUNT, add_servers, launch, record_execution

PLACES: tuple[tuple[str, AccountContext | None], ...] = (
    ("us-east-1", None),
    ("us-west-2", None),
    ("eu-west-1", OTHER_ACCOUNT),
    ("us-east-1", OTHER_ACCOUNT),
)
HOW = ("tag", "storage", "none")
"""How a launch's execution is known: its job tag, only the executions in storage, or not at all."""

_seeds = itertools.count(1)


@dataclass(frozen=True)
class Scenario:
    """Which places are configured, and what is launched where."""

    configured: tuple[int, ...]
    launches: dict[int, tuple[tuple[str, bool], ...]]
    gap_s: int
    concurrency: int


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    configured = tuple(
        draw(st.lists(st.integers(0, len(PLACES) - 1), min_size=1, max_size=3, unique=True))
    )
    launches = {
        place: tuple(draw(st.lists(st.tuples(st.sampled_from(HOW), st.booleans()), max_size=3)))
        for place in range(len(PLACES))
        # Instances outside the configured places exist too, and must not be cached.
        if place in configured or draw(st.booleans())
    }
    return Scenario(
        configured=configured,
        launches=launches,
        gap_s=draw(st.integers(1, 7200)),
        concurrency=draw(st.integers(1, 4)),
    )


@dataclass
class Expected:
    region: str
    account_id: str | None
    execution_id: str | None
    is_drill: bool


@dataclass
class World:
    sim: DrsSimulator
    storage: MemoryStorage
    cache: RecoveryInstanceCache
    scenario: Scenario
    expected: dict[str, Expected] = field(default_factory=dict)

    @property
    def targets(self) -> list[tuple[str, str | None]]:
        return [
            (PLACES[p][0], PLACES[p][1].account_id if PLACES[p][1] else None)
            for p in self.scenario.configured
        ]


@pytest.fixture
def clients(aws: None) -> SimulatedClientFactory:
    # One factory for every example: its clients reach whichever simulator is active.
    return SimulatedClientFactory()


@contextmanager
def build(scenario: Scenario, clients: SimulatedClientFactory) -> Iterator[World]:
    with mock_drs(seed=next(_seeds)) as sim:
        storage = MemoryStorage()
        cache = RecoveryInstanceCache(
            storage,
            clients,
            targets=[PLACES[p] for p in scenario.configured],
            retry=fast_retry(),
            clock=sim.now,
            concurrency=scenario.concurrency,
        )
        world = World(sim, storage, cache, scenario)
        pending = []
        for place, launches in scenario.launches.items():
            region, account = PLACES[place]
            for index, (how, is_drill) in enumerate(launches):
                (server,) = add_servers(sim, region, 1, account=account, prefix=f"p{place}-{index}")
                execution_id = new_execution_id()
                job_ids = launch(
                    sim,
                    clients,
                    region,
                    [server],
                    account=account,
                    execution_id=execution_id,
                    is_drill=is_drill,
                    tag=how == "tag",
                    finish=False,
                )
                pending.append((region, account, job_ids, execution_id, how, is_drill))
                if place in scenario.configured:
                    world.expected[server] = Expected(
                        region,
                        account.account_id if account else None,
                        None if how == "none" else execution_id,
                        is_drill,
                    )
        sim.advance(3600)
        for region, account, job_ids, execution_id, how, is_drill in pending:
            if how != "none":
                record_execution(
                    storage,
                    clients,
                    region,
                    job_ids,
                    execution_id=execution_id,
                    account=account,
                    execution_type=ExecutionType.DRILL if is_drill else ExecutionType.RECOVERY,
                )
        yield world


def _by_server(records: list[RecoveryInstanceRecord]) -> dict[str, RecoveryInstanceRecord]:
    return {r.source_server_id: r for r in records}


def _counts(status: SyncStatus) -> list[tuple[str, str | None, int, str | None]]:
    return [
        (t.region, t.account_id, t.instances, t.error.code if t.error else None)
        for t in status.targets
    ]


def check_idempotent(
    first: list[RecoveryInstanceRecord],
    second: list[RecoveryInstanceRecord],
    first_status: SyncStatus,
    second_status: SyncStatus,
) -> None:
    """Two syncs in a row leave identical records, apart from ``last_synced``."""
    assert [r.model_dump(exclude={"last_synced"}) for r in first] == [
        r.model_dump(exclude={"last_synced"}) for r in second
    ]
    assert _counts(first_status) == _counts(second_status)
    assert all(t.deleted == 0 for t in second_status.targets)


def check_integrity(
    world: World, status: SyncStatus, records: list[RecoveryInstanceRecord]
) -> None:
    """Every launched instance of a configured place has a complete, correct record."""
    by_server = _by_server(records)
    assert status.succeeded
    assert set(by_server) == set(world.expected)
    for server, record in by_server.items():
        expected = world.expected[server]
        assert (record.region, record.account_id) == (expected.region, expected.account_id)
        assert record.source_execution_id == expected.execution_id
        assert record.is_drill is expected.is_drill
        for required in REQUIRED:
            assert getattr(record, required) is not None, (server, required)
        assert record.ec2_instance_state == "running"
        assert RecoveryInstanceRecord.parse(record.to_wire()) == record


def check_time_order(
    first: list[RecoveryInstanceRecord],
    second: list[RecoveryInstanceRecord],
    first_status: SyncStatus,
    second_status: SyncStatus,
) -> None:
    """launch_time <= last_synced, and last_synced only moves forward with the syncs."""
    for status in (first_status, second_status):
        assert status.finished_at is not None
        assert status.started_at <= status.finished_at
    assert first_status.finished_at is not None
    assert second_status.finished_at is not None
    assert first_status.finished_at <= second_status.started_at
    before = _by_server(first)
    for record in second:
        earlier = before[record.source_server_id]
        assert record.launch_time is not None
        assert record.launch_time <= earlier.last_synced < record.last_synced
        assert first_status.started_at <= earlier.last_synced <= first_status.finished_at
        assert second_status.started_at <= record.last_synced <= second_status.finished_at


def check_coverage(world: World, status: SyncStatus, records: list[RecoveryInstanceRecord]) -> None:
    """Every configured place appears once, in order, with its own instances and nothing else."""
    assert [(t.region, t.account_id) for t in status.targets] == world.targets
    assert {(r.region, r.account_id) for r in records} <= set(world.targets)
    for target in status.targets:
        launched = [
            e
            for e in world.expected.values()
            if (e.region, e.account_id) == (target.region, target.account_id)
        ]
        assert target.instances == target.written == len(launched)
        assert target.error is None


REQUIRED = (
    "recovery_instance_id",
    "ec2_instance_id",
    "job_id",
    "ec2_instance_state",
    "instance_type",
    "private_ip",
    "subnet_id",
    "vpc_id",
    "availability_zone",
    "launch_time",
    "name_tag",
    "source_hostname",
)


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios())
def test_sync_properties(scenario: Scenario, clients: SimulatedClientFactory) -> None:
    """Idempotency, data integrity, timestamp order and region coverage, on each example.

    One world serves all four properties: building it is what costs, and
    each property still holds on every one of the 100 examples.
    """
    with build(scenario, clients) as world:
        first_status = world.cache.sync_all()
        first = world.storage.recovery_instances.list()
        world.sim.advance(scenario.gap_s)
        second_status = world.cache.sync_all()
        second = world.storage.recovery_instances.list()

        check_idempotent(first, second, first_status, second_status)
        check_integrity(world, first_status, first)
        check_time_order(first, second, first_status, second_status)
        check_coverage(world, second_status, second)
        assert world.cache.get_sync_status() == second_status
