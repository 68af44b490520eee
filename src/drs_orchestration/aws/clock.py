"""The service's clock, as its responses tell it: the HTTP ``Date`` header.

A host clock can be minutes off. Whatever must be compared with times the
service writes (a job's ``creationDateTime``, a claim another host wrote) is
kept in the service's time instead: every response of a client passes
through one botocore ``after-call`` handler that remembers the last ``Date``
header, and the caller converts with the offset it measures.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from weakref import WeakKeyDictionary

__all__ = ["ServiceClock", "service_clock"]

_HANDLER_ID = "drs-orchestration-service-clock"
_clocks: WeakKeyDictionary[Any, ServiceClock] = WeakKeyDictionary()
_lock = threading.Lock()


@dataclass
class ServiceClock:
    """The last ``Date`` a client's responses carried (``None`` until one arrives)."""

    last_date: datetime | None = None

    def observe(self, http_response: Any = None, **_: Any) -> None:
        """A botocore ``after-call`` handler: keep the response's ``Date`` header."""
        headers = getattr(http_response, "headers", None) or {}
        value = headers.get("Date") or headers.get("date")
        if not value:
            return
        try:
            moment = parsedate_to_datetime(str(value))
        except (TypeError, ValueError):
            return
        self.last_date = moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def skew_s(self, host_now: datetime) -> float | None:
        """Seconds the host clock is ahead of the service (negative: behind), if known.

        ``Date`` has whole seconds, so the measure is good to about a second:
        enough to anchor searches that allow a margin of minutes.
        """
        if self.last_date is None:
            return None
        return (host_now - self.last_date).total_seconds()


def service_clock(client: Any) -> ServiceClock:
    """The :class:`ServiceClock` fed by ``client``'s responses (registered once per client)."""
    with _lock:
        clock = _clocks.get(client)
        if clock is None:
            clock = ServiceClock()
            client.meta.events.register("after-call", clock.observe, unique_id=_HANDLER_ID)
            _clocks[client] = clock
        return clock
