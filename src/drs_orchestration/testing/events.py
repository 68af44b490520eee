"""The EventBridge events DRS publishes, delivered in-process to subscribers.

DRS publishes events on the account's default EventBridge bus with
``source: aws.drs``. What AWS documents, and what the simulator sends:

- ``DRS Source Server Launch Result``: one per server when its launch ends,
  successfully or not. ``resources`` holds the source server's ARN and
  ``detail`` the ``state`` (``RECOVERY_LAUNCH_SUCCEEDED``,
  ``RECOVERY_LAUNCH_FAILED``, ``DRILL_LAUNCH_SUCCEEDED``,
  ``DRILL_LAUNCH_FAILED``) and the ``job-id``. The field names follow AWS's
  published samples for this event family (MGN's launch result has the same
  ``state`` and ``job-id``); the simulator also sends ``source-server-id``,
  which is our assumption and which the library does not rely on.
- ``DRS Source Server Data Replication Stalled Change``: when a server's
  replication stalls (``STALLED``) or recovers (``NOT_STALLED``).

Delivery here is synchronous and in order, at the simulated time the event
happens; EventBridge delivers at least once and in no guaranteed order, so a
subscriber must be idempotent (the wave executor's ``on_drs_event`` is: it
takes a step, and a step decides from DRS's state, not from the event).

Example:
    >>> seen: list[dict] = []
    >>> sim.events.subscribe(seen.append)
    >>> sim.events.subscribe(lambda event: executor.on_drs_event(event))
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = ["LAUNCH_RESULT", "STALLED_CHANGE", "DrsEventBus"]

logger = logging.getLogger(__name__)

LAUNCH_RESULT = "DRS Source Server Launch Result"
STALLED_CHANGE = "DRS Source Server Data Replication Stalled Change"

Subscriber = Callable[[dict[str, Any]], Any]


class DrsEventBus:
    """``sim.events``: subscribe to the events the simulated DRS publishes.

    A subscriber that raises is logged and does not stop the simulation or
    the other subscribers. Events published while no one subscribes are
    kept in :attr:`published` all the same.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self.published: list[dict[str, Any]] = []
        """Every event published, in order."""
        self._pending: list[dict[str, Any]] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        """Deliver every later event to ``subscriber``."""
        with self._lock:
            self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop delivering to ``subscriber``."""
        with self._lock:
            self._subscribers.remove(subscriber)

    def publish(
        self,
        detail_type: str,
        *,
        account: str,
        region: str,
        at: datetime,
        resources: list[str],
        detail: dict[str, Any],
    ) -> dict[str, Any]:
        """Queue an event with EventBridge's envelope; :meth:`deliver` sends it."""
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "aws.drs",
            "account": account,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": list(resources),
            "detail": dict(detail),
        }
        with self._lock:
            self.published.append(event)
            self._pending.append(event)
        return event

    def deliver(self) -> None:
        """Send queued events to the subscribers (called outside the simulator's lock)."""
        with self._lock:
            pending, self._pending = self._pending, []
            subscribers = list(self._subscribers)
        for event in pending:
            for subscriber in subscribers:
                try:
                    subscriber(event)
                except Exception:
                    logger.exception(
                        "a DRS event subscriber failed", extra={"detailType": event["detail-type"]}
                    )
