"""Recovery instances: describe, disconnect, delete, and failback (reverse replication and launch).

Failback follows the in-AWS flow: ``ReverseReplication`` on a recovery
instance creates a source server replicating back to the origin region (and
account), whose replication moves INITIATING → INITIAL_SYNC → CONTINUOUS
with its lag shrinking; the instance's ``failback.state`` goes
FAILBACK_IN_PROGRESS → FAILBACK_READY_FOR_LAUNCH; ``StartFailbackLaunch``
runs a FAILBACK job that ends in FAILBACK_COMPLETED; ``StopFailback`` goes
back to FAILBACK_NOT_STARTED.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from drs_orchestration.testing.ec2 import InstanceInfo
from drs_orchestration.testing.errors import (
    DrsServiceError,
    FieldProblem,
    conflict,
    not_found,
    validation_failed,
)
from drs_orchestration.testing.operations import OpContext, operation
from drs_orchestration.testing.operations.jobs import check_ids, check_quotas, new_job
from drs_orchestration.testing.operations.paging import paginate
from drs_orchestration.testing.operations.tags import check_tags
from drs_orchestration.testing.render import (
    render_failback_configuration,
    render_job,
    render_recovery_instance,
)
from drs_orchestration.testing.replication import change_replication, replication_view
from drs_orchestration.testing.seeding import reversed_server
from drs_orchestration.testing.service import format_datetime
from drs_orchestration.testing.state import (
    AwsOrigin,
    FailbackProgress,
    ParticipatingServer,
    RecoveryInstance,
    Replication,
    SourceServer,
)

__all__ = ["failback_state", "require_instance"]


def require_instance(ctx: OpContext, instance_id: str) -> RecoveryInstance:
    """The recovery instance, or ``ResourceNotFoundException``."""
    instance = ctx.state.instances.get(instance_id)
    if instance is None:
        raise not_found(
            f"Recovery instance {instance_id} not found",
            resource_id=instance_id,
            resource_type="RECOVERY_INSTANCE",
        )
    return instance


def _twin_of(ctx: OpContext, instance: RecoveryInstance) -> SourceServer | None:
    """The source server replicating the instance back to its origin, if failback started."""
    progress = instance.failback
    if progress is None:
        return None
    return ctx.sim.region_state(progress.reversed_account_id, progress.reversed_region).servers.get(
        progress.reversed_server_id
    )


def failback_state(ctx: OpContext, instance: RecoveryInstance) -> str:
    """The instance's ``failback.state`` now."""
    progress = instance.failback
    if progress is None:
        return "FAILBACK_NOT_STARTED"
    if progress.completed:
        return "FAILBACK_COMPLETED"
    if progress.job_id is not None:
        return "FAILBACK_IN_PROGRESS"
    twin = _twin_of(ctx, instance)
    if twin is None:
        return "FAILBACK_ERROR"
    view = replication_view(twin.replication, ctx.now)
    if view.state == "CONTINUOUS":
        return "FAILBACK_READY_FOR_LAUNCH"
    if view.state in ("STOPPED", "STALLED", "DISCONNECTED"):
        return "FAILBACK_ERROR"
    return "FAILBACK_IN_PROGRESS"


def _failback(
    ctx: OpContext, instance: RecoveryInstance, server: SourceServer | None
) -> dict[str, Any]:
    progress = instance.failback
    if progress is None:
        return {"state": "FAILBACK_NOT_STARTED"}
    item: dict[str, Any] = {
        "state": failback_state(ctx, instance),
        "failbackInitiationTime": format_datetime(progress.started_at),
        "agentLastSeenByServiceDateTime": format_datetime(ctx.now),
        "failbackToOriginalServer": bool(server and server.origin and server.origin.instance_id),
    }
    twin = _twin_of(ctx, instance)
    if twin is not None:
        view = replication_view(twin.replication, ctx.now)
        if view.first_byte_at is not None:
            item["firstByteDateTime"] = format_datetime(view.first_byte_at)
    if progress.job_id is not None:
        item["failbackJobID"] = progress.job_id
    if progress.launch_type is not None:
        item["failbackLaunchType"] = progress.launch_type
    return item


