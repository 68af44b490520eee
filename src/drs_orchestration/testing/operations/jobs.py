"""Jobs: start recovery (drills too), terminate recovery instances, failback launch, describe.

Which servers ``StartRecovery`` launches, and from what, is the model in
:mod:`drs_orchestration.testing.replication`: a ``CONTINUOUS`` server from
an on-demand snapshot (``SNAPSHOT_START``/``SNAPSHOT_END``), a server whose
data no longer flows from its latest recovery snapshot
(``USING_PREVIOUS_SNAPSHOT``; the recovery instance's
``pointInTimeSnapshotDateTime`` is that snapshot's time), a named
``recoverySnapshotID`` from that snapshot. Drills and recoveries follow the
same rule.

Refusals, and why these codes (the model lists the errors per operation;
DRS documents no message texts, so the messages are the simulator's):

- a server already in a job in progress, a ``STOPPED``/``DISCONNECTED``
  server, a server with no recovery snapshot that is not ``CONTINUOUS``, an
  instance not ready for failback → ``ConflictException`` naming the server
  and its state (the only state error ``StartRecovery`` models);
- job quotas (servers per job, jobs in progress, servers in jobs in
  progress) → ``ServiceQuotaExceededException``;
- IDs the caller's account does not have, a duplicate in one request, an
  unknown recovery snapshot, tags AWS's tag rules refuse, an impossible date
  or a reversed window in ``DescribeJobs`` → ``ValidationException`` naming
  the field.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import Any, Literal

from drs_orchestration.testing.errors import (
    FieldProblem,
    conflict,
    not_found,
    quota_exceeded,
    validation_failed,
)
from drs_orchestration.testing.operations import OpContext, operation
from drs_orchestration.testing.operations.paging import paginate
from drs_orchestration.testing.operations.tags import check_tags
from drs_orchestration.testing.render import render_job, render_log_item
from drs_orchestration.testing.replication import (
    NO_SNAPSHOT_STATES,
    current_state,
    latest_snapshot,
    point_in_time_snapshots,
)
from drs_orchestration.testing.service import arn, date_window
from drs_orchestration.testing.state import Job, LastLaunch, ParticipatingServer, SourceServer

__all__ = ["check_ids", "check_quotas", "new_job"]


def check_quotas(ctx: OpContext, count: int) -> None:
    """Refuse a job of ``count`` servers that the account's quotas do not allow."""
    quotas = ctx.sim.quotas
    if count > quotas.max_servers_per_job:
        raise quota_exceeded(
            f"A job can include at most {quotas.max_servers_per_job} source servers "
            f"({count} requested)",
            quota_code=quotas.servers_per_job_code,
            resource_type="SOURCE_SERVER",
        )
    active = ctx.state.active_jobs()
    if len(active) >= quotas.max_jobs_in_progress:
        raise quota_exceeded(
            f"At most {quotas.max_jobs_in_progress} jobs can be in progress ({len(active)} are)",
            quota_code=quotas.jobs_in_progress_code,
            resource_type="JOB",
        )
    busy = sum(len(job.servers) for job in active)
    if busy + count > quotas.max_servers_in_progress:
        raise quota_exceeded(
            f"At most {quotas.max_servers_in_progress} source servers can be in jobs in "
            f"progress ({busy} are, {count} requested)",
            quota_code=quotas.servers_in_progress_code,
            resource_type="SOURCE_SERVER",
        )


def check_ids(ids: Sequence[str], known: Container[str], path: str, label: str) -> None:
    """Refuse duplicate IDs and IDs the account does not have, naming each field.

    ``path`` holds a ``{}`` for the element's 1-based index, as AWS writes paths.
    """
    seen: set[str] = set()
    problems = []
    for index, value in enumerate(ids):
        if value in seen:
            problems.append(FieldProblem(path.format(index + 1), "Member must be unique", value))
        elif value not in known:
            problems.append(FieldProblem(path.format(index + 1), f"{label} not found", value))
        seen.add(value)
    if problems:
        raise validation_failed(problems)


def _check_not_busy(ctx: OpContext, server_ids: Sequence[str]) -> None:
    busy = ctx.state.busy_servers()
    for server_id in server_ids:
        if server_id in busy:
            raise conflict(
                f"Source server {server_id} is already part of job {busy[server_id]}, "
                "which is in progress",
                resource_id=server_id,
                resource_type="SOURCE_SERVER",
            )


def new_job(
    ctx: OpContext,
    *,
    job_type: Literal["LAUNCH", "TERMINATE"],
    initiated_by: str,
    servers: list[ParticipatingServer],
    tags: dict[str, str] | None,
    is_drill: bool = False,
) -> Job:
    """Create and store a job (its schedule is planned by the caller)."""
    job_id = ctx.sim.ids.job()
    job = Job(
        job_id=job_id,
        arn=arn("job", ctx.region, ctx.account_id, job_id),
        account_id=ctx.account_id,
        region=ctx.region,
        job_type=job_type,
        initiated_by=initiated_by,
        created_at=ctx.now,
        servers=servers,
        tags=dict(tags or {}),
        is_drill=is_drill,
    )
    ctx.state.jobs[job_id] = job
    return job


