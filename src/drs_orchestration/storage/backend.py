"""The primitives every storage backend implements, over documents in named collections.

Following the shape of aws-lambda-powertools' idempotency persistence: the
repositories (:mod:`drs_orchestration.storage.repositories`) own
serialisation, versioning, optimistic locking and the handling of corrupt
records; a backend implements only these primitives over plain documents
(camelCase, JSON-compatible) or their JSON text.

A backend never decodes a record into a model: it hands back a
:class:`RawRecord` (the key it is stored under and its JSON text or
document), so one undecodable record is reported on its own and never stops
a read of many.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

__all__ = [
    "CLAIMS",
    "COLLECTIONS",
    "EXECUTIONS",
    "EXECUTION_SERVERS",
    "EXECUTION_WAVES",
    "FAILBACK_STATES",
    "INSTANCE_PAIRS",
    "PROTECTION_GROUPS",
    "RECOVERY_INSTANCES",
    "RECOVERY_PLANS",
    "SYNC_STATUS",
    "CollectionSpec",
    "DocumentBackend",
    "RawRecord",
    "Row",
    "TransactionConflict",
    "VersionConflict",
    "WriteOp",
]


@dataclass(frozen=True)
class CollectionSpec:
    """How one aggregate is stored.

    Attributes:
        name: Collection name (DynamoDB table suffix, SQLite collection).
        key: The camelCase attribute holding the item's key.
        kind: Human name used in errors ("protection group").
        index: An attribute queried by value (a DynamoDB GSI), if any.
        ttl: A timestamp attribute after which the backend may expire the item.
        packed: Attributes a DynamoDB item holds as one JSON string each: lists
            of records that nothing queries, which as native maps would cost
            botocore and DynamoDB an attribute per field on every read and
            write.
    """

    name: str
    key: str
    kind: str
    index: str | None = None
    ttl: str | None = None
    packed: frozenset[str] = frozenset()


PROTECTION_GROUPS = CollectionSpec("protection-groups", "groupId", "protection group")
RECOVERY_PLANS = CollectionSpec("recovery-plans", "planId", "recovery plan")
EXECUTIONS = CollectionSpec(
    "executions",
    "executionId",
    "execution",
    index="planId",
    ttl="expiresAt",
    packed=frozenset({"waves", "endedWaves"}),
)
RECOVERY_INSTANCES = CollectionSpec(
    "recovery-instances", "sourceServerId", "recovery instance", index="sourceExecutionId"
)
SYNC_STATUS = CollectionSpec("sync-status", "statusId", "sync status")
INSTANCE_PAIRS = CollectionSpec("instance-pairs", "sourceServerId", "instance pair")
FAILBACK_STATES = CollectionSpec("failback-states", "recoveryInstanceId", "failback state")
CLAIMS = CollectionSpec("claims", "claimId", "claim")
EXECUTION_WAVES = CollectionSpec(
    "execution-waves",
    "recordId",
    "execution wave",
    ttl="expiresAt",
    packed=frozenset({"jobs", "serverIds", "appliedServers", "launchInto", "hookErrors", "state"}),
)
"""The part of each wave of an execution that grows with it (jobs, server IDs)."""
EXECUTION_SERVERS = CollectionSpec(
    "execution-servers",
    "recordId",
    "execution server outcomes",
    ttl="expiresAt",
    packed=frozenset({"servers"}),
)
"""An execution's server outcomes, in records of at most 100."""

COLLECTIONS: tuple[CollectionSpec, ...] = (
    PROTECTION_GROUPS,
    RECOVERY_PLANS,
    EXECUTIONS,
    RECOVERY_INSTANCES,
    SYNC_STATUS,
    INSTANCE_PAIRS,
    FAILBACK_STATES,
    CLAIMS,
    EXECUTION_WAVES,
    EXECUTION_SERVERS,
)
"""Every collection a backend must hold."""


class VersionConflict(Exception):  # noqa: N818 - internal signal from backends, never escapes
    """Raised by a backend when a conditional write or delete finds another version."""

    def __init__(self, actual_version: int | None) -> None:
        super().__init__(actual_version)
        self.actual_version = actual_version


