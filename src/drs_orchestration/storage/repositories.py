"""Repositories over a :class:`~drs_orchestration.storage.backend.DocumentBackend`.

They own what is the same for every backend: serialisation, versions and
optimistic locking, and what a stored record that cannot be read means. A
record is corrupt when its text is not valid JSON, when it does not validate
as its model, or when it is stored under a key other than its own ID.
``get`` and ``find`` raise :class:`~drs_orchestration.errors.CorruptRecordError`
for it; every read of many records (``list``, ``get_many``, ``list_for_plan``,
``for_execution``) skips it, logs a warning naming it and counts it in the
repository's :attr:`~VersionedRepository.skipped_corrupt`, so one bad record
never blocks the others.
"""

from __future__ import annotations

import builtins
import json
import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

import pydantic
import pydantic_core
from pydantic.alias_generators import to_snake

from drs_orchestration.errors import (
    ConcurrentModificationError,
    CorruptRecordError,
    NotFoundError,
)
from drs_orchestration.models import (
    RecoveryInstanceRecord,
    SyncStatus,
    VersionedModel,
)
from drs_orchestration.storage.backend import (
    RECOVERY_INSTANCES,
    SYNC_STATUS,
    CollectionSpec,
    DocumentBackend,
    RawRecord,
    Row,
    VersionConflict,
)

__all__ = [
    "RecoveryInstanceStore",
    "VersionedRepository",
    "encode_json",
    "to_document",
]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=pydantic.BaseModel)
V = TypeVar("V", bound=VersionedModel)

_SYNC_STATUS_KEY = "latest"
_PROBLEMS_SHOWN = 3


def to_document(item: pydantic.BaseModel, *, exclude: Any = None) -> dict[str, Any]:
    """Serialise a model to its stored form (camelCase, JSON-compatible, no nulls)."""
    return item.model_dump(by_alias=True, mode="json", exclude_none=True, exclude=exclude)


