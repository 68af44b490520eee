"""In-memory storage: the default for tests and notebooks.

Documents are kept as JSON text, so a model that would not survive a real
backend's round trip fails here too, and callers never share mutable state
with the store.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from drs_orchestration.storage.base import (
    COLLECTIONS,
    BaseStorage,
    CollectionSpec,
    DocumentBackend,
    VersionConflict,
)

__all__ = ["MemoryStorage"]


class _MemoryBackend(DocumentBackend):
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._data: dict[str, dict[str, str]] = {spec.name: {} for spec in COLLECTIONS}

    def _check(self, spec: CollectionSpec, key: str, expected_version: int | None) -> None:
        if expected_version is None:
            return
        raw = self._data[spec.name].get(key)
        actual = None if raw is None else int(json.loads(raw)["version"])
        if actual != (expected_version or None):
            raise VersionConflict(actual)

    def get(self, spec: CollectionSpec, key: str) -> dict[str, Any] | None:
        with self._lock:
            raw = self._data[spec.name].get(key)
        return None if raw is None else dict(json.loads(raw))

    def put(
        self,
        spec: CollectionSpec,
        key: str,
        document: dict[str, Any],
        *,
        expected_version: int | None,
    ) -> None:
        encoded = json.dumps(document)
        with self._lock:
            self._check(spec, key, expected_version)
            self._data[spec.name][key] = encoded

    def delete(self, spec: CollectionSpec, key: str, *, expected_version: int | None) -> bool:
        with self._lock:
            if key not in self._data[spec.name]:
                return False
            self._check(spec, key, expected_version)
            del self._data[spec.name][key]
            return True

    def batch_get(self, spec: CollectionSpec, keys: Sequence[str]) -> list[dict[str, Any]]:
        with self._lock:
            raws = [self._data[spec.name].get(k) for k in keys]
        return [json.loads(r) for r in raws if r is not None]

    def batch_put(self, spec: CollectionSpec, documents: Sequence[dict[str, Any]]) -> None:
        encoded = [(str(d[spec.key]), json.dumps(d)) for d in documents]
        with self._lock:
            self._data[spec.name].update(encoded)

    def batch_delete(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._data[spec.name].pop(key, None)

    def scan(self, spec: CollectionSpec) -> Iterator[dict[str, Any]]:
        with self._lock:
            raws = list(self._data[spec.name].values())
        for raw in raws:
            yield json.loads(raw)

    def query(self, spec: CollectionSpec, value: str) -> list[dict[str, Any]]:
        if spec.index is None:
            raise ValueError(f"collection {spec.name} has no index")
        return [doc for doc in self.scan(spec) if doc.get(spec.index) == value]


class MemoryStorage(BaseStorage):
    """Process-local storage; thread-safe, gone when the process ends.

    Example:
        >>> storage = MemoryStorage()
        >>> group = storage.protection_groups.put(group)   # version 0 -> 1
    """

    def __init__(self) -> None:
        super().__init__(_MemoryBackend())
