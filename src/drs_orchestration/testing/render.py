"""State → wire: the dicts DRS answers with, named exactly as botocore's model names them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drs_orchestration.testing.ec2 import InstanceInfo
from drs_orchestration.testing.replication import ReplicationView, replication_view
from drs_orchestration.testing.service import (
    format_datetime,
    format_duration,
    has_member,
    stable_id,
)
from drs_orchestration.testing.state import (
    Job,
    JobLogItem,
    RecoveryInstance,
    RecoverySnapshot,
    Replication,
    SourceServer,
)

__all__ = [
    "EC2_STATES",
    "render_failback_configuration",
    "render_job",
    "render_launch_configuration",
    "render_log_item",
    "render_recovery_instance",
    "render_snapshot",
    "render_source_server",
]

EC2_STATES = {
    "pending": "PENDING",
    "running": "RUNNING",
    "stopping": "STOPPING",
    "stopped": "STOPPED",
    "shutting-down": "SHUTTING-DOWN",
    "terminated": "TERMINATED",
}
"""EC2 instance state names → DRS's ``EC2InstanceState`` enum."""

_MAX_VOLUME_ID = 19

_LAST_LAUNCH_RESULT = {
    "PENDING": "PENDING",
    "IN_PROGRESS": "PENDING",
    "LAUNCHED": "SUCCEEDED",
    "FAILED": "FAILED",
    "TERMINATED": "SUCCEEDED",
}


def _replicated_disks(server: SourceServer, view: ReplicationView) -> list[dict[str, Any]]:
    disks = []
    for disk in server.disks:
        total = disk.size_bytes if view.state != "DISCONNECTED" else 0
        replicated = int(total * view.progress)
        disks.append(
            {
                "deviceName": disk.device_name,
                "totalStorageBytes": total,
                "replicatedStorageBytes": replicated,
                "rescannedStorageBytes": 0,
                "backloggedStorageBytes": total - replicated,
            }
        )
    return disks


def _data_replication_info(server: SourceServer, now: datetime) -> dict[str, Any]:
    replication = server.replication
    view = replication_view(replication, now)
    info: dict[str, Any] = {
        "dataReplicationState": view.state,
        "replicatedDisks": _replicated_disks(server, view),
    }
    if view.lag_seconds is not None and view.state != "DISCONNECTED":
        info["lagDuration"] = format_duration(view.lag_seconds)
    if view.eta is not None:
        info["etaDateTime"] = format_datetime(view.eta)
    if server.staging_az:
        info["stagingAvailabilityZone"] = server.staging_az
    info["dataReplicationInitiation"] = _initiation(replication, view)
    if replication.error:
        info["dataReplicationError"] = {"error": replication.error}
    return info


_INITIATION_STEPS = (
    "WAIT",
    "CREATE_SECURITY_GROUP",
    "LAUNCH_REPLICATION_SERVER",
    "BOOT_REPLICATION_SERVER",
    "AUTHENTICATE_WITH_SERVICE",
    "DOWNLOAD_REPLICATION_SOFTWARE",
    "CREATE_STAGING_DISKS",
    "ATTACH_STAGING_DISKS",
    "PAIR_REPLICATION_SERVER_WITH_AGENT",
    "CONNECT_AGENT_TO_REPLICATION_SERVER",
    "START_DATA_TRANSFER",
)


def _initiation(replication: Replication, view: ReplicationView) -> dict[str, Any]:
    initiating = view.state == "INITIATING"
    steps = []
    for index, name in enumerate(_INITIATION_STEPS):
        if not initiating:
            status = "SUCCEEDED"
        elif replication.stuck:
            status = "IN_PROGRESS" if index == 0 else "NOT_STARTED"
        else:
            done = int(view.progress * 10 * len(_INITIATION_STEPS))
            status = (
                "SUCCEEDED" if index < done else "IN_PROGRESS" if index == done else "NOT_STARTED"
            )
        steps.append({"name": name, "status": status})
    return {"startDateTime": format_datetime(replication.since), "steps": steps}


