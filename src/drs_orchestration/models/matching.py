"""Matching source servers with existing EC2 instances: the rules, the checks, the report.

An :class:`~drs_orchestration.services.matching.InstanceMatcher` pairs each
source server with the instance DRS should launch into, by the rules in
:class:`MatchRules`, checks every pair (:class:`PairCheck`) and returns a
:class:`MatchReport`: what was paired and by which rule, what was ambiguous,
what found nothing. Nothing is guessed, and nothing is written until the
report is applied.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from drs_orchestration.errors import InstanceMatchingError, InvalidFields
from drs_orchestration.models.account import AccountContext
from drs_orchestration.models.base import DrsModel, Timestamp, utc_now
from drs_orchestration.models.failback import InstancePair, MatchMethod
from drs_orchestration.models.groups import ConfigStatus
from drs_orchestration.models.ids import (
    Ec2InstanceId,
    ProtectionGroupId,
    Region,
    SourceServerId,
)
from drs_orchestration.models.launch import TagKey, TagValue

__all__ = [
    "LAUNCH_INTO_TAG",
    "AmbiguousMatch",
    "CheckName",
    "CheckStatus",
    "MatchReport",
    "MatchRules",
    "MatchedPair",
    "PairCheck",
    "PairingResult",
    "SkippedPair",
    "SourceNameField",
    "UnmatchedSource",
    "UnmatchedTarget",
]

LAUNCH_INTO_TAG = ("AWSDRS", "AllowLaunchingIntoThisInstance")
"""The tag (key, value) an instance must carry before DRS launches into it."""

VpcId = Annotated[str, StringConstraints(pattern=r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$")]
Affix = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class SourceNameField(StrEnum):
    """Where a source server's name comes from, for the name rule."""

    NAME_TAG = "name_tag"
    """The ``Name`` tag of the source server in DRS."""
    HOSTNAME = "hostname"
    """The host name DRS identified (``sourceProperties.identificationHints.hostname``)."""


