"""SQLite storage: the embedded, persistent default for the CLI and single hosts.

One table holds every collection: a row per document with its key columns
(collection, key, version, indexed value) and the document as JSON text.
The database runs in WAL mode, so readers in other processes never block the
writer, and each conditional write is a ``BEGIN IMMEDIATE`` transaction: the
version check and the write happen under SQLite's write lock, so two
processes can never both pass the check.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drs_orchestration.storage.base import (
    BaseStorage,
    CollectionSpec,
    DocumentBackend,
    StoredText,
    VersionConflict,
)

__all__ = ["SqliteStorage", "default_sqlite_path"]

MEMORY = ":memory:"
"""The path that keeps the database in memory (gone when the storage is closed)."""

_SCHEMA_VERSION = 1
# A rowid table (not WITHOUT ROWID): there the primary key is an index like the
# other, and the query planner picks the index on the queried value without
# needing ANALYZE statistics.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    collection  TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    version     INTEGER,
    index_value TEXT,
    document    TEXT    NOT NULL,
    PRIMARY KEY (collection, key)
);
CREATE INDEX IF NOT EXISTS documents_by_index
    ON documents (collection, index_value) WHERE index_value IS NOT NULL;
"""
_UPSERT = """
INSERT INTO documents (collection, key, version, index_value, document)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (collection, key) DO UPDATE SET
    version = excluded.version,
    index_value = excluded.index_value,
    document = excluded.document
"""
# Well under SQLite's bound-parameter limit (999 in builds before 3.32).
_IN_CHUNK = 500


def default_sqlite_path() -> Path:
    """Where a per-user database lives unless told otherwise.

    ``$XDG_STATE_HOME/drs-orchestration/drs-orchestration.db`` (default
    ``~/.local/state``), or ``%LOCALAPPDATA%/drs-orchestration/...`` on Windows.
    """
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    else:
        base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "drs-orchestration" / "drs-orchestration.db"


def _encode(document: dict[str, Any]) -> str:
    # ensure_ascii keeps lone surrogates (legal in Python strings) storable as UTF-8 text.
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True)