def render_source_server(
    server: SourceServer, now: datetime, recommended_type: str
) -> dict[str, Any]:
    """A ``SourceServer`` item of ``DescribeSourceServers``."""
    view = replication_view(server.replication, now)
    properties: dict[str, Any] = {
        "lastUpdatedDateTime": format_datetime(server.added_at),
        "recommendedInstanceType": recommended_type,
        "identificationHints": _hints(server),
        "networkInterfaces": [
            {"macAddress": nic.mac, "ips": list(nic.ips), "isPrimary": nic.is_primary}
            for nic in server.nics
        ],
        "disks": [{"deviceName": d.device_name, "bytes": d.size_bytes} for d in server.disks],
        "cpus": [{"cores": server.cpus, "modelName": server.cpu_model}],
        "ramBytes": server.ram_bytes,
        "os": {"fullString": server.os_full_string},
    }
    if has_member("SourceProperties", "supportsNitroInstances"):
        properties["supportsNitroInstances"] = True
    if has_member("SourceProperties", "architecture"):
        properties["architecture"] = "x86_64"
    life_cycle: dict[str, Any] = {
        "addedToServiceDateTime": format_datetime(server.added_at),
        "lastSeenByServiceDateTime": format_datetime(view.last_seen),
    }
    if view.first_byte_at is not None:
        life_cycle["firstByteDateTime"] = format_datetime(view.first_byte_at)
        life_cycle["elapsedReplicationDuration"] = format_duration(now - view.first_byte_at)
    if server.last_launch is not None:
        launch = server.last_launch
        life_cycle["lastLaunch"] = {
            "initiated": {
                "apiCallDateTime": format_datetime(launch.initiated_at),
                "jobID": launch.job_id,
                "type": launch.launch_type,
            },
            "status": launch.status,
        }
    item: dict[str, Any] = {
        "sourceServerID": server.server_id,
        "arn": server.arn,
        "tags": dict(server.tags),
        "lastLaunchResult": _LAST_LAUNCH_RESULT.get(server.last_launch.status, "PENDING")
        if server.last_launch
        else "NOT_STARTED",
        "dataReplicationInfo": _data_replication_info(server, now),
        "lifeCycle": life_cycle,
        "sourceProperties": properties,
        "stagingArea": _staging_area(server),
        "replicationDirection": server.direction,
    }
    if server.recovery_instance_id:
        item["recoveryInstanceId"] = server.recovery_instance_id
    if server.origin is not None:
        item["sourceCloudProperties"] = {
            "originAccountID": server.origin.account_id,
            "originRegion": server.origin.region,
            "originAvailabilityZone": server.origin.availability_zone,
        }
    if server.reversed_arn:
        item["reversedDirectionSourceServerArn"] = server.reversed_arn
    if has_member("SourceServer", "agentVersion"):
        item["agentVersion"] = server.agent_version
    return item


def _hints(server: SourceServer) -> dict[str, Any]:
    hints: dict[str, Any] = {"hostname": server.hostname, "fqdn": server.fqdn or server.hostname}
    if server.vmware_uuid:
        hints["vmWareUuid"] = server.vmware_uuid
    if server.origin is not None and server.origin.instance_id:
        hints["awsInstanceID"] = server.origin.instance_id
    return hints


def _staging_area(server: SourceServer) -> dict[str, Any]:
    if server.staging_account_id and server.staging_account_id != server.account_id:
        return {
            "status": "EXTENDED",
            "stagingAccountID": server.staging_account_id,
            "stagingSourceServerArn": server.arn.replace(
                f":{server.account_id}:", f":{server.staging_account_id}:"
            ),
        }
    return {"status": "NOT_EXTENDED", "stagingAccountID": server.account_id}


def render_launch_configuration(server: SourceServer) -> dict[str, Any]:
    """``GetLaunchConfiguration``'s answer."""
    config = dict(server.launch_config)
    config["sourceServerID"] = server.server_id
    config["ec2LaunchTemplateID"] = server.template_id
    return config


def render_job(job: Job) -> dict[str, Any]:
    """A ``Job``."""
    item: dict[str, Any] = {
        "jobID": job.job_id,
        "arn": job.arn,
        "type": job.job_type,
        "initiatedBy": job.initiated_by,
        "creationDateTime": format_datetime(job.created_at),
        "status": job.status,
        "participatingServers": [
            {
                "sourceServerID": entry.source_server_id,
                "launchStatus": entry.launch_status,
                **(
                    {"recoveryInstanceID": entry.recovery_instance_id}
                    if entry.recovery_instance_id
                    else {}
                ),
            }
            for entry in job.servers
        ],
        "tags": dict(job.tags),
    }
    if job.ended_at is not None:
        item["endDateTime"] = format_datetime(job.ended_at)
    return item


