"""SQLite specifics: the file, WAL, the schema and its index, locking, in-memory databases."""

from __future__ import annotations

import os
import sqlite3
import warnings
from pathlib import Path

import pytest

from drs_orchestration.errors import (
    ConcurrentModificationError,
    StorageError,
    StorageUnavailableError,
)
from drs_orchestration.models import Execution, ProtectionGroup
from drs_orchestration.storage import SqliteStorage, default_sqlite_path

PLAN_ID = "rp-" + "p" * 20


def _group(name: str = "web") -> ProtectionGroup:
    return ProtectionGroup(group_id="pg-" + "g" * 20, name=name, region="us-east-1")


def test_data_survives_closing_and_reopening(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    with SqliteStorage(database) as storage:
        stored = storage.protection_groups.put(_group())

    with SqliteStorage(database) as reopened:
        assert reopened.protection_groups.get(stored.group_id) == stored


def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    SqliteStorage(database).close()

    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_missing_parent_directories_are_created(tmp_path: Path) -> None:
    database = tmp_path / "a" / "b" / "state.db"

    with SqliteStorage(database) as storage:
        storage.protection_groups.put(_group())

    assert database.is_file()


def test_rows_carry_key_version_and_indexed_value_columns(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    with SqliteStorage(database) as storage:
        execution = storage.executions.put(Execution(plan_id=PLAN_ID, plan_name="drill"))

    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT collection, key, version, index_value FROM documents"
        ).fetchall()
    assert rows == [("executions", execution.execution_id, 1, PLAN_ID)]


def test_indexed_lookups_use_the_index(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    SqliteStorage(database).close()

    with sqlite3.connect(database) as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT document FROM documents "
            "WHERE collection = ? AND index_value = ?",
            ("executions", PLAN_ID),
        ).fetchall()
    assert "documents_by_index" in " ".join(str(step) for step in plan)


def test_in_memory_databases_work_and_are_private() -> None:
    first, second = SqliteStorage(":memory:"), SqliteStorage(":memory:")

    stored = first.protection_groups.put(_group())

    assert first.protection_groups.get(stored.group_id) == stored
    assert second.protection_groups.find(stored.group_id) is None
    assert first.path == ":memory:"
    first.close()
    second.close()


def test_a_write_waits_for_another_writer_then_fails_naming_the_database(
    tmp_path: Path,
) -> None:
    database = tmp_path / "state.db"
    storage = SqliteStorage(database, timeout_s=0.05)
    stored = storage.protection_groups.put(_group())
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock

    with pytest.raises(StorageUnavailableError, match="locked") as caught:
        storage.protection_groups.put(stored.model_copy(update={"name": "changed"}))

    other.execute("ROLLBACK")
    other.close()
    assert str(database) in caught.value.message
    assert caught.value.location == str(database)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert storage.protection_groups.get(stored.group_id) == stored
    # The failed write left no transaction open: the next one goes through.
    assert storage.protection_groups.put(stored).version == 2
    storage.close()


def test_a_conflict_rolls_back_and_leaves_the_connection_usable(tmp_path: Path) -> None:
    with SqliteStorage(tmp_path / "state.db") as storage:
        stored = storage.protection_groups.put(_group())
        with pytest.raises(ConcurrentModificationError):
            storage.protection_groups.put(_group("stale"))

        assert storage.protection_groups.put(stored).version == 2


def test_a_database_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    SqliteStorage(database).close()
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA user_version = 99")

    with pytest.raises(StorageError, match="schema version 99") as caught:
        SqliteStorage(database)

    assert str(database) in str(caught.value)


def test_a_closed_storage_says_so(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "state.db")
    storage.close()

    with pytest.raises(StorageError, match="closed"):
        storage.protection_groups.find("pg-" + "g" * 20)


def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "state.db")
    stored = storage.protection_groups.put(_group())
    reader, writer = os.pipe()

    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads (pytest-xdist has some);
        # the child here touches nothing but its own new connection.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            child = storage.protection_groups.put(stored)
            os.write(writer, str(child.version).encode())
        finally:
            os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    written = os.read(reader, 16)
    os.close(reader)

    assert written == b"2"
    assert storage.protection_groups.get(stored.group_id).version == 2
    storage.close()


def test_default_path_follows_xdg_state_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))

    assert default_sqlite_path() == tmp_path / "drs-orchestration" / "drs-orchestration.db"


def test_default_path_falls_back_to_local_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)

    assert default_sqlite_path() == (
        Path.home() / ".local" / "state" / "drs-orchestration" / "drs-orchestration.db"
    )
