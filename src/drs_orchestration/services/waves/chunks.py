"""A wave's chunks: their planning, DRS quotas, job tags, finding their jobs again, snapshots.

A wave becomes chunks of at most ``max_servers_per_job`` servers, each one
``StartRecovery`` call tagged with the execution, plan, wave and chunk. Before
a chunk starts, the jobs in progress in the account and region are counted so
a chunk that would exceed the account quotas waits instead of failing. A chunk
whose job ID was never saved is found again by its tags.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from drs_orchestration.aws.drs import DrsGateway, chunked, parse_drs_timestamp
from drs_orchestration.aws.quotas import DrsQuotas
from drs_orchestration.errors import RecoveryError
from drs_orchestration.models import Execution, JobRecord, WaveRun

if TYPE_CHECKING:
    from mypy_boto3_drs.type_defs import JobTypeDef

__all__ = [
    "EXECUTION_ID_TAG",
    "MANAGED_BY",
    "MAX_TAG_VALUE_LENGTH",
    "DrsQuotas",
    "QuotaUsage",
    "chunk_tags",
    "count_in_progress",
    "find_chunk_job",
    "find_execution_jobs",
    "idempotency_key",
    "job_tags",
    "plan_chunks",
    "select_snapshots",
    "tag_value",
]

logger = logging.getLogger(__name__)

MANAGED_BY = "drs-orchestration"
"""The ``ManagedBy`` tag on every job the library starts."""
EXECUTION_ID_TAG = "ExecutionId"
"""The job tag naming the execution that started the job (the cache reads it back)."""
MAX_TAG_VALUE_LENGTH = 256
"""DRS's limit on a tag value, in characters."""
_IN_PROGRESS = frozenset({"PENDING", "STARTED"})


@dataclass(frozen=True)
class QuotaUsage:
    """Jobs in progress in one account and region, and the servers in them."""

    jobs: int
    servers: int

    def allows(self, quotas: DrsQuotas, servers: int) -> bool:
        """Whether one more job of ``servers`` servers stays within ``quotas``."""
        return (
            self.jobs + 1 <= quotas.max_jobs_in_progress
            and self.servers + servers <= quotas.max_servers_in_progress
        )


def idempotency_key(execution_id: str, wave_name: str, chunk_index: int) -> str:
    """The marker of one chunk: ``"{execution_id}:{wave}:{chunk}"``."""
    return f"{execution_id}:{wave_name}:{chunk_index}"


def plan_chunks(
    execution_id: str,
    wave_run: WaveRun,
    server_ids: Sequence[str],
    *,
    max_servers_per_job: int,
    at: datetime,
) -> list[JobRecord]:
    """Split a wave's servers into chunk intents (no AWS call)."""
    account_id = wave_run.account.account_id if wave_run.account else None
    return [
        JobRecord(
            chunk_index=index,
            idempotency_key=idempotency_key(execution_id, wave_run.wave_name, index),
            server_ids=chunk,
            region=wave_run.region,
            account_id=account_id,
            intent_at=at,
        )
        for index, chunk in enumerate(chunked(list(server_ids), max_servers_per_job))
    ]


_TAG_CHARACTER = re.compile(r"[\w .:/=+\-@]")


def tag_value(text: str) -> str:
    """``text`` made a valid AWS tag value: allowed characters only, at most 256 of them.

    AWS allows letters, digits, white space and ``_ . : / = + - @`` in tag
    values; anything else in a name a user chose (``Payroll & HR (prod) #1``)
    becomes ``_``, so any plan or wave name can label a job.
    """
    cleaned = "".join(c if _TAG_CHARACTER.fullmatch(c) else "_" for c in text)
    return cleaned[:MAX_TAG_VALUE_LENGTH]


def job_tags(execution: Execution, wave_run: WaveRun, chunk: JobRecord) -> dict[str, str]:
    """The tags of a chunk's job (values cut to DRS's 256 characters)."""
    return {
        EXECUTION_ID_TAG: execution.execution_id,
        "PlanId": execution.plan_id,
        "PlanName": tag_value(execution.plan_name),
        "Wave": tag_value(wave_run.wave_name),
        "Chunk": str(chunk.chunk_index),
        "ExecutionType": execution.execution_type.value,
        "ManagedBy": MANAGED_BY,
    }


