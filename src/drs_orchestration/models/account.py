"""Which AWS account (and how to reach it) an operation runs in."""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from drs_orchestration.models.base import DrsModel
from drs_orchestration.models.ids import AccountId, Region

__all__ = ["AccountContext"]

_ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+$"
_ROLE_NAME_PATTERN = r"^[A-Za-z0-9_+=,.@/-]+$"


class AccountContext(DrsModel):
    """An AWS account to work in, and the role to assume there.

    A context without ``role_arn``/``role_name`` means "the caller's own
    account"; a client factory refuses to use it for any other account rather
    than fall back to the caller's credentials.

    Examples:
        >>> AccountContext(account_id="123456789012", role_name="DRSOrchestrationRole",
        ...                external_id="drill-2026")
        AccountContext(account_id='123456789012', ...)
    """

    account_id: AccountId
    role_arn: (
        Annotated[str, StringConstraints(pattern=_ROLE_ARN_PATTERN, max_length=2048)] | None
    ) = None
    role_name: (
        Annotated[str, StringConstraints(pattern=_ROLE_NAME_PATTERN, max_length=512)] | None
    ) = None
    external_id: Annotated[str, StringConstraints(min_length=2, max_length=1224)] | None = None
    region: Region | None = None
    partition: Annotated[str, StringConstraints(pattern=r"^aws(-[a-z]+)*$")] = "aws"
    session_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_+=,.@-]{2,64}$")] = Field(
        default="drs-orchestration"
    )

    @model_validator(mode="after")
    def _role_matches_account(self) -> Self:
        if self.role_arn and self.role_name:
            raise ValueError("give role_arn or role_name, not both")
        if self.role_arn:
            arn_account = re.search(r"::([0-9]{12}):", self.role_arn)
            if arn_account and arn_account.group(1) != self.account_id:
                raise ValueError(
                    f"role_arn is in account {arn_account.group(1)}, "
                    f"but account_id is {self.account_id}"
                )
        return self

    @property
    def resolved_role_arn(self) -> str | None:
        """The role ARN to assume (built from ``role_name`` when only the name is given)."""
        if self.role_arn:
            return self.role_arn
        if self.role_name:
            return f"arn:{self.partition}:iam::{self.account_id}:role/{self.role_name}"
        return None

    def cache_key(self) -> tuple[str, str | None, str | None]:
        """A hashable identity: account, role and external ID (each gets its own session)."""
        return (self.account_id, self.resolved_role_arn, self.external_id)