class MatchRules(DrsModel):
    """How source servers are paired with target instances, in order of precedence.

    1. ``explicit_pairs``: these sources go to these instances, whatever their names.
    2. ``original_instance``: a source server replicating back after a failover
       (``replicationDirection`` ``FAILBACK``) goes to the instance it
       originally replicated from, when that instance still exists.
    3. ``name_tag``: a source whose name (its ``Name`` tag, else its host name,
       per ``source_names``) equals a target's ``Name`` tag once both are
       normalised: case folded, whitespace collapsed, and at most one of
       ``name_prefixes`` and one of ``name_suffixes`` removed (from both
       sides, so ``web-1`` and ``WEB-1-dr`` match with suffix ``-dr``).

    ``target_vpc_ids`` and ``target_tags`` narrow the instances the name rule
    considers (explicit pairs and original instances are looked up by ID).

    Examples:
        >>> MatchRules(name_suffixes=["-dr"], target_tags={"Role": "standby"},
        ...            explicit_pairs={"s-1234567890abcdef0": "i-0123456789abcdef0"})
    """

    explicit_pairs: dict[SourceServerId, Ec2InstanceId] = Field(default_factory=dict)
    original_instance: bool = True
    name_tag: bool = True
    source_names: Annotated[list[SourceNameField], Field(min_length=1, max_length=2)] = Field(
        default_factory=lambda: [SourceNameField.NAME_TAG, SourceNameField.HOSTNAME]
    )
    name_prefixes: Annotated[list[Affix], Field(max_length=20)] = Field(default_factory=list)
    name_suffixes: Annotated[list[Affix], Field(max_length=20)] = Field(default_factory=list)
    target_vpc_ids: Annotated[list[VpcId], Field(min_length=1, max_length=200)] | None = None
    target_tags: dict[TagKey, TagValue] | None = None

    @field_validator("source_names")
    @classmethod
    def _unique_sources(cls, value: list[SourceNameField]) -> list[SourceNameField]:
        if len(set(value)) != len(value):
            raise ValueError("source name fields must be unique")
        return value

    @field_validator("name_prefixes", "name_suffixes")
    @classmethod
    def _affixes_have_text(cls, value: list[str]) -> list[str]:
        if any(not affix.strip() for affix in value):
            raise ValueError("a name prefix or suffix must contain more than whitespace")
        return value

    @field_validator("target_tags")
    @classmethod
    def _tags_not_empty(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and not value:
            raise ValueError("target_tags must hold at least one tag (or be omitted)")
        return value

    @model_validator(mode="after")
    def _one_source_per_target(self) -> Self:
        counts = Counter(self.explicit_pairs.values())
        problems = [
            (
                f"explicitPairs.{sid}",
                f"instance {target} is named for {counts[target]} source servers; "
                "an instance can receive one server only",
                target,
            )
            for sid, target in sorted(self.explicit_pairs.items())
            if counts[target] > 1
        ]
        if problems:
            raise InvalidFields(problems)
        return self


class CheckStatus(StrEnum):
    """The verdict of one check on a pair."""

    PASS = "pass"
    WARN = "warn"
    """DRS may launch, but something deserves a look (or could not be verified)."""
    FAIL = "fail"
    """DRS would refuse the launch, or it would go wrong; the pair is not applied."""


class CheckName(StrEnum):
    """The checks run on every pair (see ``docs/matching.md`` for what each verifies)."""

    TARGET_EXISTS = "target_exists"
    LAUNCH_INTO_TAG = "launch_into_tag"
    OS_PLATFORM = "os_platform"
    BOOT_MODE = "boot_mode"
    ARCHITECTURE = "architecture"
    VIRTUALIZATION = "virtualization"
    ROOT_DEVICE = "root_device"
    LICENSING = "licensing"
    TARGET_STOPPED = "target_stopped"
    INSTANCE_SIZE = "instance_size"
    NETWORK = "network"
    SECURITY_GROUPS = "security_groups"
    COPY_SETTINGS = "copy_settings"
    LAUNCH_INTO_SOURCE_INSTANCE = "launch_into_source_instance"
    PRIVATE_IP = "private_ip"


_SEVERITY = {CheckStatus.PASS: 0, CheckStatus.WARN: 1, CheckStatus.FAIL: 2}


class PairCheck(DrsModel):
    """One named check of a pair: its verdict, what it found and how to fix it.

    Attributes:
        name: Which check.
        status: PASS, WARN or FAIL.
        message: What was found.
        remediation: How to fix it (set on every WARN and FAIL).
    """

    name: CheckName
    status: CheckStatus
    message: str
    remediation: str | None = None

    @model_validator(mode="after")
    def _problems_say_how_to_fix(self) -> Self:
        if self.status is not CheckStatus.PASS and not self.remediation:
            raise ValueError("a failed or warning check must say how to fix it (remediation)")
        return self


class MatchedPair(DrsModel):
    """A source server paired with a target instance, the rule that did it, and its checks.

    Attributes:
        source_server_id: The DRS source server.
        target_instance_id: The EC2 instance DRS would launch into.
        method: The rule that paired them.
        reason: Why, in words (the names compared, the original instance...).
        source_name: The source's name as the name rule saw it.
        target_name: The target's ``Name`` tag.
        source_private_ip: The source's primary private IP.
        target_private_ip: The target's private IP (what the recovered server will have).
        checks: One result per :class:`CheckName` that applies.
    """

    source_server_id: SourceServerId
    target_instance_id: Ec2InstanceId
    method: MatchMethod
    reason: str
    source_name: str | None = None
    target_name: str | None = None
    source_private_ip: str | None = None
    target_private_ip: str | None = None
    checks: list[PairCheck] = Field(default_factory=list)

    @property
    def status(self) -> CheckStatus:
        """The worst verdict among the checks (PASS when there are none)."""
        return max(
            (c.status for c in self.checks), key=_SEVERITY.__getitem__, default=CheckStatus.PASS
        )

    @property
    def ok(self) -> bool:
        """Whether no check failed (warnings allowed)."""
        return self.status is not CheckStatus.FAIL

    def check(self, name: CheckName) -> PairCheck | None:
        """The result of one check, or ``None`` when it did not run."""
        return next((c for c in self.checks if c.name is name), None)

    def with_status(self, status: CheckStatus) -> list[PairCheck]:
        """The checks with ``status``."""
        return [c for c in self.checks if c.status is status]


class AmbiguousMatch(DrsModel):
    """Sources and targets a rule could not pair one-to-one; none of them was paired.

    Attributes:
        method: The rule that found them.
        key: What they share (a normalised name, or an instance ID).
        source_server_ids: The sources involved.
        target_instance_ids: The candidate targets.
        reason: What makes it ambiguous, and how to resolve it.
    """

    method: MatchMethod
    key: str
    source_server_ids: list[SourceServerId]
    target_instance_ids: list[Ec2InstanceId]
    reason: str


class UnmatchedSource(DrsModel):
    """A source server that no rule paired, and why."""

    source_server_id: SourceServerId
    source_name: str | None = None
    reason: str


class UnmatchedTarget(DrsModel):
    """A listed target instance that no source server was paired with, and why."""

    instance_id: Ec2InstanceId
    name: str | None = None
    reason: str


class MatchReport(DrsModel):
    """What :meth:`InstanceMatcher.match` found; :meth:`InstanceMatcher.apply` writes it.

    A report is plain data (JSON with ``to_wire()``): one process may match
    and show it for review, another apply it.

    Attributes:
        region: The DRS region, where the targets are and recoveries launch.
        account: The account of DRS and the targets (``None``: the client factory's own).
        group_id: The protection group matched, when a group was given.
        rules: The rules used.
        pairs: Paired servers with their checks, by source server ID.
        ambiguous: Groups of sources and targets a rule could not pair one-to-one.
        unmatched_sources: Sources no rule paired.
        unmatched_targets: Listed targets no source was paired with.
        launch_into_source_instance: Whether DRS's launch configuration template
            sets ``launchIntoSourceInstance`` (``None``: it could not be read).
        notes: Things worth knowing that concern no single pair.
        created_at: When the match ran.
    """

    region: Region
    account: AccountContext | None = None
    group_id: ProtectionGroupId | None = None
    rules: MatchRules = Field(default_factory=MatchRules)
    pairs: list[MatchedPair] = Field(default_factory=list)
    ambiguous: list[AmbiguousMatch] = Field(default_factory=list)
    unmatched_sources: list[UnmatchedSource] = Field(default_factory=list)
    unmatched_targets: list[UnmatchedTarget] = Field(default_factory=list)
    launch_into_source_instance: bool | None = None
    notes: list[str] = Field(default_factory=list)
    created_at: Timestamp = Field(default_factory=utc_now)

    @property
    def account_id(self) -> str | None:
        """The account ID, when an account context was given."""
        return self.account.account_id if self.account else None

    def pair(self, source_server_id: str) -> MatchedPair | None:
        """The pair of one source server, or ``None``."""
        return next((p for p in self.pairs if p.source_server_id == source_server_id), None)

    @property
    def ready_pairs(self) -> list[MatchedPair]:
        """Pairs without a failed check: what :meth:`InstanceMatcher.apply` would write."""
        return [p for p in self.pairs if p.ok]

    @property
    def failed_pairs(self) -> list[MatchedPair]:
        """Pairs with at least one failed check."""
        return [p for p in self.pairs if not p.ok]

    @property
    def complete(self) -> bool:
        """Whether every source was paired, nothing was ambiguous and no check failed."""
        return not (self.ambiguous or self.unmatched_sources or self.failed_pairs)

    def raise_for_problems(self) -> None:
        """Raise unless the report is :attr:`complete`.

        Raises:
            InstanceMatchingError: listing the ambiguous and unmatched sources and the
                failed checks of each pair, with how to fix them.
        """
        if self.complete:
            return
        failed = {
            p.source_server_id: [
                f"{c.name.value}: {c.message} ({c.remediation})"
                for c in p.with_status(CheckStatus.FAIL)
            ]
            for p in self.failed_pairs
        }
        details: dict[str, Any] = {
            "region": self.region,
            "accountId": self.account_id,
            "groupId": self.group_id,
            "ambiguous": [a.to_wire() for a in self.ambiguous],
            "unmatchedSources": {u.source_server_id: u.reason for u in self.unmatched_sources},
            "failedChecks": failed,
        }
        parts = []
        if self.ambiguous:
            sources = sorted(s for a in self.ambiguous for s in a.source_server_ids)
            parts.append(f"{len(sources)} ambiguous ({', '.join(sources[:5])})")
        if self.unmatched_sources:
            unmatched = [u.source_server_id for u in self.unmatched_sources]
            parts.append(f"{len(unmatched)} unmatched ({', '.join(unmatched[:5])})")
        if failed:
            parts.append(f"{len(failed)} with failed checks ({', '.join(sorted(failed)[:5])})")
        raise InstanceMatchingError(
            f"instance matching in {self.region} is incomplete: " + "; ".join(parts),
            details=details,
        )


class SkippedPair(DrsModel):
    """A pair of the report that :meth:`InstanceMatcher.apply` did not write, and why."""

    source_server_id: SourceServerId
    target_instance_id: Ec2InstanceId
    reason: str


class PairingResult(DrsModel):
    """What :meth:`InstanceMatcher.apply` wrote.

    Attributes:
        group_id: The protection group whose server overrides now launch into the targets.
        paired: The stored pairs.
        skipped: Pairs of the report that were not written, and why.
        tagged_instance_ids: Targets that received ``AWSDRS=AllowLaunchingIntoThisInstance``.
        launch_config_status: The group's launch-configuration status afterwards.
        failed_servers: Paired servers whose launch configuration DRS did not take
            (their error is on the group's status).
    """

    group_id: ProtectionGroupId
    paired: list[InstancePair] = Field(default_factory=list)
    skipped: list[SkippedPair] = Field(default_factory=list)
    tagged_instance_ids: list[Ec2InstanceId] = Field(default_factory=list)
    launch_config_status: ConfigStatus
    failed_servers: list[SourceServerId] = Field(default_factory=list)
