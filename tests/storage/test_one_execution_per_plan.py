"""One running execution per plan, claimed atomically on every backend, by threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drs_orchestration import ConflictError, ExecutionStatus, ProtectionGroup, WaveExecutor
from drs_orchestration.services import LaunchConfigService, RecoveryPlanService
from drs_orchestration.storage import MemoryStorage, SqliteStorage, claim_id, retry_conflicts
from drs_orchestration.storage.base import BaseStorage
from drs_orchestration.testing import SimulatedClientFactory
from tests.ids import server_id
from tests.waves.start_process import start_in_a_process


def _plan(storage: BaseStorage) -> str:
    group = storage.protection_groups.put(
        ProtectionGroup(name="db", region="us-east-1", source_server_ids=[server_id(1)])
    )
    plan = RecoveryPlanService(storage).create(
        "shop", [{"name": "db", "protectionGroupIds": [group.group_id]}]
    )
    return plan.plan_id


def _executor(storage: BaseStorage) -> WaveExecutor:
    clients = SimulatedClientFactory()
    return WaveExecutor(storage, clients, launch_configs=LaunchConfigService(storage, clients))


def _running(storage: BaseStorage, plan_id: str) -> list[str]:
    return [
        e.execution_id
        for e in storage.executions.list_for_plan(plan_id)
        if not e.status.is_terminal
    ]


def test_concurrent_starts_store_exactly_one_execution(
    make_storage: Callable[[], BaseStorage],
) -> None:
    setup = make_storage()
    plan_id = _plan(setup)
    barrier = threading.Barrier(8)
    started: list[str] = []
    refused: list[ConflictError] = []
    lock = threading.Lock()

    def start() -> None:
        executor = _executor(make_storage())
        barrier.wait()
        try:
            execution = executor.start(plan_id)
        except ConflictError as exc:
            with lock:
                refused.append(exc)
        else:
            with lock:
                started.append(execution.execution_id)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(started) == 1
    assert len(refused) == 7
    assert all(e.details["executionIds"] == started for e in refused)
    assert _running(setup, plan_id) == started
    claim = setup.claims.get(claim_id("plan", plan_id))
    assert claim.owner_id == started[0]


def test_the_plan_is_free_again_once_its_execution_ends(
    make_storage: Callable[[], BaseStorage],
) -> None:
    storage = make_storage()
    plan_id = _plan(storage)
    executor = _executor(storage)
    first = executor.start(plan_id)
    with pytest.raises(ConflictError, match=first.execution_id):
        executor.start(plan_id)

    executor.cancel(first.execution_id, "operator", "wrong plan")
    ended = executor.run(first.execution_id)  # a cancelled, never-started execution needs no AWS

    assert ended.status is ExecutionStatus.CANCELLED
    assert not storage.claims.get(claim_id("plan", plan_id)).held
    second = executor.start(plan_id)
    assert _running(storage, plan_id) == [second.execution_id]


def test_a_claim_left_by_an_ended_or_vanished_execution_is_taken_over(
    make_storage: Callable[[], BaseStorage],
) -> None:
    storage = make_storage()
    plan_id = _plan(storage)
    executor = _executor(storage)
    crashed = executor.start(plan_id)
    # The process ended the execution and died before releasing the plan.
    storage.executions.put(crashed.model_copy(update={"status": ExecutionStatus.FAILED}))
    after_crash = executor.start(plan_id)
    assert storage.claims.get(claim_id("plan", plan_id)).owner_id == after_crash.execution_id

    # An execution removed from storage (expired, deleted by hand) frees the plan too.
    storage.executions.delete(after_crash.execution_id)
    third = executor.start(plan_id)
    assert _running(storage, plan_id) == [third.execution_id]


def _race_the_end(
    make_storage: Callable[[], BaseStorage], plan_id: str, running: str
) -> tuple[list[str], list[BaseException]]:
    """End ``running`` in one thread while three start the plan; return who started, errors."""
    barrier = threading.Barrier(4)
    started: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def end() -> None:
        executor = _executor(make_storage())
        barrier.wait()
        try:
            retry_conflicts(lambda: executor.cancel(running, "operator", "drill over"))
            executor.run(running)
        except BaseException as error:
            with lock:
                errors.append(error)

    def start() -> None:
        executor = _executor(make_storage())
        barrier.wait()
        try:
            execution = executor.start(plan_id)
        except ConflictError:
            return
        except BaseException as error:
            with lock:
                errors.append(error)
            return
        with lock:
            started.append(execution.execution_id)

    threads = [threading.Thread(target=end), *(threading.Thread(target=start) for _ in range(3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return started, errors


def test_starts_racing_the_end_of_the_running_execution_never_run_two(
    make_storage: Callable[[], BaseStorage],
) -> None:
    # Real threads, each with its own storage over one store: one ends the running
    # execution (cancel, then the step that records it and releases the plan) while
    # three start the plan. Round after round, at most one execution runs.
    setup = make_storage()
    plan_id = _plan(setup)
    running = _executor(setup).start(plan_id).execution_id
    for _ in range(8):
        started, errors = _race_the_end(make_storage, plan_id, running)

        assert errors == []
        assert len(started) <= 1
        assert _running(setup, plan_id) == started
        # Every start may have come before the release: then the plan is started anew.
        running = started[0] if started else _executor(setup).start(plan_id).execution_id
        claim = setup.claims.get(claim_id("plan", plan_id))
        assert claim.held
        assert claim.owner_id == running


def test_a_hand_over_cannot_overwrite_a_claim_released_and_taken_meanwhile(
    make_storage: Callable[[], BaseStorage], monkeypatch: pytest.MonkeyPatch
) -> None:
    # X finds the plan claimed by an execution that has ended but not yet released it.
    # While X reads that execution, it releases the claim and Y's start takes it. Had the
    # release deleted the claim, Y's would be version 1 again: the version X hands over
    # from, and X would overwrite it. Two executions of one plan would then run.
    storage = make_storage()
    plan_id = _plan(storage)
    ended = _executor(storage).start(plan_id)
    storage.executions.put(ended.model_copy(update={"status": ExecutionStatus.FAILED}))
    other = make_storage()
    x = make_storage()
    read = x.executions.find
    raced: list[str] = []

    def meanwhile(execution_id: str) -> Any:
        found = read(execution_id)
        if execution_id == ended.execution_id and not raced:
            assert other.claims.release(claim_id("plan", plan_id), ended.execution_id)
            raced.append(_executor(other).start(plan_id).execution_id)
        return found

    monkeypatch.setattr(x.executions, "find", meanwhile)

    with pytest.raises(ConflictError) as refused:
        _executor(x).start(plan_id)

    assert refused.value.details["executionIds"] == raced
    assert _running(storage, plan_id) == raced
    claim = storage.claims.get(claim_id("plan", plan_id))
    assert claim.held
    assert claim.owner_id == raced[0]


def test_a_released_claim_is_kept_and_taken_at_its_version(
    make_storage: Callable[[], BaseStorage],
) -> None:
    storage = make_storage()
    claim = claim_id("plan", "rp-" + "0" * 20)
    first = storage.claims.acquire(claim, "ex-first", kind="running-execution")
    assert storage.claims.release(claim, "ex-first")
    assert not storage.claims.release(claim, "ex-first")  # released already

    released = storage.claims.get(claim)
    assert not released.held
    assert released.version == first.version + 1

    second = storage.claims.acquire(claim, "ex-second", kind="running-execution")
    assert second.held
    assert second.version == released.version + 1
    assert storage.claims.get(claim) == second


def test_processes_over_one_sqlite_file_store_exactly_one_execution(tmp_path: Path) -> None:
    database = tmp_path / "drs.db"
    with SqliteStorage(database) as storage:
        plan_id = _plan(storage)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    processes = [
        context.Process(target=start_in_a_process, args=(str(database), n, plan_id, start, results))
        for n in range(4)
    ]
    for process in processes:
        process.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)

    started = [o for _, o in outcomes if o != "conflict"]
    assert len(started) == 1
    with SqliteStorage(database) as storage:
        assert _running(storage, plan_id) == started


@settings(max_examples=100, deadline=None)
@given(
    actions=st.lists(
        st.sampled_from(["start", "end", "end-without-release", "vanish"]), max_size=12
    )
)
def test_any_sequence_of_starts_and_ends_keeps_at_most_one_running(actions: list[str]) -> None:
    """A start succeeds exactly when nothing runs; ends, crashed ends and lost records free it."""
    storage = MemoryStorage()
    plan_id = _plan(storage)
    executor = _executor(storage)
    running: str | None = None
    for action in actions:
        if action == "start":
            try:
                running_now = executor.start(plan_id).execution_id
            except ConflictError:
                assert running is not None
            else:
                assert running is None
                running = running_now
        elif running is not None:
            execution = storage.executions.get(running)
            if action == "end":
                executor.cancel(running, "test")
                executor.run(running)
            elif action == "end-without-release":
                storage.executions.put(
                    execution.model_copy(update={"status": ExecutionStatus.COMPLETED})
                )
            else:
                storage.executions.delete(running)
            running = None
        assert _running(storage, plan_id) == ([running] if running else [])


def test_concurrent_plan_updates_without_a_version_lose_nothing(
    make_storage: Callable[[], BaseStorage],
) -> None:
    """Each writer re-applies its own change to the stored plan: 8 x 25 increments all land."""
    setup = make_storage()
    plan_id = _plan(setup)
    RecoveryPlanService(setup).update(plan_id, description="0")
    barrier = threading.Barrier(8)

    def increment() -> None:
        plans = RecoveryPlanService(make_storage())
        barrier.wait()
        for _ in range(25):

            def bump() -> None:
                current = plans.get(plan_id)
                plans.update(
                    plan_id,
                    description=str(int(current.description or "0") + 1),
                    expected_version=current.version,
                )

            retry_conflicts(bump, attempts=200, sleep=lambda _: None)

    threads = [threading.Thread(target=increment) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = setup.recovery_plans.get(plan_id)
    assert stored.description == "200"
    assert stored.version == 202  # create, the first update, and one write per increment