def encode_json(document: Any) -> str:
    """``document`` as compact JSON text (ASCII, so lone surrogates stay storable as UTF-8)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True)


def _describe(error: pydantic.ValidationError) -> str:
    problems = error.errors(include_url=False)
    if any(p["type"] == "json_invalid" for p in problems):
        return f"not valid JSON ({problems[0]['msg']})"
    shown = "; ".join(
        f"{'.'.join(str(part) for part in p['loc']) or '(root)'}: {p['msg']}"
        for p in problems[:_PROBLEMS_SHOWN]
    )
    more = (
        f" (and {len(problems) - _PROBLEMS_SHOWN} more)" if len(problems) > _PROBLEMS_SHOWN else ""
    )
    return f"does not validate as a {error.title}: {shown}{more}"


class _Codec(Generic[M]):
    """Turns raw records of one collection into models, and models into rows.

    Shared by the versioned repositories and the recovery-instance store; it
    also keeps the count of corrupt records skipped by reads of many.
    """

    def __init__(self, backend: DocumentBackend, spec: CollectionSpec, model: type[M]) -> None:
        self._backend = backend
        self._spec = spec
        self._model = model
        self._key_field = to_snake(spec.key)
        self._index_field = to_snake(spec.index) if spec.index else None
        self._skipped = 0
        self._lock = threading.Lock()

    @property
    def skipped(self) -> int:
        return self._skipped

    @property
    def spec(self) -> CollectionSpec:
        return self._spec

    def corrupt(self, key: str, problem: str) -> CorruptRecordError:
        return CorruptRecordError(self._spec.name, key, problem, location=self._backend.location)

    def document(self, raw: RawRecord) -> dict[str, Any]:
        """The document in ``raw`` as a dict.

        Raises:
            CorruptRecordError: the record is not a JSON object.
        """
        if raw.body is None:
            raise self.corrupt(raw.key, raw.problem or "cannot be decoded")
        if isinstance(raw.body, dict):
            return dict(raw.body)
        try:
            document = json.loads(raw.body)
        except ValueError as exc:
            raise self.corrupt(raw.key, f"not valid JSON ({exc})") from exc
        if not isinstance(document, dict):
            raise self.corrupt(raw.key, f"not a JSON object but {type(document).__name__}")
        return document

    def decode(self, raw: RawRecord) -> M:
        """The model in ``raw``.

        Raises:
            CorruptRecordError: the record is not valid JSON, does not validate,
                or is stored under a key other than its own ID.
        """
        if raw.body is None:
            raise self.corrupt(raw.key, raw.problem or "cannot be decoded")
        try:
            if isinstance(raw.body, dict):
                item = self._model.model_validate(raw.body)
            else:
                item = self._from_json(raw.body)
        except pydantic.ValidationError as exc:
            raise self.corrupt(raw.key, _describe(exc)) from exc
        own = getattr(item, self._key_field, raw.key)
        if str(own) != raw.key:
            raise self.corrupt(
                raw.key, f"its {self._spec.key} is {own!r}, not the key it is stored under"
            )
        return item

    def _from_json(self, text: str | bytes) -> M:
        try:
            return self._model.model_validate_json(text)
        except pydantic.ValidationError as exc:
            if not any(p["type"] == "json_invalid" for p in exc.errors(include_url=False)):
                raise
            # pydantic's parser refuses escaped lone surrogates, which Python's json
            # writes and reads (they are legal in Python strings): try it before
            # calling the text invalid.
            try:
                document = json.loads(text)
            except ValueError:
                raise exc from None
        return self._model.model_validate(document)

    def decode_all(self, raws: Iterable[RawRecord]) -> list[M]:
        """The models of ``raws``, skipping (with a warning and a count) corrupt ones."""
        items: list[M] = []
        for raw in raws:
            try:
                items.append(self.decode(raw))
            except CorruptRecordError as error:
                self.skip(error)
        return items

    def skip(self, error: CorruptRecordError) -> None:
        with self._lock:
            self._skipped += 1
        logger.warning(
            "skipping a corrupt stored record",
            extra={
                "collection": error.collection,
                "key": error.key,
                "problem": error.problem,
                "location": error.location,
            },
        )

    def row(self, item: M, *, exclude: Any = None) -> Row:
        """The row that stores ``item``, less the fields ``exclude`` names (as in pydantic)."""
        key = str(getattr(item, self._key_field))
        index = getattr(item, self._index_field) if self._index_field else None
        version = getattr(item, "version", None)
        body: str | dict[str, Any]
        if not self._backend.keeps_text:
            body = to_document(item, exclude=exclude)
        else:
            try:
                body = item.model_dump_json(by_alias=True, exclude_none=True, exclude=exclude)
            except pydantic_core.PydanticSerializationError:
                # Lone surrogates cannot be UTF-8; Python's json escapes them.
                body = encode_json(to_document(item, exclude=exclude))
        return Row(key, version, None if index is None else str(index), body)


class VersionedRepository(Generic[V]):
    """A versioned aggregate store over one backend collection.

    Implements :class:`~drs_orchestration.storage.Repository`.

    Attributes:
        skipped_corrupt: How many corrupt records reads of many (``list``,
            ``get_many``, ...) have skipped since the repository was made.
    """

    def __init__(self, backend: DocumentBackend, spec: CollectionSpec, model: type[V]) -> None:
        self._backend = backend
        self._spec = spec
        self._model = model
        self._codec = _Codec(backend, spec, model)

    @property
    def spec(self) -> CollectionSpec:
        """How the collection is stored."""
        return self._spec

    @property
    def model(self) -> type[V]:
        """The model the collection holds."""
        return self._model

    @property
    def skipped_corrupt(self) -> int:
        """How many corrupt records reads of many have skipped (each logged as a warning)."""
        return self._codec.skipped

    def get(self, key: str) -> V:
        """Return the item.

        Raises:
            NotFoundError: nothing is stored under ``key``.
            CorruptRecordError: the stored record cannot be read.
        """
        found = self.find(key)
        if found is None:
            raise NotFoundError(self._spec.kind, key)
        return found

    def find(self, key: str) -> V | None:
        """Return the item, or ``None``.

        Raises:
            CorruptRecordError: the stored record cannot be read.
        """
        raw = self._backend.read(self._spec, key)
        return None if raw is None else self._codec.decode(raw)

    def version_of(self, key: str) -> int | None:
        """Return the stored version of ``key`` without reading the item, or ``None``.

        Versions only grow, so an item whose stored version equals one in
        hand is that item as stored: a caller holding it can skip the read.
        """
        return self._backend.get_version(self._spec, key)

    def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        """Return the items that exist among ``keys``, by key (corrupt ones skipped)."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        raws = self._backend.read_many(self._spec, unique)
        return {raw.key: item for raw, item in self._decoded(raws)}

    def _decoded(self, raws: Sequence[RawRecord]) -> list[tuple[RawRecord, V]]:
        pairs: list[tuple[RawRecord, V]] = []
        for raw in raws:
            try:
                pairs.append((raw, self._codec.decode(raw)))
            except CorruptRecordError as error:
                self._codec.skip(error)
        return pairs

    def prepare(self, item: V, expected_version: int | None = None) -> tuple[V, Row, int]:
        """The item as it will be stored, its row, and the version the write expects."""
        expected = item.version if expected_version is None else expected_version
        stored = item.model_copy(update={"version": expected + 1})
        return stored, self._codec.row(stored), expected

    def put(self, item: V, *, expected_version: int | None = None) -> V:
        """Store ``item`` if the stored version is ``expected_version`` (default ``item.version``).

        Returns the stored item, whose ``version`` is one more.

        Raises:
            ConcurrentModificationError: the stored version differs; nothing changed.
        """
        stored, row, expected = self.prepare(item, expected_version)
        try:
            self._backend.write(self._spec, row, expected_version=expected)
        except VersionConflict as conflict:
            raise ConcurrentModificationError(
                self._spec.kind,
                row.key,
                expected_version=expected,
                actual_version=conflict.actual_version,
            ) from None
        return stored

    def delete(self, key: str, *, expected_version: int | None = None) -> None:
        """Delete the item (only at ``expected_version`` if given).

        Raises:
            NotFoundError: nothing is stored under ``key``.
            ConcurrentModificationError: the stored version is not ``expected_version``.
        """
        try:
            existed = self._backend.delete(self._spec, key, expected_version=expected_version)
        except VersionConflict as conflict:
            raise ConcurrentModificationError(
                self._spec.kind,
                key,
                expected_version=expected_version,
                actual_version=conflict.actual_version,
            ) from None
        if not existed:
            raise NotFoundError(self._spec.kind, key)

    def list(self) -> builtins.list[V]:
        """Every stored item, ordered by key (corrupt ones skipped)."""
        pairs = self._decoded(list(self._backend.scan(self._spec)))
        return [item for _, item in sorted(pairs, key=lambda pair: pair[0].key)]

    def find_corrupt(self) -> builtins.list[CorruptRecordError]:
        """Every record of the collection that cannot be read (a full scan; nothing is counted)."""
        found: builtins.list[CorruptRecordError] = []
        for raw in self._backend.scan(self._spec):
            try:
                self._codec.decode(raw)
            except CorruptRecordError as error:
                found.append(error)
        return found