def _data_replication(
    ctx: OpContext, instance: RecoveryInstance, server: SourceServer | None
) -> dict[str, Any]:
    # The model types this lagDuration as a date-time string; the simulator leaves it out
    # rather than guess, and shows the lag on the reversed source server instead.
    disks = server.disks if server is not None else []
    if instance.disconnected:
        return {
            "dataReplicationState": "DISCONNECTED",
            "replicatedDisks": [
                {"deviceName": d.device_name, "totalStorageBytes": 0} for d in disks
            ],
        }
    twin = _twin_of(ctx, instance)
    if twin is None:
        return {"dataReplicationState": "NOT_STARTED"}
    view = replication_view(twin.replication, ctx.now)
    info: dict[str, Any] = {
        "dataReplicationState": view.state,
        "replicatedDisks": [
            {
                "deviceName": d.device_name,
                "totalStorageBytes": d.size_bytes,
                "replicatedStorageBytes": int(d.size_bytes * view.progress),
                "rescannedStorageBytes": 0,
                "backloggedStorageBytes": d.size_bytes - int(d.size_bytes * view.progress),
            }
            for d in disks
        ],
        "dataReplicationInitiation": {"startDateTime": format_datetime(twin.replication.since)},
    }
    if view.eta is not None:
        info["etaDateTime"] = format_datetime(view.eta)
    return info


