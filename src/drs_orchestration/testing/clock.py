"""The simulator's clock: simulated time that tests move by hand, or that runs with wall time.

Nothing in the simulator reads the wall clock directly; everything asks a
:class:`SimulatedClock`. In manual mode time stands still until
:meth:`SimulatedClock.advance`; in real-time mode it runs at ``scale`` times
wall time (``scale=60`` turns a five-minute DRS job into five seconds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["SimulatedClock"]


class SimulatedClock:
    """Simulated UTC time, thread-safe.

    Args:
        start: The simulated time to start at (default: the current UTC time,
            whole seconds, so describes with real ``fromDate`` filters behave).
        wall: The wall clock real-time mode follows (injectable for tests).

    Examples:
        >>> clock = SimulatedClock(datetime(2025, 1, 1, tzinfo=UTC))
        >>> clock.advance(90)
        datetime.datetime(2025, 1, 1, 0, 1, 30, tzinfo=datetime.timezone.utc)
    """

    def __init__(
        self, start: datetime | None = None, *, wall: Callable[[], float] = time.monotonic
    ) -> None:
        if start is None:
            start = datetime.now(UTC).replace(microsecond=0)
        elif start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._lock = threading.Lock()
        self._wall = wall
        self._anchor = start.astimezone(UTC)
        self._anchor_wall = wall()
        self._scale: float | None = None

    @property
    def scale(self) -> float | None:
        """Simulated seconds per wall second in real-time mode, ``None`` when manual."""
        return self._scale

    def now(self) -> datetime:
        """The current simulated time."""
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> datetime:
        if self._scale is None:
            return self._anchor
        elapsed = (self._wall() - self._anchor_wall) * self._scale
        return self._anchor + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> datetime:
        """Move simulated time forward by ``seconds`` (also in real-time mode) and return it."""
        if seconds < 0:
            raise ValueError(f"cannot move time backwards ({seconds} s)")
        with self._lock:
            self._anchor = self._now_locked() + timedelta(seconds=seconds)
            self._anchor_wall = self._wall()
            return self._anchor

    def realtime(self, scale: float = 1.0) -> None:
        """Let simulated time run at ``scale`` times wall time from now on."""
        if scale <= 0:
            raise ValueError(f"scale must be positive (got {scale})")
        with self._lock:
            self._anchor = self._now_locked()
            self._anchor_wall = self._wall()
            self._scale = scale

    def freeze(self) -> None:
        """Stop real-time mode: time stands still until the next :meth:`advance`."""
        with self._lock:
            self._anchor = self._now_locked()
            self._anchor_wall = self._wall()
            self._scale = None
