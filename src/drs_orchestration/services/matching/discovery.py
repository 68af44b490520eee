"""What the matcher reads from DRS and EC2, and how it turns answers into facts.

Every call goes through the library's gateways (one retry policy, one error
translation, paginated, batched): the few operations the shared gateways do
not offer are added in subclasses here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drs_orchestration.aws.drs import DrsGateway, chunked
from drs_orchestration.aws.ec2 import MAX_FILTER_VALUES, Ec2Gateway
from drs_orchestration.errors import DrsOrchestrationError
from drs_orchestration.models.matching import MatchedPair, MatchRules
from drs_orchestration.services.matching.checks import run_checks
from drs_orchestration.services.matching.facts import (
    CheckContext,
    InstanceTypeFacts,
    LaunchFacts,
    NetworkFacts,
    SourceFacts,
    TargetFacts,
)
from drs_orchestration.services.matching.pairing import (
    SourceCandidate,
    TargetCandidate,
    TargetDecision,
)
from drs_orchestration.services.matching.scope import MatchScope, account_for

if TYPE_CHECKING:
    from mypy_boto3_drs.type_defs import LaunchConfigurationTypeDef, SourceServerTypeDef
    from mypy_boto3_ec2.type_defs import InstanceTypeDef

    from drs_orchestration.aws.clients import ClientFactory
    from drs_orchestration.aws.retry import RetryPolicy
    from drs_orchestration.storage.base import Storage

__all__ = [
    "MatchingDrs",
    "MatchingEc2",
    "ServerArn",
    "check_context",
    "checked_pair",
    "describe_error",
    "launch_facts",
    "original_instances",
    "parse_server_arn",
    "read_launch_facts",
    "read_targets",
    "source_candidate",
    "source_facts",
    "target_candidate",
    "target_facts",
]

LIVE_STATES = ("pending", "running", "stopping", "stopped")
"""Instance states a name candidate may be in (terminated ones linger in EC2 for an hour)."""

_INSTANCE_TYPES_PER_CALL = 100
"""``DescribeInstanceTypes`` pages hold at most 100 types."""


class MatchingDrs(DrsGateway):
    """The DRS gateway the matcher reads through (every read it needs is the gateway's)."""


class MatchingEc2(Ec2Gateway):
    """The EC2 gateway plus the reads and the tagging the matcher needs."""

    def list_instances(
        self, *, vpc_ids: Sequence[str] | None, tags: Mapping[str, str] | None
    ) -> list[InstanceTypeDef]:
        """Instances that are not terminated, in ``vpc_ids`` and carrying ``tags`` when given."""
        filters: list[dict[str, Any]] = [
            {"Name": "instance-state-name", "Values": list(LIVE_STATES)}
        ]
        if vpc_ids:
            filters.append({"Name": "vpc-id", "Values": list(vpc_ids)})
        for key, value in sorted((tags or {}).items()):
            filters.append({"Name": f"tag:{key}", "Values": [value]})
        reservations = self._paginate(
            "DescribeInstances", "describe_instances", "Reservations", Filters=filters
        )
        return [instance for r in reservations for instance in r.get("Instances", [])]

    def instance_types(self, names: Iterable[str]) -> dict[str, InstanceTypeFacts]:
        """VCPUs and memory per instance type (unknown types are absent)."""
        found: dict[str, InstanceTypeFacts] = {}
        wanted = sorted(set(names))
        # DescribeInstanceTypes pages hold at most 100 types: a gateway of that page size.
        sized = MatchingEc2(
            self._clients,
            self.region,
            self.account,
            retry=self.retry,
            page_size=min(self.page_size, _INSTANCE_TYPES_PER_CALL),
        )
        for chunk in chunked(wanted, _INSTANCE_TYPES_PER_CALL):
            for item in sized._paginate(
                "DescribeInstanceTypes",
                "describe_instance_types",
                "InstanceTypes",
                resource_ids=chunk,
                Filters=[{"Name": "instance-type", "Values": chunk}],
            ):
                vcpus = item.get("VCpuInfo", {}).get("DefaultVCpus")
                memory = item.get("MemoryInfo", {}).get("SizeInMiB")
                if vcpus is not None and memory is not None:
                    found[item["InstanceType"]] = InstanceTypeFacts(int(vcpus), int(memory))
        return found

    def network(self, subnet_ids: Iterable[str], group_ids: Iterable[str]) -> NetworkFacts:
        """The subnets and security groups among those given that exist."""
        subnets: dict[str, tuple[str | None, str | None]] = {}
        for chunk in chunked(sorted(set(subnet_ids)), MAX_FILTER_VALUES):
            for item in self._paginate(
                "DescribeSubnets",
                "describe_subnets",
                "Subnets",
                resource_ids=chunk,
                Filters=[{"Name": "subnet-id", "Values": chunk}],
            ):
                subnets[item["SubnetId"]] = (item.get("VpcId"), item.get("AvailabilityZone"))
        groups: dict[str, str | None] = {}
        for chunk in chunked(sorted(set(group_ids)), MAX_FILTER_VALUES):
            for item in self._paginate(
                "DescribeSecurityGroups",
                "describe_security_groups",
                "SecurityGroups",
                resource_ids=chunk,
                Filters=[{"Name": "group-id", "Values": chunk}],
            ):
                groups[item["GroupId"]] = item.get("VpcId")
        return NetworkFacts(subnets=subnets, security_groups=groups)

    def create_tags(self, instance_ids: Sequence[str], tags: Mapping[str, str]) -> None:
        """Add ``tags`` to instances (``CreateTags``, which is idempotent), in batches."""
        for chunk in chunked(list(instance_ids), MAX_FILTER_VALUES):
            self._call(
                "CreateTags",
                self.client.create_tags,
                resource_ids=chunk,
                Resources=chunk,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            )


@dataclass(frozen=True)
class ServerArn:
    """The parts of a DRS source server ARN."""

    region: str
    account_id: str
    source_server_id: str


_SERVER_ARN = re.compile(
    r"^arn:aws[a-z-]*:drs:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"source-server/(?P<sid>s-[0-9a-zA-Z]{17})$"
)


def parse_server_arn(arn: str | None) -> ServerArn | None:
    """Region, account and ID from a source server ARN (``None`` when it is not one)."""
    match = _SERVER_ARN.match(arn or "")
    if match is None:
        return None
    return ServerArn(match["region"], match["account"], match["sid"])


def _os(full_string: str | None) -> str | None:
    text = (full_string or "").casefold()
    if "windows" in text:
        return "WINDOWS"
    if text:
        return "LINUX"
    return None


def _primary_ip(properties: Mapping[str, Any]) -> str | None:
    nics = properties.get("networkInterfaces") or []
    ordered = sorted(nics, key=lambda nic: not nic.get("isPrimary"))
    for nic in ordered:
        ips = nic.get("ips") or []
        if ips:
            return str(ips[0])
    return None


def source_candidate(
    server: SourceServerTypeDef, original_instance_id: str | None
) -> SourceCandidate:
    """The pairing view of a DRS source server."""
    hints = server.get("sourceProperties", {}).get("identificationHints", {})
    return SourceCandidate(
        source_server_id=server["sourceServerID"],
        name_tag=(server.get("tags") or {}).get("Name"),
        hostname=hints.get("hostname"),
        own_instance_id=hints.get("awsInstanceID"),
        original_instance_id=original_instance_id,
    )


def source_facts(
    server: SourceServerTypeDef, *, region: str, boot_mode: str | None = None
) -> SourceFacts:
    """The checks' view of a DRS source server recovered in ``region``."""
    properties: Mapping[str, Any] = server.get("sourceProperties", {})
    cpus = properties.get("cpus")
    ram = properties.get("ramBytes")
    origin = server.get("sourceCloudProperties", {}).get("originRegion")
    return SourceFacts(
        source_server_id=server["sourceServerID"],
        os=_os(properties.get("os", {}).get("fullString")),
        architecture=properties.get("architecture"),
        vcpus=sum(int(c.get("cores", 0)) for c in cpus) if cpus else None,
        ram_bytes=int(ram) if ram else None,
        recommended_instance_type=properties.get("recommendedInstanceType"),
        private_ip=_primary_ip(properties),
        boot_mode=boot_mode,
        returns_to_origin=server.get("replicationDirection") == "FAILBACK" or origin == region,
    )


def launch_facts(configuration: LaunchConfigurationTypeDef) -> LaunchFacts:
    """The checks' view of a DRS launch configuration."""
    into = configuration.get("launchIntoInstanceProperties") or {}
    return LaunchFacts(
        copy_private_ip=configuration.get("copyPrivateIp"),
        copy_tags=configuration.get("copyTags"),
        os_byol=(configuration.get("licensing") or {}).get("osByol"),
        launch_into_instance_id=into.get("launchIntoEC2InstanceID"),
    )


def _tags(instance: InstanceTypeDef) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", []) if "Key" in t and "Value" in t}


def _platform(instance: InstanceTypeDef) -> str:
    text = f"{instance.get('Platform') or ''} {instance.get('PlatformDetails') or ''}".casefold()
    return "WINDOWS" if "windows" in text else "LINUX"


def target_facts(instance: InstanceTypeDef) -> TargetFacts:
    """The checks' view of an EC2 instance."""
    groups = {g["GroupId"] for g in instance.get("SecurityGroups", []) if "GroupId" in g}
    for nic in instance.get("NetworkInterfaces", []):
        groups.update(g["GroupId"] for g in nic.get("Groups", []) if "GroupId" in g)
    placement = instance.get("Placement", {})
    boot = instance.get("CurrentInstanceBootMode") or instance.get("BootMode")
    return TargetFacts(
        instance_id=instance["InstanceId"],
        state=instance.get("State", {}).get("Name", "pending"),
        tags=_tags(instance),
        platform=_platform(instance),
        architecture=instance.get("Architecture"),
        virtualization_type=instance.get("VirtualizationType"),
        root_device_type=instance.get("RootDeviceType"),
        # "uefi-preferred" is what an AMI allows, not how the instance boots.
        boot_mode=boot if boot in ("legacy-bios", "uefi") else None,
        tenancy=placement.get("Tenancy"),
        instance_type=instance.get("InstanceType"),
        subnet_id=instance.get("SubnetId"),
        vpc_id=instance.get("VpcId"),
        availability_zone=placement.get("AvailabilityZone"),
        security_group_ids=tuple(sorted(groups)),
        private_ip=instance.get("PrivateIpAddress"),
    )


def target_candidate(facts: TargetFacts, *, listed: bool) -> TargetCandidate:
    """The pairing view of an EC2 instance."""
    return TargetCandidate(
        instance_id=facts.instance_id,
        name=facts.tags.get("Name"),
        live=facts.state not in ("terminated", "shutting-down"),
        listed=listed,
    )


def describe_error(error: BaseException) -> str:
    """An error in one line: its code and message."""
    return f"{getattr(error, 'code', type(error).__name__)}: {error}"


def original_instances(
    storage: Storage,
    clients: ClientFactory,
    retry: RetryPolicy,
    *,
    servers: Mapping[str, SourceServerTypeDef],
    scope: MatchScope,
    notes: list[str],
) -> dict[str, str]:
    """Failing-back server → the instance its original source server replicated from.

    A server replicating back (``replicationDirection`` ``FAILBACK``) names
    its original source server in ``reversedDirectionSourceServerArn``; that
    server's ``awsInstanceID`` is the original instance. Originals that cannot
    be read are noted in ``notes`` and left out.
    """
    wanted: dict[tuple[str, str], dict[str, str]] = {}
    for sid, server in servers.items():
        if server.get("replicationDirection") != "FAILBACK":
            continue
        original = parse_server_arn(server.get("reversedDirectionSourceServerArn"))
        if original is None:
            continue
        own = parse_server_arn(server.get("arn"))
        here = scope.account_id or (own.account_id if own else None)
        elsewhere = original.account_id if original.account_id != here else ""
        wanted.setdefault((original.region, elsewhere), {})[original.source_server_id] = sid
    found: dict[str, str] = {}
    for (region, other_account), by_original in sorted(wanted.items()):
        account = account_for(storage, other_account, scope) if other_account else scope.account
        try:
            described = DrsGateway(clients, region, account, retry=retry).describe_source_servers(
                source_server_ids=sorted(by_original)
            )
        except DrsOrchestrationError as error:
            where = region + (f" (account {other_account})" if other_account else "")
            notes.append(
                f"the original source servers in {where} could not be read, so their "
                f"original instances are unknown: {describe_error(error)}"
            )
            continue
        for original_server in described:
            hints = original_server.get("sourceProperties", {}).get("identificationHints", {})
            instance_id = hints.get("awsInstanceID")
            failing_back = by_original.get(original_server["sourceServerID"])
            if instance_id and failing_back:
                found[failing_back] = instance_id
    return found


def check_context(
    drs: MatchingDrs, ec2: MatchingEc2, targets: Sequence[TargetFacts]
) -> CheckContext:
    """The facts every pair's checks share: sizes, subnets, security groups, DRS's template.

    A read that fails is recorded in the context (its checks then warn),
    never raised: the pairs are still worth reporting.
    """
    live = [t for t in targets if t.state not in ("terminated", "shutting-down")]
    types_error: str | None = None
    try:
        types = ec2.instance_types(t.instance_type for t in live if t.instance_type)
    except DrsOrchestrationError as error:
        types, types_error = {}, f"instance types could not be read: {describe_error(error)}"
    try:
        network = ec2.network(
            (t.subnet_id for t in live if t.subnet_id),
            (g for t in live for g in t.security_group_ids),
        )
    except DrsOrchestrationError as error:
        network = NetworkFacts(error=describe_error(error))
    setting: bool | None
    template_error: str | None = None
    try:
        templates = drs.launch_configuration_templates()
        setting = any(t.get("launchIntoSourceInstance") for t in templates)
    except DrsOrchestrationError as error:
        setting, template_error = None, describe_error(error)
    return CheckContext(
        instance_types=types,
        instance_types_error=types_error,
        network=network,
        launch_into_source_instance=setting,
        template_error=template_error,
    )


def read_launch_facts(
    drs: DrsGateway, source_server_ids: Sequence[str], *, concurrency: int
) -> dict[str, LaunchFacts]:
    """Each server's launch configuration, ``concurrency`` reads at a time (errors kept)."""

    def read(sid: str) -> LaunchFacts:
        try:
            return launch_facts(drs.get_launch_configuration(sid))
        except DrsOrchestrationError as error:
            return LaunchFacts(error=describe_error(error))

    if not source_server_ids:
        return {}
    workers = min(concurrency, len(source_server_ids))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drs-matcher") as pool:
        return dict(zip(source_server_ids, pool.map(read, source_server_ids), strict=True))


def read_targets(
    ec2: MatchingEc2,
    rules: MatchRules,
    *,
    servers: Mapping[str, Any],
    originals: Mapping[str, str],
) -> tuple[dict[str, TargetFacts], set[str]]:
    """Listed instances, plus those a rule names; and the IDs of the listed ones."""
    facts = {
        f.instance_id: f
        for f in map(
            target_facts,
            ec2.list_instances(vpc_ids=rules.target_vpc_ids, tags=rules.target_tags),
        )
    }
    listed = set(facts)
    named = {t for s, t in rules.explicit_pairs.items() if s in servers}
    named.update(originals.values())
    for instance in ec2.describe_instances(sorted(named - listed)):
        found = target_facts(instance)
        facts[found.instance_id] = found
    return facts, listed


def checked_pair(
    decision: TargetDecision,
    server: SourceServerTypeDef,
    *,
    facts: Mapping[str, TargetFacts],
    launches: Mapping[str, LaunchFacts],
    context: CheckContext,
    region: str,
) -> MatchedPair:
    """A pairing decision with its checks."""
    own = source_candidate(server, None).own_instance_id
    # The source's own instance, when it is in this region, tells how the source boots.
    boot_mode = facts[own].boot_mode if own is not None and own in facts else None
    source = source_facts(server, region=region, boot_mode=boot_mode)
    target = facts.get(decision.target_instance_id)
    return MatchedPair(
        source_server_id=decision.source_server_id,
        target_instance_id=decision.target_instance_id,
        method=decision.method,
        reason=decision.reason,
        source_name=decision.source_name,
        target_name=decision.target_name,
        source_private_ip=source.private_ip,
        target_private_ip=target.private_ip if target else None,
        checks=run_checks(
            source,
            target,
            decision.target_instance_id,
            launch=launches[decision.source_server_id],
            method=decision.method,
            context=context,
        ),
    )
