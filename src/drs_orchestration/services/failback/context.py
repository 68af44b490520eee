"""What every failback unit of work shares: settings, storage of the records, AWS access, events.

The records are :class:`~drs_orchestration.models.FailbackState`, one per
recovery instance, in the ``failback_states`` collection; the claim
``failback:<execution ID>`` (``storage.claims``) marks that an execution has
a failback. Creating a record is a conditional insert, so two processes (or
two executions naming one instance) cannot both fail the same recovery
instance back; every later write is conditional on the version read, so a
step that lost a race changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from drs_orchestration.aws.clients import ClientFactory
from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.events import Event, EventSink, FailbackProgressed, emit
from drs_orchestration.models import AccountContext, Execution, FailbackState
from drs_orchestration.models.base import aware_now
from drs_orchestration.services.failback.installer import AgentInstaller
from drs_orchestration.storage.base import Storage
from drs_orchestration.storage.claims import claim_id
from drs_orchestration.storage.transactions import MAX_TRANSACTION_ITEMS, Operation, Put

__all__ = [
    "FAILBACK_CLAIM",
    "FailbackContext",
    "FailbackSettings",
    "LostRace",
    "load_states",
    "recovery_instance_keys",
]

logger = logging.getLogger(__name__)

FAILBACK_CLAIM = "failback"
"""Claim namespace of an execution's failback (``failback:<execution ID>``)."""


class LostRace(Exception):  # noqa: N818 - a signal inside the coordinator
    """Another process wrote a record this step worked on; the next step re-reads."""


@dataclass(frozen=True)
class FailbackSettings:
    """Tunables of the failback state machine (see :class:`FailbackCoordinator`)."""

    max_lag_s: float
    replication_timeout: timedelta
    launch_timeout: timedelta
    reverse_lease: timedelta
    max_reverse_attempts: int
    install_timeout_s: float
    install_agent: AgentInstaller | None
    accounts: Mapping[str, AccountContext] = field(default_factory=dict)


def recovery_instance_keys(execution: Execution) -> dict[str, str]:
    """Recovery instance ID → source server ID of every server the execution recovered."""
    return {
        outcome.recovery_instance_id: sid
        for sid, outcome in execution.outcomes().items()
        if outcome.recovery_instance_id is not None
    }


def load_states(storage: Storage, execution: Execution) -> list[FailbackState]:
    """The failback records of an execution's recovered servers, in the execution's order."""
    keys = recovery_instance_keys(execution)
    found = storage.failback_states.get_many(keys)
    return [
        state
        for key in keys
        if (state := found.get(key)) is not None and state.execution_id == execution.execution_id
    ]


@dataclass
class FailbackContext:
    """Storage, AWS access, clock, events and settings for one coordinator.

    Attributes:
        progressed: Set by a unit that did work (``run`` sleeps only when no
            unit of a step did).
    """

    storage: Storage
    clients: ClientFactory
    retry: RetryPolicy
    settings: FailbackSettings
    clock: Callable[[], datetime]
    events: EventSink | None
    progressed: bool = False
    _pending: list[Event] = field(default_factory=list)

    def now(self) -> datetime:
        """The coordinator's time, to the millisecond (what storage keeps)."""
        moment = aware_now(self.clock)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def drs(self, region: str, account: AccountContext | None) -> DrsGateway:
        """The DRS gateway of a region and account (the factory caches the clients)."""
        return DrsGateway(self.clients, region, account, retry=self.retry)

    def reach(self, account_id: str | None, home: AccountContext | None) -> AccountContext | None:
        """How to reach ``account_id`` from a server whose recovery ran in ``home``.

        The coordinator's ``accounts`` first, then ``home`` itself; any other
        account is named without a role, which a client factory accepts only
        when it is its own account (else it refuses: pass ``accounts``).
        """
        if account_id is None:
            return home
        if account_id in self.settings.accounts:
            return self.settings.accounts[account_id]
        if home is not None and home.account_id == account_id:
            return home
        return AccountContext(account_id=account_id)

    # ---- records --------------------------------------------------------------------

    def save(self, state: FailbackState) -> FailbackState:
        """Write one record at the version it was read (a lost race raises :class:`LostRace`)."""
        from drs_orchestration.errors import ConcurrentModificationError

        state.updated_at = self.now()
        try:
            return self.storage.failback_states.put(state)
        except ConcurrentModificationError as exc:
            raise LostRace(state.recovery_instance_id) from exc

    def save_all(
        self, states: Sequence[FailbackState], extra: Iterable[Operation] = ()
    ) -> list[FailbackState]:
        """Write several records, each at its version, in atomic batches (``extra`` goes first).

        Each batch is one transaction; a lost race raises :class:`LostRace`
        (the batches before it stay written, each record whole).
        """
        from drs_orchestration.errors import ConcurrentModificationError

        now = self.now()
        for state in states:
            state.updated_at = now
        operations: list[Operation] = [*extra, *(Put(s) for s in states)]
        stored: list[FailbackState] = []
        for start in range(0, len(operations), MAX_TRANSACTION_ITEMS):
            batch = operations[start : start + MAX_TRANSACTION_ITEMS]
            try:
                written = self.storage.transact(batch)
            except ConcurrentModificationError as exc:
                raise LostRace(exc.key) from exc
            stored.extend(w for w in written if isinstance(w, FailbackState))
        return stored

    @staticmethod
    def claim_key(execution_id: str) -> str:
        """The claim marking an execution's failback."""
        return claim_id(FAILBACK_CLAIM, execution_id)

    # ---- events -----------------------------------------------------------------------

    def record(self, state: FailbackState, action: str, message: str | None = None) -> None:
        """Note a server's progress: logged now, sent to the event sink by :meth:`flush`."""
        self.progressed = True
        logger.info(
            "failback %s",
            action,
            extra={
                "executionId": state.execution_id,
                "sourceServerId": state.source_server_id,
                "recoveryInstanceId": state.recovery_instance_id,
                "phase": state.phase.value,
                "detail": message,
            },
        )
        self._pending.append(
            FailbackProgressed(
                execution_id=state.execution_id,
                source_server_id=state.source_server_id,
                recovery_instance_id=state.recovery_instance_id,
                phase=state.phase.value,
                action=action,
                message=message,
                at=self.now(),
            )
        )

    def flush(self) -> None:
        """Send the events noted so far."""
        pending, self._pending = self._pending, []
        for event in pending:
            emit(self.events, event)
