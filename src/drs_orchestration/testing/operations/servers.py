"""Source servers: describe, launch configuration, snapshots, staging accounts, stop, disconnect.

``StopReplication`` and ``DisconnectSourceServer`` follow the model's
documentation: stopping deletes the server's snapshots and leaves it
``STOPPED``; disconnecting is refused while the server has a recovery
instance and leaves it ``DISCONNECTED``. Assumed: both are refused with
``ConflictException`` while the server is in a job in progress, and
stopping a server that is already ``STOPPED`` or ``DISCONNECTED`` is refused
the same way.
"""

from __future__ import annotations

from typing import Any

from drs_orchestration.testing.ec2 import Ec2LaunchError
from drs_orchestration.testing.errors import (
    FieldProblem,
    conflict,
    internal_error,
    not_found,
    validation_failed,
)
from drs_orchestration.testing.launch import recommended_instance_type, write_drs_template_fields
from drs_orchestration.testing.operations import OpContext, operation
from drs_orchestration.testing.operations.paging import paginate
from drs_orchestration.testing.render import (
    render_launch_configuration,
    render_snapshot,
    render_source_server,
)
from drs_orchestration.testing.replication import (
    change_replication,
    current_state,
    point_in_time_snapshots,
)
from drs_orchestration.testing.service import date_window
from drs_orchestration.testing.state import Replication, SourceServer

__all__ = ["require_server"]

_LAUNCH_CONFIGURATION_FIELDS = (
    "name",
    "launchDisposition",
    "targetInstanceTypeRightSizingMethod",
    "copyPrivateIp",
    "copyTags",
    "licensing",
    "postLaunchEnabled",
    "recoveryMode",
)


def require_server(ctx: OpContext, server_id: str) -> SourceServer:
    """The source server, or ``ResourceNotFoundException``."""
    server = ctx.state.servers.get(server_id)
    if server is None:
        raise not_found(
            f"Source server {server_id} not found",
            resource_id=server_id,
            resource_type="SOURCE_SERVER",
        )
    return server


