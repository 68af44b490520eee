"""The checks of one pair: pure functions of what DRS and EC2 said.

Each check answers PASS, WARN or FAIL with a message that says what was
found and, unless it passed, how to fix it. FAIL means DRS would refuse to
launch into the instance, or the launch would go wrong; WARN means it may
work but deserves a look, or could not be verified from what AWS reports.
"""

from __future__ import annotations

from drs_orchestration.models.failback import MatchMethod
from drs_orchestration.models.matching import LAUNCH_INTO_TAG, CheckName, CheckStatus, PairCheck
from drs_orchestration.services.matching.facts import (
    CheckContext,
    LaunchFacts,
    NetworkFacts,
    SourceFacts,
    TargetFacts,
)

__all__ = ["run_checks"]

_GIB = 1024**3
_GONE = frozenset({"terminated", "shutting-down"})
_SOLE_TENANCY = frozenset({"dedicated", "host"})


def _ok(name: CheckName, message: str) -> PairCheck:
    return PairCheck(name=name, status=CheckStatus.PASS, message=message)


def _warn(name: CheckName, message: str, fix: str) -> PairCheck:
    return PairCheck(name=name, status=CheckStatus.WARN, message=message, remediation=fix)


def _fail(name: CheckName, message: str, fix: str) -> PairCheck:
    return PairCheck(name=name, status=CheckStatus.FAIL, message=message, remediation=fix)


def _os_name(os: str | None) -> str:
    return {"LINUX": "Linux", "WINDOWS": "Windows"}.get(os or "", "unknown")


def check_exists(target: TargetFacts | None, target_id: str) -> PairCheck:
    """The target exists and is neither terminated nor shutting down."""
    name = CheckName.TARGET_EXISTS
    if target is None:
        return _fail(
            name,
            f"EC2 has no instance {target_id} in this account and region",
            "pair the server with an existing instance in the region where DRS launches it",
        )
    if target.state in _GONE:
        return _fail(
            name,
            f"instance {target_id} is {target.state}",
            "pair the server with an instance that is not being terminated",
        )
    return _ok(name, f"instance {target_id} exists ({target.state})")


def check_tag(target: TargetFacts) -> PairCheck:
    """The target carries ``AWSDRS=AllowLaunchingIntoThisInstance``."""
    key, value = LAUNCH_INTO_TAG
    if target.tags.get(key) == value:
        return _ok(CheckName.LAUNCH_INTO_TAG, f"tagged {key}={value}")
    return _fail(
        CheckName.LAUNCH_INTO_TAG,
        f"instance {target.instance_id} lacks the tag {key}={value}; DRS refuses to launch "
        "into an instance without it",
        f"tag it (aws ec2 create-tags --resources {target.instance_id} "
        f"--tags Key={key},Value={value}) or apply the report with add_tag=True",
    )


def check_os(source: SourceFacts, target: TargetFacts) -> PairCheck:
    """Source and target run the same OS platform."""
    name = CheckName.OS_PLATFORM
    if source.os is None:
        return _warn(
            name,
            f"DRS reports no recognisable OS for {source.source_server_id}; the target runs "
            f"{_os_name(target.platform)}",
            "check that both run the same OS platform: DRS refuses to launch across platforms",
        )
    if source.os != target.platform:
        return _fail(
            name,
            f"the source runs {_os_name(source.os)}, instance {target.instance_id} runs "
            f"{_os_name(target.platform)}; DRS refuses to launch across OS platforms",
            f"pair the server with a {_os_name(source.os)} instance",
        )
    return _ok(name, f"both run {_os_name(source.os)}")


