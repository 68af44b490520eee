"""Atomic writes of several items, and read-modify-write loops that never lose an update.

:meth:`~drs_orchestration.storage.BaseStorage.transact` takes a list of
operations and applies all of them or none:

- :class:`Put` — write an item if the stored version is the expected one
  (default: the item's own version; ``0``: it must not exist yet);
- :class:`Delete` — delete an item (at the expected version, if given);
- :class:`Check` — write nothing, but require an item to be at a version,
  or to be absent.

If any condition fails nothing is written and
:class:`~drs_orchestration.errors.ConcurrentModificationError` names the
item (kind, key, expected and actual version). Memory applies the operations
under its lock, SQLite in one ``BEGIN IMMEDIATE`` transaction, DynamoDB in
one ``TransactWriteItems`` call, so at most :data:`MAX_TRANSACTION_ITEMS`
operations are accepted, each on a different item.

:func:`update_item` is the loop every read-modify-write should use: it
re-reads the item and re-applies the caller's *change* to it after a
conflict, so a stale value is never written over a fresh one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from drs_orchestration.errors import ConcurrentModificationError, ValidationError
from drs_orchestration.models import VersionedModel

if TYPE_CHECKING:
    from drs_orchestration.storage.base import Repository

__all__ = [
    "DEFAULT_ATTEMPTS",
    "MAX_TRANSACTION_ITEMS",
    "Check",
    "Delete",
    "Operation",
    "Put",
    "retry_conflicts",
    "update_item",
]

M = TypeVar("M", bound=VersionedModel)
T = TypeVar("T")

MAX_TRANSACTION_ITEMS = 100
"""The most operations one transaction may hold (DynamoDB's ``TransactWriteItems`` limit)."""

DEFAULT_ATTEMPTS = 25
"""How many times :func:`update_item` tries before giving up."""

_FIRST_BACKOFF_S = 0.002
_MAX_BACKOFF_S = 0.1


@dataclass(frozen=True)
class Put:
    """Write ``item`` if the stored version is ``expected_version``.

    Attributes:
        item: The item to store; the stored copy gets the expected version plus one.
        expected_version: The version the write requires (``0``: must not
            exist); ``None`` uses ``item.version``.
    """

    item: VersionedModel
    expected_version: int | None = None


@dataclass(frozen=True)
class Delete:
    """Delete an item.

    Attributes:
        model: The item's model class (it names the collection), e.g. ``ProtectionGroup``.
        key: The item's key.
        expected_version: Delete only at this version (an absent item then
            conflicts); ``None`` deletes whatever is there, if anything.
    """

    model: type[VersionedModel]
    key: str
    expected_version: int | None = None


@dataclass(frozen=True)
class Check:
    """Require an item to be at a version, or absent, without writing it.

    Attributes:
        model: The item's model class (it names the collection).
        key: The item's key.
        expected_version: The version required; ``None`` (or ``0``) requires
            the item to be absent.
    """

    model: type[VersionedModel]
    key: str
    expected_version: int | None = None


Operation = Put | Delete | Check
"""One operation of a transaction."""


def retry_conflicts(
    attempt: Callable[[], T],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``attempt`` until it does not raise ConcurrentModificationError.

    Between attempts it waits a random, growing time (up to 0.1 s), so
    writers contending for one item spread out instead of colliding again.
    ``attempt`` must re-read what it writes: retrying a write of the same
    stale copy can only conflict again.

    Raises:
        ConcurrentModificationError: every attempt conflicted; it reports the
            number of attempts, and the last conflict is its ``__cause__``.
        ValidationError: ``attempts`` is less than 1.
    """
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValidationError.for_field("attempts", attempts, "must be at least 1")
    last: ConcurrentModificationError | None = None
    for number in range(attempts):
        if number:
            sleep(random.uniform(0, min(_MAX_BACKOFF_S, _FIRST_BACKOFF_S * 2**number)))
        try:
            return attempt()
        except ConcurrentModificationError as conflict:
            last = conflict
    assert last is not None
    raise ConcurrentModificationError(
        last.kind,
        last.key,
        expected_version=None,
        actual_version=last.actual_version,
        attempts=attempts,
    ) from last


def update_item(
    repository: Repository[M],
    key: str,
    change: Callable[[M], M | None],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> M:
    """Read an item, apply ``change`` to it and write the result, retrying on conflicts.

    ``change`` receives the item as stored and returns the changed item (a
    copy, e.g. ``item.model_copy(update=...)``), or ``None`` to write nothing.
    After a conflict the item is read again and ``change`` is applied to the
    fresh copy, so no concurrent update is lost and no stale value is
    written. ``change`` may therefore run several times; it must not have
    side effects.

    Args:
        repository: Where the item is, e.g. ``storage.recovery_plans``.
        key: The item's key.
        change: Computes the new item from the stored one.
        attempts: How many read-change-write cycles to try.
        sleep: How to wait between attempts (tests pass a no-op).

    Returns:
        The item as stored after the write (or as read, if ``change`` returned ``None``).

    Raises:
        NotFoundError: the item does not exist.
        ConcurrentModificationError: every attempt lost a race.

    Examples:
        >>> plan = update_item(storage.recovery_plans, plan_id,
        ...                    lambda p: p.model_copy(update={"description": "tier 1"}))
    """

    def once() -> M:
        current = repository.get(key)
        changed = change(current)
        if changed is None:
            return current
        return repository.put(changed, expected_version=current.version)

    return retry_conflicts(once, attempts=attempts, sleep=sleep)