@operation("DescribeRecoveryInstances")
def describe_recovery_instances(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Recovery instances, filtered by ID or source server, with their live EC2 state."""
    filters = params.get("filters") or {}
    ids = set(filters.get("recoveryInstanceIDs") or [])
    servers = set(filters.get("sourceServerIDs") or [])
    instances = [
        i
        for i in ctx.state.instances.values()
        if (not ids or i.recovery_instance_id in ids)
        and (not servers or i.source_server_id in servers)
    ]
    page, token = paginate(
        instances, params, scope="DescribeRecoveryInstances", default_page_size=ctx.sim.page_size
    )
    by_home: dict[str, list[str]] = defaultdict(list)
    for instance in page:
        if instance.launched:
            by_home[instance.ec2_home].append(instance.ec2_instance_id)
    live: dict[str, InstanceInfo] = {}
    for home, ec2_ids in by_home.items():
        live.update(
            ctx.sim.ec2.describe_many(ctx.account_id, ctx.region, home, ec2_ids)  # type: ignore[arg-type]
        )
    items = []
    for instance in page:
        server = ctx.state.servers.get(instance.source_server_id)
        items.append(
            render_recovery_instance(
                instance,
                server,
                live.get(instance.ec2_instance_id),
                _failback(ctx, instance, server),
                _data_replication(ctx, instance, server),
            )
        )
    return {"items": items, "nextToken": token}


def _stop_reverse_replication(ctx: OpContext, instance: RecoveryInstance, now: datetime) -> None:
    twin = _twin_of(ctx, instance)
    if twin is not None:
        change_replication(twin, Replication("STOPPED", now, stuck=True), now)


@operation("DisconnectRecoveryInstance")
def disconnect_recovery_instance(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Stop DRS's data replication for the instance; the EC2 instance stays."""
    instance = require_instance(ctx, params["recoveryInstanceID"])
    busy = ctx.state.busy_servers().get(instance.source_server_id)
    if busy is not None:
        raise conflict(
            f"Recovery instance {instance.recovery_instance_id} is part of job {busy}",
            resource_id=instance.recovery_instance_id,
            resource_type="RECOVERY_INSTANCE",
        )
    _stop_reverse_replication(ctx, instance, ctx.now)
    instance.disconnected = True
    return {}


@operation("DeleteRecoveryInstance")
def delete_recovery_instance(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Remove a disconnected recovery instance from DRS (its EC2 instance stays)."""
    instance = require_instance(ctx, params["recoveryInstanceID"])
    if not instance.disconnected:
        raise conflict(
            f"Recovery instance {instance.recovery_instance_id} must be disconnected first",
            resource_id=instance.recovery_instance_id,
            resource_type="RECOVERY_INSTANCE",
        )
    del ctx.state.instances[instance.recovery_instance_id]
    server = ctx.state.servers.get(instance.source_server_id)
    if server is not None and server.recovery_instance_id == instance.recovery_instance_id:
        server.recovery_instance_id = None
    return {}


def _invalid(instance: RecoveryInstance, why: str) -> DrsServiceError:
    return validation_failed(
        [
            FieldProblem(
                "recoveryInstanceID", f"Reverse replication {why}", instance.recovery_instance_id
            )
        ]
    )


@operation("ReverseReplication")
def reverse_replication(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Start replicating a recovery instance back to the region (and account) it came from."""
    instance = require_instance(ctx, params["recoveryInstanceID"])
    server = ctx.state.servers.get(instance.source_server_id)
    if server is None or server.origin is None:
        raise _invalid(instance, "applies only to source servers that originated in EC2")
    if instance.is_drill:
        raise _invalid(instance, "is not available for drill instances")
    if not instance.launched or instance.disconnected:
        raise conflict(
            f"Recovery instance {instance.recovery_instance_id} is not launched and connected",
            resource_id=instance.recovery_instance_id,
            resource_type="RECOVERY_INSTANCE",
        )
    if failback_state(ctx, instance) in ("FAILBACK_IN_PROGRESS", "FAILBACK_READY_FOR_LAUNCH"):
        raise conflict(
            f"Reverse replication of {instance.recovery_instance_id} is already running",
            resource_id=instance.recovery_instance_id,
            resource_type="RECOVERY_INSTANCE",
        )
    origin = server.origin
    created = reversed_server(
        ctx.sim,
        server,
        instance,
        AwsOrigin(
            account_id=ctx.account_id,
            region=ctx.region,
            availability_zone=instance.availability_zone or f"{ctx.region}a",
            instance_id=instance.ec2_instance_id,
            instance_type=instance.instance_type,
        ),
        target_account_id=origin.account_id,
        target_region=origin.region,
    )
    server.reversed_arn = created.arn
    instance.failback = FailbackProgress(
        started_at=ctx.now,
        reversed_server_id=created.server_id,
        reversed_account_id=origin.account_id,
        reversed_region=origin.region,
    )
    return {"reversedDirectionSourceServerArn": created.arn}


@operation("StopFailback")
def stop_failback(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Stop failback: the instance's failback state goes back to FAILBACK_NOT_STARTED."""
    instance = require_instance(ctx, params["recoveryInstanceID"])
    _stop_reverse_replication(ctx, instance, ctx.now)
    instance.failback = None
    return {}


@operation("StartFailbackLaunch")
def start_failback_launch(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Start a FAILBACK job for instances whose failback is ready for launch."""
    check_tags(params.get("tags") or {})
    ids = list(params["recoveryInstanceIDs"])
    check_ids(ids, ctx.state.instances, "recoveryInstanceIDs.{}.member", "Recovery instance")
    instances = [ctx.state.instances[i] for i in ids]
    for instance in instances:
        state = failback_state(ctx, instance)
        if state != "FAILBACK_READY_FOR_LAUNCH":
            raise conflict(
                f"Recovery instance {instance.recovery_instance_id} is not ready for failback "
                f"launch (failback state {state})",
                resource_id=instance.recovery_instance_id,
                resource_type="RECOVERY_INSTANCE",
            )
    check_quotas(ctx, len(instances))
    job = new_job(
        ctx,
        job_type="LAUNCH",
        initiated_by="FAILBACK",
        servers=[
            ParticipatingServer(i.source_server_id, recovery_instance_id=i.recovery_instance_id)
            for i in instances
        ],
        tags=params.get("tags"),
    )
    for instance in instances:
        assert instance.failback is not None
        instance.failback.job_id = job.job_id
        instance.failback.launch_type = "RECOVERY"
    ctx.sim.engine.plan_failback(job)
    return {"job": render_job(job)}


@operation("GetFailbackReplicationConfiguration")
def get_failback_replication_configuration(
    ctx: OpContext, params: dict[str, Any]
) -> dict[str, Any]:
    """The failback replication settings of a recovery instance."""
    return render_failback_configuration(require_instance(ctx, params["recoveryInstanceID"]))


@operation("UpdateFailbackReplicationConfiguration")
def update_failback_replication_configuration(
    ctx: OpContext, params: dict[str, Any]
) -> dict[str, Any]:
    """Change the failback replication settings of a recovery instance."""
    instance = require_instance(ctx, params["recoveryInstanceID"])
    for key in ("name", "bandwidthThrottling", "usePrivateIP", "internetProtocol"):
        if key in params:
            instance.failback_config[key] = params[key]
    return {}
