"""Every check of a pair passes, warns and fails where it should, and says how to fix it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from drs_orchestration.models import CheckName, CheckStatus, MatchMethod
from drs_orchestration.services.matching.checks import run_checks
from drs_orchestration.services.matching.facts import (
    CheckContext,
    InstanceTypeFacts,
    LaunchFacts,
    NetworkFacts,
    SourceFacts,
    TargetFacts,
)

GIB = 1024**3
TARGET = "i-0123456789abcdef0"
SOURCE = SourceFacts(
    source_server_id="s-1234567890abcdef0",
    os="LINUX",
    architecture="x86_64",
    vcpus=2,
    ram_bytes=4 * GIB,
    recommended_instance_type="t3.medium",
    private_ip="10.0.1.25",
)
INSTANCE = TargetFacts(
    instance_id=TARGET,
    state="stopped",
    tags={"Name": "web-1", "AWSDRS": "AllowLaunchingIntoThisInstance"},
    platform="LINUX",
    architecture="x86_64",
    virtualization_type="hvm",
    root_device_type="ebs",
    boot_mode="legacy-bios",
    tenancy="default",
    instance_type="m5.large",
    subnet_id="subnet-0123456789abcdef0",
    vpc_id="vpc-0123456789abcdef0",
    availability_zone="us-east-1a",
    security_group_ids=("sg-0123456789abcdef0",),
    private_ip="10.0.1.25",
)
LAUNCH = LaunchFacts(copy_private_ip=False, copy_tags=False, os_byol=False)
CONTEXT = CheckContext(
    instance_types={"m5.large": InstanceTypeFacts(2, 8192), "t3.micro": InstanceTypeFacts(2, 1024)},
    network=NetworkFacts(
        subnets={"subnet-0123456789abcdef0": ("vpc-0123456789abcdef0", "us-east-1a")},
        security_groups={"sg-0123456789abcdef0": "vpc-0123456789abcdef0"},
    ),
    launch_into_source_instance=False,
)


def _checks(
    source: SourceFacts = SOURCE,
    target: TargetFacts | None = INSTANCE,
    launch: LaunchFacts = LAUNCH,
    method: MatchMethod = MatchMethod.NAME_TAG,
    context: CheckContext = CONTEXT,
) -> dict[CheckName, tuple[CheckStatus, str, str | None]]:
    found = run_checks(source, target, TARGET, launch=launch, method=method, context=context)
    return {c.name: (c.status, c.message, c.remediation) for c in found}


def test_a_good_pair_passes_every_check_in_order() -> None:
    checks = run_checks(
        SOURCE, INSTANCE, TARGET, launch=LAUNCH, method=MatchMethod.NAME_TAG, context=CONTEXT
    )
    assert [c.name for c in checks] == list(CheckName)
    assert {c.status for c in checks} == {CheckStatus.PASS}
    assert all(c.remediation is None for c in checks)


@pytest.mark.parametrize(
    ("target", "fragment"),
    [(None, "EC2 has no instance"), (replace(INSTANCE, state="terminated"), "is terminated")],
)
def test_a_missing_or_terminated_target_fails_alone(
    target: TargetFacts | None, fragment: str
) -> None:
    checks = _checks(target=target)
    assert list(checks) == [CheckName.TARGET_EXISTS]
    status, message, fix = checks[CheckName.TARGET_EXISTS]
    assert status is CheckStatus.FAIL
    assert fragment in message
    assert fix


# (check, how to break it, expected status, a fragment of the message, of the remediation)
BROKEN = [
    (
        CheckName.LAUNCH_INTO_TAG,
        {"target": replace(INSTANCE, tags={"Name": "web-1"})},
        CheckStatus.FAIL,
        "lacks the tag",
        "add_tag=True",
    ),
    (
        CheckName.OS_PLATFORM,
        {"target": replace(INSTANCE, platform="WINDOWS")},
        CheckStatus.FAIL,
        "runs Windows",
        "Linux instance",
    ),
    (
        CheckName.OS_PLATFORM,
        {"source": replace(SOURCE, os=None)},
        CheckStatus.WARN,
        "no recognisable OS",
        "same OS platform",
    ),
    (
        CheckName.BOOT_MODE,
        {"target": replace(INSTANCE, boot_mode="uefi")},
        CheckStatus.FAIL,
        "boots with uefi",
        "legacy-bios",
    ),
    (
        CheckName.BOOT_MODE,
        {"target": replace(INSTANCE, boot_mode=None)},
        CheckStatus.WARN,
        "no boot mode",
        "CurrentInstanceBootMode",
    ),
    (
        CheckName.BOOT_MODE,
        {
            "source": replace(SOURCE, os="WINDOWS", boot_mode="uefi"),
            "target": replace(INSTANCE, platform="WINDOWS"),
        },
        CheckStatus.FAIL,
        "the source boots with uefi",
        "boots with uefi",
    ),
    (
        CheckName.BOOT_MODE,
        {"source": replace(SOURCE, os="WINDOWS"), "target": replace(INSTANCE, platform="WINDOWS")},
        CheckStatus.WARN,
        "not reported by DRS",
        "BIOS or UEFI",
    ),
    (
        CheckName.ARCHITECTURE,
        {"target": replace(INSTANCE, architecture="arm64")},
        CheckStatus.FAIL,
        "architecture arm64",
        "x86_64",
    ),
    (
        CheckName.ARCHITECTURE,
        {"source": replace(SOURCE, architecture="arm64")},
        CheckStatus.FAIL,
        "the source reports",
        "x86_64",
    ),
    (
        CheckName.ARCHITECTURE,
        {"target": replace(INSTANCE, architecture=None)},
        CheckStatus.WARN,
        "no architecture",
        "x86_64",
    ),
    (
        CheckName.VIRTUALIZATION,
        {"target": replace(INSTANCE, virtualization_type="paravirtual")},
        CheckStatus.FAIL,
        "paravirtual",
        "HVM",
    ),
    (
        CheckName.ROOT_DEVICE,
        {"target": replace(INSTANCE, root_device_type="instance-store")},
        CheckStatus.FAIL,
        "instance-store",
        "EBS-backed",
    ),
    (
        CheckName.LICENSING,
        {
            "source": replace(SOURCE, os="WINDOWS"),
            "target": replace(INSTANCE, platform="WINDOWS"),
            "launch": replace(LAUNCH, os_byol=True),
        },
        CheckStatus.FAIL,
        "osByol is on for a Windows server",
        "dedicated",
    ),
    (
        CheckName.LICENSING,
        {"launch": LaunchFacts(error="AccessDenied")},
        CheckStatus.WARN,
        "could not be read",
        "osByol",
    ),
    (
        CheckName.TARGET_STOPPED,
        {"target": replace(INSTANCE, state="running")},
        CheckStatus.WARN,
        "is running",
        "stop-instances",
    ),
    (
        CheckName.INSTANCE_SIZE,
        {"target": replace(INSTANCE, instance_type="t3.micro")},
        CheckStatus.WARN,
        "the source has 2 and 4 GiB",
        "--instance-type t3.medium",
    ),
    (
        CheckName.INSTANCE_SIZE,
        {"source": replace(SOURCE, vcpus=4)},
        CheckStatus.WARN,
        "2 vCPUs",
        "modify-instance-attribute",
    ),
    (
        CheckName.INSTANCE_SIZE,
        {"target": replace(INSTANCE, instance_type="x9.huge")},
        CheckStatus.WARN,
        "no instance type 'x9.huge'",
        "yourself",
    ),
    (
        CheckName.INSTANCE_SIZE,
        {
            "context": replace(
                CONTEXT, instance_types={}, instance_types_error="instance types could not be read"
            )
        },
        CheckStatus.WARN,
        "could not be read",
        "yourself",
    ),
    (
        CheckName.NETWORK,
        {"target": replace(INSTANCE, subnet_id="subnet-00000000000000000")},
        CheckStatus.FAIL,
        "does not exist",
        "existing subnet",
    ),
    (
        CheckName.NETWORK,
        {"target": replace(INSTANCE, availability_zone="us-east-1b")},
        CheckStatus.FAIL,
        "the instance reports",
        "placement",
    ),
    (
        CheckName.NETWORK,
        {"target": replace(INSTANCE, subnet_id=None, vpc_id=None)},
        CheckStatus.FAIL,
        "no VPC subnet",
        "VPC subnet",
    ),
    (
        CheckName.NETWORK,
        {"context": replace(CONTEXT, network=NetworkFacts(error="Throttled"))},
        CheckStatus.WARN,
        "could not be read",
        "exists",
    ),
    (
        CheckName.SECURITY_GROUPS,
        {"target": replace(INSTANCE, security_group_ids=("sg-00000000000000000",))},
        CheckStatus.FAIL,
        "do not exist",
        "existing security groups",
    ),
    (
        CheckName.SECURITY_GROUPS,
        {
            "context": replace(
                CONTEXT,
                network=replace(
                    CONTEXT.network,
                    security_groups={"sg-0123456789abcdef0": "vpc-0fedcba9876543210"},
                ),
            )
        },
        CheckStatus.FAIL,
        "not in the target's VPC",
        "own VPC",
    ),
    (
        CheckName.SECURITY_GROUPS,
        {"target": replace(INSTANCE, security_group_ids=())},
        CheckStatus.WARN,
        "no security group",
        "attach",
    ),
    (
        CheckName.COPY_SETTINGS,
        {"launch": replace(LAUNCH, copy_private_ip=True, copy_tags=True)},
        CheckStatus.WARN,
        "copyPrivateIp and copyTags on",
        "apply()",
    ),
    (
        CheckName.LAUNCH_INTO_SOURCE_INSTANCE,
        {
            "context": replace(
                CONTEXT, launch_into_source_instance=None, template_error="NotImplemented"
            )
        },
        CheckStatus.WARN,
        "could not be read",
        "describe-launch-configuration-templates",
    ),
    (
        CheckName.LAUNCH_INTO_SOURCE_INSTANCE,
        {
            "context": replace(CONTEXT, launch_into_source_instance=True),
            "source": replace(SOURCE, returns_to_origin=True),
        },
        CheckStatus.WARN,
        "launchIntoSourceInstance is on",
        "does not change the template",
    ),
    (
        CheckName.PRIVATE_IP,
        {"target": replace(INSTANCE, private_ip="10.0.1.99")},
        CheckStatus.WARN,
        "will have the target's IP 10.0.1.99",
        "pre-provision",
    ),
]


@pytest.mark.parametrize(
    ("name", "broken", "status", "message", "fix"),
    BROKEN,
    ids=[f"{b[0].value}-{i}" for i, b in enumerate(BROKEN)],
)
def test_each_check_reports_the_problem_and_how_to_fix_it(
    name: CheckName, broken: dict[str, object], status: CheckStatus, message: str, fix: str
) -> None:
    checks = _checks(**broken)  # type: ignore[arg-type]
    found_status, found_message, remediation = checks[name]
    assert found_status is status
    assert message in found_message
    assert remediation is not None
    assert fix in remediation


@pytest.mark.parametrize(
    ("name", "passing", "fragment"),
    [
        (CheckName.LICENSING, {"launch": replace(LAUNCH, os_byol=True)}, "BYOL on Linux"),
        (
            CheckName.LICENSING,
            {
                "source": replace(SOURCE, os="WINDOWS"),
                "target": replace(INSTANCE, platform="WINDOWS", tenancy="dedicated"),
                "launch": replace(LAUNCH, os_byol=True),
            },
            "BYOL on dedicated tenancy",
        ),
        (
            CheckName.BOOT_MODE,
            {
                "source": replace(SOURCE, os="WINDOWS", boot_mode="uefi"),
                "target": replace(INSTANCE, platform="WINDOWS", boot_mode="uefi"),
            },
            "both boot with uefi",
        ),
        (
            CheckName.BOOT_MODE,
            {
                "target": replace(INSTANCE, boot_mode="uefi"),
                "method": MatchMethod.ORIGINAL_INSTANCE,
            },
            "original instance",
        ),
        (
            CheckName.LAUNCH_INTO_SOURCE_INSTANCE,
            {
                "context": replace(CONTEXT, launch_into_source_instance=True),
                "method": MatchMethod.ORIGINAL_INSTANCE,
            },
            "picks this same original instance",
        ),
        (
            CheckName.LAUNCH_INTO_SOURCE_INSTANCE,
            {"context": replace(CONTEXT, launch_into_source_instance=True)},
            "recovers to another region",
        ),
        (CheckName.TARGET_STOPPED, {}, "stopped"),
        (CheckName.INSTANCE_SIZE, {}, "m5.large has 2 vCPUs and 8 GiB"),
    ],
)
def test_checks_pass_where_drs_allows_the_launch(
    name: CheckName, passing: dict[str, object], fragment: str
) -> None:
    status, message, remediation = _checks(**passing)[name]  # type: ignore[arg-type]
    assert status is CheckStatus.PASS
    assert fragment in message
    assert remediation is None
