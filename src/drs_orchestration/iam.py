"""Least-privilege IAM policies for what the library does, capability by capability.

:func:`policy_for` returns an IAM policy document granting exactly the AWS
actions the chosen capabilities call — checked by a test that runs every
capability against the DRS simulator and moto, records each API call, and
fails if a call is not granted or a grant is never called — plus the
*dependent* actions AWS requires alongside some calls
(:data:`DEPENDENT_ACTIONS`, from the Service Authorization Reference: DRS
launches and terminates recovery instances with the caller's EC2
permissions).

===================  ==========================================================
capability           what it covers
===================  ==========================================================
``launch_configs``   groups (tags resolved in DRS), applying launch settings
                     (DRS launch configuration and the EC2 launch template), drift
``waves``            preflight and executions: snapshots, ``StartRecovery``,
                     following jobs and their logs, recovery instances
``cache``            syncing recovery instances from DRS and EC2
``terminate``        terminating an execution's recovery instances
``matching``         matching servers with EC2 instances, tagging and pairing them
                     (pairing writes launch settings: combine it with
                     ``launch_configs`` when groups set launch-template fields)
``failback``         failing back: replication back, the launch back, re-protection
                     and clean-up (see below)
``storage``          the DynamoDB tables (by prefix) and their indexes
``cross_account``    ``sts:AssumeRole`` into the target accounts' roles, with
                     the ExternalId required
``quotas``           reading the account's DRS quotas from Service Quotas
                     (``DrsQuotas.from_service_quotas``; without it the
                     defaults apply)
===================  ==========================================================

Resources are scoped where the service supports it: DRS source servers,
jobs and recovery instances by ARN in the region and account given (``*``
when not given); ``StartRecovery`` only with the ``ManagedBy`` tag the
library puts on every job, ``DescribeJobLogItems`` only on jobs carrying it;
EC2 ``CreateTags`` only to add the ``AWSDRS`` launch-into tag; DynamoDB only
the tables with the prefix. Describe calls that support no resource-level
permission get ``*``.

The ``failback`` capability is :class:`~drs_orchestration.FailbackCoordinator`
end to end, proven by call recording like the others: reverse replication
(or the Failback Client's ``StartFailbackLaunch``), the launch back (a
recovery of the reversed servers in their origin, with what ``StartRecovery``
needs alongside), re-protection, clean-up (``StopReplication``,
``TerminateRecoveryInstances``) and ``StopFailback``. A failback calls DRS in
the recovery region *and* the origin region: give no ``region`` (or one policy
per region). Launching back into the original instances also pairs them:
add ``matching`` and ``launch_configs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drs_orchestration.errors import ValidationError

__all__ = [
    "CAPABILITIES",
    "DEPENDENT_ACTIONS",
    "MANAGED_BY_TAG",
    "Grant",
    "grants_for",
    "policy_for",
]

MANAGED_BY_TAG = ("ManagedBy", "drs-orchestration")
"""The tag (key, value) the library puts on every DRS job it starts."""


@dataclass(frozen=True)
class Grant:
    """One statement: actions on resources (ARN templates), with an optional condition.

    Resource templates use ``{partition}``, ``{region}``, ``{account}``,
    ``{prefix}`` (the DynamoDB table prefix) and ``{role}`` (an assumable role).
    """

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    dependent: bool = False
    """Granted because AWS requires it alongside another action, not called directly."""


_DRS = "arn:{partition}:drs:{region}:{account}"
_SOURCE_SERVERS = (f"{_DRS}:source-server/*",)
_RECOVERY_INSTANCES = (f"{_DRS}:recovery-instance/*",)
_JOBS = (f"{_DRS}:job/*",)
_TABLES = (
    "arn:{partition}:dynamodb:{region}:{account}:table/{prefix}*",
    "arn:{partition}:dynamodb:{region}:{account}:table/{prefix}*/index/*",
)
_LAUNCH_TEMPLATES = ("arn:{partition}:ec2:{region}:{account}:launch-template/*",)
_MANAGED_JOB = {"StringEquals": {f"aws:RequestTag/{MANAGED_BY_TAG[0]}": MANAGED_BY_TAG[1]}}
_TAGGED_JOB = {"StringEquals": {f"aws:ResourceTag/{MANAGED_BY_TAG[0]}": MANAGED_BY_TAG[1]}}

DEPENDENT_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "drs:StartRecovery": (
        "drs:CreateRecoveryInstanceForDrs",
        "drs:ListTagsForResource",
        "drs:TagResource",
        "ec2:AttachVolume",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:CreateLaunchTemplate",
        "ec2:CreateLaunchTemplateVersion",
        "ec2:CreateSnapshot",
        "ec2:CreateTags",
        "ec2:CreateVolume",
        "ec2:DeleteLaunchTemplateVersions",
        "ec2:DeleteSnapshot",
        "ec2:DeleteVolume",
        "ec2:DescribeAccountAttributes",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeImages",
        "ec2:DescribeInstanceAttribute",
        "ec2:DescribeInstanceStatus",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeInstances",
        "ec2:DescribeLaunchTemplateVersions",
        "ec2:DescribeLaunchTemplates",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSnapshots",
        "ec2:DescribeSubnets",
        "ec2:DescribeVolumes",
        "ec2:DetachVolume",
        "ec2:ModifyInstanceAttribute",
        "ec2:ModifyLaunchTemplate",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:RunInstances",
        "ec2:StartInstances",
        "ec2:StopInstances",
        "ec2:TerminateInstances",
        "iam:PassRole",
    ),
    "drs:TerminateRecoveryInstances": (
        "drs:DescribeSourceServers",
        "ec2:DeleteVolume",
        "ec2:DescribeInstances",
        "ec2:DescribeVolumes",
        "ec2:TerminateInstances",
    ),
    "drs:DescribeRecoveryInstances": ("drs:DescribeSourceServers", "ec2:DescribeInstances"),
    "drs:UpdateLaunchConfiguration": ("ec2:DescribeInstances",),
    "drs:ReverseReplication": (
        "drs:DescribeReplicationConfigurationTemplates",
        "drs:DescribeSourceServers",
        "ec2:DescribeInstances",
    ),
}
"""Actions AWS requires alongside an action (the Service Authorization Reference's
"dependent actions" column), for the actions the library calls."""

# ec2:DescribeInstances is called directly too (after each wave, by the cache sync).
_LAUNCH_EC2 = tuple(
    a
    for a in DEPENDENT_ACTIONS["drs:StartRecovery"]
    if a.startswith("ec2:") and a != "ec2:DescribeInstances"
)

_MANAGED_LAUNCHES = (
    Grant("DrsStartManagedJobs", ("drs:StartRecovery",), _SOURCE_SERVERS, _MANAGED_JOB),
    Grant("DrsJobLogsOfManagedJobs", ("drs:DescribeJobLogItems",), _JOBS, _TAGGED_JOB),
)
"""Starting tagged jobs and reading their logs: executions, and the launch back of a failback."""

_LAUNCH_DEPENDENTS = (
    Grant(
        "DrsLaunchRecoveryInstances",
        ("drs:CreateRecoveryInstanceForDrs",),
        _SOURCE_SERVERS,
        dependent=True,
    ),
    Grant(
        "DrsTagJobsOnStart",
        ("drs:TagResource",),
        _JOBS,
        {"StringEquals": {"drs:CreateAction": "StartRecovery"}},
        dependent=True,
    ),
    Grant(
        "DrsListTags",
        ("drs:ListTagsForResource",),
        (*_SOURCE_SERVERS, *_JOBS, *_RECOVERY_INSTANCES),
        dependent=True,
    ),
    Grant("Ec2UsedByDrsLaunches", _LAUNCH_EC2, dependent=True),
    Grant(
        "PassDrsInstanceRoles",
        ("iam:PassRole",),
        ("arn:{partition}:iam::{account}:role/service-role/AWSElasticDisasterRecovery*",),
        {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        dependent=True,
    ),
)
"""What ``StartRecovery`` needs alongside (DRS launches with the caller's EC2 permissions)."""

CAPABILITIES: Mapping[str, tuple[Grant, ...]] = {
    "launch_configs": (
        Grant("DrsDescribeSourceServers", ("drs:DescribeSourceServers",)),
        Grant(
            "DrsLaunchConfigurations",
            ("drs:GetLaunchConfiguration", "drs:UpdateLaunchConfiguration"),
            _SOURCE_SERVERS,
        ),
        Grant("Ec2ReadLaunchTemplates", ("ec2:DescribeLaunchTemplateVersions",)),
        Grant(
            "Ec2WriteLaunchTemplates",
            ("ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate"),
            _LAUNCH_TEMPLATES,
        ),
        Grant("Ec2UsedByDrsLaunchSettings", ("ec2:DescribeInstances",), dependent=True),
    ),
    "waves": (
        Grant(
            "DrsDescribe",
            ("drs:DescribeSourceServers", "drs:DescribeJobs", "drs:DescribeRecoveryInstances"),
        ),
        Grant("DrsRecoverySnapshots", ("drs:DescribeRecoverySnapshots",), _SOURCE_SERVERS),
        *_MANAGED_LAUNCHES,
        Grant("Ec2DescribeInstances", ("ec2:DescribeInstances",)),
        *_LAUNCH_DEPENDENTS,
    ),
    "cache": (
        Grant(
            "DrsDescribe",
            ("drs:DescribeRecoveryInstances", "drs:DescribeSourceServers", "drs:DescribeJobs"),
        ),
        Grant("Ec2DescribeInstances", ("ec2:DescribeInstances",)),
    ),
    "terminate": (
        Grant("DrsDescribe", ("drs:DescribeRecoveryInstances", "drs:DescribeJobs")),
        Grant("DrsUsedByDrsReads", ("drs:DescribeSourceServers",), dependent=True),
        Grant(
            "DrsTerminateRecoveryInstances",
            ("drs:TerminateRecoveryInstances",),
            _RECOVERY_INSTANCES,
        ),
        Grant("Ec2DescribeInstances", ("ec2:DescribeInstances",)),
        Grant("Ec2UsedByDrsTerminationReads", ("ec2:DescribeVolumes",), dependent=True),
        Grant(
            "Ec2UsedByDrsTermination",
            ("ec2:TerminateInstances", "ec2:DeleteVolume"),
            (
                "arn:{partition}:ec2:{region}:{account}:instance/*",
                "arn:{partition}:ec2:{region}:{account}:volume/*",
            ),
            dependent=True,
        ),
    ),
    "matching": (
        Grant(
            "DrsDescribe",
            ("drs:DescribeSourceServers", "drs:DescribeLaunchConfigurationTemplates"),
        ),
        Grant(
            "DrsLaunchConfigurations",
            ("drs:GetLaunchConfiguration", "drs:UpdateLaunchConfiguration"),
            _SOURCE_SERVERS,
        ),
        Grant(
            "Ec2DescribeTargets",
            (
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
            ),
        ),
        Grant(
            "Ec2TagLaunchIntoTargets",
            ("ec2:CreateTags",),
            ("arn:{partition}:ec2:{region}:{account}:instance/*",),
            {
                "StringEquals": {"aws:RequestTag/AWSDRS": "AllowLaunchingIntoThisInstance"},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["AWSDRS"]},
            },
        ),
    ),
    "failback": (
        Grant(
            "DrsDescribe",
            ("drs:DescribeSourceServers", "drs:DescribeRecoveryInstances", "drs:DescribeJobs"),
        ),
        Grant(
            "DrsReverseReplication",
            (
                "drs:ReverseReplication",
                "drs:StartFailbackLaunch",
                "drs:StopFailback",
                "drs:GetFailbackReplicationConfiguration",
                "drs:UpdateFailbackReplicationConfiguration",
            ),
            _RECOVERY_INSTANCES,
        ),
        # The launch back is a wave execution in the origin; clean-up stops the server that
        # replicated back and terminates the old recovery instances.
        *_MANAGED_LAUNCHES,
        Grant("DrsStopReplication", ("drs:StopReplication",), _SOURCE_SERVERS),
        Grant(
            "DrsTerminateRecoveryInstances",
            ("drs:TerminateRecoveryInstances",),
            _RECOVERY_INSTANCES,
        ),
        Grant("Ec2DescribeInstances", ("ec2:DescribeInstances",)),
        Grant(
            "DrsReverseReplicationReads",
            ("drs:DescribeReplicationConfigurationTemplates",),
            dependent=True,
        ),
        *_LAUNCH_DEPENDENTS,
    ),
    "storage": (
        Grant(
            "DynamoDbTables",
            (
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:Query",
                "dynamodb:Scan",
            ),
            _TABLES,
        ),
    ),
    "cross_account": (Grant("AssumeTargetRoles", ("sts:AssumeRole",), ("{role}",)),),
    # On "*" like the describes: reading a quota value changes nothing.
    "quotas": (Grant("ReadDrsQuotas", ("servicequotas:GetServiceQuota",)),),
}
"""Each capability's grants."""