def _launch_point(
    ctx: OpContext, server: SourceServer, snapshot_id: str | None, index: int
) -> ParticipatingServer:
    """What the server launches from, or the refusal DRS answers (see the module docstring)."""
    state = current_state(server.replication, ctx.now)
    if state in NO_SNAPSHOT_STATES:
        raise conflict(
            f"Source server {server.server_id} is not ready for recovery: data replication "
            f"state is {state}, and its replication resources and recovery snapshots are gone",
            resource_id=server.server_id,
            resource_type="SOURCE_SERVER",
        )
    if snapshot_id:
        for snapshot in point_in_time_snapshots(server, ctx.now):
            if snapshot.snapshot_id == snapshot_id:
                return ParticipatingServer(
                    server.server_id, snapshot_id=snapshot_id, point_in_time=snapshot.taken
                )
        raise validation_failed(
            [
                FieldProblem(
                    f"sourceServers.{index + 1}.member.recoverySnapshotID",
                    f"Recovery snapshot not found for source server {server.server_id}",
                    snapshot_id,
                )
            ]
        )
    if state == "CONTINUOUS":
        return ParticipatingServer(server.server_id)  # an on-demand snapshot
    latest = latest_snapshot(server, ctx.now)
    if latest is None:
        raise conflict(
            f"Source server {server.server_id} is not ready for recovery: data replication "
            f"state is {state} and it has no recovery snapshot yet",
            resource_id=server.server_id,
            resource_type="SOURCE_SERVER",
        )
    return ParticipatingServer(
        server.server_id, snapshot_id=latest.snapshot_id, point_in_time=latest.taken
    )


@operation("StartRecovery")
def start_recovery(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Start a drill (``isDrill``) or a recovery of up to the per-job quota of servers."""
    check_tags(params.get("tags") or {})
    requested = params["sourceServers"]
    ids = [entry["sourceServerID"] for entry in requested]
    check_ids(ids, ctx.state.servers, "sourceServers.{}.member.sourceServerID", "Source server")
    check_quotas(ctx, len(ids))
    _check_not_busy(ctx, ids)
    entries = [
        _launch_point(
            ctx, ctx.state.servers[entry["sourceServerID"]], entry.get("recoverySnapshotID"), index
        )
        for index, entry in enumerate(requested)
    ]
    is_drill = bool(params.get("isDrill", False))
    job = new_job(
        ctx,
        job_type="LAUNCH",
        initiated_by="START_DRILL" if is_drill else "START_RECOVERY",
        servers=entries,
        tags=params.get("tags"),
        is_drill=is_drill,
    )
    for entry in entries:
        ctx.state.servers[entry.source_server_id].last_launch = LastLaunch(
            job.job_id, "DRILL" if is_drill else "RECOVERY", ctx.now
        )
    ctx.sim.engine.plan_launch(job)
    return {"job": render_job(job)}


@operation("TerminateRecoveryInstances")
def terminate_recovery_instances(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Start a job that terminates recovery instances (EC2 included) and removes them from DRS."""
    ids = list(params["recoveryInstanceIDs"])
    check_ids(ids, ctx.state.instances, "recoveryInstanceIDs.{}.member", "Recovery instance")
    instances = [ctx.state.instances[i] for i in ids]
    check_quotas(ctx, len(instances))
    _check_not_busy(ctx, [i.source_server_id for i in instances])
    for instance in instances:
        if not instance.launched:
            raise conflict(
                f"Recovery instance {instance.recovery_instance_id} is still launching",
                resource_id=instance.recovery_instance_id,
                resource_type="RECOVERY_INSTANCE",
            )
    job = new_job(
        ctx,
        job_type="TERMINATE",
        initiated_by="TERMINATE_RECOVERY_INSTANCES",
        servers=[
            ParticipatingServer(i.source_server_id, recovery_instance_id=i.recovery_instance_id)
            for i in instances
        ],
        tags=None,
    )
    ctx.sim.engine.plan_terminate(job)
    return {"job": render_job(job)}


@operation("DescribeJobs")
def describe_jobs(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Jobs, latest first, filtered by ID and creation time."""
    filters = params.get("filters") or {}
    ids = set(filters.get("jobIDs") or [])
    low, high = date_window(filters, "fromDate", "toDate")
    jobs = [
        job
        for job in ctx.state.jobs.values()
        if (not ids or job.job_id in ids)
        and (low is None or job.created_at >= low)
        and (high is None or job.created_at <= high)
    ]
    jobs.sort(key=lambda job: job.created_at, reverse=True)
    page, token = paginate(jobs, params, scope="DescribeJobs", default_page_size=ctx.sim.page_size)
    return {"items": [render_job(job) for job in page], "nextToken": token}


@operation("DescribeJobLogItems")
def describe_job_log_items(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """A job's log, oldest first (an unknown job has an empty log)."""
    job = ctx.state.jobs.get(params["jobID"])
    log = list(job.log) if job is not None else []
    page, token = paginate(
        log,
        params,
        scope=f"DescribeJobLogItems/{params['jobID']}",
        default_page_size=ctx.sim.page_size,
    )
    return {"items": [render_log_item(entry) for entry in page], "nextToken": token}


@operation("DeleteJob")
def delete_job(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Delete a finished job."""
    job = ctx.state.jobs.get(params["jobID"])
    if job is None:
        raise not_found(
            f"Job {params['jobID']} not found", resource_id=params["jobID"], resource_type="JOB"
        )
    if job.in_progress:
        raise conflict(
            f"Job {job.job_id} is in progress", resource_id=job.job_id, resource_type="JOB"
        )
    del ctx.state.jobs[job.job_id]
    return {}
