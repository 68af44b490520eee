"""Recovery instances: describe, disconnect, delete, and failback (reverse replication and launch).

In-AWS failback (documented: ``ReverseReplication`` "for recovery instances
on target region - starts replication back to origin region. For failback
instances on origin region - starts replication to target region to
re-protect them"): ``ReverseReplication`` on a recovery instance creates a
source server replicating back to the origin region (and account), with
``replicationDirection=FAILBACK``, whose replication moves INITIATING →
INITIAL_SYNC → CONTINUOUS with its lag shrinking; the instance's
``failback.state`` goes FAILBACK_IN_PROGRESS → FAILBACK_READY_FOR_LAUNCH.
The reversed source server is then recovered with ``StartRecovery`` in the
origin.

The Failback Client path (on premises): once a client is connected
(:meth:`~drs_orchestration.testing.DrsSimulator.connect_failback_client`,
standing in for the machine booted from the Failback Client), its replication
moves the same way and ``StartFailbackLaunch`` runs a FAILBACK job that ends
in FAILBACK_COMPLETED; ``StopFailback`` goes back to FAILBACK_NOT_STARTED.

Assumed where AWS is silent:

- ``ReverseReplication`` reuses the source server the instance's own source
  server names in ``reversedDirectionSourceServerArn`` when it still exists in
  the target account and region (so re-protecting a failed-back instance
  replicates into the original source server again), and creates one
  otherwise. A reversal already running is refused with ``ConflictException``.
- A recovery instance whose reversed source server is recovered (not
  drilled) in the origin reads FAILBACK_COMPLETED from the end of that launch;
  a drill of it sets ``failbackLaunchType`` DRILL and changes nothing else.
- The recovery instance's own ``lagDuration`` (typed as a date-time in the
  model) is left out; the lag shows on the reversed source server.
- A reversal whose replication no longer flows (``STOPPED``, ``STALLED``,
  ``DISCONNECTED``) reads FAILBACK_ERROR.
"""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from drs_orchestration.testing.ec2 import Ec2LaunchError, InstanceInfo
from drs_orchestration.testing.errors import (
    DrsServiceError,
    FieldProblem,
    conflict,
    not_found,
    validation_failed,
)
from drs_orchestration.testing.launch import write_drs_template_fields
from drs_orchestration.testing.operations import OpContext, operation
from drs_orchestration.testing.operations.jobs import check_ids, check_quotas, new_job
from drs_orchestration.testing.operations.paging import paginate
from drs_orchestration.testing.operations.tags import check_tags
from drs_orchestration.testing.operations.templates import default_template
from drs_orchestration.testing.render import (
    render_failback_configuration,
    render_job,
    render_recovery_instance,
)
from drs_orchestration.testing.replication import (
    ReplicationView,
    change_replication,
    replication_view,
)
from drs_orchestration.testing.seeding import reverse_replication_of, reversed_server
from drs_orchestration.testing.service import format_datetime
from drs_orchestration.testing.state import (
    AwsOrigin,
    FailbackProgress,
    Nic,
    ParticipatingServer,
    RecoveryInstance,
    Replication,
    SourceServer,
)

__all__ = ["failback_state", "parse_server_arn", "require_instance", "server_by_arn"]

_SERVER_ARN = re.compile(
    r"^arn:[a-z-]+:drs:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):source-server/(?P<sid>s-\w+)$"
)


def parse_server_arn(value: str | None) -> tuple[str, str, str] | None:
    """(account, region, source server ID) of a source server ARN, ``None`` if it is not one."""
    match = _SERVER_ARN.match(value or "")
    return (match["account"], match["region"], match["sid"]) if match else None


def server_by_arn(ctx: OpContext, value: str | None) -> SourceServer | None:
    """The source server an ARN names, in whatever account and region it lives."""
    parts = parse_server_arn(value)
    if parts is None:
        return None
    account, region, sid = parts
    return ctx.sim.region_state(account, region).servers.get(sid)


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
    if progress is None or progress.reversed_server_id is None:
        return None
    account = progress.reversed_account_id or ctx.account_id
    region = progress.reversed_region or ctx.region
    return ctx.sim.region_state(account, region).servers.get(progress.reversed_server_id)


def _failback_view(ctx: OpContext, instance: RecoveryInstance) -> ReplicationView | None:
    """How the instance's failback replication looks now (``None``: none is running)."""
    progress = instance.failback
    if progress is None:
        return None
    if progress.client_replication is not None:
        return replication_view(progress.client_replication, ctx.now)
    twin = _twin_of(ctx, instance)
    return None if twin is None else replication_view(twin.replication, ctx.now)


