"""Repository protocols, and the storage that every backend builds on.

Services depend on the :class:`Storage` protocol only. :class:`BaseStorage`
implements it over one :class:`~drs_orchestration.storage.backend.DocumentBackend`:
the repositories (:mod:`~drs_orchestration.storage.repositories`) own
serialisation, versions and corrupt records, :meth:`BaseStorage.transact`
writes several items atomically, and each backend (memory, SQLite, DynamoDB)
implements only the primitives.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, Self, TypeVar

from drs_orchestration.errors import (
    ConcurrentModificationError,
    CorruptRecordError,
    ValidationError,
)
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
from drs_orchestration.storage.backend import (
    CLAIMS,
    COLLECTIONS,
    EXECUTIONS,
    FAILBACK_STATES,
    INSTANCE_PAIRS,
    PROTECTION_GROUPS,
    RECOVERY_INSTANCES,
    RECOVERY_PLANS,
    CollectionSpec,
    DocumentBackend,
    RawRecord,
    Row,
    TransactionConflict,
    VersionConflict,
    WriteOp,
)
from drs_orchestration.storage.claims import ClaimRecord, ClaimRepository
from drs_orchestration.storage.executions import ExecutionStore, LoadedExecution
from drs_orchestration.storage.repositories import (
    RecoveryInstanceStore,
    VersionedRepository,
    to_document,
)
from drs_orchestration.storage.transactions import Delete, Operation, Put

__all__ = [
    "COLLECTIONS",
    "BaseStorage",
    "ClaimRecord",
    "ClaimRepository",
    "CollectionSpec",
    "DocumentBackend",
    "ExecutionRepository",
    "RawRecord",
    "RecoveryInstanceRepository",
    "Repository",
    "Row",
    "Storage",
    "VersionConflict",
    "VersionedRepository",
    "to_document",
]

M = TypeVar("M", bound=VersionedModel)


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
        """Every stored item (corrupt records skipped, logged and counted)."""
        ...


class ExecutionRepository(Repository[Execution], Protocol):
    """Executions, also listed by plan, and read and written a step at a time.

    ``get``/``put`` work on whole executions; a step reads the header
    (:meth:`load`) and the waves it works on (:meth:`load_waves`), and writes
    back only what it changed (:meth:`save`).
    """

    def list_for_plan(self, plan_id: str) -> builtins.list[Execution]:
        """The executions of one recovery plan (through the index, no scan)."""
        ...

    def load(self, execution_id: str) -> LoadedExecution:
        """The execution's header, without any wave's detail."""
        ...

    def load_waves(self, loaded: LoadedExecution, positions: Iterable[int]) -> None:
        """Read the detail of the waves at ``positions`` into ``loaded``."""
        ...

    def save(self, loaded: LoadedExecution, execution: Execution) -> Execution:
        """Write the header and the changed records of the loaded waves, conditionally."""
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

    @property
    def claims(self) -> ClaimRepository:
        """Claims: "one running execution per plan", "one group per server", ..."""
        ...

    def transact(self, operations: Sequence[Operation]) -> builtins.list[VersionedModel]:
        """Apply every operation atomically, or none; return the stored items of the puts.

        Raises:
            ConcurrentModificationError: an operation's condition failed (named); nothing written.
            ValidationError: too many operations, or two on one item.
        """
        ...


class BaseStorage:
    """A :class:`Storage` over one :class:`DocumentBackend`.

    Backends subclass this and pass their primitives; all versioning and
    serialisation happens here, identically for every backend.
    """

    def __init__(self, backend: DocumentBackend) -> None:
        self._backend = backend
        self._protection_groups = VersionedRepository(backend, PROTECTION_GROUPS, ProtectionGroup)
        self._recovery_plans = VersionedRepository(backend, RECOVERY_PLANS, RecoveryPlan)
        self._executions = ExecutionStore(backend, EXECUTIONS)
        self._recovery_instances = RecoveryInstanceStore(backend)
        self._instance_pairs = VersionedRepository(backend, INSTANCE_PAIRS, InstancePair)
        self._failback_states = VersionedRepository(backend, FAILBACK_STATES, FailbackState)
        self._claims = ClaimRepository(backend, CLAIMS, ClaimRecord)
        self._by_model: dict[type[VersionedModel], VersionedRepository[Any]] = {
            repository.model: repository for repository in self._versioned()
        }

    def _versioned(self) -> builtins.list[VersionedRepository[Any]]:
        return [
            self._protection_groups,
            self._recovery_plans,
            self._executions,
            self._instance_pairs,
            self._failback_states,
            self._claims,
        ]

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
    def executions(self) -> ExecutionStore:
        """Plan executions."""
        return self._executions

    @property
    def recovery_instances(self) -> RecoveryInstanceStore:
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

    @property
    def claims(self) -> ClaimRepository:
        """Claims: "one running execution per plan", "one group per server", ..."""
        return self._claims

    @property
    def max_transaction_items(self) -> int | None:
        """The most operations :meth:`transact` takes on this backend (``None``: no limit)."""
        return self._backend.max_transaction_items

    @property
    def skipped_corrupt(self) -> dict[str, int]:
        """Corrupt records skipped by reads of many so far, per collection (non-zero only)."""
        counts = {r.spec.name: r.skipped_corrupt for r in self._versioned()}
        counts[RECOVERY_INSTANCES.name] = self._recovery_instances.skipped_corrupt
        return {name: count for name, count in counts.items() if count}

    def find_corrupt(self) -> builtins.list[CorruptRecordError]:
        """Every stored record that cannot be read, in every collection (a full scan).

        A health check: each error names the collection, key and problem.
        Overwrite (``put`` at the stored version) or delete a record to repair it.
        """
        found: builtins.list[CorruptRecordError] = []
        for repository in self._versioned():
            found.extend(repository.find_corrupt())
        found.extend(self._recovery_instances.find_corrupt())
        return found

    def transact(self, operations: Sequence[Operation]) -> builtins.list[VersionedModel]:
        """Apply every operation atomically, or none of them.

        Args:
            operations: :class:`~drs_orchestration.storage.Put`,
                :class:`~drs_orchestration.storage.Delete` and
                :class:`~drs_orchestration.storage.Check` operations, each on a
                different item of a versioned collection.

        Returns:
            The stored items of the ``Put`` operations, in their order (each
            with its new version).

        Raises:
            ConcurrentModificationError: an operation's condition failed; it
                names that item's kind and key, the expected and the actual
                version. Nothing was written.
            ValidationError: more operations than :attr:`max_transaction_items`,
                two operations on one item, or an unknown model.

        Examples:
            >>> storage.transact([
            ...     Put(execution, expected_version=0),
            ...     Put(ClaimRecord(claim_id="plan:" + plan_id, owner_id=execution_id,
            ...                     kind="running-execution"), expected_version=0),
            ... ])
        """
        ops: builtins.list[WriteOp] = []
        stored: builtins.list[VersionedModel] = []
        new_executions: builtins.list[Execution] = []
        for position, operation in enumerate(operations):
            if isinstance(operation, Put) and isinstance(operation.item, Execution):
                # An execution is a header and records; only a new one can join a
                # transaction (its records go first, under keys no reader looks at yet).
                if (operation.expected_version or operation.item.version) != 0:
                    raise ValidationError.for_field(
                        f"operations.{position}",
                        operation.item.execution_id,
                        "an existing execution is written by its executor, not in a transaction",
                    )
                execution, header = self._executions.write_new_records(operation.item)
                new_executions.append(execution)
                stored.append(execution)
                ops.append(header)
            elif isinstance(operation, Put):
                repository = self._repository(type(operation.item), position)
                item, row, expected = repository.prepare(operation.item, operation.expected_version)
                stored.append(item)
                ops.append(WriteOp("put", repository.spec, row.key, expected, row))
            elif isinstance(operation, Delete):
                repository = self._repository(operation.model, position)
                ops.append(
                    WriteOp("delete", repository.spec, operation.key, operation.expected_version)
                )
            else:
                repository = self._repository(operation.model, position)
                ops.append(
                    WriteOp(
                        "check", repository.spec, operation.key, operation.expected_version or 0
                    )
                )
        try:
            self._check_transaction(ops)
        except ValidationError:
            for execution in new_executions:
                self._executions.forget_records(execution)
            raise
        if not ops:
            return stored
        try:
            self._backend.transact(ops)
        except TransactionConflict as conflict:
            for execution in new_executions:
                self._executions.forget_records(execution)
            failed = ops[conflict.index]
            raise ConcurrentModificationError(
                failed.spec.kind,
                failed.key,
                expected_version=failed.expected_version,
                actual_version=conflict.actual_version,
            ) from None
        return stored

    def _repository(self, model: type[VersionedModel], position: int) -> VersionedRepository[Any]:
        repository = self._by_model.get(model)
        if repository is None:
            known = ", ".join(sorted(m.__name__ for m in self._by_model))
            raise ValidationError.for_field(
                f"operations.{position}",
                model.__name__,
                f"is not a model of a versioned collection ({known})",
            )
        return repository

    def _check_transaction(self, ops: Sequence[WriteOp]) -> None:
        limit = self._backend.max_transaction_items
        if limit is not None and len(ops) > limit:
            raise ValidationError.for_field(
                "operations",
                len(ops),
                f"a transaction on this backend takes at most {limit} operations",
            )
        seen: set[tuple[str, str]] = set()
        for position, op in enumerate(ops):
            if (op.spec.name, op.key) in seen:
                raise ValidationError.for_field(
                    f"operations.{position}",
                    f"{op.spec.kind} {op.key}",
                    "a transaction takes one operation per item",
                )
            seen.add((op.spec.name, op.key))

    def close(self) -> None:
        """Release the backend's connections."""
        self._backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
