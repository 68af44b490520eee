"""SQLite storage: the embedded, persistent default for the CLI and single hosts.

One table holds every collection: a row per document with its key columns
(collection, key, version, indexed value) and the document as JSON text.
The database runs in WAL mode, so readers in other processes never block the
writer, and each conditional write is a ``BEGIN IMMEDIATE`` transaction: the
version check and the write happen under SQLite's write lock, so two
processes can never both pass the check.

The file is this library's own: it is marked with ``PRAGMA application_id``
and opened only if it carries that mark, holds this library's schema from
before the mark existed, or is empty. Anything else — another application's
SQLite database, a file that is not a database, a truncated one — is
refused with a :class:`~drs_orchestration.errors.StorageError` before
anything in it is changed. New files are created readable by their owner
only (``0600``, in directories created ``0700``): they hold role ARNs and
ExternalIds. Every ``sqlite3`` and file-system error is translated in
:meth:`_SqliteBackend._translating`, the one place this module does it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drs_orchestration.errors import StorageError, StorageUnavailableError, ValidationError
from drs_orchestration.storage.backend import (
    CollectionSpec,
    DocumentBackend,
    RawRecord,
    Row,
    TransactionConflict,
    VersionConflict,
    WriteOp,
    matches,
)
from drs_orchestration.storage.base import BaseStorage
from drs_orchestration.storage.repositories import encode_json

__all__ = ["APPLICATION_ID", "SqliteStorage", "default_sqlite_path"]

MEMORY = ":memory:"
"""The path that keeps the database in memory (gone when the storage is closed)."""

APPLICATION_ID = 0x4452534F
"""``PRAGMA application_id`` of a drs-orchestration database (the bytes ``DRSO``)."""

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
_COLUMNS = ["collection", "key", "version", "index_value", "document"]
_OBJECTS = {"documents", "documents_by_index", "sqlite_autoindex_documents_1"}
_UPSERT = """
INSERT INTO documents (collection, key, version, index_value, document)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (collection, key) DO UPDATE SET
    version = excluded.version,
    index_value = excluded.index_value,
    document = excluded.document