@operation("DescribeSourceServers")
def describe_source_servers(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Source servers, filtered by ID, hardware ID or staging account."""
    filters = params.get("filters") or {}
    ids = set(filters.get("sourceServerIDs") or [])
    staging = set(filters.get("stagingAccountIDs") or [])
    hardware = filters.get("hardwareId")
    servers = [
        s
        for s in ctx.state.servers.values()
        if (not ids or s.server_id in ids)
        and (not staging or (s.staging_account_id or s.account_id) in staging)
        and (not hardware or s.hardware_id == hardware)
    ]
    page, token = paginate(
        servers, params, scope="DescribeSourceServers", default_page_size=ctx.sim.page_size
    )
    items = [
        render_source_server(s, ctx.now, recommended_instance_type(s.cpus, s.ram_bytes))
        for s in page
    ]
    return {"items": items, "nextToken": token}


@operation("GetLaunchConfiguration")
def get_launch_configuration(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """A server's DRS launch configuration, with the ID of its EC2 launch template."""
    return render_launch_configuration(require_server(ctx, params["sourceServerID"]))


@operation("UpdateLaunchConfiguration")
def update_launch_configuration(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Change a server's launch configuration (fields not sent are kept)."""
    server = require_server(ctx, params["sourceServerID"])
    busy = ctx.state.busy_servers().get(server.server_id)
    if busy is not None:
        raise conflict(
            f"Source server {server.server_id} is part of job {busy}, which is in progress",
            resource_id=server.server_id,
            resource_type="SOURCE_SERVER",
        )
    merged = dict(server.launch_config)
    for key in _LAUNCH_CONFIGURATION_FIELDS:
        if key in params:
            merged[key] = params[key]
    if "launchIntoInstanceProperties" in params:
        target = (params["launchIntoInstanceProperties"] or {}).get("launchIntoEC2InstanceID")
        if target:
            merged["launchIntoInstanceProperties"] = {"launchIntoEC2InstanceID": target}
        else:
            merged.pop("launchIntoInstanceProperties", None)
    if merged.get("launchIntoInstanceProperties"):
        problems = [
            FieldProblem(key, "Member must be false when launchIntoInstanceProperties is set", True)
            for key in ("copyPrivateIp", "copyTags")
            if merged.get(key)
        ]
        if problems:
            raise validation_failed(problems)
    previous, server.launch_config = server.launch_config, merged
    try:
        write_drs_template_fields(ctx.sim.ec2, server)
    except Ec2LaunchError as exc:
        server.launch_config = previous  # a failed call changes nothing
        raise internal_error(
            f"Could not update the EC2 launch template of source server {server.server_id}: {exc}"
        ) from exc
    return render_launch_configuration(server)


@operation("DescribeRecoverySnapshots")
def describe_recovery_snapshots(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """A server's point-in-time snapshots, ``ASC`` or ``DESC``, optionally within a time range."""
    low, high = date_window(params.get("filters") or {}, "fromDateTime", "toDateTime")
    server = ctx.state.servers.get(params["sourceServerID"])
    if server is None:
        return {"items": []}
    snapshots = point_in_time_snapshots(server, ctx.now)
    if low is not None:
        snapshots = [s for s in snapshots if s.taken >= low]
    if high is not None:
        snapshots = [s for s in snapshots if s.taken <= high]
    if params.get("order") == "DESC":
        snapshots.reverse()
    page, token = paginate(
        snapshots,
        params,
        scope=f"DescribeRecoverySnapshots/{server.server_id}",
        default_page_size=ctx.sim.page_size,
    )
    return {
        "items": [render_snapshot(server.server_id, s, len(server.disks)) for s in page],
        "nextToken": token,
    }


@operation("ListStagingAccounts")
def list_staging_accounts(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """The staging accounts of this account's extended source servers."""
    accounts = sorted(
        {
            s.staging_account_id
            for s in ctx.state.servers.values()
            if s.staging_account_id and s.staging_account_id != s.account_id
        }
    )
    page, token = paginate(accounts, params, scope="ListStagingAccounts", default_page_size=50)
    return {"accounts": [{"accountID": a} for a in page], "nextToken": token}


@operation("InitializeService")
def initialize_service(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Initialize DRS in the caller's region."""
    ctx.state.initialized = True
    return {}


def _render(ctx: OpContext, server: SourceServer) -> dict[str, Any]:
    return render_source_server(
        server, ctx.now, recommended_instance_type(server.cpus, server.ram_bytes)
    )


def _check_not_busy(ctx: OpContext, server: SourceServer) -> None:
    busy = ctx.state.busy_servers().get(server.server_id)
    if busy is not None:
        raise conflict(
            f"Source server {server.server_id} is part of job {busy}, which is in progress",
            resource_id=server.server_id,
            resource_type="SOURCE_SERVER",
        )


@operation("StopReplication")
def stop_replication(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Stop a server's replication: it is no longer protected and its snapshots go."""
    server = require_server(ctx, params["sourceServerID"])
    _check_not_busy(ctx, server)
    state = current_state(server.replication, ctx.now)
    if state in ("STOPPED", "DISCONNECTED"):
        raise conflict(
            f"Source server {server.server_id} is not replicating (data replication state {state})",
            resource_id=server.server_id,
            resource_type="SOURCE_SERVER",
        )
    change_replication(
        server,
        Replication("STOPPED", ctx.now, lag_seconds=server.replication.lag_seconds, stuck=True),
        ctx.now,
    )
    return {"sourceServer": _render(ctx, server)}


@operation("DisconnectSourceServer")
def disconnect_source_server(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Disconnect a server from DRS (refused while it has a recovery instance)."""
    server = require_server(ctx, params["sourceServerID"])
    _check_not_busy(ctx, server)
    if server.recovery_instance_id and server.recovery_instance_id in ctx.state.instances:
        raise conflict(
            f"Source server {server.server_id} has recovery instance "
            f"{server.recovery_instance_id}; terminate or delete it first",
            resource_id=server.server_id,
            resource_type="SOURCE_SERVER",
        )
    change_replication(server, Replication("DISCONNECTED", ctx.now, stuck=True), ctx.now)
    return _render(ctx, server)