def count_in_progress(drs: DrsGateway, since: datetime) -> QuotaUsage:
    """Count jobs in progress (``PENDING``/``STARTED``) created since ``since``, and their servers.

    Every job type counts (launch, terminate, ...): the quotas are the account's.
    """
    jobs = [j for j in drs.describe_jobs(from_date=since) if j.get("status") in _IN_PROGRESS]
    return QuotaUsage(
        jobs=len(jobs),
        servers=sum(len(j.get("participatingServers", [])) for j in jobs),
    )


def _matches(job: JobTypeDef | Mapping[str, Any], wanted: Mapping[str, str]) -> bool:
    tags: Mapping[str, str] = job.get("tags") or {}
    return all(tags.get(key) == value for key, value in wanted.items())


def chunk_tags(execution_id: str, wave_name: str, chunk_index: int) -> dict[str, str]:
    """The tags that identify one chunk's job (a subset of :func:`job_tags`)."""
    return {
        EXECUTION_ID_TAG: execution_id,
        "Wave": tag_value(wave_name),
        "Chunk": str(chunk_index),
    }


def find_chunk_job(
    drs: DrsGateway,
    execution_id: str,
    wave_name: str,
    chunk_index: int,
    *,
    since: datetime,
) -> JobTypeDef | None:
    """Find the job of one chunk among the jobs created since ``since``, by its tags.

    ``since`` is in DRS's time. If several match (which only a job started
    outside this library's bookkeeping could cause), the earliest is
    returned and a warning logged.
    """
    wanted = chunk_tags(execution_id, wave_name, chunk_index)
    matching = [j for j in drs.describe_jobs(from_date=since) if _matches(j, wanted)]
    if not matching:
        return None
    matching.sort(key=lambda j: (str(j.get("creationDateTime", "")), j["jobID"]))
    if len(matching) > 1:
        logger.warning(
            "several DRS jobs carry the tags of one chunk; recording the earliest",
            extra={
                "executionId": execution_id,
                "wave": wave_name,
                "chunk": chunk_index,
                "jobIds": [j["jobID"] for j in matching],
            },
        )
    return matching[0]


def find_execution_jobs(drs: DrsGateway, execution_id: str, *, since: datetime) -> list[JobTypeDef]:
    """Every launch job created since ``since`` (DRS's time) that carries the execution's tag."""
    return [
        j
        for j in drs.describe_jobs(from_date=since)
        if (j.get("tags") or {}).get(EXECUTION_ID_TAG) == execution_id
    ]


def _snapshot_time(snapshot: Mapping[str, Any]) -> datetime | None:
    value = snapshot.get("timestamp") or snapshot.get("expectedTimestamp")
    return parse_drs_timestamp(str(value)) if value else None


def select_snapshots(
    drs: DrsGateway, server_ids: Iterable[str], point_in_time: datetime
) -> dict[str, tuple[str, datetime]]:
    """Pick, per server, the latest recovery snapshot taken at or before ``point_in_time``.

    Returns:
        Each server's snapshot ID and the time it was taken.

    Raises:
        RecoveryError: naming every server that has no snapshot at or before
            that time (no job is started for the wave).
    """
    chosen: dict[str, tuple[str, datetime]] = {}
    missing: list[str] = []
    # DRS filters take whole seconds: ask up to the next second and compare exactly here.
    upper = point_in_time + timedelta(seconds=1)
    for sid in server_ids:
        candidates = [
            (taken, snap["snapshotID"])
            for snap in drs.describe_recovery_snapshots(sid, to_time=upper, order="DESC")
            if (taken := _snapshot_time(snap)) is not None and taken <= point_in_time
        ]
        if candidates:
            taken, snapshot_id = max(candidates)
            chosen[sid] = (snapshot_id, taken)
        else:
            missing.append(sid)
    if missing:
        raise RecoveryError(
            f"{len(missing)} source server(s) have no recovery snapshot at or before "
            f"{point_in_time.isoformat()}: {', '.join(missing)}",
            details={"servers": missing, "pointInTime": point_in_time.isoformat()},
        )
    return chosen