"""
_DELETE = "DELETE FROM documents WHERE collection = ? AND key = ?"
# Well under SQLite's bound-parameter limit (999 in builds before 3.32).
_IN_CHUNK = 500

_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100

# Primary result codes (https://sqlite.org/rescode.html).
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = (
    3,
    5,
    6,
    8,
    10,
    11,
    13,
    14,
    26,
)


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


def _text(row: Row) -> str:
    return row.body if isinstance(row.body, str) else encode_json(row.body)


def _make_directories(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each readable by its owner only."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


class _SqliteBackend(DocumentBackend):
    # One connection per backend, shared by all threads behind a lock, rather than
    # a connection per thread: it works unchanged for ":memory:" (each connection
    # would otherwise see its own empty database), close() can release it from any
    # thread, and SQLite admits one writer at a time anyway. Statements here are
    # short, so the lock is held for microseconds to milliseconds. Other processes
    # open their own connections; WAL and the busy timeout coordinate with them.

    keeps_text = True

    def __init__(self, path: str | os.PathLike[str], *, timeout_s: float, read_only: bool) -> None:
        self._path = os.fspath(path)
        self._in_memory = self._path == MEMORY
        self._timeout_s = timeout_s
        self._read_only = read_only
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = None
        if self._in_memory and read_only:
            raise ValidationError.for_field(
                "read_only", read_only, "an in-memory database cannot be opened read-only"
            )
        self._conn = self._open()

    @property
    def path(self) -> str:
        return self._path

    @property
    def location(self) -> str:
        return self._path

    @property
    def read_only(self) -> bool:
        return self._read_only

    # ---- errors: the one place sqlite3 and OSError become StorageError ----------------

    @contextmanager
    def _translating(self, operation: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._storage_error(exc, operation) from exc
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise StorageError(
                f"cannot {operation} SQLite database {self._path}: {reason}", location=self._path
            ) from exc

    def _storage_error(self, exc: sqlite3.Error, operation: str) -> StorageError:
        code = getattr(exc, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF
        where = f"SQLite database {self._path}"
        if primary in (_BUSY, _LOCKED):
            return StorageUnavailableError(
                f"{where} is locked by another process: {operation} waited {self._timeout_s:g} s "
                "for it; try again",
                location=self._path,
            )
        messages = {
            _READONLY: f"cannot write {where}: the file or its folder is read-only",
            _CANTOPEN: f"cannot open {where}: its folder is missing or not writable",
            _PERM: f"cannot open {where}: permission denied",
            _NOTADB: f"{self._path} is not a SQLite database",
            _CORRUPT: f"{where} is damaged ({exc})",
            _FULL: f"cannot write {where}: the disk is full",
            _IOERR: f"{operation} on {where} failed with an I/O error ({exc})",
        }
        message = messages.get(primary or -1, f"{operation} on {where} failed: {exc}")
        return StorageError(message, location=self._path)

    # ---- opening ----------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        with self._translating("open"):
            if self._in_memory:
                return self._initialise(sqlite3.connect(MEMORY, **self._options()))
            if self._read_only:
                return self._open_read_only()
            self._create_if_missing()
            self._refuse_foreign()
            conn: sqlite3.Connection = sqlite3.connect(self._path, **self._options())
            try:
                return self._initialise(conn)
            except BaseException:
                conn.close()
                raise

    def _options(self) -> dict[str, Any]:
        return {
            "timeout": self._timeout_s,
            "isolation_level": None,  # autocommit; transactions are explicit below
            "check_same_thread": False,  # guarded by self._lock
        }

    def _create_if_missing(self) -> None:
        path = Path(self._path)
        if path.exists():
            return
        _make_directories(path.parent)
        # Another process may make it first; it is then checked like any existing file.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))

    def _refuse_foreign(self) -> None:
        """Raise StorageError unless the file is empty, marked as ours, or of our schema."""
        size = os.path.getsize(self._path)
        if size == 0:
            return
        with open(self._path, "rb") as file:
            header = file.read(_HEADER_BYTES)
        if len(header) < _HEADER_BYTES or not header.startswith(_MAGIC):
            raise self._foreign("it is not a SQLite database")
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(header[28:32], "big")
        # The page count is valid when the change counter equals "version valid for".
        if header[24:28] == header[92:96] and size < pages * page_size:
            raise StorageError(
                f"SQLite database {self._path} is truncated: {size:,} bytes where its header "
                f"says {pages * page_size:,}; restore it from a backup",
                location=self._path,
            )
        application_id = int.from_bytes(header[68:72], "big")
        if application_id == APPLICATION_ID:
            return
        if application_id != 0:
            raise self._foreign(
                f"it belongs to another application (application_id {application_id:#x})"
            )
        self._inspect_unmarked()

    def _inspect_unmarked(self) -> None:
        # Without a WAL file every committed page is in the main file, and an
        # immutable connection reads it without creating -wal or -shm files.
        wal = Path(self._path + "-wal")
        mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        conn = sqlite3.connect(f"{Path(self._path).absolute().as_uri()}?{mode}", uri=True)
        try:
            objects = {str(name) for (name,) in conn.execute("SELECT name FROM sqlite_master")}
            columns = [str(row[1]) for row in conn.execute("PRAGMA table_info(documents)")]
        finally:
            conn.close()
        if not objects:
            return  # an empty database: ours to initialise
        if objects <= _OBJECTS and columns == _COLUMNS:
            return  # written by this library before databases were marked
        shown = ", ".join(sorted(objects)[:5]) + (" ..." if len(objects) > 5 else "")
        raise self._foreign(f"it is another application's SQLite database (tables: {shown})")

    def _foreign(self, reason: str) -> StorageError:
        return StorageError(
            f"refusing to use {self._path} as a drs-orchestration database: {reason}; "
            "it was left unchanged",
            location=self._path,
        )

    def _initialise(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        # FULL (not NORMAL) so a committed execution record survives a power loss:
        # the idempotency markers that stop a double launch live here.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._check_schema(conn)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        if not self._in_memory:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
        conn.text_factory = bytes  # see _raw: undecodable text is a corrupt record, not an error
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        application_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        if application_id not in (0, APPLICATION_ID):
            raise self._foreign(
                f"it belongs to another application (application_id {application_id:#x})"
            )
        if application_id == 0:
            # Checked again under the lock: another program may have written it meanwhile.
            objects = {str(name) for (name,) in conn.execute("SELECT name FROM sqlite_master")}
            if not objects <= _OBJECTS:
                raise self._foreign("it is another application's SQLite database")
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found > _SCHEMA_VERSION:
            raise StorageError(
                f"SQLite database {self._path} has schema version {found}; this "
                f"drs-orchestration understands up to {_SCHEMA_VERSION}, upgrade it",
                location=self._path,
            )

    def _open_read_only(self) -> sqlite3.Connection:
        if not Path(self._path).exists():
            raise StorageError(f"no database at {self._path}", location=self._path)
        self._refuse_foreign()
        uri = f"{Path(self._path).absolute().as_uri()}?mode=ro"
        conn: sqlite3.Connection = sqlite3.connect(uri, uri=True, **self._options())
        try:
            self._check_schema(conn)
            tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'documents'"
            ).fetchone()[0]
            if not tables:
                raise StorageError(
                    f"{self._path} holds no drs-orchestration data yet", location=self._path
                )
        except BaseException:
            conn.close()
            raise
        conn.text_factory = bytes
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"SQLite storage {self._path} is closed", location=self._path)
        if self._pid != os.getpid() and not self._in_memory:
            # A connection must never be used across fork(); the child opens its own.
            self._conn = self._open()
            self._pid = os.getpid()
        return self._conn

    # ---- statements -------------------------------------------------------------------

    @contextmanager
    def _reading(self, operation: str) -> Iterator[sqlite3.Connection]:
        with self._lock, self._translating(operation):
            yield self._connection()

    @contextmanager
    def _writing(self, operation: str) -> Iterator[sqlite3.Connection]:
        if self._read_only:
            raise StorageError(
                f"SQLite database {self._path} is open read-only: {operation} refused",
                location=self._path,
            )
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
    def _raw(key: bytes | str, document: bytes | str) -> RawRecord:
        # Text is fetched as bytes: a row whose bytes are not UTF-8 is then one
        # corrupt record (pydantic reports it) instead of an error for the whole read.
        name = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        return RawRecord(name, document)

    @staticmethod
    def _stored_version(conn: sqlite3.Connection, spec: CollectionSpec, key: str) -> int | None:
        """The stored version; ``None`` when absent (an unversioned row counts as 0)."""
        row = conn.execute(
            "SELECT version FROM documents WHERE collection = ? AND key = ?", (spec.name, key)
        ).fetchone()
        return None if row is None else int(row[0] or 0)

    def read(self, spec: CollectionSpec, key: str) -> RawRecord | None:
        with self._reading("get") as conn:
            row = conn.execute(
                "SELECT document FROM documents WHERE collection = ? AND key = ?",
                (spec.name, key),
            ).fetchone()
        return None if row is None else self._raw(key, row[0])

    def read_many(self, spec: CollectionSpec, keys: Sequence[str]) -> list[RawRecord]:
        found: list[RawRecord] = []
        with self._reading("get_many") as conn:
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = list(keys[start : start + _IN_CHUNK])
                marks = ",".join("?" * len(chunk))
                found.extend(
                    self._raw(key, document)
                    for key, document in conn.execute(
                        "SELECT key, document FROM documents "
                        f"WHERE collection = ? AND key IN ({marks})",
                        (spec.name, *chunk),
                    )
                )
        return found

    def scan(self, spec: CollectionSpec) -> Iterator[RawRecord]:
        # Fetch under the lock, decode outside it: a caller that stops iterating
        # halfway must not leave the shared connection with an open cursor.
        with self._reading("list") as conn:
            rows = conn.execute(
                "SELECT key, document FROM documents WHERE collection = ? ORDER BY key",
                (spec.name,),
            ).fetchall()
        for key, document in rows:
            yield self._raw(key, document)

    def query(self, spec: CollectionSpec, value: str) -> list[RawRecord]:
        if spec.index is None:
            raise ValueError(f"collection {spec.name} has no index")
        with self._reading("query") as conn:
            rows = conn.execute(
                "SELECT key, document FROM documents WHERE collection = ? AND index_value = ?",
                (spec.name, value),
            ).fetchall()
        return [self._raw(key, document) for key, document in rows]

    def get_version(self, spec: CollectionSpec, key: str) -> int | None:
        with self._reading("version_of") as conn:
            return self._stored_version(conn, spec, key)

    def write(self, spec: CollectionSpec, row: Row, *, expected_version: int | None) -> None:
        values = (spec.name, row.key, row.version, row.index_value, _text(row))
        with self._writing("put") as conn:
            if expected_version is not None:
                actual = self._stored_version(conn, spec, row.key)
                if not matches(expected_version, actual):
                    raise VersionConflict(actual)
            conn.execute(_UPSERT, values)

    def delete(self, spec: CollectionSpec, key: str, *, expected_version: int | None) -> bool:
        with self._writing("delete") as conn:
            actual = self._stored_version(conn, spec, key)
            if actual is None:
                return False
            if not matches(expected_version, actual):
                raise VersionConflict(actual)
            conn.execute(_DELETE, (spec.name, key))
            return True

    def write_many(self, spec: CollectionSpec, rows: Sequence[Row]) -> None:
        values = [(spec.name, r.key, r.version, r.index_value, _text(r)) for r in rows]
        # One transaction: the whole batch is written, or (on error) none of it.
        with self._writing("put_many") as conn:
            conn.executemany(_UPSERT, values)

    def delete_many(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        with self._writing("delete_many") as conn:
            conn.executemany(_DELETE, [(spec.name, key) for key in keys])

    def transact(self, operations: Sequence[WriteOp]) -> None:
        with self._writing("transact") as conn:
            for index, op in enumerate(operations):
                actual = self._stored_version(conn, op.spec, op.key)
                if not matches(op.expected_version, actual):
                    raise TransactionConflict(index, actual)
            for op in operations:
                if op.action == "put" and op.row is not None:
                    row = op.row
                    conn.execute(
                        _UPSERT, (op.spec.name, row.key, row.version, row.index_value, _text(row))
                    )
                elif op.action == "delete":
                    conn.execute(_DELETE, (op.spec.name, op.key))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class SqliteStorage(BaseStorage):
    """Storage in one SQLite file: persistent, safe for several threads and processes.

    Args:
        path: The database file (created ``0600`` with its missing parent
            directories ``0700`` if it does not exist), or ``":memory:"`` for
            a private in-memory database. Keep the file on a local disk: WAL
            mode needs shared memory, which network file systems do not provide.
        timeout_s: How long a write waits for another process's write lock
            before failing with
            :class:`~drs_orchestration.errors.StorageUnavailableError`.
        read_only: Open the file read-only: it must exist, nothing is created
            or converted, and every write raises
            :class:`~drs_orchestration.errors.StorageError`. For commands that
            only read, e.g. on a file of another user or a read-only mount.

    Raises:
        StorageError: the file is not a drs-orchestration database (another
            application's SQLite file, not a database, truncated, or from a
            newer schema) — it is left unchanged — or it cannot be created or
            opened (the message says why).

    Examples:
        >>> with SqliteStorage(default_sqlite_path()) as storage:
        ...     group = storage.protection_groups.put(group)   # version 0 -> 1
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout_s: float = 30.0,
        read_only: bool = False,
    ) -> None:
        self._sqlite = _SqliteBackend(path, timeout_s=timeout_s, read_only=read_only)
        super().__init__(self._sqlite)

    @property
    def path(self) -> str:
        """The database file (or ``":memory:"``)."""
        return self._sqlite.path

    @property
    def read_only(self) -> bool:
        """Whether the database was opened read-only."""
        return self._sqlite.read_only

    def __repr__(self) -> str:
        flag = ", read_only=True" if self.read_only else ""
        return f"SqliteStorage({self.path!r}{flag})"