class TransactionConflict(Exception):  # noqa: N818 - internal signal from backends, never escapes
    """Raised by :meth:`DocumentBackend.transact` when an operation's condition fails.

    Attributes:
        index: The position of the first failing operation.
        actual_version: The version found there (``None`` when absent).
    """

    def __init__(self, index: int, actual_version: int | None) -> None:
        super().__init__(index, actual_version)
        self.index = index
        self.actual_version = actual_version


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as a backend read it, not yet decoded into a model.

    Attributes:
        key: The key the record is stored under (which its own ID must equal).
        body: Its JSON text (``str`` or UTF-8 ``bytes``) or document; ``None`` when
            the backend could not even decode its own storage form.
        problem: Why ``body`` is ``None``.
    """

    key: str
    body: str | bytes | dict[str, Any] | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """A document to write, with the key columns a backend indexes.

    Attributes:
        key: The key to store it under.
        version: Its version (``None`` for unversioned documents).
        index_value: The value of the collection's indexed attribute, if any.
        body: JSON text for a backend that keeps text, otherwise the document.
    """

    key: str
    version: int | None
    index_value: str | None
    body: str | dict[str, Any]


@dataclass(frozen=True, slots=True)
class WriteOp:
    """One operation of an atomic :meth:`DocumentBackend.transact`.

    ``expected_version`` is the condition: ``None`` is none (a put or delete
    of whatever is there), ``0`` means "must not exist" and ``n`` means
    "stored at version ``n``". A ``check`` writes nothing.
    """

    action: Literal["put", "delete", "check"]
    spec: CollectionSpec
    key: str
    expected_version: int | None
    row: Row | None = None


class DocumentBackend(ABC):
    """The primitives a storage backend implements.

    Versioned documents carry an integer ``version``; a conditional write
    with ``expected_version=n`` succeeds only if the stored document has
    version ``n`` (``0`` means "must not exist") and otherwise raises
    :class:`VersionConflict` without changing anything. Backends translate
    their own exceptions into :class:`~drs_orchestration.errors.StorageError`
    in one place of their module.
    """

    keeps_text: ClassVar[bool] = False
    """Whether the backend keeps documents as JSON text.

    Such a backend takes and returns JSON text, and repositories hand
    pydantic the text directly: parsing and printing JSON in pydantic's core
    is several times faster than going through dicts, which matters for
    executions of thousands of servers read and written at every step.
    """

    max_transaction_items: ClassVar[int | None] = None
    """The most operations one :meth:`transact` accepts (``None``: no limit)."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the data lives (a file, a table prefix), for messages."""

    @abstractmethod
    def read(self, spec: CollectionSpec, key: str) -> RawRecord | None:
        """Return the record stored under ``key``, or ``None``."""

    @abstractmethod
    def read_many(self, spec: CollectionSpec, keys: Sequence[str]) -> list[RawRecord]:
        """Return the records that exist among ``keys`` (unique keys, any order)."""

    def read_many_across(
        self, wanted: Sequence[tuple[CollectionSpec, Sequence[str]]]
    ) -> dict[str, list[RawRecord]]:
        """Like :meth:`read_many` for several collections, by collection name.

        A backend that can read several collections in one request overrides
        it (DynamoDB: one ``BatchGetItem`` for up to 100 keys of any tables),
        so a step that needs a wave record and its outcome records pays one
        round trip, not two.
        """
        return {spec.name: self.read_many(spec, keys) for spec, keys in wanted}

    @abstractmethod
    def scan(self, spec: CollectionSpec) -> Iterator[RawRecord]:
        """Yield every record of the collection."""

    @abstractmethod
    def query(self, spec: CollectionSpec, value: str) -> list[RawRecord]:
        """Return the records whose ``spec.index`` attribute equals ``value``."""

    @abstractmethod
    def get_version(self, spec: CollectionSpec, key: str) -> int | None:
        """The stored version of ``key`` (``0`` if unversioned), or ``None`` when absent."""

    @abstractmethod
    def write(self, spec: CollectionSpec, row: Row, *, expected_version: int | None) -> None:
        """Store ``row``; if ``expected_version`` is set, only at that stored version."""

    @abstractmethod
    def delete(self, spec: CollectionSpec, key: str, *, expected_version: int | None) -> bool:
        """Delete ``key`` (conditionally); return whether it existed."""

    @abstractmethod
    def write_many(self, spec: CollectionSpec, rows: Sequence[Row]) -> None:
        """Store ``rows`` unconditionally (unique keys)."""

    @abstractmethod
    def delete_many(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        """Delete ``keys`` unconditionally (missing keys are ignored)."""

    @abstractmethod
    def transact(self, operations: Sequence[WriteOp]) -> None:
        """Apply every operation, or none of them if any condition fails.

        Raises:
            TransactionConflict: naming the first operation whose condition failed.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections; the default does nothing."""


def matches(expected_version: int | None, actual_version: int | None) -> bool:
    """Whether a stored version (``None``: absent) satisfies a write's condition."""
    if expected_version is None:
        return True
    if expected_version == 0:
        return actual_version is None
    return actual_version == expected_version
