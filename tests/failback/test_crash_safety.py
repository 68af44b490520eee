"""A failback stopped at any point resumes without reversing, launching or terminating twice.

The failover runs first, uncrashed. Then the whole failback (start, follow,
launch back, re-protect, clean up) is driven by a "process" that dies after
its Nth storage write — every one of them, in turn — or right after DRS
answered a non-idempotent call; a new process (new coordinator, executor and
clients' state, the same storage) takes over until it is done. DRS's own
record (its call log and its jobs) must show every reversal, launch and
termination exactly once. On every backend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from moto.backends import get_backend

from drs_orchestration import Orchestrator
from drs_orchestration.errors import NotFoundError
from drs_orchestration.models import FailbackPhase
from drs_orchestration.services.failback import FailbackCoordinator
from drs_orchestration.storage.base import Storage
from drs_orchestration.testing import DrsSimulator, mock_drs
from tests.failback.conftest import FAST, NO_WAIT, ORIGIN, RECOVERY, World, make_world
from tests.failback.crash import CrashingStorage, SimulatedCrash, crash_after_call
from tests.waves.crash import BACKENDS

Crash = tuple[str, int]
SERVERS = 2
CALLS = {
    "ReverseReplication": 2 * SERVERS,  # reversals, then re-protections
    "StartRecovery": 1,  # one chunk in the origin
    "TerminateRecoveryInstances": 1,  # one job, unless crashes split the servers' clean-up
    "StopReplication": SERVERS,
}
"""Crash-after-answer points: the Nth successful call of each operation."""


def _targets(operation: str, params: dict[str, Any]) -> list[str]:
    """What one call acted on: recovery instances, source servers."""
    if operation == "StartRecovery":
        return [s["sourceServerID"] for s in params["sourceServers"]]
    if operation == "TerminateRecoveryInstances":
        return list(params["recoveryInstanceIDs"])
    if operation == "StopReplication":
        return [params["sourceServerID"]]
    return [params["recoveryInstanceID"]]


POLL_S = 150.0
"""Between steps that wait: long beside FAST's phases, so a run takes few steps (and writes)."""


def _drive(coordinator: FailbackCoordinator, eid: str) -> None:
    """What an operator (or a Step Functions loop) does, resumed from wherever it stands."""
    try:
        failback = coordinator.get(eid)
    except NotFoundError:
        failback = coordinator.start_failback(eid)
    failback = coordinator.run(eid, poll_interval=POLL_S)
    if any(s.phase is FailbackPhase.READY for s in failback.servers):
        coordinator.launch_failback(eid)
        failback = coordinator.run(eid, poll_interval=POLL_S)
    if all(s.phase is FailbackPhase.COMPLETED for s in failback.servers):
        if any(s.reprotect is None for s in failback.servers):
            coordinator.reprotect(eid)
        if any(s.terminate is None for s in failback.servers):
            coordinator.cleanup(eid)
        coordinator.run(eid, poll_interval=POLL_S)


def _coordinator(storage: Storage, world: World) -> FailbackCoordinator:
    """A new process's coordinator: new services on the same storage, the same simulator."""
    return Orchestrator(
        storage,
        world.clients,
        clock=world.sim.now,
        retry=NO_WAIT,
        sleep=world.sim.advance,
        sync_cache=False,
    ).failback


def _process(world: World, storage: Storage, eid: str, crash: Crash | None) -> bool:
    """One process's life on the shared storage; return whether it died."""
    crashing = CrashingStorage(storage, crash[1] if crash and crash[0] == "write" else None)
    operation = crash[0] if crash and crash[0] != "write" else "Noop"
    nth = crash[1] if crash and crash[0] != "write" else None
    try:
        with crash_after_call(world.clients, [RECOVERY, ORIGIN], operation, nth):
            _drive(_coordinator(crashing, world), eid)
    except SimulatedCrash:
        return True
    return False


Fresh = Callable[[DrsSimulator], tuple[World, Storage]]


@contextmanager
def _fresh_worlds(backend: str, tmp: Path) -> Iterator[Fresh]:
    """A function giving each run an empty store of ``backend`` and an empty EC2."""
    opened: list[Storage] = []

    def fresh(sim: DrsSimulator) -> tuple[World, Storage]:
        directory = tmp / str(len(opened))
        directory.mkdir()
        get_backend("ec2").reset()
        storage = BACKENDS[backend].open(directory)
        opened.append(storage)
        return make_world(sim, storage), storage

    with mock_aws():
        try:
            yield fresh
        finally:
            for storage in opened:
                getattr(storage, "close", lambda: None)()


