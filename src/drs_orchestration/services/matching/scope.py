"""The matcher's arguments: which servers, where, by which rules — checked before any call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

from drs_orchestration.errors import ValidationError
from drs_orchestration.models import AccountContext, ProtectionGroup
from drs_orchestration.models.ids import Region, SourceServerId
from drs_orchestration.models.matching import MatchReport, MatchRules
from drs_orchestration.storage.base import Storage

__all__ = [
    "MatchScope",
    "account_for",
    "check_explicit_pairs",
    "check_report_fits",
    "checked_server_ids",
    "parse_rules",
    "resolve_scope",
]

_REGION = pydantic.TypeAdapter(Region)
_SOURCE_ID = pydantic.TypeAdapter(SourceServerId)


@dataclass(frozen=True)
class MatchScope:
    """What one match covers: the DRS region and account, the servers, their group."""

    region: str
    account: AccountContext | None
    source_server_ids: list[str]
    group: ProtectionGroup | None

    @property
    def account_id(self) -> str | None:
        """The account ID, when an account context was given."""
        return self.account.account_id if self.account else None

    @property
    def group_id(self) -> str | None:
        """The group's ID, when the match is of a group."""
        return self.group.group_id if self.group else None


def parse_rules(rules: MatchRules | Mapping[str, Any] | None) -> MatchRules:
    """The rules given (a model or its wire form), validated.

    Raises:
        ValidationError: naming each bad field under ``rules``.
    """
    if rules is None:
        return MatchRules()
    if isinstance(rules, MatchRules):
        return rules
    if not isinstance(rules, Mapping):
        raise ValidationError.for_field("rules", rules, "must be MatchRules or a mapping")
    try:
        return MatchRules.model_validate(rules)
    except pydantic.ValidationError as exc:
        raise ValidationError.from_pydantic(exc, prefix="rules") from exc


def checked_server_ids(values: Iterable[str], field: str) -> list[str]:
    """Distinct, well-formed source server IDs in the order given.

    Raises:
        ValidationError: naming the position of a malformed ID.
    """
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValidationError.for_field(field, values, "must be a list of source server IDs")
    ids = list(values)
    for index, value in enumerate(ids):
        try:
            _SOURCE_ID.validate_python(value)
        except pydantic.ValidationError:
            raise ValidationError.for_field(
                f"{field}[{index}]",
                value,
                "is not a DRS source server ID ('s-' and 17 letters or digits)",
            ) from None
    return list(dict.fromkeys(ids))


def resolve_scope(
    storage: Storage,
    *,
    source_server_ids_arg: Iterable[str] | None,
    group_id: str | None,
    region: str | None,
    account: AccountContext | None,
) -> MatchScope:
    """The servers, region and account of a match, from a group or explicit arguments.

    Raises:
        ValidationError: both or neither of the server IDs and the group, a bad
            ID or region, or a region or account that contradicts the group's.
        NotFoundError: the group does not exist.
    """
    if (source_server_ids_arg is None) == (group_id is None):
        raise ValidationError.for_field(
            "source_server_ids",
            source_server_ids_arg,
            "give exactly one of source_server_ids and group_id",
        )
    if account is not None and not isinstance(account, AccountContext):
        raise ValidationError.for_field("account", account, "must be an AccountContext")
    if region is not None:
        try:
            _REGION.validate_python(region)
        except pydantic.ValidationError:
            raise ValidationError.for_field(
                "region", region, "is not an AWS region name such as us-east-1"
            ) from None
    if group_id is not None:
        group = storage.protection_groups.get(group_id)
        if region is not None and region != group.region:
            raise ValidationError.for_field(
                "region", region, f"protection group {group_id} is in {group.region}"
            )
        group_account = group.account.account_id if group.account else None
        if account is not None and account.account_id != group_account:
            raise ValidationError.for_field(
                "account",
                account.account_id,
                f"protection group {group_id} is in account {group_account or '(own)'}",
            )
        return MatchScope(group.region, group.account, list(group.source_server_ids), group)
    assert source_server_ids_arg is not None
    ids = checked_server_ids(source_server_ids_arg, "source_server_ids")
    if not ids:
        raise ValidationError.for_field(
            "source_server_ids", [], "must name at least one source server"
        )
    if region is None:
        raise ValidationError.for_field(
            "region", None, "is required with source_server_ids (the DRS region)"
        )
    return MatchScope(region, account, ids, None)


def check_explicit_pairs(rules: MatchRules, scope: MatchScope) -> None:
    """Explicit pairs may only name servers that are being matched.

    Raises:
        ValidationError: naming ``rules.explicitPairs.<server>`` for each stranger.
    """
    strangers = sorted(set(rules.explicit_pairs) - set(scope.source_server_ids))
    if strangers:
        raise ValidationError(
            f"explicit pairs name {len(strangers)} server(s) that are not being matched: "
            + ", ".join(strangers),
            problems=[
                {
                    "field": f"rules.explicitPairs.{sid}",
                    "message": "is not among the servers being matched",
                    "value": rules.explicit_pairs[sid],
                }
                for sid in strangers
            ],
        )


def check_report_fits(
    storage: Storage, report: MatchReport, group_id: str | None
) -> ProtectionGroup:
    """The group a report is applied to, checked against the report.

    Raises:
        ValidationError: no group, a group other than the report's, another
            region or account, or an instance in two pairs.
        NotFoundError: the group does not exist.
    """
    if group_id is not None and report.group_id is not None and group_id != report.group_id:
        raise ValidationError.for_field(
            "group_id", group_id, f"the report was matched for group {report.group_id}"
        )
    chosen = group_id or report.group_id
    if chosen is None:
        raise ValidationError.for_field(
            "group_id",
            None,
            "the report names no protection group; give the one whose servers are paired",
        )
    group = storage.protection_groups.get(chosen)
    if group.region != report.region:
        raise ValidationError.for_field(
            "report.region", report.region, f"protection group {chosen} is in {group.region}"
        )
    group_account = group.account.account_id if group.account else None
    if group_account != report.account_id:
        raise ValidationError.for_field(
            "report.account",
            report.account_id,
            f"protection group {chosen} is in account {group_account or '(own)'}",
        )
    targets = [p.target_instance_id for p in report.pairs]
    if len(set(targets)) != len(targets):
        raise ValidationError.for_field(
            "report.pairs", targets, "an instance appears in more than one pair"
        )
    return group


def account_for(storage: Storage, account_id: str, scope: MatchScope) -> AccountContext:
    """The account context (with its role) to reach ``account_id``.

    The match's own account, else the account of a stored protection group,
    else a context without a role (the client factory decides whether its
    own credentials reach it).
    """
    if scope.account is not None and scope.account.account_id == account_id:
        return scope.account
    for group in storage.protection_groups.list():
        if group.account is not None and group.account.account_id == account_id:
            return group.account
    return AccountContext(account_id=account_id)
