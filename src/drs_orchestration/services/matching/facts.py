"""What DRS and EC2 say about a pair, reduced to the facts its checks read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "CheckContext",
    "InstanceTypeFacts",
    "LaunchFacts",
    "NetworkFacts",
    "SourceFacts",
    "TargetFacts",
]


@dataclass(frozen=True)
class SourceFacts:
    """What DRS says about a source server.

    Attributes:
        source_server_id: The server.
        os: ``"LINUX"`` or ``"WINDOWS"`` from ``sourceProperties.os`` (``None``: unknown).
        architecture: ``sourceProperties.architecture`` when DRS reports it.
        vcpus: CPU cores over ``sourceProperties.cpus``.
        ram_bytes: ``sourceProperties.ramBytes``.
        recommended_instance_type: ``sourceProperties.recommendedInstanceType``.
        private_ip: The primary IP of the primary network interface.
        boot_mode: The source's boot mode when its own EC2 instance could be read.
        returns_to_origin: The server recovers into the region it came from (a
            failback, or an EC2 server replicating within its region), which is
            when DRS's ``launchIntoSourceInstance`` applies.
    """

    source_server_id: str
    os: str | None = None
    architecture: str | None = None
    vcpus: int | None = None
    ram_bytes: int | None = None
    recommended_instance_type: str | None = None
    private_ip: str | None = None
    boot_mode: str | None = None
    returns_to_origin: bool = False


@dataclass(frozen=True)
class LaunchFacts:
    """A server's DRS launch configuration (``GetLaunchConfiguration``), or why it is unknown."""

    copy_private_ip: bool | None = None
    copy_tags: bool | None = None
    os_byol: bool | None = None
    launch_into_instance_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class TargetFacts:
    """What EC2 says about a target instance (``DescribeInstances``)."""

    instance_id: str
    state: str
    tags: Mapping[str, str] = field(default_factory=dict)
    platform: str | None = None
    architecture: str | None = None
    virtualization_type: str | None = None
    root_device_type: str | None = None
    boot_mode: str | None = None
    tenancy: str | None = None
    instance_type: str | None = None
    subnet_id: str | None = None
    vpc_id: str | None = None
    availability_zone: str | None = None
    security_group_ids: tuple[str, ...] = ()
    private_ip: str | None = None


@dataclass(frozen=True)
class InstanceTypeFacts:
    """vCPUs and memory of an instance type (``DescribeInstanceTypes``)."""

    vcpus: int
    memory_mib: int


@dataclass(frozen=True)
class NetworkFacts:
    """Subnets and security groups as EC2 knows them, or why they could not be read.

    Attributes:
        subnets: Subnet ID → (VPC ID, availability zone).
        security_groups: Security group ID → VPC ID.
        error: Set when the lookup failed (the checks then warn).
    """

    subnets: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    security_groups: Mapping[str, str | None] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class CheckContext:
    """What the checks of every pair share.

    Attributes:
        instance_types: Instance type → its size.
        instance_types_error: Set when the sizes could not be read.
        network: Subnets and security groups of the targets.
        launch_into_source_instance: DRS's template setting (``None``: unknown).
        template_error: Why the template setting is unknown.
    """

    instance_types: Mapping[str, InstanceTypeFacts] = field(default_factory=dict)
    instance_types_error: str | None = None
    network: NetworkFacts = field(default_factory=NetworkFacts)
    launch_into_source_instance: bool | None = False
    template_error: str | None = None
