"""Crash injection for resumability tests, without hooks in library code.

Two ways to stop a "process" mid-execution: a storage wrapper that raises
after the Nth successful write, and a botocore ``after-call`` handler on the
DRS client that raises after DRS created a job but before the library saw
its ID. Both raise :class:`SimulatedCrash`, a ``BaseException`` like the
``SystemExit`` or ``KeyboardInterrupt`` of a dying process, so no library
``except Exception`` can swallow it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto import mock_aws
from moto.backends import get_backend

from drs_orchestration.storage import DynamoDBStorage, MemoryStorage, SqliteStorage
from drs_orchestration.storage.base import Storage
from drs_orchestration.testing import SimulatedClientFactory


class SimulatedCrash(BaseException):
    """The process "died" here."""


def _describe(kind: str, item: Any) -> str:
    if kind != "execution":
        return kind
    chunks = [j for w in item.waves for j in w.jobs]
    if any(j.start_requested_at is not None and j.job_id is None for j in chunks):
        return "claim"
    return "execution"


class _Budget:
    def __init__(self, crash_after: int | None) -> None:
        self.crash_after = crash_after
        self.writes = 0
        self.log: list[str] = []

    def tick(self, what: str) -> None:
        self.writes += 1
        self.log.append(what)
        if self.crash_after is not None and self.writes >= self.crash_after:
            raise SimulatedCrash(f"crash after write {self.writes} ({what})")


class _CrashingRepository:
    def __init__(self, inner: Any, budget: _Budget, kind: str) -> None:
        self._inner = inner
        self._budget = budget
        self._kind = kind

    def put(self, item: Any, **kwargs: Any) -> Any:
        stored = self._inner.put(item, **kwargs)
        self._budget.tick(_describe(self._kind, stored))
        return stored

    def save(self, loaded: Any, item: Any) -> Any:
        """A step's write of an execution (its header and changed records)."""
        stored = self._inner.save(loaded, item)
        self._budget.tick(_describe(self._kind, stored))
        return stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CrashingStorage:
    """A :class:`Storage` that raises :class:`SimulatedCrash` after the Nth successful write."""

    def __init__(self, inner: Storage, crash_after: int | None = None) -> None:
        self._inner = inner
        self.budget = _Budget(crash_after)
        self.protection_groups = _CrashingRepository(inner.protection_groups, self.budget, "group")
        self.recovery_plans = _CrashingRepository(inner.recovery_plans, self.budget, "plan")
        self.executions = _CrashingRepository(inner.executions, self.budget, "execution")
        self.recovery_instances = inner.recovery_instances
        self.instance_pairs = inner.instance_pairs
        self.failback_states = inner.failback_states
        self.claims = inner.claims
        self.transact = inner.transact

    @property
    def writes(self) -> int:
        return self.budget.writes

    @property
    def log(self) -> list[str]:
        """Each write: ``group``, ``plan``, ``claim`` (before StartRecovery) or ``execution``."""
        return self.budget.log


@contextmanager
def crash_after_start_recovery(
    clients: SimulatedClientFactory, region: str, nth: int | None
) -> Iterator[None]:
    """Make the ``nth`` successful ``StartRecovery`` of these clients "crash" once DRS answered.

    The handler is removed when the block ends, so the clients can serve the
    next "process" (building fresh clients per run would only cost time).
    """
    if nth is None:
        yield
        return
    seen = {"calls": 0}

    def crash(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        if http_response.status_code >= 300:
            return
        seen["calls"] += 1
        if seen["calls"] == nth:
            raise SimulatedCrash(
                f"crash after StartRecovery {nth} created {parsed['job']['jobID']}"
            )

    events = clients.client("drs", region).meta.events
    events.register("after-call.drs.StartRecovery", crash)
    try:
        yield
    finally:
        events.unregister("after-call.drs.StartRecovery", crash)


@dataclass(frozen=True)
class Backend:
    name: str
    needs_moto: bool
    open: Callable[[Path], Storage]


def _dynamodb(tmp: Path) -> Storage:
    # Tables named after the directory, so every store opened in one moto is its own.
    storage = DynamoDBStorage(table_prefix=f"crash-{tmp.name}-", region="us-east-1")
    storage.create_tables()
    return storage


BACKENDS = {
    "memory": Backend("memory", False, lambda tmp: MemoryStorage()),
    "sqlite": Backend("sqlite", False, lambda tmp: SqliteStorage(tmp / "drs.db")),
    "dynamodb": Backend("dynamodb", True, _dynamodb),
}


@contextmanager
def backend_stores(name: str, tmp: Path) -> Iterator[Callable[[], Storage]]:
    """Give a function opening an empty store of one backend for each drill.

    DynamoDB's stores share one moto (starting moto per drill would cost more
    than the drill), so each store gets tables of its own and moto's EC2 is
    emptied: the next drill's simulator seeds the same servers, launch
    templates and private IPs again.
    """
    backend = BACKENDS[name]
    opened: list[Storage] = []

    def fresh_store() -> Storage:
        directory = tmp / str(len(opened))
        directory.mkdir()
        if backend.needs_moto:
            get_backend("ec2").reset()
        opened.append(backend.open(directory))
        return opened[-1]

    with mock_aws() if backend.needs_moto else nullcontext():
        try:
            yield fresh_store
        finally:
            for storage in opened:
                close = getattr(storage, "close", None)
                if close is not None:
                    close()
