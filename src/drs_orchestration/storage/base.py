"""Repository protocols, and the base that every storage backend builds on.

Following the shape of aws-lambda-powertools' idempotency persistence: the
base owns serialisation, versioning and optimistic locking; a backend
implements a handful of document primitives over plain ``dict`` documents
(camelCase, JSON-compatible) in named collections.
"""

from __future__ import annotations

import builtins
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from pydantic.alias_generators import to_snake

from drs_orchestration.errors import ConcurrentModificationError, NotFoundError
from drs_orchestration.models import (
    Execution,
    FailbackState,
    InstancePair,
    ProtectionGroup,
    RecoveryInstanceRecord,
    RecoveryPlan,
    SyncStatus,
    VersionedModel,
)

__all__ = [
    "COLLECTIONS",
    "BaseStorage",
    "CollectionSpec",
    "DocumentBackend",
    "ExecutionRepository",
    "RecoveryInstanceRepository",
    "Repository",
    "Storage",
    "StoredText",
    "VersionConflict",
    "VersionedRepository",
]

M = TypeVar("M", bound=VersionedModel)


@dataclass(frozen=True)
class CollectionSpec:
    """How one aggregate is stored.

    Attributes:
        name: Collection name (DynamoDB table suffix, SQLite collection).
        key: The camelCase attribute holding the item's key.
        kind: Human name used in errors ("protection group").
        index: An attribute queried by value (a DynamoDB GSI), if any.
        ttl: A timestamp attribute after which the backend may expire the item.
    """

    name: str
    key: str
    kind: str
    index: str | None = None
    ttl: str | None = None


PROTECTION_GROUPS = CollectionSpec("protection-groups", "groupId", "protection group")
RECOVERY_PLANS = CollectionSpec("recovery-plans", "planId", "recovery plan")
EXECUTIONS = CollectionSpec(
    "executions", "executionId", "execution", index="planId", ttl="expiresAt"
)
RECOVERY_INSTANCES = CollectionSpec(
    "recovery-instances", "sourceServerId", "recovery instance", index="sourceExecutionId"
)
SYNC_STATUS = CollectionSpec("sync-status", "statusId", "sync status")
INSTANCE_PAIRS = CollectionSpec("instance-pairs", "sourceServerId", "instance pair")
FAILBACK_STATES = CollectionSpec("failback-states", "recoveryInstanceId", "failback state")

COLLECTIONS: tuple[CollectionSpec, ...] = (
    PROTECTION_GROUPS,
    RECOVERY_PLANS,
    EXECUTIONS,
    RECOVERY_INSTANCES,
    SYNC_STATUS,
    INSTANCE_PAIRS,
    FAILBACK_STATES,
)
"""Every collection a backend must hold."""

_SYNC_STATUS_KEY = "latest"


class VersionConflict(Exception):  # noqa: N818 - internal signal from backends, never escapes
    """Raised by a backend when a conditional write or delete finds another version."""

    def __init__(self, actual_version: int | None) -> None:
        super().__init__(actual_version)
        self.actual_version = actual_version


@dataclass(frozen=True)
class StoredText:
    """A versioned document as JSON text, with the key columns a backend indexes."""

    key: str
    version: int
    index_value: str | None
    text: str


