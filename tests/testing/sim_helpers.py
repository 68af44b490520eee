"""Helpers shared by the simulator's tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory

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


def simulated_state(sim: DrsSimulator) -> tuple[Any, ...]:
    """Everything a DRS call could change: DRS state, scheduled transitions, RNGs, EC2 in moto.

    Compare two of these to prove a call changed nothing (the call log aside).
    """
    ec2: list[Any] = []
    if sim.ec2_available:
        for region in sorted({state.region for state in sim.regions()}):
            client = SimulatedClientFactory(sim).client("ec2", region)
            reservations = client.describe_instances()["Reservations"]
            templates = client.describe_launch_templates()["LaunchTemplates"]
            ec2.append(
                (
                    sorted(
                        (i["InstanceId"], i["State"]["Name"])
                        for r in reservations
                        for i in r["Instances"]
                    ),
                    sorted(
                        (t["LaunchTemplateId"], t["LatestVersionNumber"], t["DefaultVersionNumber"])
                        for t in templates
                    ),
                )
            )
    return (
        copy.deepcopy(sim.regions()),
        sim.engine.pending,
        sim.engine.next_due(),
        sim.rng.getstate(),
        ec2,
    )
