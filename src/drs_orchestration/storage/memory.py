"""In-memory storage: the default for tests and notebooks.

Documents are kept as JSON text, so a model that would not survive a real
backend's round trip fails here too, and callers never share mutable state
with the store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from drs_orchestration.storage.backend import (
    COLLECTIONS,
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

__all__ = ["MemoryStorage"]

_Stored = tuple[int | None, str | None, str]
"""A stored record: (version, indexed value, JSON text)."""


class _MemoryBackend(DocumentBackend):
    keeps_text = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        # key -> (version, indexed value, JSON text): the version beside the text, so a
        # conditional write does not parse the stored document to find it.
        self._data: dict[str, dict[str, _Stored]] = {spec.name: {} for spec in COLLECTIONS}

    @property
    def location(self) -> str:
        return "memory"

    def _version(self, spec: CollectionSpec, key: str) -> int | None:
        row = self._data[spec.name].get(key)
        return None if row is None else int(row[0] or 0)

    @staticmethod
    def _stored(row: Row) -> _Stored:
        text = row.body if isinstance(row.body, str) else encode_json(row.body)
        return (row.version, row.index_value, text)

    def read(self, spec: CollectionSpec, key: str) -> RawRecord | None:
        with self._lock:
            row = self._data[spec.name].get(key)
        return None if row is None else RawRecord(key, row[2])

    def read_many(self, spec: CollectionSpec, keys: Sequence[str]) -> list[RawRecord]:
        with self._lock:
            rows = [(k, self._data[spec.name].get(k)) for k in keys]
        return [RawRecord(k, r[2]) for k, r in rows if r is not None]

    def scan(self, spec: CollectionSpec) -> Iterator[RawRecord]:
        with self._lock:
            rows = list(self._data[spec.name].items())
        for key, row in rows:
            yield RawRecord(key, row[2])

    def query(self, spec: CollectionSpec, value: str) -> list[RawRecord]:
        if spec.index is None:
            raise ValueError(f"collection {spec.name} has no index")
        with self._lock:
            rows = list(self._data[spec.name].items())
        return [RawRecord(key, row[2]) for key, row in rows if row[1] == value]

    def get_version(self, spec: CollectionSpec, key: str) -> int | None:
        with self._lock:
            return self._version(spec, key)

    def write(self, spec: CollectionSpec, row: Row, *, expected_version: int | None) -> None:
        stored = self._stored(row)
        with self._lock:
            actual = self._version(spec, row.key)
            if not matches(expected_version, actual):
                raise VersionConflict(actual)
            self._data[spec.name][row.key] = stored

    def delete(self, spec: CollectionSpec, key: str, *, expected_version: int | None) -> bool:
        with self._lock:
            actual = self._version(spec, key)
            if actual is None:
                return False
            if not matches(expected_version, actual):
                raise VersionConflict(actual)
            del self._data[spec.name][key]
            return True

    def write_many(self, spec: CollectionSpec, rows: Sequence[Row]) -> None:
        encoded = [(row.key, self._stored(row)) for row in rows]
        with self._lock:
            self._data[spec.name].update(encoded)

    def delete_many(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._data[spec.name].pop(key, None)

    def transact(self, operations: Sequence[WriteOp]) -> None:
        encoded = [None if op.row is None else self._stored(op.row) for op in operations]
        with self._lock:
            # Every condition first, then every write: all or nothing under the lock.
            for index, op in enumerate(operations):
                actual = self._version(op.spec, op.key)
                if not matches(op.expected_version, actual):
                    raise TransactionConflict(index, actual)
            for op, stored in zip(operations, encoded, strict=True):
                if op.action == "put" and stored is not None:
                    self._data[op.spec.name][op.key] = stored
                elif op.action == "delete":
                    self._data[op.spec.name].pop(op.key, None)


class MemoryStorage(BaseStorage):
    """Process-local storage; thread-safe, gone when the process ends.

    Examples:
        >>> storage = MemoryStorage()
        >>> group = storage.protection_groups.put(group)   # version 0 -> 1
    """

    def __init__(self) -> None:
        super().__init__(_MemoryBackend())
