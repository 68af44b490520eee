"""Crash injection for failback: every storage write, and right after DRS answered a call.

Extends :mod:`tests.waves.crash` (the same :class:`SimulatedCrash`, a
``BaseException`` no library ``except`` swallows) to the writes a failback
makes: its records, claims and transactions besides groups, plans and
executions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from drs_orchestration.models import AccountContext
from drs_orchestration.storage.base import Storage
from drs_orchestration.testing import SimulatedClientFactory
from drs_orchestration.testing.service import DEFAULT_ACCOUNT_ID
from tests.waves.crash import CrashingStorage as _WaveCrashingStorage
from tests.waves.crash import SimulatedCrash, _CrashingRepository

__all__ = ["CrashingStorage", "SimulatedCrash", "crash_after_call"]


class CrashingStorage(_WaveCrashingStorage):
    """Raises :class:`SimulatedCrash` after the Nth successful write of any kind."""

    def __init__(self, inner: Storage, crash_after: int | None = None) -> None:
        super().__init__(inner, crash_after)
        self.failback_states = _CrashingRepository(inner.failback_states, self.budget, "failback")
        self.claims = _CrashingRepository(inner.claims, self.budget, "claim")
        self._inner_transact = inner.transact
        self.transact = self._transact  # type: ignore[method-assign]

    def _transact(self, operations: Sequence[Any]) -> list[Any]:
        stored = self._inner_transact(operations)
        kinds = sorted({type(getattr(op, "item", None) or op).__name__ for op in operations})
        self.budget.tick("transact:" + "+".join(kinds))
        return stored


@contextmanager
def crash_after_call(
    clients: SimulatedClientFactory, regions: Sequence[str], operation: str, nth: int | None
) -> Iterator[None]:
    """Make the ``nth`` successful ``operation`` (across ``regions``) crash once DRS answered."""
    if nth is None:
        yield
        return
    seen = {"calls": 0}

    def crash(http_response: Any, **_: Any) -> None:
        if http_response.status_code >= 300:
            return
        seen["calls"] += 1
        if seen["calls"] == nth:
            raise SimulatedCrash(f"crash after {operation} {nth} was answered")

    event = f"after-call.drs.{operation}"
    # The default account is reached both implicitly (None) and by its ID (no role).
    own = AccountContext(account_id=DEFAULT_ACCOUNT_ID)
    clients_seen = [
        clients.client("drs", region, account) for region in regions for account in (None, own)
    ]
    for client in clients_seen:
        client.meta.events.register(event, crash)
    try:
        yield
    finally:
        for client in clients_seen:
            client.meta.events.unregister(event, crash)
