"""Validated identifier types.

AWS IDs are checked against the patterns of the DRS and EC2 service models;
our own IDs are a short prefix and 20 random lowercase alphanumerics.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Annotated

from pydantic import StringConstraints

__all__ = [
    "EC2_INSTANCE_ID_PATTERN",
    "JOB_ID_PATTERN",
    "SOURCE_SERVER_ID_PATTERN",
    "AccountId",
    "Ec2InstanceId",
    "ExecutionId",
    "JobId",
    "PlanId",
    "ProtectionGroupId",
    "RecoveryInstanceId",
    "Region",
    "SourceServerId",
    "new_execution_id",
    "new_plan_id",
    "new_protection_group_id",
]

SOURCE_SERVER_ID_PATTERN = r"^s-[0-9a-zA-Z]{17}$"
JOB_ID_PATTERN = r"^drsjob-[0-9a-zA-Z]{17}$"
EC2_INSTANCE_ID_PATTERN = r"^i-([0-9a-f]{8}|[0-9a-f]{17})$"
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$"

SourceServerId = Annotated[str, StringConstraints(pattern=SOURCE_SERVER_ID_PATTERN)]
"""A DRS source server ID: ``s-`` and 17 alphanumerics."""
JobId = Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)]
"""A DRS job ID: ``drsjob-`` and 17 alphanumerics."""
Ec2InstanceId = Annotated[str, StringConstraints(pattern=EC2_INSTANCE_ID_PATTERN)]
"""An EC2 instance ID: ``i-`` and 8 or 17 hex digits."""
RecoveryInstanceId = Annotated[str, StringConstraints(pattern=EC2_INSTANCE_ID_PATTERN)]
"""A DRS recovery instance ID (same form as an EC2 instance ID)."""
AccountId = Annotated[str, StringConstraints(pattern=ACCOUNT_ID_PATTERN)]
"""A 12-digit AWS account ID."""
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
"""An AWS region name such as ``us-east-1`` or ``us-gov-west-1``."""

_OWN_ID_ALPHABET = string.ascii_lowercase + string.digits
_OWN_ID_LENGTH = 20


def _own_id_pattern(prefix: str) -> str:
    return rf"^{prefix}-[0-9a-z]{{{_OWN_ID_LENGTH}}}$"


ProtectionGroupId = Annotated[str, StringConstraints(pattern=_own_id_pattern("pg"))]
"""A protection group ID of ours: ``pg-`` and 20 lowercase alphanumerics."""
PlanId = Annotated[str, StringConstraints(pattern=_own_id_pattern("rp"))]
"""A recovery plan ID of ours: ``rp-`` and 20 lowercase alphanumerics."""
ExecutionId = Annotated[str, StringConstraints(pattern=_own_id_pattern("ex"))]
"""An execution ID of ours: ``ex-`` and 20 lowercase alphanumerics."""


def _new_id(prefix: str) -> str:
    return prefix + "-" + "".join(secrets.choice(_OWN_ID_ALPHABET) for _ in range(_OWN_ID_LENGTH))


def new_protection_group_id() -> str:
    """Return a fresh protection group ID (``pg-…``)."""
    return _new_id("pg")


def new_plan_id() -> str:
    """Return a fresh recovery plan ID (``rp-…``)."""
    return _new_id("rp")


def new_execution_id() -> str:
    """Return a fresh execution ID (``ex-…``)."""
    return _new_id("ex")


def is_source_server_id(value: str) -> bool:
    """Return whether ``value`` is a well-formed DRS source server ID."""
    return re.fullmatch(SOURCE_SERVER_ID_PATTERN, value) is not None