def check_boot_mode(source: SourceFacts, target: TargetFacts, method: MatchMethod) -> PairCheck:
    """Linux targets boot with BIOS; Windows targets boot like their source."""
    name = CheckName.BOOT_MODE
    mode = target.boot_mode
    if method is MatchMethod.ORIGINAL_INSTANCE:
        return _ok(name, "the original instance boots as the server always did")
    if mode is None:
        return _warn(
            name,
            f"EC2 reports no boot mode for {target.instance_id}",
            "check CurrentInstanceBootMode (aws ec2 describe-instances): Linux servers need "
            "legacy-bios, Windows servers the boot mode of their source",
        )
    if source.os == "LINUX":
        if mode != "legacy-bios":
            return _fail(
                name,
                f"instance {target.instance_id} boots with {mode}; DRS launches Linux servers "
                "into BIOS (legacy-bios) instances only",
                "pair the server with an instance that boots with legacy-bios",
            )
        return _ok(name, "legacy-bios, as Linux launches need")
    if source.os == "WINDOWS":
        if source.boot_mode is None:
            return _warn(
                name,
                f"instance {target.instance_id} boots with {mode}; the source's boot mode is "
                "not reported by DRS",
                "check that the target boots the way the source does (BIOS or UEFI)",
            )
        if source.boot_mode != mode:
            return _fail(
                name,
                f"the source boots with {source.boot_mode}, instance {target.instance_id} "
                f"with {mode}",
                f"pair the server with an instance that boots with {source.boot_mode}",
            )
        return _ok(name, f"both boot with {mode}")
    return _warn(
        name,
        f"instance {target.instance_id} boots with {mode}; the source's OS is unknown",
        "check the boot mode: legacy-bios for Linux, the source's own for Windows",
    )


def _reported(
    name: CheckName,
    target: TargetFacts,
    *,
    value: str | None,
    wanted: str,
    what: str,
    fix: str,
) -> PairCheck:
    if value is None:
        return _warn(
            name,
            f"EC2 reports no {what} for {target.instance_id}",
            f"check that the instance's {what} is {wanted}",
        )
    if value != wanted:
        return _fail(name, f"instance {target.instance_id} has {what} {value}", fix)
    return _ok(name, f"{what} {value}")


def check_architecture(source: SourceFacts, target: TargetFacts) -> PairCheck:
    """The target (and the source, when DRS reports it) is x86_64."""
    if source.architecture is not None and source.architecture != "x86_64":
        return _fail(
            CheckName.ARCHITECTURE,
            f"the source reports architecture {source.architecture}",
            "launching into an existing instance needs an x86_64 source and target",
        )
    return _reported(
        CheckName.ARCHITECTURE,
        target,
        value=target.architecture,
        wanted="x86_64",
        what="architecture",
        fix="pair the server with an x86_64 instance",
    )


def check_virtualization(target: TargetFacts) -> PairCheck:
    """The target is an HVM instance."""
    return _reported(
        CheckName.VIRTUALIZATION,
        target,
        value=target.virtualization_type,
        wanted="hvm",
        what="virtualization type",
        fix="pair the server with an HVM instance (paravirtual instances cannot be launched into)",
    )


def check_root_device(target: TargetFacts) -> PairCheck:
    """The target boots from EBS (DRS replaces its volumes)."""
    return _reported(
        CheckName.ROOT_DEVICE,
        target,
        value=target.root_device_type,
        wanted="ebs",
        what="root device type",
        fix="pair the server with an EBS-backed instance: DRS replaces the target's EBS volumes",
    )


def check_licensing(source: SourceFacts, target: TargetFacts, launch: LaunchFacts) -> PairCheck:
    """BYOL only for Linux, or on dedicated tenancy."""
    name = CheckName.LICENSING
    if launch.error is not None:
        return _warn(
            name,
            f"the launch configuration could not be read: {launch.error}",
            "check licensing.osByol: BYOL needs Linux or a dedicated instance",
        )
    if not launch.os_byol:
        return _ok(name, "license included (osByol off)")
    if source.os == "LINUX":
        return _ok(name, "BYOL on Linux")
    if target.tenancy in _SOLE_TENANCY:
        return _ok(name, f"BYOL on {target.tenancy} tenancy")
    return _fail(
        name,
        f"osByol is on for a {_os_name(source.os)} server but instance {target.instance_id} "
        f"has {target.tenancy or 'unknown'} tenancy",
        "turn osByol off in the server's launch settings, or pair it with an instance on "
        "dedicated tenancy or a dedicated host",
    )


