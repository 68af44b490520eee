"""RecoveryInstanceCache: what is recovered for each source server, from storage in milliseconds.

A sync (:meth:`RecoveryInstanceCache.sync_all`, on a schedule, and
:meth:`~RecoveryInstanceCache.sync_servers`, after each wave) keeps one
record per source server: its DRS recovery instance, the EC2 details, the
execution that launched it, the staging account and where the source lives.
Reads (:meth:`~RecoveryInstanceCache.get`,
:meth:`~RecoveryInstanceCache.for_execution`) touch storage only: batched
gets, and a query by the source-execution index, never a scan.
:meth:`~RecoveryInstanceCache.terminate_execution` ends the instances of one
drill.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import ValidationError
from drs_orchestration.models import (
    AccountContext,
    CacheLookup,
    RecoveryInstanceRecord,
    SyncStatus,
    SyncTargetResult,
    TerminationReport,
    utc_now,
)
from drs_orchestration.models.base import aware_clock
from drs_orchestration.models.ids import SOURCE_SERVER_ID_PATTERN
from drs_orchestration.services.cache_sync import (
    EXECUTION_ID_TAG,
    CacheSyncer,
    SyncTarget,
    is_execution_id,
    normalise_targets,
)
from drs_orchestration.services.cache_terminate import TerminationLimits, Terminator

if TYPE_CHECKING:
    import pandas as pd

    from drs_orchestration.aws.clients import ClientFactory
    from drs_orchestration.events import EventSink
    from drs_orchestration.storage.base import Storage

__all__ = [
    "EXECUTION_ID_TAG",
    "RecoveryInstanceCache",
    "SyncTarget",
    "TerminationLimits",
]

logger = logging.getLogger(__name__)


def _source_server_ids(values: Iterable[str], argument: str) -> list[str]:
    if isinstance(values, str):
        raise ValidationError.for_field(
            argument, values, "must be a list of source server IDs, not one string"
        )
    ids = list(values)
    for index, value in enumerate(ids):
        if not isinstance(value, str) or not re.fullmatch(SOURCE_SERVER_ID_PATTERN, value):
            raise ValidationError.for_field(
                f"{argument}[{index}]",
                value,
                "is not a DRS source server ID ('s-' and 17 letters or digits)",
            )
    return list(dict.fromkeys(ids))


def _execution_id(value: str) -> str:
    if not is_execution_id(value):
        raise ValidationError.for_field(
            "execution_id",
            value,
            "is not an execution ID ('ex-' and 20 lowercase letters or digits)",
        )
    return value


class RecoveryInstanceCache:
    """Recovery instances of every configured account and region, cached in storage.

    Args:
        storage: Where records and the sync status are kept (any backend).
        clients: Where DRS and EC2 clients come from (per region and account).
        targets: The ``(region, AccountContext or None)`` pairs to sync. When
            omitted, every sync uses the distinct regions and accounts of the
            stored protection groups.
        events: Receives :class:`~drs_orchestration.events.CacheSynced`,
            :class:`~drs_orchestration.events.CacheSyncFailed` and
            :class:`~drs_orchestration.events.InstancesTerminated`.
        retry: Retry policy of every AWS call.
        concurrency: Targets synced at the same time.
        clock: Current time (``last_synced``, status times, termination deadline,
            event times); it must return timezone-aware datetimes.
        sleep: How termination waits between polls of its TERMINATE jobs.
        termination: The DRS quotas, chunk size, poll interval and timeout of
            :meth:`terminate_execution` (default: DRS's default quotas).
        page_size: ``maxResults`` of each page of a DRS describe.

    Raises:
        ValidationError: a target is malformed (naming its position and value).

    Examples:
        >>> cache = RecoveryInstanceCache(storage, clients, targets=[("us-east-1", None)])
        >>> status = cache.sync_all()
        >>> found = cache.get(["s-0123456789abcdef0"])
        >>> found.misses
        []
    """

    def __init__(
        self,
        storage: Storage,
        clients: ClientFactory,
        *,
        targets: Iterable[tuple[str, AccountContext | None]] | None = None,
        events: EventSink | None = None,
        retry: RetryPolicy | None = None,
        concurrency: int = 4,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        termination: TerminationLimits | None = None,
        page_size: int = 200,
    ) -> None:
        if concurrency < 1:
            raise ValidationError.for_field("concurrency", concurrency, "must be at least 1")
        if page_size < 1:
            raise ValidationError.for_field("page_size", page_size, "must be at least 1")
        clock = aware_clock(clock)
        self._storage = storage
        self._targets = None if targets is None else normalise_targets(targets)
        self._termination = termination or TerminationLimits()
        retry = retry or RetryPolicy()
        self._syncer = CacheSyncer(
            storage,
            clients,
            retry=retry,
            clock=clock,
            concurrency=concurrency,
            events=events,
            page_size=page_size,
        )
        self._terminator = Terminator(
            storage,
            clients,
            retry=retry,
            clock=clock,
            sleep=sleep,
            events=events,
            resolve_account=self._account_for,
        )

    # ---- targets ----------------------------------------------------------------------

    @property
    def targets(self) -> list[SyncTarget]:
        """The accounts and regions a sync covers (configured, or from the protection groups)."""
        if self._targets is not None:
            return list(self._targets)
        groups = sorted(self._storage.protection_groups.list(), key=lambda g: g.created_at)
        return normalise_targets((g.region, g.account) for g in groups)

    def _account_for(self, account_id: str | None) -> AccountContext | None:
        """The account context (with its role) for an account ID recorded somewhere."""
        if account_id is None:
            return None
        for target in self.targets:
            if target.account is not None and target.account.account_id == account_id:
                return target.account
        # No role known: the factory decides whether its own credentials reach it.
        return AccountContext(account_id=account_id)

    # ---- syncing ----------------------------------------------------------------------

    def sync_all(self) -> SyncStatus:
        """Sync every target's recovery instances into the cache, and store the sync status.

        Targets are synced concurrently (at most ``concurrency`` at once). For
        each: every recovery instance (all pages), EC2 details in batches, the
        source servers, and the launching execution (job tag
        :data:`EXECUTION_ID_TAG`, else the executions in storage). Records of
        instances that no longer exist are deleted, each target only its
        own. A target that fails is recorded in ``status.targets[i].error``
        and keeps its cached records; the others complete.

        Returns:
            The stored :class:`~drs_orchestration.models.SyncStatus`.

        Raises:
            DrsOrchestrationError: storage failed reading the cache or writing
                the status (AWS errors never escape; they are per target).
        """
        return self._syncer.sync_targets(self.targets)

    def sync_servers(
        self,
        region: str,
        source_server_ids: Sequence[str],
        account: AccountContext | None = None,
    ) -> SyncTargetResult:
        """Sync the recovery instances of some source servers (what a wave calls afterwards).

        Reads only those servers' instances (``DescribeRecoveryInstances``
        filtered by source server), writes their records, and deletes the
        records of those servers that no longer have an instance there.

        Never raises for AWS or storage errors: the wave that calls it must
        not fail because of the cache. A failure is logged, emitted as
        :class:`~drs_orchestration.events.CacheSyncFailed` and returned in
        the result's ``error``; the cached records stay as they were.

        Raises:
            ValidationError: the arguments themselves are malformed (a bug in the caller).
        """
        (target,) = normalise_targets([(region, account)])
        ids = _source_server_ids(source_server_ids, "source_server_ids")
        return self._syncer.sync_servers(target, ids)

    def get_sync_status(self) -> SyncStatus | None:
        """The last full sync: when, how long, instances per target, errors (``None``: never)."""
        return self._storage.recovery_instances.get_sync_status()

    def sync_recovery_instances(self) -> SyncStatus:
        """Alias of :meth:`sync_all` under the operation name adapters use."""
        return self.sync_all()

    def get_recovery_instance_sync_status(self) -> SyncStatus | None:
        """Alias of :meth:`get_sync_status` under the operation name adapters use."""
        return self.get_sync_status()

    # ---- reading --------------------------------------------------------------------------

    def get(self, source_server_ids: Iterable[str]) -> CacheLookup:
        """What is recovered for these source servers, from storage only.

        One batched read (on DynamoDB: ``BatchGetItem``, 100 keys per call,
        unprocessed keys retried). Servers without a record are listed in
        ``misses``, in request order.

        Raises:
            ValidationError: an ID is not a source server ID (naming its position).
        """
        ids = _source_server_ids(source_server_ids, "source_server_ids")
        records = self._storage.recovery_instances.get_many(ids) if ids else {}
        misses = [sid for sid in ids if sid not in records]
        if misses:
            logger.info(
                "recovery instance cache misses",
                extra={"requested": len(ids), "misses": len(misses), "missIds": misses[:20]},
            )
        return CacheLookup(
            records={sid: records[sid] for sid in ids if sid in records}, misses=misses
        )

    def for_execution(self, execution_id: str) -> list[RecoveryInstanceRecord]:
        """The cached records whose instances an execution launched (index query, no scan).

        Raises:
            ValidationError: ``execution_id`` is malformed.
        """
        return self._storage.recovery_instances.for_execution(_execution_id(execution_id))

    def to_dataframe(
        self,
        source_server_ids: Iterable[str] | None = None,
        *,
        execution_id: str | None = None,
    ) -> pd.DataFrame:
        """Cached records as a pandas DataFrame, one row per recovery instance.

        Args:
            source_server_ids: Only these servers' records (a batched read).
            execution_id: Only the records of this execution (an index query).
                With neither, every cached record (on DynamoDB, a scan).

        Raises:
            ValidationError: both filters given, or a malformed ID.
            ImportError: pandas is missing (``pip install "drs-orchestration[notebook]"``).
        """
        from drs_orchestration.reports.frames import cache_frame

        if source_server_ids is not None and execution_id is not None:
            raise ValidationError.for_field(
                "execution_id", execution_id, "give source_server_ids or execution_id, not both"
            )
        if execution_id is not None:
            records = self.for_execution(execution_id)
        elif source_server_ids is not None:
            records = list(self.get(source_server_ids).records.values())
        else:
            records = self._storage.recovery_instances.list()
        return cache_frame(records)

    # ---- terminating ----------------------------------------------------------------------

    def terminate_execution(
        self,
        execution_id: str,
        *,
        dry_run: bool = False,
        include_recovery: bool = False,
        include_launched_into: bool = False,
    ) -> TerminationReport:
        """Terminate the recovery instances one execution launched, and forget them.

        Safety rules:

        * The instances come from the execution's own records (its server
          outcomes, its jobs' participating servers, cache records tagged
          with it), never from "every instance of these source servers":
          another execution's instances survive. Each one is checked in DRS
          first; one launched by a job that is not the execution's is skipped.
        * A non-drill execution is refused unless ``include_recovery=True``;
          without it, a recovery (non-drill) instance is skipped too.
        * An instance that existed before the execution — an existing instance
          DRS launched into: a stored instance pair's target, or one tagged
          ``AWSDRS=AllowLaunchingIntoThisInstance`` — is skipped unless
          ``include_launched_into=True``; so is one whose tags cannot be read.
        * ``dry_run=True`` reports what would be terminated and changes nothing.

        The instances are grouped by account and region and terminated in
        chunks within the DRS job quotas (waiting, not failing, while they
        are full); the TERMINATE jobs are followed to the end (see
        :class:`TerminationLimits`). The cache records of terminated (and
        already gone) instances are deleted; failed instances keep theirs.

        Returns:
            The outcome of every instance (``report.failed`` lists failures).

        Raises:
            ValidationError: ``execution_id`` is malformed.
            NotFoundError: no such execution in storage.
            TerminationRefusedError: the execution is a recovery and
                ``include_recovery`` was not given.
        """
        return self._terminator.terminate(
            _execution_id(execution_id),
            dry_run=dry_run,
            include_recovery=include_recovery,
            include_launched_into=include_launched_into,
            limits=self._termination,
        )
