"""How DRS turns a source server, its launch configuration and its launch template into a launch.

The rules, as AWS documents them for DRS launch settings (user guide, "Default
DRS launch settings" and "Key considerations for EC2 launch templates"):

- instance type: right sizing ``BASIC`` picks a type from the server's CPUs
  and RAM and overrides the template; ``IN_AWS`` uses the source
  instance's type when the server runs in EC2; ``NONE`` takes the template's.
- network: subnet and security groups from the template's first network
  interface; private IP is the source server's when ``copyPrivateIp``, else
  the template's static IP, else EC2 picks one.
- tags: the source server's tags when ``copyTags``, then the template's
  instance tags, then the tags DRS puts on every recovery instance.
- ``launchIntoInstanceProperties``: launch into that existing instance; it
  must exist, carry ``AWSDRS=AllowLaunchingIntoThisInstance`` and run the same
  OS platform, else the launch fails (``LAUNCH_FAILED`` in the job log, with
  the reason as ``rawError``). The instance keeps its ID and private IP; its
  volumes are replaced (the old ones stay in the account, see
  :meth:`~drs_orchestration.testing.ec2.Ec2Bridge.prepare_launch_into`).

DRS writes into the EC2 launch template itself. Documented: right sizing
"automatically update[s] the instance type on the EC2 launch template ... any
modification you make to the instance type in the EC2 launch template are
overwritten by the service", and ``copyPrivateIp`` copies "the private IP ...
from the source server's primary network interface to [the] EC2 launch
template". Not documented, so assumed: *when* it writes. The simulator writes
when the server is created and on every ``UpdateLaunchConfiguration``, as a
new template version created from the current default and made the default
(the way the library itself writes), and only when a field differs:
``InstanceType`` (``BASIC``: the recommended type; ``IN_AWS``: the source
instance's type) and the primary network interface's ``PrivateIpAddress``
(the source's primary IP). Turning ``copyPrivateIp`` off removes that IP
again if the template still holds the one DRS wrote (also assumed).

One recovery instance per source server. Documented: the model gives a
source server a single ``recoveryInstanceId``; DRS recovery plans "do not
terminate the instances that a plan launches". Not found in DRS's documents:
what a new launch does to the server's previous recovery instance. The
simulator assumes DRS replaces it — terminates its EC2 instance and forgets
it — as AWS MGN documents for test launches ("Each new test first deletes any
previously launched test instance"), for drills and recoveries alike; an
existing instance DRS launched into (``launchIntoInstanceProperties``) is the
customer's and stays.
"""

from __future__ import annotations

import copy
from typing import Any

from drs_orchestration.testing.ec2 import (
    LAUNCH_INTO_TAG,
    Ec2Bridge,
    Ec2LaunchError,
    InstanceInfo,
    InstanceSpec,
)
from drs_orchestration.testing.state import SourceServer

__all__ = [
    "DRS_MANAGED_TAG",
    "default_launch_configuration",
    "drs_template_data",
    "initial_template_data",
    "launch_recovery_instance",
    "recommended_instance_type",
    "target_instance_type",
    "write_drs_template_fields",
]

DRS_MANAGED_TAG = ("AWSElasticDisasterRecoveryManaged", "drs.amazonaws.com")
"""The tag DRS puts on the resources it manages."""

_SIZES: tuple[tuple[str, int, int], ...] = (
    ("t3.micro", 2, 1),
    ("t3.small", 2, 2),
    ("t3.medium", 2, 4),
    ("m5.large", 2, 8),
    ("m5.xlarge", 4, 16),
    ("m5.2xlarge", 8, 32),
    ("m5.4xlarge", 16, 64),
    ("m5.8xlarge", 32, 128),
    ("m5.12xlarge", 48, 192),
    ("m5.16xlarge", 64, 256),
    ("m5.24xlarge", 96, 384),
)
"""(type, vCPUs, GiB) candidates for right sizing, smallest first."""

_GIB = 1024**3