def check_stopped(target: TargetFacts) -> PairCheck:
    """The target is stopped: DRS stops it and replaces its volumes at launch."""
    if target.state == "stopped":
        return _ok(CheckName.TARGET_STOPPED, "stopped")
    return _warn(
        CheckName.TARGET_STOPPED,
        f"instance {target.instance_id} is {target.state}; a launch (drills too) stops it and "
        "replaces its volumes, so whatever runs there is lost",
        f"stop it (aws ec2 stop-instances --instance-ids {target.instance_id}) once it is "
        "confirmed to be a standby",
    )


def check_size(source: SourceFacts, target: TargetFacts, context: CheckContext) -> PairCheck:
    """The target has at least the source's vCPUs and memory."""
    name = CheckName.INSTANCE_SIZE
    size = context.instance_types.get(target.instance_type or "")
    if size is None:
        why = (
            context.instance_types_error
            or f"EC2 describes no instance type {target.instance_type!r}"
        )
        return _warn(name, why, "compare the target's vCPUs and memory with the source's yourself")
    if source.vcpus is None or source.ram_bytes is None:
        return _warn(
            name,
            f"DRS reports no CPU or memory for the source; the target ({target.instance_type}) "
            f"has {size.vcpus} vCPUs and {size.memory_mib / 1024:g} GiB",
            "compare the target's size with the source's yourself",
        )
    memory = size.memory_mib * 1024 * 1024
    if size.vcpus >= source.vcpus and memory >= source.ram_bytes:
        return _ok(
            name,
            f"{target.instance_type} has {size.vcpus} vCPUs and {size.memory_mib / 1024:g} GiB",
        )
    suggestion = source.recommended_instance_type or "a larger type"
    return _warn(
        name,
        f"{target.instance_type} has {size.vcpus} vCPUs and {size.memory_mib / 1024:g} GiB; the "
        f"source has {source.vcpus} and {source.ram_bytes / _GIB:g} GiB",
        f"resize the stopped target (aws ec2 modify-instance-attribute --instance-id "
        f"{target.instance_id} --instance-type {suggestion})",
    )


def check_network(target: TargetFacts, network: NetworkFacts) -> PairCheck:
    """The target's subnet exists, in its VPC and availability zone."""
    name = CheckName.NETWORK
    if target.subnet_id is None or target.vpc_id is None:
        return _fail(
            name,
            f"instance {target.instance_id} is in no VPC subnet",
            "pair the server with an instance in a VPC subnet",
        )
    if network.error is not None:
        return _warn(name, f"subnets could not be read: {network.error}", "check the subnet exists")
    subnet = network.subnets.get(target.subnet_id)
    if subnet is None:
        return _fail(
            name,
            f"subnet {target.subnet_id} of instance {target.instance_id} does not exist",
            "move the target to an existing subnet or pair another instance",
        )
    vpc, zone = subnet
    if vpc != target.vpc_id or (
        zone and target.availability_zone and zone != target.availability_zone
    ):
        return _fail(
            name,
            f"subnet {target.subnet_id} is in {vpc}/{zone}, the instance reports "
            f"{target.vpc_id}/{target.availability_zone}",
            "check the target's network placement in EC2",
        )
    return _ok(name, f"subnet {target.subnet_id} in {vpc}, {zone}")


def check_security_groups(target: TargetFacts, network: NetworkFacts) -> PairCheck:
    """The target's security groups exist and belong to its VPC."""
    name = CheckName.SECURITY_GROUPS
    if not target.security_group_ids:
        return _warn(
            name,
            f"instance {target.instance_id} has no security group",
            "attach the security groups the recovered server needs",
        )
    if network.error is not None:
        return _warn(
            name, f"security groups could not be read: {network.error}", "check they exist"
        )
    missing = [g for g in target.security_group_ids if g not in network.security_groups]
    if missing:
        return _fail(
            name,
            f"security group(s) {', '.join(missing)} of instance {target.instance_id} do not exist",
            "attach existing security groups to the target",
        )
    elsewhere = [
        g for g in target.security_group_ids if network.security_groups[g] != target.vpc_id
    ]
    if elsewhere:
        return _fail(
            name,
            f"security group(s) {', '.join(elsewhere)} are not in the target's VPC {target.vpc_id}",
            "attach security groups of the target's own VPC",
        )
    return _ok(name, ", ".join(target.security_group_ids))


