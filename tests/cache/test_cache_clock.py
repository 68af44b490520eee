"""The cache's events carry its injected clock; its clock and limits are checked."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from drs_orchestration.errors import ValidationError
from drs_orchestration.events import CacheSynced, CacheSyncFailed, Event, InstancesTerminated
from drs_orchestration.services.cache import TerminationLimits
from drs_orchestration.storage.base import BaseStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from tests.cache.conftest import CacheFactory
from tests.cache.helpers import add_servers, drill, launch

WEEK_S = 7 * 24 * 3600


def test_sync_events_carry_the_injected_time(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    make_cache: CacheFactory,
    events: list[Event],
) -> None:
    ok = add_servers(sim, "us-east-1", 2)
    add_servers(sim, "us-west-2", 1)
    launch(sim, clients, "us-east-1", ok)
    sim.set_initialized("us-west-2", False)
    sim.advance(5 * 86400)  # far from the wall clock, so a wall-time stamp shows
    cache = make_cache(targets=[("us-east-1", None), ("us-west-2", None)])

    status = cache.sync_all()
    cache.sync_servers("us-east-1", ok)

    (failed,) = [e for e in events if isinstance(e, CacheSyncFailed)]
    full, narrow = [e for e in events if isinstance(e, CacheSynced)]
    assert failed.at == full.at == narrow.at == sim.now()
    assert status.finished_at == full.at
    assert narrow.scope == "servers"


def test_termination_event_carries_the_injected_time(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
    events: list[Event],
) -> None:
    execution = drill(sim, clients, storage, "us-east-1", add_servers(sim, "us-east-1", 2))
    cache = make_cache(targets=[("us-east-1", None)])
    cache.sync_all()
    sim.advance(2 * 86400)

    report = cache.terminate_execution(execution.execution_id)

    (terminated,) = [e for e in events if isinstance(e, InstancesTerminated)]
    assert terminated.at == report.finished_at == sim.now()
    assert terminated.terminated == 2


def test_a_naive_clock_is_a_validation_error(make_cache: CacheFactory) -> None:
    cache = make_cache(targets=[("us-east-1", None)], clock=lambda: datetime(2026, 1, 1))
    with pytest.raises(ValidationError) as err:
        cache.sync_all()
    assert err.value.problems[0]["field"] == "clock"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("poll_interval_s", math.nan),
        ("poll_interval_s", -1.0),
        ("poll_interval_s", 0.0),
        ("poll_interval_s", math.inf),
        ("timeout_s", math.nan),
        ("timeout_s", 0.0),
        ("timeout_s", WEEK_S + 1.0),
        ("chunk_size", 0),
        ("chunk_size", 101),  # more than quotas.max_servers_per_job
        ("chunk_size", 2.5),
        ("quotas", 20),
    ],
)
def test_termination_limits_name_the_field_and_value(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as err:
        TerminationLimits(**{field: value})  # type: ignore[arg-type]
    (problem,) = err.value.problems
    assert problem["field"] == field
    assert problem["value"] is value or problem["value"] == value