def _failback_with_crashes(fresh: Fresh, crashes: list[Crash]) -> dict[str, Any]:
    with mock_drs(timings=FAST) as sim:
        world, storage = fresh(sim)
        execution = world.fail_over({"app": world.servers(SERVERS)})
        eid = execution.execution_id
        before = len(sim.calls)
        crashed = [_process(world, storage, eid, crash) for crash in crashes]
        assert not _process(world, storage, eid, None)
        failback = FailbackCoordinator(storage, world.clients, clock=sim.now).get(eid)
        origin_jobs = world.drs(ORIGIN).describe_jobs()["items"]
        acted: dict[str, Counter[str]] = {op: Counter() for op in CALLS}
        for call in list(sim.calls)[before:]:
            if call.succeeded and call.operation in acted:
                acted[call.operation].update(_targets(call.operation, call.params))
        return {
            "failback": failback,
            "crashed": crashed,
            "acted": acted,
            "origin_launches": [j for j in origin_jobs if j["type"] == "LAUNCH"],
            "plans": [p for p in storage.recovery_plans.list() if p.name.startswith("failback ")],
        }


def _check(result: dict[str, Any]) -> None:
    failback = result["failback"]
    assert failback.phase is FailbackPhase.COMPLETED, [(s.phase, s.error) for s in failback.servers]
    acted = result["acted"]
    recovered = {s.recovery_instance_id for s in failback.servers}
    failed_back = {str(s.failback_recovery_instance_id) for s in failback.servers}
    reversed_servers = {str(s.reversed_source_server_id) for s in failback.servers}
    # Every reversal, re-protection, launch, stop and termination happened exactly once.
    assert acted["ReverseReplication"] == Counter(recovered | failed_back)
    assert acted["StartRecovery"] == Counter(reversed_servers)
    assert acted["StopReplication"] == Counter(reversed_servers)
    assert acted["TerminateRecoveryInstances"] == Counter(recovered)
    assert len(result["origin_launches"]) == 1
    assert len(result["plans"]) == 1
    for state in failback.servers:
        for step in (state.reprotect, state.stop_replication, state.terminate):
            assert step is not None
            assert step.done_at is not None, step
            assert step.error is None


def _write_log() -> list[str]:
    from drs_orchestration.storage import MemoryStorage

    with mock_aws(), mock_drs(timings=FAST) as sim:
        world = make_world(sim, MemoryStorage())
        execution = world.fail_over({"app": world.servers(SERVERS)})
        crashing = CrashingStorage(world.storage)
        _drive(_coordinator(crashing, world), execution.execution_id)
        return crashing.log


@pytest.fixture(scope="module")
def write_points() -> list[str]:
    return _write_log()


def test_the_failback_has_crash_points_at_every_kind_of_write(write_points: list[str]) -> None:
    assert any(w.startswith("transact:") and "ClaimRecord" in w for w in write_points)
    assert write_points.count("failback") >= 2 * SERVERS
    assert "plan" in write_points
    assert "execution" in write_points


@pytest.mark.parametrize("backend", ["memory", "sqlite", "dynamodb"])
def test_every_crash_point_resumes_without_doing_anything_twice(
    backend: str, tmp_path: Path, write_points: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    points: list[Crash] = [("write", n) for n in range(1, len(write_points) + 1)]
    points += [(op, nth) for op, count in CALLS.items() for nth in range(1, count + 1)]
    with _fresh_worlds(backend, tmp_path) as fresh:
        for crash in points:
            result = _failback_with_crashes(fresh, [crash])
            assert result["crashed"] == [True], crash
            _check(result)


def test_crashes_in_a_row_still_end_in_one_failback(
    tmp_path: Path, write_points: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    last = len(write_points)
    with _fresh_worlds("memory", tmp_path) as fresh:
        for crashes in (
            [("write", 1), ("write", 1), ("write", 1)],
            [("ReverseReplication", 1), ("ReverseReplication", 1), ("write", 3)],
            [("StartRecovery", 1), ("write", 2), ("TerminateRecoveryInstances", 1)],
            [("write", last // 2), ("write", last // 3), ("write", last // 4)],
        ):
            result = _failback_with_crashes(fresh, crashes)
            assert result["crashed"][0] is True
            _check(result)