class RecoveryInstanceStore:
    """Cached recovery instances (unconditional batch writes) and the sync status.

    Implements :class:`~drs_orchestration.storage.RecoveryInstanceRepository`.
    """

    def __init__(self, backend: DocumentBackend) -> None:
        self._backend = backend
        self._codec = _Codec(backend, RECOVERY_INSTANCES, RecoveryInstanceRecord)
        self._status = _Codec(backend, SYNC_STATUS, SyncStatus)

    @property
    def skipped_corrupt(self) -> int:
        """How many corrupt records reads of many have skipped (each logged as a warning)."""
        return self._codec.skipped

    def get_many(self, source_server_ids: Iterable[str]) -> dict[str, RecoveryInstanceRecord]:
        """Records for the given source servers (missing and corrupt ones are absent)."""
        unique = list(dict.fromkeys(source_server_ids))
        if not unique:
            return {}
        records = self._codec.decode_all(self._backend.read_many(RECOVERY_INSTANCES, unique))
        return {r.source_server_id: r for r in records}

    def put_many(self, records: Iterable[RecoveryInstanceRecord]) -> None:
        """Write records in batches, replacing what is stored (the last of duplicates wins)."""
        latest = {r.source_server_id: r for r in records}
        if latest:
            rows = [self._codec.row(r) for r in latest.values()]
            self._backend.write_many(RECOVERY_INSTANCES, rows)

    def delete_many(self, source_server_ids: Iterable[str]) -> None:
        """Delete records in batches (missing ones are ignored)."""
        unique = list(dict.fromkeys(source_server_ids))
        if unique:
            self._backend.delete_many(RECOVERY_INSTANCES, unique)

    def for_execution(self, execution_id: str) -> builtins.list[RecoveryInstanceRecord]:
        """Records of one execution, through the index (corrupt ones skipped)."""
        records = self._codec.decode_all(self._backend.query(RECOVERY_INSTANCES, execution_id))
        return sorted(records, key=lambda r: r.source_server_id)

    def list(self) -> builtins.list[RecoveryInstanceRecord]:
        """Every cached record (corrupt ones skipped)."""
        records = self._codec.decode_all(self._backend.scan(RECOVERY_INSTANCES))
        return sorted(records, key=lambda r: r.source_server_id)

    def get_sync_status(self) -> SyncStatus | None:
        """The last sync status, if any sync has run.

        Raises:
            CorruptRecordError: the stored status cannot be read.
        """
        raw = self._backend.read(SYNC_STATUS, _SYNC_STATUS_KEY)
        if raw is None:
            return None
        # The status is stored under a fixed key that is not part of its model.
        document = self._status.document(raw)
        document.pop(SYNC_STATUS.key, None)
        return self._status.decode(RawRecord(raw.key, document))

    def put_sync_status(self, status: SyncStatus) -> SyncStatus:
        """Record a sync status (replacing the previous one)."""
        stored = status.model_copy(update={"version": status.version + 1})
        document = {SYNC_STATUS.key: _SYNC_STATUS_KEY, **to_document(stored)}
        body: str | dict[str, Any] = encode_json(document) if self._backend.keeps_text else document
        row = Row(_SYNC_STATUS_KEY, stored.version, None, body)
        self._backend.write(SYNC_STATUS, row, expected_version=None)
        return stored

    def find_corrupt(self) -> builtins.list[CorruptRecordError]:
        """Every cached record that cannot be read (a full scan; nothing is counted)."""
        found: builtins.list[CorruptRecordError] = []
        for raw in self._backend.scan(RECOVERY_INSTANCES):
            try:
                self._codec.decode(raw)
            except CorruptRecordError as error:
                found.append(error)
        return found