def recommended_instance_type(cpus: int, ram_bytes: int) -> str:
    """The smallest candidate type with at least the server's CPUs and RAM."""
    for name, vcpus, gib in _SIZES:
        if vcpus >= cpus and gib * _GIB >= ram_bytes:
            return name
    return _SIZES[-1][0]


def default_launch_configuration(hostname: str, *, with_recovery_mode: bool) -> dict[str, Any]:
    """A new server's launch configuration, with DRS's documented defaults."""
    config: dict[str, Any] = {
        "name": hostname[:128],
        "launchDisposition": "STARTED",
        "targetInstanceTypeRightSizingMethod": "BASIC",
        "copyPrivateIp": False,
        "copyTags": False,
        "licensing": {"osByol": False},
        "postLaunchEnabled": False,
    }
    if with_recovery_mode:
        config["recoveryMode"] = "OPTIMAL"
    return config


def initial_template_data(server: SourceServer, subnet_id: str) -> dict[str, Any]:
    """The EC2 launch template DRS creates for a new server, with the fields it owns.

    A template version built from scratch (without ``SourceVersion``) loses these.
    """
    drs_tags = [
        {"Key": DRS_MANAGED_TAG[0], "Value": DRS_MANAGED_TAG[1]},
        {"Key": "AWSElasticDisasterRecoverySourceServerID", "Value": server.server_id},
        {"Key": "Name", "Value": server.hostname},
    ]
    data = {
        "InstanceType": recommended_instance_type(server.cpus, server.ram_bytes),
        "InstanceInitiatedShutdownBehavior": "stop",
        "NetworkInterfaces": [
            {
                "DeviceIndex": 0,
                "SubnetId": subnet_id,
                "AssociatePublicIpAddress": False,
                "DeleteOnTermination": True,
            }
        ],
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": drs_tags},
            {"ResourceType": "volume", "Tags": drs_tags},
        ],
    }
    return drs_template_data(server, data)


