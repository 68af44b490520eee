"""Helpers shared by the simulator's tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient

REGION = "us-east-1"
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def run_drill(
    drs: DrsClient, server_ids: list[str], *, is_drill: bool = True, **kwargs: Any
) -> dict[str, Any]:
    """Start a drill (or recovery) of ``server_ids`` and return the job."""
    response = drs.start_recovery(
        sourceServers=[{"sourceServerID": s} for s in server_ids], isDrill=is_drill, **kwargs
    )
    return dict(response["job"])


def job_of(drs: DrsClient, job_id: str) -> dict[str, Any]:
    """The job as DescribeJobs returns it now."""
    return dict(drs.describe_jobs(filters={"jobIDs": [job_id]})["items"][0])


def log_events(drs: DrsClient, job_id: str) -> list[dict[str, Any]]:
    """Every log item of a job, through the paginator."""
    pages = drs.get_paginator("describe_job_log_items").paginate(jobID=job_id)
    return [item for page in pages for item in page["items"]]