def render_log_item(entry: JobLogItem) -> dict[str, Any]:
    """A ``JobLog`` item."""
    item: dict[str, Any] = {"logDateTime": format_datetime(entry.at), "event": entry.event}
    if entry.data:
        item["eventData"] = dict(entry.data)
    return item


def render_snapshot(server_id: str, snapshot: RecoverySnapshot, disks: int) -> dict[str, Any]:
    """A ``RecoverySnapshot``."""
    return {
        "snapshotID": snapshot.snapshot_id,
        "sourceServerID": server_id,
        "expectedTimestamp": format_datetime(snapshot.expected),
        "timestamp": format_datetime(snapshot.taken),
        "ebsSnapshots": [
            stable_id("snap-", snapshot.snapshot_id, str(index)) for index in range(disks)
        ],
    }


def render_recovery_instance(
    instance: RecoveryInstance,
    server: SourceServer | None,
    ec2: InstanceInfo | None,
    failback: dict[str, Any] | None,
    replication: dict[str, Any],
) -> dict[str, Any]:
    """A ``RecoveryInstance``; ``ec2`` is the live EC2 view (``None``: EC2 does not know it)."""
    if not instance.launched:
        state = "PENDING"
    elif ec2 is None:
        state = "NOT_FOUND"
    else:
        state = EC2_STATES.get(ec2.state, "NOT_FOUND")
    item: dict[str, Any] = {
        "recoveryInstanceID": instance.recovery_instance_id,
        "ec2InstanceID": instance.ec2_instance_id,
        "ec2InstanceState": state,
        "jobID": instance.job_id,
        "sourceServerID": instance.source_server_id,
        "arn": instance.arn,
        "tags": dict(instance.tags),
        "isDrill": instance.is_drill,
        "pointInTimeSnapshotDateTime": format_datetime(instance.point_in_time),
        "dataReplicationInfo": replication,
        "originEnvironment": "AWS" if server is not None and server.origin else "ON_PREMISES",
    }
    if failback is not None:
        item["failback"] = failback
    if server is not None:
        item["recoveryInstanceProperties"] = _instance_properties(instance, server, ec2)
        if server.origin is not None:
            item["originAvailabilityZone"] = server.origin.availability_zone
        if has_member("RecoveryInstance", "agentVersion"):
            item["agentVersion"] = server.agent_version
    return item


def _instance_properties(
    instance: RecoveryInstance, server: SourceServer, ec2: InstanceInfo | None
) -> dict[str, Any]:
    private_ip = (ec2.private_ip if ec2 else None) or instance.private_ip
    volume_ids = (ec2.volume_ids if ec2 and ec2.volume_ids else None) or instance.volume_ids
    disks = []
    for index, disk in enumerate(server.disks):
        entry: dict[str, Any] = {"internalDeviceName": disk.device_name, "bytes": disk.size_bytes}
        # The model caps ebsVolumeID at 19 characters, too short for today's
        # vol- + 17 hex IDs; only IDs the model can describe are sent.
        if index < len(volume_ids) and len(volume_ids[index]) <= _MAX_VOLUME_ID:
            entry["ebsVolumeID"] = volume_ids[index]
        disks.append(entry)
    return {
        "lastUpdatedDateTime": format_datetime(instance.launched_at),
        "identificationHints": {
            "hostname": server.hostname,
            "fqdn": server.fqdn or server.hostname,
            "awsInstanceID": instance.ec2_instance_id,
        },
        "networkInterfaces": [
            {
                "macAddress": server.nics[0].mac if server.nics else "02:00:00:00:00:00",
                "ips": [private_ip] if private_ip else [],
                "isPrimary": True,
            }
        ],
        "disks": disks,
        "cpus": [{"cores": server.cpus, "modelName": server.cpu_model}],
        "ramBytes": server.ram_bytes,
        "os": {"fullString": server.os_full_string},
    }


def render_failback_configuration(instance: RecoveryInstance) -> dict[str, Any]:
    """``GetFailbackReplicationConfiguration``'s answer."""
    return {
        "recoveryInstanceID": instance.recovery_instance_id,
        "name": instance.failback_config.get("name", instance.recovery_instance_id),
        "bandwidthThrottling": instance.failback_config.get("bandwidthThrottling", 0),
        "usePrivateIP": instance.failback_config.get("usePrivateIP", False),
        "internetProtocol": instance.failback_config.get("internetProtocol", "IPV4"),
    }
