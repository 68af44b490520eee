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
    StoredText,
    VersionConflict,
)

__all__ = ["MemoryStorage"]


class _MemoryBackend(DocumentBackend):
    keeps_text = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        # key -> (version, JSON text): the version beside the text, so a conditional
        # write does not parse the stored document to find it.
        self._data: dict[str, dict[str, tuple[int, str]]] = {spec.name: {} for spec in COLLECTIONS}

    def _check(self, spec: CollectionSpec, key: str, expected_version: int | None) -> None:
        if expected_version is None:
            return
        row = self._data[spec.name].get(key)
        actual = None if row is None else row[0]
        if actual != (expected_version or None):
            raise VersionConflict(actual)

    def get_text(self, spec: CollectionSpec, key: str) -> str | None:
        with self._lock:
            row = self._data[spec.name].get(key)
        return None if row is None else row[1]

    def get_version(self, spec: CollectionSpec, key: str) -> int | None:
        with self._lock:
            row = self._data[spec.name].get(key)
        return None if row is None else row[0]

    def get(self, spec: CollectionSpec, key: str) -> dict[str, Any] | None:
        text = self.get_text(spec, key)
        return None if text is None else dict(json.loads(text))

    def put_text(
        self, spec: CollectionSpec, stored: StoredText, *, expected_version: int | None
    ) -> None:
        with self._lock:
            self._check(spec, stored.key, expected_version)
            self._data[spec.name][stored.key] = (stored.version, stored.text)

    def put(
        self,
        spec: CollectionSpec,
        key: str,
        document: dict[str, Any],
        *,
        expected_version: int | None,
    ) -> None:
        stored = StoredText(key, int(document.get("version") or 0), None, json.dumps(document))
        self.put_text(spec, stored, expected_version=expected_version)

    def delete(self, spec: CollectionSpec, key: str, *, expected_version: int | None) -> bool:
        with self._lock:
            if key not in self._data[spec.name]:
                return False
            self._check(spec, key, expected_version)
            del self._data[spec.name][key]
            return True

    def batch_get(self, spec: CollectionSpec, keys: Sequence[str]) -> list[dict[str, Any]]:
        with self._lock:
            rows = [self._data[spec.name].get(k) for k in keys]
        return [json.loads(r[1]) for r in rows if r is not None]

    def batch_put(self, spec: CollectionSpec, documents: Sequence[dict[str, Any]]) -> None:
        encoded = [
            (str(d[spec.key]), (int(d.get("version") or 0), json.dumps(d))) for d in documents
        ]
        with self._lock:
            self._data[spec.name].update(encoded)

    def batch_delete(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._data[spec.name].pop(key, None)

    def scan(self, spec: CollectionSpec) -> Iterator[dict[str, Any]]:
        with self._lock:
            rows = list(self._data[spec.name].values())
        for _, text in rows:
            yield json.loads(text)

    def query(self, spec: CollectionSpec, value: str) -> list[dict[str, Any]]:
        if spec.index is None:
            raise ValueError(f"collection {spec.name} has no index")
        return [doc for doc in self.scan(spec) if doc.get(spec.index) == value]


class MemoryStorage(BaseStorage):
    """Process-local storage; thread-safe, gone when the process ends.

    Examples:
        >>> storage = MemoryStorage()
        >>> group = storage.protection_groups.put(group)   # version 0 -> 1
    """

    def __init__(self) -> None:
        super().__init__(_MemoryBackend())