def _failback_since(ctx: OpContext, instance: RecoveryInstance) -> datetime | None:
    progress = instance.failback
    if progress is None:
        return None
    if progress.client_replication is not None:
        return progress.client_replication.since
    twin = _twin_of(ctx, instance)
    return None if twin is None else twin.replication.since


def failback_state(ctx: OpContext, instance: RecoveryInstance) -> str:
    """The instance's ``failback.state`` now."""
    progress = instance.failback
    if progress is None:
        return "FAILBACK_NOT_STARTED"
    if progress.completed:
        return "FAILBACK_COMPLETED"
    if progress.job_id is not None:
        return "FAILBACK_IN_PROGRESS"
    view = _failback_view(ctx, instance)
    if view is None:
        return "FAILBACK_ERROR"
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
    view = _failback_view(ctx, instance)
    if view is not None and view.first_byte_at is not None:
        item["firstByteDateTime"] = format_datetime(view.first_byte_at)
    if progress.client_id is not None:
        item["failbackClientID"] = progress.client_id
        if view is not None:
            item["failbackClientLastSeenByServiceDateTime"] = format_datetime(view.last_seen)
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
    view = _failback_view(ctx, instance)
    since = _failback_since(ctx, instance)
    if view is None or since is None:
        return {"dataReplicationState": "NOT_STARTED"}
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
        "dataReplicationInitiation": {"startDateTime": format_datetime(since)},
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
    progress = instance.failback
    if progress is not None and progress.client_replication is not None:
        progress.client_replication = Replication("STOPPED", now, stuck=True)
        return
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
    """Replicate a recovery instance back to the region (and account) its server came from.

    On a failed-back instance in the origin, that is the recovery region again:
    re-protection into the original source server (module docstring).
    """
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
    here = AwsOrigin(
        account_id=ctx.account_id,
        region=ctx.region,
        availability_zone=instance.availability_zone or f"{ctx.region}a",
        instance_id=instance.ec2_instance_id,
        instance_type=instance.instance_type,
    )
    replication = reverse_replication_of(
        ctx.sim, server, ctx.sim.faults.take_reverse_fault(instance.recovery_instance_id)
    )
    twin = server_by_arn(ctx, server.reversed_arn)
    if twin is not None and (twin.account_id, twin.region) == (origin.account_id, origin.region):
        change_replication(twin, replication, ctx.now)
        twin.origin = here
        mac = twin.nics[0].mac if twin.nics else ctx.sim.ids.mac()
        twin.nics = [Nic(mac, [instance.private_ip] if instance.private_ip else [])]
        twin.reversed_arn = server.arn
    else:
        twin = reversed_server(
            ctx.sim,
            server,
            instance,
            here,
            target_account_id=origin.account_id,
            target_region=origin.region,
            replication=replication,
        )
    if twin.direction == "FAILBACK":
        _launch_into_source_instance(ctx, server, twin)
    server.reversed_arn = twin.arn
    instance.failback = FailbackProgress(
        started_at=ctx.now,
        reversed_server_id=twin.server_id,
        reversed_account_id=origin.account_id,
        reversed_region=origin.region,
    )
    return {"reversedDirectionSourceServerArn": twin.arn}


def _launch_into_source_instance(ctx: OpContext, server: SourceServer, twin: SourceServer) -> None:
    """Apply the target region's ``launchIntoSourceInstance`` to a failing-back server.

    See :mod:`~drs_orchestration.testing.operations.templates` for what is assumed.
    """
    template = default_template(ctx.sim.region_state(twin.account_id, twin.region))
    original = server.origin.instance_id if server.origin is not None else None
    if not template.get("launchIntoSourceInstance") or not original:
        return
    found = ctx.sim.ec2.describe(twin.account_id, twin.region, twin.template_home, original)
    if found is None or found.state in ("terminated", "shutting-down"):
        return
    twin.launch_config["launchIntoInstanceProperties"] = {"launchIntoEC2InstanceID": original}
    twin.launch_config["copyPrivateIp"] = False
    twin.launch_config["copyTags"] = False
    # A template that cannot be written keeps what it had; the settings still name the instance.
    with contextlib.suppress(Ec2LaunchError):
        write_drs_template_fields(ctx.sim.ec2, twin)


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
