"""InstanceMatcher: pair source servers with existing instances, check, apply, unpair."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pydantic

from drs_orchestration.aws.clients import ClientFactory
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import (
    InstanceMatchingError,
    NotFoundError,
    ValidationError,
)
from drs_orchestration.events import (
    EventSink,
    InstancesMatched,
    InstancesPaired,
    InstancesUnpaired,
    emit,
)
from drs_orchestration.models import (
    AccountContext,
    ConfigStatus,
    InstancePair,
    ProtectionGroup,
    utc_now,
)
from drs_orchestration.models.base import aware_now
from drs_orchestration.models.matching import (
    LAUNCH_INTO_TAG,
    CheckName,
    CheckStatus,
    MatchedPair,
    MatchReport,
    MatchRules,
    PairingResult,
    SkippedPair,
    UnmatchedSource,
)
from drs_orchestration.services.groups import ProtectionGroupService
from drs_orchestration.services.launch_config import LaunchConfigService
from drs_orchestration.services.matching.discovery import (
    MatchingDrs,
    MatchingEc2,
    check_context,
    checked_pair,
    original_instances,
    read_launch_facts,
    read_targets,
    source_candidate,
    target_candidate,
)
from drs_orchestration.services.matching.pairing import pair_instances
from drs_orchestration.services.matching.scope import (
    check_explicit_pairs,
    check_report_fits,
    checked_server_ids,
    parse_rules,
    resolve_scope,
)
from drs_orchestration.services.matching.stored import (
    blocked_targets,
    launch_into_overrides,
    paired_targets,
    restore_pairs,
    without_conflicts,
    write_pairs,
)
from drs_orchestration.storage.base import Storage
from drs_orchestration.storage.transactions import retry_conflicts

__all__ = ["InstanceMatcher"]

logger = logging.getLogger(__name__)


class InstanceMatcher:
    """Pairs source servers with existing EC2 instances, checks the pairs, and applies them.

    DRS launches into an instance only in the account and region where it
    launches the server's recovery instance — the DRS account and region of
    the source servers — so that is where targets are looked for.

    Args:
        storage: Where pairs and protection groups are kept.
        clients: Where DRS and EC2 clients come from.
        retry: Retry policy of every AWS call.
        clock: Source of timestamps (reports, pairs, events).
        events: Receives :class:`~drs_orchestration.events.InstancesMatched` and
            :class:`~drs_orchestration.events.InstancesPaired`.
        groups: The protection group service :meth:`apply` writes overrides
            through (default: one on the same storage and clients).
        concurrency: Launch configurations read at the same time.

    Examples:
        >>> matcher = InstanceMatcher(storage, clients)
        >>> report = matcher.match(group_id=group.group_id,
        ...                        rules=MatchRules(name_suffixes=["-dr"]))
        >>> [(p.source_server_id, p.target_instance_id, p.method) for p in report.pairs]
        >>> result = matcher.apply(report, add_tag=True)
    """

    def __init__(
        self,
        storage: Storage,
        clients: ClientFactory,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
        events: EventSink | None = None,
        groups: ProtectionGroupService | None = None,
        concurrency: int = 10,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValidationError.for_field(
                "concurrency", concurrency, "must be an integer of 1 or more"
            )
        self._storage = storage
        self._clients = clients
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._events = events
        self._concurrency = concurrency
        self._groups = groups or ProtectionGroupService(
            storage,
            clients,
            launch_configs=LaunchConfigService(
                storage, clients, events=events, retry=self._retry, clock=clock
            ),
            retry=self._retry,
            clock=clock,
        )

    def _now(self) -> datetime:
        return aware_now(self._clock)

    # ---- match ------------------------------------------------------------------------

    def match(
        self,
        *,
        source_server_ids: Iterable[str] | None = None,
        group_id: str | None = None,
        region: str | None = None,
        account: AccountContext | None = None,
        rules: MatchRules | Mapping[str, Any] | None = None,
    ) -> MatchReport:
        """Pair source servers with instances by ``rules``, and check every pair.

        Reads only: nothing is written until :meth:`apply`. Sources come from
        DRS, targets from EC2 in the same account and region (instances that
        are not terminated, narrowed by the rules' VPCs and tags), plus any
        instance an explicit pair or an original instance names.

        Args:
            source_server_ids: The servers to match (with ``region``, and
                ``account`` unless it is the factory's own).
            group_id: Or: the servers of this protection group, in its region and account.
            region: The DRS region (optional with ``group_id``; must then be the group's).
            account: The DRS account (optional with ``group_id``; must then be the group's).
            rules: The matching rules (default :class:`MatchRules`).

        Returns:
            The report: pairs with their rule and checks, ambiguous groups, unmatched
            sources (including IDs DRS does not know) and unmatched targets.

        Raises:
            ValidationError: bad arguments (naming the field), or explicit pairs
                for servers that are not being matched.
            NotFoundError: ``group_id`` does not exist.
            AwsApiError: DRS or EC2 could not be read (after retries).
        """
        parsed = parse_rules(rules)
        scope = resolve_scope(
            self._storage,
            source_server_ids_arg=source_server_ids,
            group_id=group_id,
            region=region,
            account=account,
        )
        check_explicit_pairs(parsed, scope)
        drs = MatchingDrs(self._clients, scope.region, scope.account, retry=self._retry)
        ec2 = MatchingEc2(self._clients, scope.region, scope.account, retry=self._retry)
        servers = {
            s["sourceServerID"]: s
            for s in (
                drs.describe_source_servers(source_server_ids=scope.source_server_ids)
                if scope.source_server_ids
                else []
            )
        }
        notes: list[str] = []
        originals = (
            original_instances(
                self._storage, self._clients, self._retry, servers=servers, scope=scope, notes=notes
            )
            if parsed.original_instance
            else {}
        )
        facts, listed = read_targets(ec2, parsed, servers=servers, originals=originals)
        pairing = pair_instances(
            [source_candidate(servers[sid], originals.get(sid)) for sid in sorted(servers)],
            [target_candidate(f, listed=f.instance_id in listed) for f in facts.values()],
            parsed,
            blocked=blocked_targets(self._storage, scope),
        )
        context = check_context(
            drs,
            ec2,
            [facts[p.target_instance_id] for p in pairing.pairs if p.target_instance_id in facts],
        )
        if context.launch_into_source_instance:
            notes.append(
                "DRS's launch configuration template sets launchIntoSourceInstance: launches "
                "back to a server's previous region or zone go into its source instance, "
                "chosen by DRS (the library leaves the template as it is)"
            )
        launches = read_launch_facts(
            drs, [p.source_server_id for p in pairing.pairs], concurrency=self._concurrency
        )
        missing = [
            UnmatchedSource(
                source_server_id=sid,
                reason=f"DRS has no source server {sid} in {scope.region}"
                + (f" (account {scope.account_id})" if scope.account_id else ""),
            )
            for sid in scope.source_server_ids
            if sid not in servers
        ]
        report = MatchReport(
            region=scope.region,
            account=scope.account,
            group_id=scope.group_id,
            rules=parsed,
            pairs=[
                checked_pair(
                    d,
                    servers[d.source_server_id],
                    facts=facts,
                    launches=launches,
                    context=context,
                    region=scope.region,
                )
                for d in pairing.pairs
            ],
            ambiguous=pairing.ambiguous,
            unmatched_sources=sorted(
                [*pairing.unmatched_sources, *missing], key=lambda u: u.source_server_id
            ),
            unmatched_targets=pairing.unmatched_targets,
            launch_into_source_instance=context.launch_into_source_instance,
            notes=notes,
            created_at=self._now(),
        )
        self._matched(report)
        return report

    def _matched(self, report: MatchReport) -> None:
        logger.info(
            "matched source servers with instances",
            extra={
                "region": report.region,
                "accountId": report.account_id,
                "groupId": report.group_id,
                "pairs": len(report.pairs),
                "failedPairs": len(report.failed_pairs),
                "ambiguous": len(report.ambiguous),
                "unmatchedSources": len(report.unmatched_sources),
                "unmatchedTargets": len(report.unmatched_targets),
            },
        )
        emit(
            self._events,
            InstancesMatched(
                at=report.created_at,
                group_id=report.group_id,
                region=report.region,
                account_id=report.account_id,
                pairs=len(report.pairs),
                failed_pairs=len(report.failed_pairs),
                ambiguous=sum(len(a.source_server_ids) for a in report.ambiguous),
                unmatched_sources=len(report.unmatched_sources),
                unmatched_targets=len(report.unmatched_targets),
            ),
        )

    # ---- apply and unpair ---------------------------------------------------------------

    def apply(
        self,
        report: MatchReport | Mapping[str, Any],
        *,
        group_id: str | None = None,
        add_tag: bool = False,
    ) -> PairingResult:
        """Store the report's good pairs and make DRS launch each server into its target.

        For every pair without a failed check (with ``add_tag``, a missing
        ``AWSDRS=AllowLaunchingIntoThisInstance`` tag is added instead of
        failing the pair): the :class:`~drs_orchestration.models.InstancePair`
        is stored, and the server's override in the protection group gets
        ``launchIntoInstanceProperties.launchIntoEC2InstanceID`` with
        ``copyPrivateIp`` and ``copyTags`` off (merged into its existing
        override), written through :meth:`ProtectionGroupService.update` — so
        the launch configuration is applied, hashed, drift-checked and
        covered by the wave fast path like every other setting.

        Pairs are skipped (and listed, with the reason) when a check failed,
        the server is not in the group, or the target has meanwhile been
        paired with a server of another group.

        Args:
            report: A :class:`MatchReport` (or its wire form).
            group_id: The group whose overrides receive the pairs (default: the report's).
            add_tag: Tag targets that lack the launch-into tag (EC2 ``CreateTags``).

        Returns:
            What was stored, skipped and tagged, and the group's launch-configuration status.

        Raises:
            ValidationError: no group to write to, or the report does not fit the group.
            NotFoundError: the group does not exist.
            InstanceMatchingError: no pair of the report can be applied (each reason in details).
        """
        parsed = report if isinstance(report, MatchReport) else MatchReport.parse(report)
        group = check_report_fits(self._storage, parsed, group_id)
        members = set(group.source_server_ids)
        skipped: list[SkippedPair] = []

        def skip(pair: MatchedPair, reason: str) -> None:
            skipped.append(
                SkippedPair(
                    source_server_id=pair.source_server_id,
                    target_instance_id=pair.target_instance_id,
                    reason=reason,
                )
            )

        candidates: list[MatchedPair] = []
        for pair in parsed.pairs:
            failed = [
                c
                for c in pair.with_status(CheckStatus.FAIL)
                if not (add_tag and c.name is CheckName.LAUNCH_INTO_TAG)
            ]
            if pair.source_server_id not in members:
                skip(pair, f"not a server of protection group {group.group_id}")
            elif failed:
                skip(
                    pair,
                    "failed checks: " + "; ".join(f"{c.name.value}: {c.message}" for c in failed),
                )
            else:
                candidates.append(pair)
        applicable = without_conflicts(self._storage, candidates, group, skip)
        if not applicable:
            raise InstanceMatchingError(
                f"no pair of the report can be applied to protection group {group.group_id}",
                details={
                    "groupId": group.group_id,
                    "skipped": {s.source_server_id: s.reason for s in skipped},
                },
            )
        tagged = self._tag(parsed, group, applicable) if add_tag else []
        now = self._now()
        previous = self._storage.instance_pairs.get_many(p.source_server_id for p in applicable)
        written = write_pairs(
            self._storage,
            parsed,
            group,
            applicable,
            previous=previous,
            tagged=tagged,
            now=now,
        )
        try:
            updated = self._set_overrides(
                group.group_id,
                {p.source_server_id: p.target_instance_id for p in applicable},
            )
        except Exception:
            restore_pairs(self._storage, written, previous)
            raise
        status = updated.launch_config_status
        failed_servers = sorted(
            p.source_server_id
            for p in applicable
            if (cfg := status.server_configs.get(p.source_server_id)) is not None
            and cfg.status is ConfigStatus.FAILED
        )
        result = PairingResult(
            group_id=group.group_id,
            paired=written,
            skipped=sorted(skipped, key=lambda s: s.source_server_id),
            tagged_instance_ids=tagged,
            launch_config_status=status.status,
            failed_servers=failed_servers,
        )
        logger.info(
            "applied instance pairs",
            extra={
                "groupId": group.group_id,
                "paired": len(written),
                "skipped": len(skipped),
                "tagged": len(tagged),
                "status": status.status.value,
            },
        )
        emit(
            self._events,
            InstancesPaired(
                at=self._now(),
                group_id=group.group_id,
                paired=len(written),
                skipped=len(skipped),
                tagged=len(tagged),
            ),
        )
        return result

    def unpair(self, source_server_ids: Iterable[str], group_id: str) -> list[InstancePair]:
        """Stop launching these servers into existing instances, and forget their pairs.

        Each server's override gets an empty ``launchIntoInstanceProperties``
        (which clears the setting in DRS) through
        :meth:`ProtectionGroupService.update`; ``copyPrivateIp`` and
        ``copyTags`` stay off until changed. The stored pairs are deleted.

        Returns:
            The pairs that were deleted (servers without one are simply cleared).

        Raises:
            ValidationError: an ID is malformed or not a server of the group.
            NotFoundError: the group does not exist.
        """
        ids = checked_server_ids(source_server_ids, "source_server_ids")
        group = self._storage.protection_groups.get(group_id)
        members = set(group.source_server_ids)
        outsiders = [(i, sid) for i, sid in enumerate(ids) if sid not in members]
        if outsiders:
            raise ValidationError(
                f"not servers of protection group {group_id}: "
                + ", ".join(sid for _, sid in outsiders),
                problems=[
                    {
                        "field": f"source_server_ids[{i}]",
                        "message": f"is not a server of protection group {group_id}",
                        "value": sid,
                    }
                    for i, sid in outsiders
                ],
            )
        pairs = paired_targets(self._storage, ids)
        self._set_overrides(group_id, dict.fromkeys(ids))
        removed: list[InstancePair] = []
        for sid in ids:
            pair = pairs.get(sid)
            if pair is None or pair.group_id not in (None, group_id):
                continue
            try:
                self._storage.instance_pairs.delete(sid, expected_version=pair.version)
            except NotFoundError:
                continue
            removed.append(pair)
        logger.info(
            "unpaired source servers",
            extra={"groupId": group_id, "servers": ids, "pairsDeleted": len(removed)},
        )
        emit(
            self._events,
            InstancesUnpaired(
                at=self._now(),
                group_id=group_id,
                source_server_ids=tuple(ids),
                pairs_deleted=len(removed),
            ),
        )
        return removed

    # ---- writing --------------------------------------------------------------------------

    def _tag(
        self, report: MatchReport, group: ProtectionGroup, pairs: Sequence[MatchedPair]
    ) -> list[str]:
        untagged = sorted(
            p.target_instance_id
            for p in pairs
            if (check := p.check(CheckName.LAUNCH_INTO_TAG)) is not None
            and check.status is CheckStatus.FAIL
        )
        if untagged:
            ec2 = MatchingEc2(self._clients, report.region, group.account, retry=self._retry)
            ec2.create_tags(untagged, dict([LAUNCH_INTO_TAG]))
            logger.info(
                "tagged instances for launching into",
                extra={"groupId": group.group_id, "instanceIds": untagged},
            )
        return untagged

    def _set_overrides(self, group_id: str, targets: Mapping[str, str | None]) -> ProtectionGroup:
        """Launch each server into its target (``None``: into no instance) via the group."""

        def once() -> ProtectionGroup:
            # Overrides are computed from the group as read and written only at that
            # version, so another edit of the group's overrides is never overwritten.
            group = self._storage.protection_groups.get(group_id)
            try:
                overrides = launch_into_overrides(group, targets)
            except pydantic.ValidationError as exc:
                raise ValidationError.from_pydantic(exc, prefix="serverOverrides") from exc
            return self._groups.update(
                group_id, server_overrides=overrides, expected_version=group.version
            )

        return retry_conflicts(once)
