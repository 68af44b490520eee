"""Crash safety (DESIGN.md contract 7): whatever the crash point, each chunk starts exactly once.

A run is stopped by a crash (see :mod:`tests.waves.crash`), then resumed by
a new executor — new clients, same storage — possibly crashing again; the
execution must complete with every chunk started once, counted both in the
simulator's call log and in DRS's own jobs. Both the sweep of every single
crash point and hypothesis's sequences of crashes run on every backend.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from drs_orchestration import ExecutionStatus
from drs_orchestration.models import ServerLaunchStatus
from drs_orchestration.services.waves import DrsQuotas
from drs_orchestration.storage.base import Storage
from drs_orchestration.testing import DrsSimulator, JobTimings, SimulatedClientFactory, mock_drs
from tests.waves.crash import (
    CrashingStorage,
    SimulatedCrash,
    backend_stores,
    crash_after_start_recovery,
)
from tests.waves.helpers import REGION, add_servers, drs_jobs, orchestrator

FAST_JOBS = JobTimings(
    job_start=1.0, snapshot=5.0, conversion=10.0, launch=10.0, job_end=1.0, server_stagger=0.0
)
QUOTAS = DrsQuotas(max_servers_per_job=2)
CHUNKS = 3  # database: 3 servers in chunks of 2, app: 1 server
POLL = 30.0

Crash = tuple[str, int]

# One set of clients for every run: clients answer whichever simulator is active, and
# building botocore clients per run would dominate the test's time. Each run still gets
# a brand-new executor and storage view, which is what a new process brings.
CLIENTS = SimulatedClientFactory()


def _prepare(sim: DrsSimulator, storage: Storage, clients: SimulatedClientFactory) -> str:
    """Two waves (3 chunks); the app group is not applied yet, so its wave takes the fallback."""
    orch = orchestrator(sim, storage=storage, clients=clients, quotas=QUOTAS)
    add_servers(sim, "database", 3)
    add_servers(sim, "app", 1)
    db = orch.groups.create(
        "database", REGION, tags={"Tier": "database"}, launch_settings={"copyPrivateIp": True}
    )
    app = orch.groups.create(
        "app", REGION, tags={"Tier": "app"}, launch_settings={"copyTags": True}, apply=False
    )
    plan = orch.plans.create(
        "crashy",
        [
            {"name": "database", "protectionGroupIds": [db.group_id]},
            {"name": "app", "protectionGroupIds": [app.group_id], "dependsOn": ["database"]},
        ],
    )
    return orch.waves.start(plan.plan_id).execution_id


def _run_once(
    sim: DrsSimulator,
    storage: Storage,
    clients: SimulatedClientFactory,
    execution_id: str,
    crash: Crash | None,
) -> bool:
    """Run with a brand-new executor (and nothing of the last one's state); return if it crashed."""
    crashing = CrashingStorage(storage, crash[1] if crash and crash[0] == "write" else None)
    orch = orchestrator(sim, storage=crashing, clients=clients, quotas=QUOTAS)  # type: ignore[arg-type]
    nth = crash[1] if crash and crash[0] == "start" else None
    with crash_after_start_recovery(clients, REGION, nth):
        try:
            orch.waves.run(execution_id, poll_interval=POLL)
        except SimulatedCrash:
            return True
    return False


def _drill_with_crashes(storage: Storage, crashes: list[Crash]) -> dict[str, Any]:
    with mock_drs(timings=FAST_JOBS) as sim:
        clients = CLIENTS
        execution_id = _prepare(sim, storage, clients)
        crashed = [_run_once(sim, storage, clients, execution_id, crash) for crash in crashes]
        _run_once(sim, storage, clients, execution_id, None)
        execution = storage.executions.get(execution_id)
        jobs = [
            j
            for j in drs_jobs(sim, clients=clients)
            if j["tags"].get("ExecutionId") == execution_id
        ]
        return {
            "execution": execution,
            "crashed": crashed,
            "start_calls": sim.calls.count("StartRecovery", succeeded=True),
            "job_chunks": Counter((j["tags"]["Wave"], j["tags"]["Chunk"]) for j in jobs),
        }


def _check(result: dict[str, Any]) -> None:
    execution = result["execution"]
    assert execution.status is ExecutionStatus.COMPLETED, execution.error
    assert result["start_calls"] == CHUNKS
    assert sum(result["job_chunks"].values()) == CHUNKS
    assert set(result["job_chunks"].values()) == {1}
    recorded = [j.job_id for w in execution.waves for j in w.jobs]
    assert len(recorded) == CHUNKS
    assert None not in recorded
    assert all(o.status is ServerLaunchStatus.LAUNCHED for o in execution.outcomes().values())


def _writes_without_crash() -> list[str]:
    from drs_orchestration.storage import MemoryStorage

    storage = CrashingStorage(MemoryStorage())
    with mock_drs(timings=FAST_JOBS) as sim:
        clients = CLIENTS
        execution_id = _prepare(sim, storage, clients)  # type: ignore[arg-type]
        before = storage.writes
        orch = orchestrator(sim, storage=storage, clients=clients, quotas=QUOTAS)  # type: ignore[arg-type]
        orch.waves.run(execution_id, poll_interval=POLL)
        return storage.log[before:]


WRITE_LOG = _writes_without_crash()
WRITES = len(WRITE_LOG)

crash_points = st.one_of(
    st.tuples(st.just("write"), st.integers(min_value=1, max_value=WRITES)),
    st.tuples(st.just("start"), st.integers(min_value=1, max_value=CHUNKS)),
)


def test_the_scenario_has_enough_crash_points() -> None:
    assert WRITE_LOG.count("claim") == CHUNKS
    assert WRITE_LOG.count("group") == 2  # the fallback apply: pending, then ready
    assert WRITES >= 3 * CHUNKS + 4


_LAST_CLAIM = len(WRITE_LOG) - WRITE_LOG[::-1].index("claim")


@pytest.mark.parametrize("backend", ["memory", "sqlite", "dynamodb"])
def test_any_sequence_of_crashes_starts_each_chunk_exactly_once(
    backend: str, tmp_path: Path
) -> None:
    with backend_stores(backend, tmp_path) as fresh_store:

        @settings(max_examples=100, deadline=None)
        @given(crashes=st.lists(crash_points, min_size=1, max_size=3))
        # Found by hypothesis: every resumed process dies right after claiming the same
        # chunk. Those claims never reached DRS, so they must not use up its start attempts.
        @example(crashes=[("write", _LAST_CLAIM), ("write", 1), ("write", 1), ("write", 1)])
        def check(crashes: list[Crash]) -> None:
            result = _drill_with_crashes(fresh_store(), crashes)

            assert result["crashed"][0] is True
            _check(result)

        check()


ALL_POINTS: list[Crash] = [("write", n) for n in range(1, WRITES + 1)] + [
    ("start", k) for k in range(1, CHUNKS + 1)
]


@pytest.mark.parametrize("backend", ["memory", "sqlite", "dynamodb"])
def test_every_crash_point_on_every_backend(backend: str, tmp_path: Path) -> None:
    with backend_stores(backend, tmp_path) as fresh_store:
        for crash in ALL_POINTS:
            result = _drill_with_crashes(fresh_store(), [crash])
            assert result["crashed"] == [True], crash
            _check(result)