def check_copy_settings(launch: LaunchFacts) -> PairCheck:
    """CopyPrivateIp and copyTags are off (DRS refuses launch-into otherwise)."""
    name = CheckName.COPY_SETTINGS
    if launch.error is not None:
        return _warn(
            name,
            f"the launch configuration could not be read: {launch.error}",
            "apply() turns copyPrivateIp and copyTags off in the server's override",
        )
    on = [
        field_name
        for field_name, value in (
            ("copyPrivateIp", launch.copy_private_ip),
            ("copyTags", launch.copy_tags),
        )
        if value
    ]
    if on:
        return _warn(
            name,
            f"{' and '.join(on)} on; DRS refuses to launch into an instance with either on",
            "apply() turns them off in the server's override in its protection group",
        )
    return _ok(name, "copyPrivateIp and copyTags off")


def check_template(source: SourceFacts, method: MatchMethod, context: CheckContext) -> PairCheck:
    """Whether DRS's launchIntoSourceInstance template setting would decide for itself."""
    name = CheckName.LAUNCH_INTO_SOURCE_INSTANCE
    if context.launch_into_source_instance is None:
        return _warn(
            name,
            f"DRS's launch configuration template could not be read ({context.template_error})",
            "check launchIntoSourceInstance (aws drs describe-launch-configuration-templates): "
            "when on, DRS launches a server returning to its previous region or zone into its "
            "source instance",
        )
    if not context.launch_into_source_instance:
        return _ok(name, "launchIntoSourceInstance is off in DRS's template")
    if method is MatchMethod.ORIGINAL_INSTANCE:
        return _ok(name, "launchIntoSourceInstance is on and picks this same original instance")
    if not source.returns_to_origin:
        return _ok(
            name, "launchIntoSourceInstance is on, but this server recovers to another region"
        )
    return _warn(
        name,
        "launchIntoSourceInstance is on in DRS's template: on a launch back to this server's "
        "previous region or zone, DRS launches into the source instance itself",
        "leave the pair to DRS (the library does not change the template), or turn the "
        "setting off in DRS if this pair is what you want",
    )


def check_private_ip(source: SourceFacts, target: TargetFacts) -> PairCheck:
    """The recovered server keeps the target's IP: say whether it is the source's."""
    name = CheckName.PRIVATE_IP
    if source.private_ip is None or target.private_ip is None:
        return _warn(
            name,
            f"source IP {source.private_ip or 'unknown'}, "
            f"target IP {target.private_ip or 'unknown'}",
            "the recovered server keeps the target's IP; check it is the address clients expect",
        )
    if source.private_ip == target.private_ip:
        return _ok(name, f"the target has the source's IP {source.private_ip}")
    return _warn(
        name,
        f"the recovered server will have the target's IP {target.private_ip}, not the "
        f"source's {source.private_ip} (copyPrivateIp must be off when launching into an "
        "instance)",
        "pre-provision the target with the source's IP, or update DNS and clients",
    )


def run_checks(
    source: SourceFacts,
    target: TargetFacts | None,
    target_id: str,
    *,
    launch: LaunchFacts,
    method: MatchMethod,
    context: CheckContext,
) -> list[PairCheck]:
    """Every check of one pair, in :class:`CheckName` order.

    A target that does not exist (or is terminated) gets that one failed
    check only: nothing else about it means anything.
    """
    exists = check_exists(target, target_id)
    if target is None or exists.status is CheckStatus.FAIL:
        return [exists]
    return [
        exists,
        check_tag(target),
        check_os(source, target),
        check_boot_mode(source, target, method),
        check_architecture(source, target),
        check_virtualization(target),
        check_root_device(target),
        check_licensing(source, target, launch),
        check_stopped(target),
        check_size(source, target, context),
        check_network(target, context.network),
        check_security_groups(target, context.network),
        check_copy_settings(launch),
        check_template(source, method, context),
        check_private_ip(source, target),
    ]
