"""Concurrent writers never lose an update (DESIGN.md contract 4), on every backend.

Each writer runs read-modify-write cycles on one execution, adding one to
``plan_version`` (a counter for the test's purpose) and retrying on
``ConcurrentModificationError``; a lost update would leave the counter short.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from drs_orchestration.errors import ConcurrentModificationError
from drs_orchestration.models import Execution
from drs_orchestration.storage import BaseStorage, SqliteStorage

THREADS = 8
CYCLES = 50
KEY = "ex-" + "c" * 20


def _increment(storage: BaseStorage) -> int:
    """Add one to the counter; return how many attempts it took."""
    attempts = 0
    while True:
        attempts += 1
        execution = storage.executions.get(KEY)
        try:
            storage.executions.put(
                execution.model_copy(update={"plan_version": execution.plan_version + 1})
            )
        except ConcurrentModificationError:
            continue
        return attempts


def _run_writers(storages: list[BaseStorage]) -> int:
    """Run one thread per storage, CYCLES increments each, all starting together."""
    start = threading.Barrier(len(storages))

    def writer(storage: BaseStorage) -> int:
        start.wait()
        return sum(_increment(storage) for _ in range(CYCLES))

    with ThreadPoolExecutor(len(storages)) as pool:
        return sum(pool.map(writer, storages))


def _seed(storage: BaseStorage) -> None:
    storage.executions.put(Execution(execution_id=KEY, plan_id="rp-" + "c" * 20, plan_name="n"))


def test_threads_sharing_one_storage_lose_no_update(
    make_storage: Callable[[], BaseStorage],
) -> None:
    storage = make_storage()
    _seed(storage)

    attempts = _run_writers([storage] * THREADS)

    final = storage.executions.get(KEY)
    assert final.plan_version == THREADS * CYCLES
    assert final.version == 1 + THREADS * CYCLES
    assert attempts >= THREADS * CYCLES


def test_sqlite_threads_with_connections_of_their_own_lose_no_update(tmp_path: Path) -> None:
    # Separate connections to one file, as separate processes have, with the
    # contention of threads: the version check must hold under SQLite's own locking.
    storages = [SqliteStorage(tmp_path / "shared.db") for _ in range(THREADS)]
    _seed(storages[0])

    _run_writers(list(storages))

    final = storages[0].executions.get(KEY)
    for storage in storages:
        storage.close()
    assert final.plan_version == THREADS * CYCLES
    assert final.version == 1 + THREADS * CYCLES


_PROCESS_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from drs_orchestration.errors import ConcurrentModificationError
    from drs_orchestration.storage import SqliteStorage

    database, key, cycles, me, writers = sys.argv[1:6]
    storage = SqliteStorage(database)
    # Start together: each process announces itself and waits for the others.
    gate = Path(database).parent
    (gate / f"ready-{me}").touch()
    while len(list(gate.glob("ready-*"))) < int(writers):
        time.sleep(0.001)
    conflicts = 0
    for _ in range(int(cycles)):
        while True:
            execution = storage.executions.get(key)
            try:
                storage.executions.put(
                    execution.model_copy(update={"plan_version": execution.plan_version + 1})
                )
                break
            except ConcurrentModificationError:
                conflicts += 1
    storage.close()
    print(conflicts)
    """
)


@pytest.mark.parametrize("processes", [4])
def test_sqlite_processes_lose_no_update(tmp_path: Path, processes: int) -> None:
    database = tmp_path / "shared.db"
    with SqliteStorage(database) as storage:
        _seed(storage)

    arguments = [str(database), KEY, str(CYCLES)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS_WRITER, *arguments, str(n), str(processes)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    results = [writer.communicate(timeout=120) for writer in writers]

    assert [writer.returncode for writer in writers] == [0] * processes, results
    with SqliteStorage(database) as storage:
        final = storage.executions.get(KEY)
    assert final.plan_version == processes * CYCLES
    assert final.version == 1 + processes * CYCLES