def _decode(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    return document


def _row(spec: CollectionSpec, key: str, document: dict[str, Any]) -> tuple[Any, ...]:
    version = document.get("version")
    index_value = document.get(spec.index) if spec.index else None
    return (
        spec.name,
        key,
        None if version is None else int(version),
        None if index_value is None else str(index_value),
        _encode(document),
    )


class _SqliteBackend(DocumentBackend):
    # One connection per backend, shared by all threads behind a lock, rather than
    # a connection per thread: it works unchanged for ":memory:" (each connection
    # would otherwise see its own empty database), close() can release it from any
    # thread, and SQLite admits one writer at a time anyway. Statements here are
    # short, so the lock is held for microseconds to milliseconds. Other processes
    # open their own connections; WAL and the busy timeout coordinate with them.

    def __init__(self, path: str | os.PathLike[str], *, timeout_s: float) -> None:
        self._path = os.fspath(path)
        self._in_memory = self._path == MEMORY
        self._timeout_s = timeout_s
        self._lock = threading.RLock()
        if not self._in_memory:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = self._connect()

    @property
    def path(self) -> str:
        return self._path

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path,
            timeout=self._timeout_s,
            isolation_level=None,  # autocommit; transactions are explicit below
            check_same_thread=False,  # guarded by self._lock
        )
        try:
            if not self._in_memory:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
            # FULL (not NORMAL) so a committed execution record survives a power loss:
            # the idempotency markers that stop a double launch live here.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if found > _SCHEMA_VERSION:
                    raise RuntimeError(
                        f"SQLite database {self._path} has schema version {found}; this "
                        f"drs-orchestration understands up to {_SCHEMA_VERSION}, upgrade it"
                    )
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"SQLite storage {self._path} is closed")
        if self._pid != os.getpid() and not self._in_memory:
            # A connection must never be used across fork(); the child opens its own.
            self._conn = self._connect()
            self._pid = os.getpid()
        return self._conn

    @contextmanager
    def _reading(self, operation: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connection()
            except sqlite3.Error as exc:
                exc.add_note(f"drs-orchestration: {operation} on SQLite database {self._path}")
                raise

    @contextmanager
    def _writing(self, operation: str) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock before reading the stored version, so a
        # version check and its write are atomic across threads and processes (a
        # deferred transaction would fail on the lock upgrade instead of waiting).
        with self._reading(operation) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @staticmethod
    def _stored_version(conn: sqlite3.Connection, spec: CollectionSpec, key: str) -> int | None:
        """The stored version; ``None`` when absent (an unversioned row counts as 0)."""
        row = conn.execute(
            "SELECT version FROM documents WHERE collection = ? AND key = ?", (spec.name, key)
        ).fetchone()
        return None if row is None else int(row[0] or 0)

    keeps_text = True

    def get_text(self, spec: CollectionSpec, key: str) -> str | None:
        with self._reading("get") as conn:
            row = conn.execute(
                "SELECT document FROM documents WHERE collection = ? AND key = ?",
                (spec.name, key),
            ).fetchone()
        return None if row is None else str(row[0])

    def get_version(self, spec: CollectionSpec, key: str) -> int | None:
        with self._reading("get version") as conn:
            return self._stored_version(conn, spec, key)

    def get(self, spec: CollectionSpec, key: str) -> dict[str, Any] | None:
        text = self.get_text(spec, key)
        return None if text is None else _decode(text)

    def put_text(
        self, spec: CollectionSpec, stored: StoredText, *, expected_version: int | None
    ) -> None:
        row = (spec.name, stored.key, stored.version, stored.index_value, stored.text)
        with self._writing("put") as conn:
            if expected_version is not None:
                actual = self._stored_version(conn, spec, stored.key)
                if actual != (expected_version or None):
                    raise VersionConflict(actual)
            conn.execute(_UPSERT, row)

    def put(
        self,
        spec: CollectionSpec,
        key: str,
        document: dict[str, Any],
        *,
        expected_version: int | None,
    ) -> None:
        _, _, version, index_value, text = _row(spec, key, document)
        stored = StoredText(key, version or 0, index_value, text)
        self.put_text(spec, stored, expected_version=expected_version)

    def delete(self, spec: CollectionSpec, key: str, *, expected_version: int | None) -> bool:
        with self._writing("delete") as conn:
            actual = self._stored_version(conn, spec, key)
            if actual is None:
                return False
            if expected_version is not None and actual != expected_version:
                raise VersionConflict(actual)
            conn.execute("DELETE FROM documents WHERE collection = ? AND key = ?", (spec.name, key))
            return True

    def batch_get(self, spec: CollectionSpec, keys: Sequence[str]) -> list[dict[str, Any]]:
        texts: list[str] = []
        with self._reading("batch_get") as conn:
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = list(keys[start : start + _IN_CHUNK])
                marks = ",".join("?" * len(chunk))
                texts.extend(
                    text
                    for (text,) in conn.execute(
                        f"SELECT document FROM documents WHERE collection = ? AND key IN ({marks})",
                        (spec.name, *chunk),
                    )
                )
        return [_decode(text) for text in texts]

    def batch_put(self, spec: CollectionSpec, documents: Sequence[dict[str, Any]]) -> None:
        rows = [_row(spec, str(d[spec.key]), d) for d in documents]
        # One transaction: the whole batch is written, or (on error) none of it.
        with self._writing("batch_put") as conn:
            conn.executemany(_UPSERT, rows)

    def batch_delete(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        with self._writing("batch_delete") as conn:
            conn.executemany(
                "DELETE FROM documents WHERE collection = ? AND key = ?",
                [(spec.name, key) for key in keys],
            )

    def scan(self, spec: CollectionSpec) -> Iterator[dict[str, Any]]:
        # Fetch under the lock, decode outside it: a caller that stops iterating
        # halfway must not leave the shared connection with an open cursor.
        with self._reading("scan") as conn:
            texts = [
                text
                for (text,) in conn.execute(
                    "SELECT document FROM documents WHERE collection = ? ORDER BY key",
                    (spec.name,),
                )
            ]
        for text in texts:
            yield _decode(text)

    def query(self, spec: CollectionSpec, value: str) -> list[dict[str, Any]]:
        if spec.index is None:
            raise ValueError(f"collection {spec.name} has no index")
        with self._reading("query") as conn:
            texts = [
                text
                for (text,) in conn.execute(
                    "SELECT document FROM documents WHERE collection = ? AND index_value = ?",
                    (spec.name, value),
                )
            ]
        return [_decode(text) for text in texts]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class SqliteStorage(BaseStorage):
    """Storage in one SQLite file: persistent, safe for several threads and processes.

    Args:
        path: The database file (created with its parent directories if
            missing), or ``":memory:"`` for a private in-memory database.
            Keep the file on a local disk: WAL mode needs shared memory,
            which network file systems do not provide.
        timeout_s: How long a write waits for another process's write lock
            before failing with ``sqlite3.OperationalError: database is locked``.

    Examples:
        >>> with SqliteStorage(default_sqlite_path()) as storage:
        ...     group = storage.protection_groups.put(group)   # version 0 -> 1
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout_s: float = 30.0) -> None:
        self._sqlite = _SqliteBackend(path, timeout_s=timeout_s)
        super().__init__(self._sqlite)

    @property
    def path(self) -> str:
        """The database file (or ``":memory:"``)."""
        return self._sqlite.path

    def __repr__(self) -> str:
        return f"SqliteStorage({self.path!r})"
