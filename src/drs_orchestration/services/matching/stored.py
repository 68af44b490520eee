"""The matcher's stored pairs: which targets are taken, writing pairs, undoing a failed write."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from drs_orchestration.errors import DrsOrchestrationError
from drs_orchestration.models import InstancePair, LaunchSettings, ProtectionGroup
from drs_orchestration.models.matching import CheckName, CheckStatus, MatchedPair, MatchReport
from drs_orchestration.services.matching.scope import MatchScope
from drs_orchestration.storage.base import Storage

__all__ = [
    "blocked_targets",
    "launch_into_overrides",
    "paired_targets",
    "restore_pairs",
    "without_conflicts",
    "write_pairs",
]

logger = logging.getLogger(__name__)


def paired_targets(storage: Storage, source_server_ids: Iterable[str]) -> dict[str, InstancePair]:
    """The stored pairs of these source servers: which existing instance each launches into.

    What a wave's preflight asks before a drill: a drill into a paired
    (production-standby) instance overwrites it. One batched read.

    Returns:
        Source server ID → its :class:`~drs_orchestration.models.InstancePair`
        (servers without a pair are absent).
    """
    return storage.instance_pairs.get_many(source_server_ids)


def _holder(pair: InstancePair) -> str:
    where = f"protection group {pair.group_id}" if pair.group_id else "no protection group"
    return (
        f"instance {pair.target_instance_id} is already paired with source server "
        f"{pair.source_server_id} ({where}); unpair it there first"
    )


def blocked_targets(storage: Storage, scope: MatchScope) -> dict[str, str]:
    """Instances stored as paired with a server outside this match, and why they are taken.

    A pair of a server that has left the matched group is not counted: the
    group's override for it went when it left.
    """
    mine = set(scope.source_server_ids)
    blocked: dict[str, str] = {}
    for pair in storage.instance_pairs.list():
        if pair.source_server_id in mine:
            continue
        if scope.group is not None and pair.group_id == scope.group.group_id:
            continue
        blocked[pair.target_instance_id] = _holder(pair)
    return blocked


def without_conflicts(
    storage: Storage,
    candidates: Sequence[MatchedPair],
    group: ProtectionGroup,
    skip: Callable[[MatchedPair, str], None],
) -> list[MatchedPair]:
    """Drop pairs whose target is stored as another server's, unless that server moves too.

    Re-pairing within a group may swap targets between its servers; a target
    held by a server of another group (or one not re-paired now) stays taken.
    """
    holders = {p.target_instance_id: p for p in storage.instance_pairs.list()}
    members = set(group.source_server_ids)
    kept = list(candidates)
    while True:
        moving = {p.source_server_id for p in kept}
        conflicts = [
            (pair, holder)
            for pair in kept
            if (holder := holders.get(pair.target_instance_id)) is not None
            and holder.source_server_id != pair.source_server_id
            and not (holder.source_server_id in moving and holder.source_server_id in members)
        ]
        if not conflicts:
            return kept
        for pair, holder in conflicts:
            skip(pair, _holder(holder))
        dropped = {pair.source_server_id for pair, _ in conflicts}
        kept = [p for p in kept if p.source_server_id not in dropped]


def write_pairs(
    storage: Storage,
    report: MatchReport,
    group: ProtectionGroup,
    pairs: Sequence[MatchedPair],
    *,
    previous: Mapping[str, InstancePair],
    tagged: Iterable[str],
    now: datetime,
) -> list[InstancePair]:
    """Store one :class:`InstancePair` per pair (replacing the server's previous one).

    A missing launch-into tag on an instance that ``tagged`` says was just
    tagged no longer counts as a failure.

    Raises:
        ConcurrentModificationError: a server's pair changed since ``previous`` was read.
    """
    fixed = set(tagged)
    written: list[InstancePair] = []
    for pair in sorted(pairs, key=lambda p: p.source_server_id):
        failures = [
            f"{c.name.value}: {c.message}"
            for c in pair.with_status(CheckStatus.FAIL)
            if not (c.name is CheckName.LAUNCH_INTO_TAG and pair.target_instance_id in fixed)
        ]
        before = previous.get(pair.source_server_id)
        written.append(
            storage.instance_pairs.put(
                InstancePair(
                    source_server_id=pair.source_server_id,
                    target_instance_id=pair.target_instance_id,
                    region=report.region,
                    account_id=report.account_id,
                    group_id=group.group_id,
                    match_method=pair.method,
                    source_name=pair.source_name,
                    target_name=pair.target_name,
                    source_private_ip=pair.source_private_ip,
                    target_private_ip=pair.target_private_ip,
                    validated=not failures,
                    validation_errors=failures,
                    warnings=[
                        f"{c.name.value}: {c.message}" for c in pair.with_status(CheckStatus.WARN)
                    ],
                    updated_at=now,
                    version=before.version if before else 0,
                )
            )
        )
    return written


def restore_pairs(
    storage: Storage, written: Sequence[InstancePair], previous: Mapping[str, InstancePair]
) -> None:
    """Put back what was stored before ``written`` replaced it (best effort, logged)."""
    for pair in written:
        before = previous.get(pair.source_server_id)
        try:
            if before is None:
                storage.instance_pairs.delete(pair.source_server_id, expected_version=pair.version)
            else:
                storage.instance_pairs.put(before.model_copy(update={"version": pair.version}))
        except DrsOrchestrationError:
            logger.warning(
                "could not restore an instance pair after a failed apply",
                exc_info=True,
                extra={"sourceServerId": pair.source_server_id},
            )


def launch_into_overrides(
    group: ProtectionGroup, targets: Mapping[str, str | None]
) -> dict[str, LaunchSettings]:
    """The group's server overrides with each server launching into its target.

    A target of ``None`` stops launching into an instance: an empty
    ``launchIntoInstanceProperties``, which DRS takes as "clear". With a
    target, ``copyPrivateIp`` and ``copyTags`` are turned off as DRS
    requires. Every other field of an override is kept.

    Raises:
        pydantic.ValidationError: a resulting override contradicts itself.
    """
    overrides: dict[str, LaunchSettings] = dict(group.server_overrides)
    for sid, target in targets.items():
        current = overrides.get(sid)
        data = current.model_dump(exclude_none=True) if current is not None else {}
        if target is None:
            data["launch_into_instance_properties"] = {}
        else:
            data["launch_into_instance_properties"] = {"launch_into_ec2_instance_id": target}
            data["copy_private_ip"] = False
            data["copy_tags"] = False
        overrides[sid] = LaunchSettings.model_validate(data)
    return overrides
