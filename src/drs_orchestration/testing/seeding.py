"""Creating source servers: their DRS record, launch configuration and EC2 launch template.

Used by :meth:`DrsSimulator.add_source_server` and by ``ReverseReplication``,
which creates a source server replicating back towards the origin.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from drs_orchestration.testing.launch import default_launch_configuration, initial_template_data
from drs_orchestration.testing.operations.templates import template_settings
from drs_orchestration.testing.service import arn, has_member
from drs_orchestration.testing.state import (
    AwsOrigin,
    Disk,
    Nic,
    RecoveryInstance,
    Replication,
    SourceServer,
)

if TYPE_CHECKING:
    from drs_orchestration.testing.faults import ReverseFault
    from drs_orchestration.testing.simulator import DrsSimulator

__all__ = [
    "DEFAULT_DISKS",
    "OS_STRINGS",
    "register_server",
    "reverse_replication_of",
    "reversed_server",
]

GIB = 1024**3
OS_STRINGS = {
    "LINUX": "Linux version 5.10.220-209.869.amzn2.x86_64 (Amazon Linux 2)",
    "WINDOWS": "Microsoft Windows Server 2019 Datacenter 10.0.17763",
}
"""What DRS reports as ``os.fullString`` by default."""
DEFAULT_DISKS = {"LINUX": [("/dev/xvda", 8 * GIB)], "WINDOWS": [("disk0", 50 * GIB)]}
"""A server's disks when none are given."""


def register_server(
    sim: DrsSimulator,
    *,
    account: str,
    region: str,
    hostname: str,
    tags: dict[str, str],
    os: Literal["LINUX", "WINDOWS"],
    os_full_string: str | None,
    cpus: int,
    cpu_model: str,
    ram_bytes: int,
    disks: list[Disk],
    nics: list[Nic],
    replication: Replication,
    added_at: datetime,
    origin: AwsOrigin | None,
) -> SourceServer:
    """Create a source server with DRS's default launch configuration and its launch template."""
    server_id = sim.ids.source_server()
    home = sim.ec2.home_for_new()
    subnet, zone = sim.ec2.default_subnet(account, region, home)
    server = SourceServer(
        server_id=server_id,
        arn=arn("source-server", region, account, server_id),
        account_id=account,
        region=region,
        hostname=hostname,
        tags=tags,
        os=os,
        os_full_string=os_full_string or OS_STRINGS[os],
        cpus=cpus,
        cpu_model=cpu_model,
        ram_bytes=ram_bytes,
        disks=disks,
        nics=nics,
        replication=replication,
        added_at=added_at,
        launch_config={
            **default_launch_configuration(
                hostname, with_recovery_mode=has_member("LaunchConfiguration", "recoveryMode")
            ),
            # A new server starts from the region's launch configuration template.
            **template_settings(sim.region_state(account, region)),
        },
        template_id="",
        template_home=home,
        origin=origin,
        staging_az=zone,
    )
    server.template_id = sim.ec2.create_template(
        account, region, home, f"drs-{server_id}", initial_template_data(server, subnet)
    )
    sim.region_state(account, region).servers[server_id] = server
    return server


def reverse_replication_of(
    sim: DrsSimulator, server: SourceServer, fault: ReverseFault | None
) -> Replication:
    """What ``ReverseReplication`` starts: INITIATING towards CONTINUOUS, or a fault's."""
    now = sim.now()
    lag = server.replication.lag_seconds
    catch_up = sim.timings.reverse_replication
    if fault is None:
        return Replication("INITIATING", now, lag_seconds=lag, catch_up_seconds=catch_up)
    if fault.lag_seconds is not None:
        lag = fault.lag_seconds
    if fault.state == "CONTINUOUS":
        return Replication("INITIATING", now, lag_seconds=lag, catch_up_seconds=catch_up)
    if fault.state == "STALLED":
        return Replication(
            "STALLED", now, lag_seconds=lag, error="AGENT_NOT_SEEN", catch_up_seconds=catch_up
        )
    return Replication(fault.state, now, lag_seconds=lag, stuck=True, catch_up_seconds=catch_up)


def reversed_server(
    sim: DrsSimulator,
    server: SourceServer,
    instance: RecoveryInstance,
    origin: AwsOrigin,
    *,
    target_account_id: str,
    target_region: str,
    replication: Replication,
) -> SourceServer:
    """The source server ``ReverseReplication`` creates: the recovery instance, replicating home."""
    created = register_server(
        sim,
        account=target_account_id,
        region=target_region,
        hostname=server.hostname,
        tags={},
        os=server.os,
        os_full_string=server.os_full_string,
        cpus=server.cpus,
        cpu_model=server.cpu_model,
        ram_bytes=server.ram_bytes,
        disks=[Disk(d.device_name, d.size_bytes) for d in server.disks],
        nics=[Nic(sim.ids.mac(), [instance.private_ip] if instance.private_ip else [])],
        replication=replication,
        added_at=sim.now(),
        origin=origin,
    )
    created.direction = "FAILBACK"
    created.reversed_arn = server.arn
    return created
