"""Syncing recovery instances from DRS and EC2 into the cache.

One *target* is an (account, region). For each target the syncer reads every
recovery instance (all pages), enriches them with EC2 ``DescribeInstances``
(batched), the source servers (staging account and source infrastructure)
and the jobs that launched them (the ``ExecutionId`` job tag names the
source execution), and writes one record per source server. A target that
fails keeps its cached records untouched; the others carry on.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import pydantic

from drs_orchestration.aws.drs import MAX_IDS_PER_FILTER, DrsGateway, chunked
from drs_orchestration.aws.ec2 import Ec2Gateway
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import DrsOrchestrationError, ValidationError
from drs_orchestration.events import CacheSynced, CacheSyncFailed, EventSink, emit
from drs_orchestration.models import (
    AccountContext,
    ErrorRecord,
    RecoveryInstanceRecord,
    SyncStatus,
    SyncTargetResult,
)
from drs_orchestration.models.base import Clock
from drs_orchestration.models.ids import REGION_PATTERN, ExecutionId
from drs_orchestration.services.waves.chunks import EXECUTION_ID_TAG

if TYPE_CHECKING:
    from drs_orchestration.aws.clients import ClientFactory
    from drs_orchestration.storage.base import Storage

__all__ = ["EXECUTION_ID_TAG", "CacheSyncer", "SyncTarget"]

logger = logging.getLogger(__name__)

_EXECUTION_ID: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(ExecutionId)


def is_execution_id(value: object) -> bool:
    """Whether ``value`` is an execution ID of ours (``ex-`` and 20 lowercase alphanumerics)."""
    try:
        _EXECUTION_ID.validate_python(value)
    except pydantic.ValidationError:
        return False
    return True


class SyncTarget(NamedTuple):
    """An account and region whose recovery instances the cache holds.

    A plain ``(region, account)`` tuple is accepted wherever a target is;
    ``account=None`` means the client factory's own account.
    """

    region: str
    account: AccountContext | None = None

    @property
    def account_id(self) -> str | None:
        """The account ID (``None``: the client factory's own account)."""
        return self.account.account_id if self.account else None

    @property
    def label(self) -> str:
        """``account/region`` (or just the region), as used in logs and errors."""
        return f"{self.account_id}/{self.region}" if self.account_id else self.region

    def owns(self, record: RecoveryInstanceRecord) -> bool:
        """Whether ``record`` was synced from this account and region."""
        return record.region == self.region and record.account_id == self.account_id


def normalise_targets(targets: Iterable[tuple[str, AccountContext | None]]) -> list[SyncTarget]:
    """Validate targets and drop repeats of the same (region, account ID), keeping order.

    Raises:
        ValidationError: naming the position and value of a malformed target.
    """
    seen: set[tuple[str, str | None]] = set()
    normalised: list[SyncTarget] = []
    for index, item in enumerate(targets):
        if not isinstance(item, tuple) or len(item) != 2:
            raise ValidationError.for_field(
                f"targets[{index}]", item, "must be a (region, AccountContext or None) pair"
            )
        region, account = item
        if not isinstance(region, str) or not re.fullmatch(REGION_PATTERN, region):
            raise ValidationError.for_field(
                f"targets[{index}].region", region, "is not an AWS region name"
            )
        if account is not None and not isinstance(account, AccountContext):
            raise ValidationError.for_field(
                f"targets[{index}].account", account, "must be an AccountContext or None"
            )
        target = SyncTarget(region, account)
        if (target.region, target.account_id) not in seen:
            seen.add((target.region, target.account_id))
            normalised.append(target)
    return normalised


def _elapsed_s(start: float) -> float:
    # Durations are wall time (monotonic), whatever clock stamps the records.
    return round(max(0.0, time.perf_counter() - start), 6)


def _describe(error: BaseException) -> str:
    return error.message if isinstance(error, DrsOrchestrationError) else f"{error}"


class _ExecutionsByJob:
    """Job ID → execution ID from the executions in storage, read once and only if needed.

    The fallback for jobs without an ``ExecutionId`` tag (started outside the
    library, or before it tagged jobs). It lists the executions once per sync,
    which is why job tags come first.
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._lock = threading.Lock()
        self._by_job: dict[str, str] | None = None

    def lookup(self, job_ids: Iterable[str]) -> dict[str, str]:
        wanted = list(job_ids)
        if not wanted:
            return {}
        with self._lock:
            if self._by_job is None:
                by_job: dict[str, str] = {}
                for execution in self._storage.executions.list():
                    for run in execution.waves:
                        for job in run.jobs:
                            if job.job_id:
                                by_job[job.job_id] = execution.execution_id
                        for outcome in run.servers.values():
                            if outcome.job_id:
                                by_job.setdefault(outcome.job_id, execution.execution_id)
                self._by_job = by_job
            return {j: self._by_job[j] for j in wanted if j in self._by_job}


@dataclass
class _TargetRun:
    """The records one target produced, and its result as it is being filled in."""

    target: SyncTarget
    result: SyncTargetResult
    records: list[RecoveryInstanceRecord] = field(default_factory=list)


class CacheSyncer:
    """Reads recovery instances from DRS and EC2 and writes them to the cache.

    Used by :class:`~drs_orchestration.services.cache.RecoveryInstanceCache`;
    see there for the public behaviour.
    """

    def __init__(
        self,
        storage: Storage,
        clients: ClientFactory,
        *,
        retry: RetryPolicy,
        clock: Clock,
        concurrency: int,
        events: EventSink | None,
        page_size: int = 200,
    ) -> None:
        self._storage = storage
        self._clients = clients
        self._page_size = page_size
        self._retry = retry
        self._clock = clock
        self._concurrency = concurrency
        self._events = events

    # ---- full sync ----------------------------------------------------------------

    def sync_targets(self, targets: Sequence[SyncTarget]) -> SyncStatus:
        """Sync every target (concurrently, bounded), remove stale records, store the status."""
        started = self._clock()
        timer = time.perf_counter()
        snapshot = {r.source_server_id: r for r in self._storage.recovery_instances.list()}
        executions = _ExecutionsByJob(self._storage)
        runs: list[_TargetRun] = []
        if targets:
            workers = max(1, min(self._concurrency, len(targets)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cache-sync") as pool:
                runs = list(pool.map(lambda t: self._sync_target(t, snapshot, executions), targets))
        self._remove_stale(runs, snapshot)
        finished = self._clock()
        status = SyncStatus(
            started_at=started,
            finished_at=finished,
            duration_s=_elapsed_s(timer),
            targets=[run.result for run in runs],
        )
        previous = self._storage.recovery_instances.get_sync_status()
        if previous is not None:
            status = status.model_copy(update={"version": previous.version})
        stored = self._storage.recovery_instances.put_sync_status(status)
        failed = tuple(run.target.label for run in runs if run.result.error is not None)
        logger.info(
            "recovery instance cache synced",
            extra={
                "targets": len(runs),
                "instances": stored.instances,
                "failedTargets": list(failed),
                "durationSeconds": stored.duration_s,
            },
        )
        emit(
            self._events,
            CacheSynced(
                at=finished,
                instances=stored.instances,
                targets=len(runs),
                errors=failed,
                duration_s=stored.duration_s or 0.0,
            ),
        )
        return stored

    def _sync_target(
        self,
        target: SyncTarget,
        known: Mapping[str, RecoveryInstanceRecord],
        executions: _ExecutionsByJob,
    ) -> _TargetRun:
        timer = time.perf_counter()
        run = _TargetRun(
            target, SyncTargetResult(region=target.region, account_id=target.account_id)
        )
        try:
            run.records = self.collect(target, None, known, executions)
            self._storage.recovery_instances.put_many(run.records)
        except Exception as error:  # one target's failure must not stop the others
            run.records = []
            run.result.error = ErrorRecord.from_exception(error)
            self._report_failure(target, error, (), scope="all")
        else:
            run.result.instances = len(run.records)
            run.result.written = len(run.records)
        run.result.duration_s = _elapsed_s(timer)
        return run

    def _remove_stale(
        self, runs: Sequence[_TargetRun], snapshot: Mapping[str, RecoveryInstanceRecord]
    ) -> None:
        # After every target has written, so a source server that moved between
        # targets is never deleted by the target it left.
        written = {r.source_server_id for run in runs for r in run.records}
        for run in runs:
            if run.result.error is not None:
                continue
            stale = [
                key
                for key, record in snapshot.items()
                if run.target.owns(record) and key not in written
            ]
            if not stale:
                continue
            try:
                current = self._storage.recovery_instances.get_many(stale)
                # A record rewritten since the snapshot (by a wave's narrow sync) is fresh.
                unchanged = [k for k, r in current.items() if r == snapshot[k]]
                self._storage.recovery_instances.delete_many(unchanged)
            except Exception as error:  # the target's records were written; report, go on
                run.result.error = ErrorRecord.from_exception(error)
                self._report_failure(run.target, error, tuple(stale), scope="all")
                continue
            run.result.deleted = len(unchanged)
            logger.info(
                "removed cache records of recovery instances that no longer exist",
                extra={
                    "region": run.target.region,
                    "accountId": run.target.account_id,
                    "sourceServerIds": sorted(unchanged),
                },
            )

    # ---- narrow sync ------------------------------------------------------------------

    def sync_servers(
        self, target: SyncTarget, source_server_ids: Sequence[str]
    ) -> SyncTargetResult:
        """Sync the recovery instances of some source servers; never raises."""
        timer = time.perf_counter()
        result = SyncTargetResult(region=target.region, account_id=target.account_id)
        if not source_server_ids:
            result.duration_s = 0.0
            return result
        try:
            known = self._storage.recovery_instances.get_many(source_server_ids)
            records = self.collect(
                target, source_server_ids, known, _ExecutionsByJob(self._storage)
            )
            self._storage.recovery_instances.put_many(records)
            found = {r.source_server_id for r in records}
            stale = [k for k, r in known.items() if k not in found and target.owns(r)]
            self._storage.recovery_instances.delete_many(stale)
        except Exception as error:  # the wave that asked must not fail because of the cache
            result.error = ErrorRecord.from_exception(error)
            result.duration_s = _elapsed_s(timer)
            self._report_failure(target, error, tuple(source_server_ids), scope="servers")
            return result
        result.instances = result.written = len(records)
        result.deleted = len(stale)
        result.duration_s = _elapsed_s(timer)
        logger.info(
            "synced recovery instances of source servers",
            extra={
                "region": target.region,
                "accountId": target.account_id,
                "requested": len(source_server_ids),
                "instances": len(records),
                "deleted": len(stale),
            },
        )
        emit(
            self._events,
            CacheSynced(
                at=self._clock(),
                instances=len(records),
                targets=1,
                duration_s=result.duration_s,
                scope="servers",
            ),
        )
        return result

    def _report_failure(
        self,
        target: SyncTarget,
        error: BaseException,
        source_server_ids: tuple[str, ...],
        *,
        scope: str,
    ) -> None:
        record = ErrorRecord.from_exception(error)
        logger.warning(
            "recovery instance cache sync failed for %s; its cached records were kept",
            target.label,
            exc_info=not isinstance(error, DrsOrchestrationError),
            extra={
                "region": target.region,
                "accountId": target.account_id,
                "errorCode": record.code,
                "scope": scope,
                "sourceServerCount": len(source_server_ids),
            },
        )
        emit(
            self._events,
            CacheSyncFailed(
                at=self._clock(),
                region=target.region,
                account_id=target.account_id,
                error_code=record.code,
                message=_describe(error),
                source_server_ids=source_server_ids,
                scope=scope,
            ),
        )

    # ---- reading DRS and EC2 ----------------------------------------------------------

    def collect(
        self,
        target: SyncTarget,
        source_server_ids: Sequence[str] | None,
        known: Mapping[str, RecoveryInstanceRecord],
        executions: _ExecutionsByJob,
    ) -> list[RecoveryInstanceRecord]:
        """Build the records of one target (all its instances, or those of some servers).

        Raises:
            AwsApiError: a DRS or EC2 call failed after retries.
            ValidationError: DRS or EC2 returned something a record cannot hold,
                naming the recovery instance and the field.
        """
        drs = DrsGateway(
            self._clients,
            target.region,
            target.account,
            retry=self._retry,
            page_size=self._page_size,
        )
        if source_server_ids is None:
            items = drs.describe_recovery_instances()
        else:
            items = []
            for chunk in chunked(list(dict.fromkeys(source_server_ids)), MAX_IDS_PER_FILTER):
                items.extend(drs.describe_recovery_instances(source_server_ids=chunk))
        if not items:
            return []
        ec2_ids = [i["ec2InstanceID"] for i in items if i.get("ec2InstanceID")]
        ec2 = Ec2Gateway(self._clients, target.region, target.account, retry=self._retry)
        instances = {i["InstanceId"]: i for i in ec2.describe_instances(ec2_ids)} if ec2_ids else {}
        server_ids = list(dict.fromkeys(i["sourceServerID"] for i in items))
        servers = {
            s["sourceServerID"]: s
            for s in drs.describe_source_servers(source_server_ids=server_ids)
        }
        execution_by_job = self._executions_for_jobs(drs, items, known, executions)
        synced_at = self._clock()
        records: list[RecoveryInstanceRecord] = []
        for item in items:
            ec2_instance = instances.get(item.get("ec2InstanceID") or "", {})
            server = servers.get(item["sourceServerID"], {})
            previous = known.get(item["sourceServerID"])
            records.append(
                _record(
                    target,
                    dict(item),
                    instance=dict(ec2_instance),
                    server=dict(server),
                    execution_by_job=execution_by_job,
                    # Never older than what is stored, even if the clock stepped back.
                    synced_at=max(synced_at, previous.last_synced) if previous else synced_at,
                )
            )
        return records

    def _executions_for_jobs(
        self,
        drs: DrsGateway,
        items: Sequence[Mapping[str, Any]],
        known: Mapping[str, RecoveryInstanceRecord],
        executions: _ExecutionsByJob,
    ) -> dict[str, str]:
        job_ids = list(dict.fromkeys(str(i["jobID"]) for i in items if i.get("jobID")))
        # A job's tags never change: what an earlier sync found for a job stands.
        found = {
            r.job_id: r.source_execution_id
            for r in known.values()
            if r.job_id in job_ids and r.source_execution_id
        }
        unknown = [j for j in job_ids if j not in found]
        if unknown:
            for job in drs.describe_jobs(job_ids=unknown):
                tag = (job.get("tags") or {}).get(EXECUTION_ID_TAG)
                if tag and is_execution_id(tag):
                    found[job["jobID"]] = tag
                elif tag:
                    logger.debug(
                        "ignoring a job's ExecutionId tag that is not an execution ID of ours",
                        extra={"jobId": job["jobID"], "tag": tag},
                    )
        untagged = [j for j in unknown if j not in found]
        found.update(executions.lookup(untagged))
        return {job: execution for job, execution in found.items() if execution}


def _ec2_state(instance: Mapping[str, Any], item: Mapping[str, Any]) -> str | None:
    # EC2's own view is the fresher one; DRS's upper-case copy is the fallback.
    state = (instance.get("State") or {}).get("Name") or item.get("ec2InstanceState")
    return str(state).lower() if state else None


def _record(
    target: SyncTarget,
    item: Mapping[str, Any],
    *,
    instance: Mapping[str, Any],
    server: Mapping[str, Any],
    execution_by_job: Mapping[str, str],
    synced_at: datetime,
) -> RecoveryInstanceRecord:
    source = server.get("sourceProperties") or {}
    hints = source.get("identificationHints") or {}
    instance_hints = (item.get("recoveryInstanceProperties") or {}).get("identificationHints") or {}
    cloud = server.get("sourceCloudProperties") or {}
    staging = server.get("stagingArea") or {}
    placement = instance.get("Placement") or {}
    tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags") or []}
    job_id = item.get("jobID")
    data: dict[str, Any] = {
        "source_server_id": item["sourceServerID"],
        "recovery_instance_id": item["recoveryInstanceID"],
        "ec2_instance_id": item.get("ec2InstanceID"),
        "region": target.region,
        "account_id": target.account_id,
        "is_drill": item.get("isDrill"),
        "job_id": job_id,
        "source_execution_id": execution_by_job.get(job_id) if job_id else None,
        "ec2_instance_state": _ec2_state(instance, item),
        "instance_type": instance.get("InstanceType"),
        "private_ip": instance.get("PrivateIpAddress"),
        "public_ip": instance.get("PublicIpAddress"),
        "subnet_id": instance.get("SubnetId"),
        "vpc_id": instance.get("VpcId"),
        "availability_zone": placement.get("AvailabilityZone"),
        "launch_time": instance.get("LaunchTime"),
        "name_tag": tags.get("Name"),
        "source_hostname": hints.get("hostname") or instance_hints.get("hostname"),
        "replication_staging_account_id": staging.get("stagingAccountID"),
        "origin_environment": item.get("originEnvironment"),
        "origin_availability_zone": item.get("originAvailabilityZone")
        or cloud.get("originAvailabilityZone"),
        "source_region": cloud.get("originRegion"),
        "source_account_id": cloud.get("originAccountID"),
        "source_instance_id": hints.get("awsInstanceID"),
        "failback_state": (item.get("failback") or {}).get("state"),
        "last_synced": synced_at,
    }
    # DRS answers "" for some fields it has no value for; the model's IDs would reject that.
    data = {k: v for k, v in data.items() if v is not None and v != ""}
    try:
        return RecoveryInstanceRecord.parse(data)
    except ValidationError as error:
        raise ValidationError(
            f"recovery instance {item.get('recoveryInstanceID')} of source server "
            f"{item.get('sourceServerID')} in {target.label}: {error.message}",
            problems=error.problems,
            details={
                "recoveryInstanceId": item.get("recoveryInstanceID"),
                "sourceServerId": item.get("sourceServerID"),
                "region": target.region,
                "accountId": target.account_id,
            },
        ) from error
