"""The SQLite file: only this library's databases are opened, new ones are private, read-only works.

Broken item 6 of issue 12: a truncated file or a non-database ``--db`` gave a
raw ``sqlite3.DatabaseError``; another application's SQLite file was
converted to WAL and given our tables; new files were world-readable.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from drs_orchestration.errors import StorageError
from drs_orchestration.models import ProtectionGroup
from drs_orchestration.storage import SqliteStorage
from drs_orchestration.storage.sqlite import APPLICATION_ID


def _group(name: str = "web") -> ProtectionGroup:
    return ProtectionGroup(group_id="pg-" + "g" * 20, name=name, region="us-east-1")


def _snapshot(path: Path) -> tuple[bytes, int, list[str]]:
    """The file's bytes and mtime, and the files beside it (no -wal or -journal appears)."""
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in path.parent.iterdir())


def _our_database(path: Path, groups: int = 200) -> None:
    with SqliteStorage(path) as storage:
        for n in range(groups):
            storage.protection_groups.put(
                ProtectionGroup(group_id=f"pg-{n:020d}", name="x" * 200, region="us-east-1")
            )


def _foreign_database(path: Path, *, wal: bool = False, application_id: int = 0) -> None:
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    if application_id:
        conn.execute(f"PRAGMA application_id={application_id}")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.commit()
    conn.close()


# --- permissions -------------------------------------------------------------------


def test_a_new_database_and_its_new_directories_are_private(tmp_path: Path) -> None:
    database = tmp_path / "a" / "b" / "state.db"

    with SqliteStorage(database) as storage:
        storage.protection_groups.put(_group())
        wal = Path(f"{database}-wal")
        assert stat.S_IMODE(wal.stat().st_mode) & 0o077 == 0

    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700


def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)

    SqliteStorage(tmp_path / "state.db").close()

    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


def test_databases_are_marked_as_ours(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    SqliteStorage(database).close()

    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


# --- files that are not ours ----------------------------------------------------------


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
@pytest.mark.parametrize("read_only", [False, True], ids=["read-write", "read-only"])
def test_another_applications_database_is_refused_unchanged(
    tmp_path: Path, wal: bool, read_only: bool
) -> None:
    database = tmp_path / "theirs.db"
    _foreign_database(database, wal=wal)
    before = _snapshot(database)

    with pytest.raises(StorageError) as caught:
        SqliteStorage(database, read_only=read_only)

    assert "another application" in caught.value.message
    assert str(database) in caught.value.message
    assert _snapshot(database) == before
    with sqlite3.connect(database) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert tables == ["notes"]
    assert mode == ("wal" if wal else "delete")


def test_a_database_marked_by_another_application_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "theirs.db"
    _foreign_database(database, application_id=0x12345678)
    before = _snapshot(database)

    with pytest.raises(StorageError, match="application_id 0x12345678"):
        SqliteStorage(database)

    assert _snapshot(database) == before


def test_a_file_that_is_not_a_database_is_refused_unchanged(tmp_path: Path) -> None:
    database = tmp_path / "notes.txt"
    database.write_text("these are my notes, not a database\n" * 20)
    before = _snapshot(database)

    with pytest.raises(StorageError, match="not a SQLite database") as caught:
        SqliteStorage(database)

    assert isinstance(caught.value, StorageError)
    assert _snapshot(database) == before


@pytest.mark.parametrize("keep", [50, 0.5], ids=["header-cut", "half"])
def test_a_truncated_database_is_refused_unchanged(tmp_path: Path, keep: float) -> None:
    database = tmp_path / "state.db"
    _our_database(database)
    data = database.read_bytes()
    database.write_bytes(data[: int(keep if keep > 1 else len(data) * keep)])
    before = _snapshot(database)

    with pytest.raises(StorageError) as caught:
        SqliteStorage(database)

    assert "truncated" in caught.value.message or "not a SQLite database" in caught.value.message
    assert _snapshot(database) == before


def test_an_empty_file_is_ours_to_initialise(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    database.touch()

    with SqliteStorage(database) as storage:
        stored = storage.protection_groups.put(_group())

    with SqliteStorage(database) as storage:
        assert storage.protection_groups.get(stored.group_id) == stored


def test_an_empty_sqlite_database_is_ours_to_initialise(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    sqlite3.connect(database).execute("PRAGMA user_version = 0").connection.close()
    conn = sqlite3.connect(database)
    conn.execute("VACUUM")  # writes the header: a real, empty database file
    conn.close()
    assert database.stat().st_size > 0

    with SqliteStorage(database) as storage:
        assert storage.protection_groups.put(_group()).version == 1


def test_a_database_written_before_the_mark_is_adopted(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    _our_database(database, groups=3)
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA application_id = 0")

    with SqliteStorage(database) as storage:
        assert len(storage.protection_groups.list()) == 3

    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_folder_that_cannot_be_written_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests may run as root, for whom permissions do not apply: refuse the create as
    # a read-only folder would.
    real_open = os.open

    def read_only_folder(path: object, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only_folder)

    with pytest.raises(StorageError, match="Permission denied") as caught:
        SqliteStorage(tmp_path / "state.db")

    assert caught.value.location == str(tmp_path / "state.db")
    assert isinstance(caught.value.__cause__, PermissionError)


# --- read-only ---------------------------------------------------------------------------


def test_read_only_reads_and_refuses_writes_without_touching_the_file(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    with SqliteStorage(database) as storage:
        stored = storage.protection_groups.put(_group())
    mtime = database.stat().st_mtime_ns

    with SqliteStorage(database, read_only=True) as reader:
        assert reader.read_only
        assert reader.protection_groups.get(stored.group_id) == stored
        with pytest.raises(StorageError, match="read-only"):
            reader.protection_groups.put(stored)
        with pytest.raises(StorageError, match="read-only"):
            reader.protection_groups.delete(stored.group_id)

    assert database.stat().st_mtime_ns == mtime


def test_read_only_never_creates_a_database(tmp_path: Path) -> None:
    database = tmp_path / "missing" / "state.db"

    with pytest.raises(StorageError, match="no database at"):
        SqliteStorage(database, read_only=True)

    assert not (tmp_path / "missing").exists()


def test_read_only_never_converts_a_database(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    _our_database(database, groups=2)
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA application_id = 0")  # as written before the mark existed
    before = _snapshot(database)

    with SqliteStorage(database, read_only=True) as reader:
        assert len(reader.protection_groups.list()) == 2

    assert _snapshot(database) == before


def test_read_only_in_memory_is_refused() -> None:
    with pytest.raises(ValueError, match="read_only"):
        SqliteStorage(":memory:", read_only=True)