def _check_capabilities(capabilities: Iterable[str]) -> list[str]:
    if isinstance(capabilities, str):
        capabilities = [capabilities]
    chosen = list(dict.fromkeys(capabilities))
    unknown = [c for c in chosen if c not in CAPABILITIES]
    if unknown or not chosen:
        raise ValidationError.for_field(
            "capabilities", unknown or chosen, f"must be some of {', '.join(CAPABILITIES)}"
        )
    return chosen


def grants_for(capabilities: Iterable[str]) -> list[Grant]:
    """The grants of ``capabilities``, in order, without repeating an identical grant.

    Raises:
        ValidationError: an unknown capability (the known ones named), or none.
    """
    seen: list[Grant] = []
    for capability in _check_capabilities(capabilities):
        for grant in CAPABILITIES[capability]:
            if grant not in seen:
                seen.append(grant)
    return seen


def policy_for(
    capabilities: Iterable[str],
    *,
    region: str | None = None,
    account: str | None = None,
    table_prefix: str = "drs-orch-",
    partition: str = "aws",
    assume_roles: Sequence[str] = (),
    external_id: str | None = None,
) -> dict[str, Any]:
    """An IAM policy document for ``capabilities``.

    Args:
        capabilities: Names from :data:`CAPABILITIES` (``"waves"``, ``"storage"``...).
        region: The region of the resources (``*``: any).
        account: The account of the resources (``*``: any).
        table_prefix: The DynamoDB tables' prefix (``DynamoDBStorage(table_prefix=...)``).
        partition: ``aws``, ``aws-cn``, ``aws-us-gov``.
        assume_roles: Role ARNs ``cross_account`` may assume (required with it).
        external_id: The ExternalId every ``AssumeRole`` must carry (required with
            ``cross_account``; the target roles' trust policies require it too).

    Raises:
        ValidationError: an unknown capability, or ``cross_account`` without
            ``assume_roles`` and ``external_id``.

    Examples:
        >>> policy = policy_for(["waves", "storage"], region="us-east-1", account="123456789012")
        >>> policy["Statement"][0]["Sid"]
        'WavesDrsDescribe'
    """
    chosen = _check_capabilities(capabilities)
    if "cross_account" in chosen:
        if not assume_roles:
            raise ValidationError.for_field(
                "assume_roles", list(assume_roles), "name the roles cross_account may assume"
            )
        if not external_id:
            raise ValidationError.for_field(
                "external_id", external_id, "is required: AssumeRole without it is refused"
            )
    values = {
        "partition": partition,
        "region": region or "*",
        "account": account or "*",
        "prefix": table_prefix,
    }
    statements: list[dict[str, Any]] = []
    sids: set[str] = set()
    for capability in chosen:
        for grant in CAPABILITIES[capability]:
            sid = "".join(part.capitalize() for part in capability.split("_")) + grant.sid
            if grant.resources == ("{role}",):
                resources = list(assume_roles)
                condition: dict[str, Any] = {"StringEquals": {"sts:ExternalId": external_id}}
            else:
                resources = sorted({r.format(**values) for r in grant.resources})
                condition = {k: dict(v) for k, v in grant.condition.items()}
            statement: dict[str, Any] = {
                "Sid": sid,
                "Effect": "Allow",
                "Action": sorted(grant.actions),
                "Resource": resources,
            }
            if condition:
                statement["Condition"] = condition
            if sid not in sids:
                sids.add(sid)
                statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}