def drs_template_data(server: SourceServer, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a launch template's) with the fields DRS writes there itself (module docstring)."""
    updated = copy.deepcopy(data)
    config = server.launch_config
    method = config.get("targetInstanceTypeRightSizingMethod", "BASIC")
    if method == "BASIC":
        updated["InstanceType"] = recommended_instance_type(server.cpus, server.ram_bytes)
    elif method == "IN_AWS" and server.origin is not None and server.origin.instance_type:
        updated["InstanceType"] = server.origin.instance_type
    interfaces = [dict(i) for i in updated.get("NetworkInterfaces") or []]
    primary = next((i for i in interfaces if int(i.get("DeviceIndex", 0)) == 0), None)
    source_ip = server.primary_ip
    if config.get("copyPrivateIp") and source_ip:
        if primary is None:
            primary = {"DeviceIndex": 0}
            interfaces.insert(0, primary)
        primary["PrivateIpAddress"] = source_ip
        primary.pop("PrivateIpAddresses", None)
    elif primary is not None and source_ip and primary.get("PrivateIpAddress") == source_ip:
        del primary["PrivateIpAddress"]
    if interfaces:
        updated["NetworkInterfaces"] = interfaces
    return updated


def write_drs_template_fields(bridge: Ec2Bridge, server: SourceServer) -> bool:
    """Write DRS's fields into the server's launch template if they differ; return whether it did.

    Raises:
        Ec2LaunchError: if the template cannot be read or written.
    """
    account, region, home = server.account_id, server.region, server.template_home
    current = bridge.template_data(account, region, home, server.template_id)
    wanted = drs_template_data(server, current)
    if wanted == current:
        return False
    bridge.write_template(account, region, home, server.template_id, wanted)
    return True


def target_instance_type(server: SourceServer, template: dict[str, Any]) -> str:
    """The instance type a launch uses, per the right-sizing method."""
    method = server.launch_config.get("targetInstanceTypeRightSizingMethod", "BASIC")
    recommended = recommended_instance_type(server.cpus, server.ram_bytes)
    if method == "IN_AWS" and server.origin is not None and server.origin.instance_type:
        return server.origin.instance_type
    if method == "NONE":
        return str(template.get("InstanceType") or recommended)
    return recommended


def _instance_tags(server: SourceServer, template: dict[str, Any], job_id: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    if server.launch_config.get("copyTags"):
        tags.update({k: v for k, v in server.tags.items() if not k.lower().startswith("aws:")})
    for spec in template.get("TagSpecifications", []):
        if spec.get("ResourceType") == "instance":
            tags.update({t["Key"]: t["Value"] for t in spec.get("Tags", [])})
    tags[DRS_MANAGED_TAG[0]] = DRS_MANAGED_TAG[1]
    tags["drs.amazonaws.com-source-server"] = server.server_id
    tags["drs.amazonaws.com-job"] = job_id
    return tags


def _network(
    server: SourceServer, template: dict[str, Any]
) -> tuple[str | None, list[str], str | None]:
    interfaces = template.get("NetworkInterfaces") or [{}]
    primary = next((n for n in interfaces if n.get("DeviceIndex", 0) == 0), interfaces[0])
    subnet = primary.get("SubnetId")
    groups = list(primary.get("Groups") or template.get("SecurityGroupIds") or [])
    static_ip = primary.get("PrivateIpAddress")
    if static_ip is None:
        static_ip = next(
            (
                a.get("PrivateIpAddress")
                for a in primary.get("PrivateIpAddresses", [])
                if a.get("Primary")
            ),
            None,
        )
    private_ip = server.primary_ip if server.launch_config.get("copyPrivateIp") else static_ip
    return subnet, groups, private_ip


def launch_recovery_instance(
    bridge: Ec2Bridge, server: SourceServer, job_id: str
) -> tuple[InstanceInfo, bool]:
    """Launch (or launch into) the recovery instance of ``server``.

    Returns:
        The instance, and whether it is an existing instance DRS launched into.

    Raises:
        Ec2LaunchError: with the reason DRS would log in ``LAUNCH_FAILED``.
    """
    account, region, home = server.account_id, server.region, server.template_home
    template = bridge.template_data(account, region, home, server.template_id)
    tags = _instance_tags(server, template, job_id)
    stopped = server.launch_config.get("launchDisposition") == "STOPPED"
    target_id = (server.launch_config.get("launchIntoInstanceProperties") or {}).get(
        "launchIntoEC2InstanceID"
    )
    if target_id:
        _check_launch_into(bridge, server, target_id)
        return bridge.prepare_launch_into(
            account,
            region,
            home,
            target_id,
            stopped=stopped,
            tags=tags,
            disk_bytes=[d.size_bytes for d in server.disks],
        ), True
    subnet, groups, private_ip = _network(server, template)
    spec = InstanceSpec(
        os=server.os,
        instance_type=target_instance_type(server, template),
        subnet_id=subnet,
        security_group_ids=groups,
        private_ip=private_ip,
        iam_instance_profile=template.get("IamInstanceProfile"),
        tags=tags,
        stopped=stopped,
    )
    return bridge.run_instance(account, region, home, spec), False


def _check_launch_into(bridge: Ec2Bridge, server: SourceServer, target_id: str) -> None:
    if server.template_home == "detached":
        raise Ec2LaunchError(
            f"cannot launch into {target_id}: EC2 is not available "
            "(moto's mock_aws() was not active when the server was added)"
        )
    target = bridge.describe(server.account_id, server.region, server.template_home, target_id)
    if target is None or target.state in ("terminated", "shutting-down"):
        raise Ec2LaunchError(f"The target instance {target_id} does not exist")
    key, value = LAUNCH_INTO_TAG
    if target.tags.get(key) != value:
        raise Ec2LaunchError(
            f"The target instance {target_id} does not have the tag {key}={value}, "
            "which is required to launch into an existing instance"
        )
    target_windows = "windows" in target.platform
    if target_windows != (server.os == "WINDOWS"):
        raise Ec2LaunchError(
            f"The target instance {target_id} runs a different OS platform "
            f"({'Windows' if target_windows else 'Linux'}) than the source server"
        )
