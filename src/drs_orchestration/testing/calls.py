"""The call log: every DRS request the simulator answered, for tests to count and inspect."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, overload

__all__ = ["CallLog", "CallRecord"]


@dataclass(frozen=True)
class CallRecord:
    """One DRS request as the simulator saw it.

    Attributes:
        operation: The DRS operation name, e.g. ``"StartRecovery"``.
        region: The region the request was signed for.
        account_id: The account the caller's credentials belong to.
        params: The request parameters, as parsed from the wire.
        at: Simulated time of the call.
        error_code: The error answered (``"ThrottlingException"``, ``"503"``...), or
            ``None`` on success.
        injected: Whether the error came from an injected fault rather than DRS's rules.
    """

    operation: str
    region: str
    account_id: str
    params: dict[str, Any] = field(compare=False)
    at: datetime
    error_code: str | None = None
    injected: bool = False

    @property
    def succeeded(self) -> bool:
        """Whether the call was answered with a success."""
        return self.error_code is None


class CallLog(Sequence[CallRecord]):
    """Thread-safe, append-only list of :class:`CallRecord`, with counting helpers.

    Examples:
        >>> sim.calls.count("StartRecovery")
        3
        >>> [c.error_code for c in sim.calls.of("StartRecovery")]
        ['ThrottlingException', None, None]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []

    def append(self, record: CallRecord) -> None:
        """Record one call (the simulator does this; tests normally only read)."""
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        """Forget every recorded call."""
        with self._lock:
            self._records.clear()

    def _snapshot(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    @overload
    def __getitem__(self, index: int) -> CallRecord: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[CallRecord]: ...
    def __getitem__(self, index: int | slice) -> CallRecord | Sequence[CallRecord]:
        return self._snapshot()[index]

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(self._snapshot())

    def of(
        self,
        operation: str,
        *,
        succeeded: bool | None = None,
        injected: bool | None = None,
    ) -> list[CallRecord]:
        """The calls of ``operation``, optionally only the (un)successful or (non-)injected ones."""
        return [
            record
            for record in self._snapshot()
            if record.operation == operation
            and (succeeded is None or record.succeeded == succeeded)
            and (injected is None or record.injected == injected)
        ]

    def count(
        self,
        operation: str | None = None,
        *,
        succeeded: bool | None = None,
        injected: bool | None = None,
    ) -> int:
        """How many calls of ``operation`` (every operation when ``None``) were made.

        Unlike ``list.count`` this counts by operation name, which is what tests ask.
        """
        if operation is None:
            return sum(
                1
                for record in self._snapshot()
                if (succeeded is None or record.succeeded == succeeded)
                and (injected is None or record.injected == injected)
            )
        return len(self.of(operation, succeeded=succeeded, injected=injected))

    def operations(self) -> Counter[str]:
        """Calls per operation name."""
        return Counter(record.operation for record in self._snapshot())

    def errors(self) -> list[CallRecord]:
        """Every call answered with an error (injected or not)."""
        return [record for record in self._snapshot() if record.error_code is not None]