class DocumentBackend(ABC):
    """The primitives a storage backend implements.

    Documents are JSON-compatible dicts with camelCase keys. Versioned
    documents carry an integer ``version`` attribute; a conditional write
    with ``expected_version=n`` succeeds only if the stored document has
    version ``n`` (``0`` means "must not exist") and otherwise raises
    :class:`VersionConflict` without changing anything.
    """

    @abstractmethod
    def get(self, spec: CollectionSpec, key: str) -> dict[str, Any] | None:
        """Return the document stored under ``key``, or ``None``."""

    @abstractmethod
    def put(
        self,
        spec: CollectionSpec,
        key: str,
        document: dict[str, Any],
        *,
        expected_version: int | None,
    ) -> None:
        """Store ``document``; if ``expected_version`` is set, only at that stored version."""

    @abstractmethod
    def delete(self, spec: CollectionSpec, key: str, *, expected_version: int | None) -> bool:
        """Delete ``key`` (conditionally); return whether it existed."""

    @abstractmethod
    def batch_get(self, spec: CollectionSpec, keys: Sequence[str]) -> list[dict[str, Any]]:
        """Return the documents that exist among ``keys`` (any order)."""

    @abstractmethod
    def batch_put(self, spec: CollectionSpec, documents: Sequence[dict[str, Any]]) -> None:
        """Store ``documents`` unconditionally."""

    @abstractmethod
    def batch_delete(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        """Delete ``keys`` unconditionally (missing keys are ignored)."""

    @abstractmethod
    def scan(self, spec: CollectionSpec) -> Iterator[dict[str, Any]]:
        """Yield every document of the collection."""

    @abstractmethod
    def query(self, spec: CollectionSpec, value: str) -> list[dict[str, Any]]:
        """Return the documents whose ``spec.index`` attribute equals ``value``."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections; the default does nothing."""

    def get_version(self, spec: CollectionSpec, key: str) -> int | None:
        """The stored version of ``key`` (``0`` if unversioned), or ``None`` when absent.

        The default reads the whole document; backends override it to read
        the version alone.
        """
        document = self.get(spec, key)
        return None if document is None else int(document.get("version") or 0)

    keeps_text: ClassVar[bool] = False
    """Whether the backend keeps documents as JSON text.

    Such a backend overrides :meth:`get_text` and :meth:`put_text`, and
    repositories hand pydantic the text directly: parsing and printing JSON
    in pydantic's core is several times faster than going through dicts,
    which matters for executions of thousands of servers read and written at
    every step.
    """

    def get_text(self, spec: CollectionSpec, key: str) -> str | None:
        """The document under ``key`` as JSON text, or ``None``."""
        document = self.get(spec, key)
        return None if document is None else json.dumps(document)

    def put_text(
        self, spec: CollectionSpec, stored: StoredText, *, expected_version: int | None
    ) -> None:
        """Store a document given as JSON text (conditional like :meth:`put`)."""
        self.put(spec, stored.key, json.loads(stored.text), expected_version=expected_version)


def to_document(item: VersionedModel | RecoveryInstanceRecord) -> dict[str, Any]:
    """Serialise a model to its stored form (camelCase, JSON-compatible, no nulls)."""
    return item.model_dump(by_alias=True, mode="json", exclude_none=True)


class Repository(Protocol[M]):
    """A versioned aggregate store: get / put with optimistic locking / delete / list."""

    def get(self, key: str) -> M:
        """Return the item, or raise :class:`~drs_orchestration.errors.NotFoundError`."""
        ...

    def find(self, key: str) -> M | None:
        """Return the item, or ``None``."""
        ...

    def version_of(self, key: str) -> int | None:
        """Return the stored version of ``key`` without reading the item, or ``None``."""
        ...

    def get_many(self, keys: Iterable[str]) -> dict[str, M]:
        """Return the items that exist among ``keys``, by key."""
        ...

    def put(self, item: M, *, expected_version: int | None = None) -> M:
        """Store ``item`` if the stored version is ``expected_version`` (default ``item.version``).

        Returns the stored item, whose ``version`` is one more. A stale version
        raises :class:`~drs_orchestration.errors.ConcurrentModificationError`
        and changes nothing.
        """
        ...

    def delete(self, key: str, *, expected_version: int | None = None) -> None:
        """Delete the item (only at ``expected_version`` if given); missing raises NotFoundError."""
        ...

    def list(self) -> builtins.list[M]:
        """Every stored item."""
        ...


class ExecutionRepository(Repository[Execution], Protocol):
    """Executions, also listed by plan."""

    def list_for_plan(self, plan_id: str) -> builtins.list[Execution]:
        """The executions of one recovery plan (through the index, no scan)."""
        ...


class RecoveryInstanceRepository(Protocol):
    """Cached recovery instances (unconditional batch writes) and the sync status."""

    def get_many(self, source_server_ids: Iterable[str]) -> dict[str, RecoveryInstanceRecord]:
        """Records for the given source servers (missing ones are absent from the result)."""
        ...

    def put_many(self, records: Iterable[RecoveryInstanceRecord]) -> None:
        """Write records in batches, replacing what is stored."""
        ...

    def delete_many(self, source_server_ids: Iterable[str]) -> None:
        """Delete records in batches (missing ones are ignored)."""
        ...

    def for_execution(self, execution_id: str) -> builtins.list[RecoveryInstanceRecord]:
        """Records whose ``source_execution_id`` is ``execution_id`` (through the index)."""
        ...

    def list(self) -> builtins.list[RecoveryInstanceRecord]:
        """Every cached record."""
        ...

    def get_sync_status(self) -> SyncStatus | None:
        """The last sync status, if any sync has run."""
        ...

    def put_sync_status(self, status: SyncStatus) -> SyncStatus:
        """Record a sync status (replacing the previous one)."""
        ...


class Storage(Protocol):
    """One repository per aggregate; what every service depends on."""

    @property
    def protection_groups(self) -> Repository[ProtectionGroup]:
        """Protection groups."""
        ...

    @property
    def recovery_plans(self) -> Repository[RecoveryPlan]:
        """Recovery plans."""
        ...

    @property
    def executions(self) -> ExecutionRepository:
        """Plan executions."""
        ...

    @property
    def recovery_instances(self) -> RecoveryInstanceRepository:
        """The recovery-instance cache."""
        ...

    @property
    def instance_pairs(self) -> Repository[InstancePair]:
        """Source-server to target-instance pairs."""
        ...

    @property
    def failback_states(self) -> Repository[FailbackState]:
        """Failback state per recovery instance."""
        ...


class VersionedRepository(Generic[M]):
    """:class:`Repository` over a :class:`DocumentBackend` collection."""

    def __init__(self, backend: DocumentBackend, spec: CollectionSpec, model: type[M]) -> None:
        self._backend = backend
        self._spec = spec
        self._model = model
        self._key_field = to_snake(spec.key)
        self._index_field = to_snake(spec.index) if spec.index else None

    def _load(self, document: dict[str, Any]) -> M:
        return self._model.model_validate(document)

    def get(self, key: str) -> M:
        """Return the item, or raise :class:`~drs_orchestration.errors.NotFoundError`."""
        found = self.find(key)
        if found is None:
            raise NotFoundError(self._spec.kind, key)
        return found

    def find(self, key: str) -> M | None:
        """Return the item, or ``None``."""
        if self._backend.keeps_text:
            text = self._backend.get_text(self._spec, key)
            return None if text is None else self._model.model_validate_json(text)
        document = self._backend.get(self._spec, key)
        return None if document is None else self._load(document)

    def version_of(self, key: str) -> int | None:
        """Return the stored version of ``key`` without reading the item, or ``None``.

        Versions only grow, so an item whose stored version equals one in
        hand is that item as stored: a caller holding it can skip the read.
        """
        return self._backend.get_version(self._spec, key)

    def get_many(self, keys: Iterable[str]) -> dict[str, M]:
        """Return the items that exist among ``keys``, by key."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        return {
            str(doc[self._spec.key]): self._load(doc)
            for doc in self._backend.batch_get(self._spec, unique)
        }

    def put(self, item: M, *, expected_version: int | None = None) -> M:
        """Store ``item`` if the stored version is ``expected_version`` (default ``item.version``).

        Raises:
            ConcurrentModificationError: the stored version differs; nothing changed.
        """
        expected = item.version if expected_version is None else expected_version
        stored = item.model_copy(update={"version": expected + 1})
        key = str(getattr(stored, self._key_field))
        try:
            if self._backend.keeps_text:
                index = getattr(stored, self._index_field) if self._index_field else None
                text = stored.model_dump_json(by_alias=True, exclude_none=True)
                row = StoredText(key, expected + 1, None if index is None else str(index), text)
                self._backend.put_text(self._spec, row, expected_version=expected)
            else:
                self._backend.put(self._spec, key, to_document(stored), expected_version=expected)
        except VersionConflict as conflict:
            raise ConcurrentModificationError(
                self._spec.kind,
                key,
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
                expected_version=expected_version or 0,
                actual_version=conflict.actual_version,
            ) from None
        if not existed:
            raise NotFoundError(self._spec.kind, key)

    def list(self) -> builtins.list[M]:
        """Every stored item, ordered by key."""
        items = [self._load(doc) for doc in self._backend.scan(self._spec)]
        return sorted(items, key=lambda item: str(to_document(item)[self._spec.key]))


class _ExecutionRepository(VersionedRepository[Execution]):
    def list_for_plan(self, plan_id: str) -> builtins.list[Execution]:
        executions = [self._load(doc) for doc in self._backend.query(self._spec, plan_id)]
        return sorted(executions, key=lambda e: e.created_at)


class _RecoveryInstanceRepository:
    def __init__(self, backend: DocumentBackend) -> None:
        self._backend = backend

    def get_many(self, source_server_ids: Iterable[str]) -> dict[str, RecoveryInstanceRecord]:
        unique = list(dict.fromkeys(source_server_ids))
        if not unique:
            return {}
        return {
            str(doc["sourceServerId"]): RecoveryInstanceRecord.model_validate(doc)
            for doc in self._backend.batch_get(RECOVERY_INSTANCES, unique)
        }

    def put_many(self, records: Iterable[RecoveryInstanceRecord]) -> None:
        latest = {r.source_server_id: to_document(r) for r in records}
        if latest:
            self._backend.batch_put(RECOVERY_INSTANCES, list(latest.values()))

    def delete_many(self, source_server_ids: Iterable[str]) -> None:
        unique = list(dict.fromkeys(source_server_ids))
        if unique:
            self._backend.batch_delete(RECOVERY_INSTANCES, unique)

    def for_execution(self, execution_id: str) -> builtins.list[RecoveryInstanceRecord]:
        records = [
            RecoveryInstanceRecord.model_validate(doc)
            for doc in self._backend.query(RECOVERY_INSTANCES, execution_id)
        ]
        return sorted(records, key=lambda r: r.source_server_id)

    def list(self) -> builtins.list[RecoveryInstanceRecord]:
        records = [
            RecoveryInstanceRecord.model_validate(d) for d in self._backend.scan(RECOVERY_INSTANCES)
        ]
        return sorted(records, key=lambda r: r.source_server_id)

    def get_sync_status(self) -> SyncStatus | None:
        document = self._backend.get(SYNC_STATUS, _SYNC_STATUS_KEY)
        if document is None:
            return None
        document = {k: v for k, v in document.items() if k != SYNC_STATUS.key}
        return SyncStatus.model_validate(document)

    def put_sync_status(self, status: SyncStatus) -> SyncStatus:
        stored = status.model_copy(update={"version": status.version + 1})
        document = {SYNC_STATUS.key: _SYNC_STATUS_KEY, **to_document(stored)}
        self._backend.put(SYNC_STATUS, _SYNC_STATUS_KEY, document, expected_version=None)
        return stored


class BaseStorage:
    """A :class:`Storage` over one :class:`DocumentBackend`.

    Backends subclass this and pass their primitives; all versioning and
    serialisation happens here, identically for every backend.
    """

    def __init__(self, backend: DocumentBackend) -> None:
        self._backend = backend
        self._protection_groups = VersionedRepository(backend, PROTECTION_GROUPS, ProtectionGroup)
        self._recovery_plans = VersionedRepository(backend, RECOVERY_PLANS, RecoveryPlan)
        self._executions = _ExecutionRepository(backend, EXECUTIONS, Execution)
        self._recovery_instances = _RecoveryInstanceRepository(backend)
        self._instance_pairs = VersionedRepository(backend, INSTANCE_PAIRS, InstancePair)
        self._failback_states = VersionedRepository(backend, FAILBACK_STATES, FailbackState)

    @property
    def backend(self) -> DocumentBackend:
        """The document backend underneath."""
        return self._backend

    @property
    def protection_groups(self) -> VersionedRepository[ProtectionGroup]:
        """Protection groups."""
        return self._protection_groups

    @property
    def recovery_plans(self) -> VersionedRepository[RecoveryPlan]:
        """Recovery plans."""
        return self._recovery_plans

    @property
    def executions(self) -> ExecutionRepository:
        """Plan executions."""
        return self._executions

    @property
    def recovery_instances(self) -> RecoveryInstanceRepository:
        """The recovery-instance cache."""
        return self._recovery_instances

    @property
    def instance_pairs(self) -> VersionedRepository[InstancePair]:
        """Source-server to target-instance pairs."""
        return self._instance_pairs

    @property
    def failback_states(self) -> VersionedRepository[FailbackState]:
        """Failback state per recovery instance."""
        return self._failback_states

    def close(self) -> None:
        """Release the backend's connections."""
        self._backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
