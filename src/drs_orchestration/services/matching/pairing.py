"""Pairing source servers with target instances: pure, deterministic, linear.

The rules apply in order — explicit pairs, the original instance, the
normalised name — and each step is a hash join: sources and targets are
grouped by what the rule compares (an instance ID, a normalised name), and
only a group of exactly one source and one available target becomes a pair.
Anything else is reported: a group with several of either is ambiguous, a
source without a candidate is unmatched, and so is every listed target that
nobody took. No loop compares every source with every target, and the result
depends only on the inputs as sets, never on their order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from drs_orchestration.errors import ValidationError
from drs_orchestration.models.failback import MatchMethod
from drs_orchestration.models.matching import (
    AmbiguousMatch,
    MatchRules,
    SourceNameField,
    UnmatchedSource,
    UnmatchedTarget,
)

__all__ = [
    "NameNormaliser",
    "Pairing",
    "SourceCandidate",
    "TargetCandidate",
    "TargetDecision",
    "normalise_name",
    "pair_instances",
]


@dataclass(frozen=True, slots=True)
class SourceCandidate:
    """What pairing needs to know about a source server.

    Attributes:
        source_server_id: The DRS source server.
        name_tag: Its ``Name`` tag in DRS.
        hostname: The host name DRS identified.
        own_instance_id: The EC2 instance it replicates from (never a target for
            it or anyone else, except as an original instance).
        original_instance_id: For a server failing back, the instance it
            originally replicated from (the original-instance rule's target).
    """

    source_server_id: str
    name_tag: str | None = None
    hostname: str | None = None
    own_instance_id: str | None = None
    original_instance_id: str | None = None

    def name(self, fields: Sequence[SourceNameField]) -> str | None:
        """The first non-blank name among ``fields``."""
        for which in fields:
            value = self.name_tag if which is SourceNameField.NAME_TAG else self.hostname
            if value and value.strip():
                return value
        return None


@dataclass(frozen=True, slots=True)
class TargetCandidate:
    """What pairing needs to know about a target instance.

    Attributes:
        instance_id: The EC2 instance.
        name: Its ``Name`` tag.
        live: It exists and is neither terminated nor shutting down.
        listed: It came from the target listing (filtered by the rules' VPCs and
            tags); instances looked up only because a rule named them are not
            name candidates and are not reported as unmatched.
    """

    instance_id: str
    name: str | None = None
    live: bool = True
    listed: bool = True


@dataclass(frozen=True, slots=True)
class TargetDecision:
    """One pair: a source, its target, the rule, and why."""

    source_server_id: str
    target_instance_id: str
    method: MatchMethod
    reason: str
    source_name: str | None = None
    target_name: str | None = None


@dataclass
class Pairing:
    """The outcome of :func:`pair_instances`, every list sorted by ID."""

    pairs: list[TargetDecision] = field(default_factory=list)
    ambiguous: list[AmbiguousMatch] = field(default_factory=list)
    unmatched_sources: list[UnmatchedSource] = field(default_factory=list)
    unmatched_targets: list[UnmatchedTarget] = field(default_factory=list)


def _collapse(text: str) -> str:
    return " ".join(text.split()).casefold()


class NameNormaliser:
    """Normalises names for the name rule: case folded, whitespace collapsed, one affix each.

    At most one prefix and one suffix are removed — the longest that matches —
    and only when something is left, so a name is never normalised away.

    Args:
        prefixes: Prefixes to remove (compared normalised).
        suffixes: Suffixes to remove (compared normalised).
    """

    def __init__(self, prefixes: Iterable[str] = (), suffixes: Iterable[str] = ()) -> None:
        self._prefixes = sorted({_collapse(p) for p in prefixes} - {""}, key=len, reverse=True)
        self._suffixes = sorted({_collapse(s) for s in suffixes} - {""}, key=len, reverse=True)

    def __call__(self, name: str) -> str:
        """The normalised form of ``name`` (empty when it holds only whitespace)."""
        key = _collapse(name)
        for prefix in self._prefixes:
            if key.startswith(prefix) and len(key) > len(prefix):
                key = key[len(prefix) :].strip()
                break
        for suffix in self._suffixes:
            if key.endswith(suffix) and len(key) > len(suffix):
                key = key[: -len(suffix)].strip()
                break
        return key


def normalise_name(name: str, *, prefixes: Iterable[str] = (), suffixes: Iterable[str] = ()) -> str:
    """Normalise one name as the name rule does (see :class:`NameNormaliser`).

    Examples:
        >>> normalise_name("  Web   01-DR ", suffixes=["-dr"])
        'web 01'
    """
    return NameNormaliser(prefixes, suffixes)(name)


class _Run:
    """The state of one pairing: who is decided, which targets are taken."""

    def __init__(
        self,
        sources: Sequence[SourceCandidate],
        targets: Sequence[TargetCandidate],
        rules: MatchRules,
        blocked: Mapping[str, str],
    ) -> None:
        self.rules = rules
        self.blocked = blocked
        self.sources = {s.source_server_id: s for s in sources}
        if len(self.sources) != len(sources):
            raise ValidationError.for_field(
                "sources", len(sources), "must have distinct source server IDs"
            )
        self.targets = {t.instance_id: t for t in targets}
        if len(self.targets) != len(targets):
            raise ValidationError.for_field(
                "targets", len(targets), "must have distinct instance IDs"
            )
        self.owners: dict[str, str] = {}
        for sid in sorted(self.sources):
            own = self.sources[sid].own_instance_id
            if own:
                self.owners.setdefault(own, sid)
        self.used: dict[str, str] = {}
        self.pairs: dict[str, TargetDecision] = {}
        self.unmatched: dict[str, UnmatchedSource] = {}
        self.ambiguous: list[AmbiguousMatch] = []
        self.ambiguous_targets: set[str] = set()
        self.notes: dict[str, str] = {}

    def open_sources(self) -> list[SourceCandidate]:
        return [
            self.sources[sid]
            for sid in sorted(self.sources)
            if sid not in self.pairs and sid not in self.unmatched
        ]

    def source_name(self, source: SourceCandidate) -> str | None:
        return source.name(self.rules.source_names)

    def pair(self, source: SourceCandidate, target_id: str, method: MatchMethod, why: str) -> None:
        target = self.targets.get(target_id)
        note = self.notes.pop(source.source_server_id, None)
        self.used[target_id] = source.source_server_id
        self.pairs[source.source_server_id] = TargetDecision(
            source.source_server_id,
            target_id,
            method,
            f"{note}; {why}" if note else why,
            self.source_name(source),
            target.name if target else None,
        )

    def leave(self, source: SourceCandidate, reason: str) -> None:
        note = self.notes.pop(source.source_server_id, None)
        self.unmatched[source.source_server_id] = UnmatchedSource(
            source_server_id=source.source_server_id,
            source_name=self.source_name(source),
            reason=f"{note}; {reason}" if note else reason,
        )

    def refusal(self, target_id: str, *, for_source: str) -> str | None:
        """Why ``target_id`` cannot receive ``for_source`` (``None``: it can)."""
        if target_id in self.used:
            return f"instance {target_id} is already paired with {self.used[target_id]}"
        if target_id in self.ambiguous_targets:
            return f"instance {target_id} is claimed ambiguously by other servers"
        if target_id in self.blocked:
            return self.blocked[target_id]
        owner = self.owners.get(target_id)
        if owner is not None:
            whose = "its own" if owner == for_source else f"source server {owner}'s"
            return (
                f"instance {target_id} is {whose} source instance; recovering into it "
                "would overwrite the server being protected"
            )
        return None


def _explicit(run: _Run) -> None:
    for sid, target_id in sorted(run.rules.explicit_pairs.items()):
        source = run.sources.get(sid)
        if source is None:
            continue
        refused = run.refusal(target_id, for_source=sid)
        if refused is not None:
            # An explicit pair states the user's intent: another rule must not guess past it.
            run.leave(source, f"explicit pair refused: {refused}")
        else:
            run.pair(source, target_id, MatchMethod.EXPLICIT, f"explicit pair with {target_id}")


def _original(run: _Run) -> None:
    if not run.rules.original_instance:
        return
    by_original: dict[str, list[SourceCandidate]] = {}
    for source in run.open_sources():
        if source.original_instance_id:
            by_original.setdefault(source.original_instance_id, []).append(source)
    for target_id, sources in sorted(by_original.items()):
        target = run.targets.get(target_id)
        if target is None or not target.live:
            # The original instance is gone: the next rule may still pair the server.
            for source in sources:
                run.notes[source.source_server_id] = (
                    f"original instance {target_id} no longer exists"
                )
            continue
        if target_id in run.used:
            # Taken by an explicit pair: no contest between these servers, each is refused.
            for source in sources:
                run.leave(
                    source,
                    f"original instance refused: instance {target_id} is already paired "
                    f"with {run.used[target_id]}",
                )
            continue
        if len(sources) > 1:
            ids = [s.source_server_id for s in sources]
            run.ambiguous.append(
                AmbiguousMatch(
                    method=MatchMethod.ORIGINAL_INSTANCE,
                    key=target_id,
                    source_server_ids=ids,
                    target_instance_ids=[target_id],
                    reason=(
                        f"{len(ids)} failing-back servers name {target_id} as their original "
                        "instance; pair them explicitly (MatchRules.explicit_pairs)"
                    ),
                )
            )
            run.ambiguous_targets.add(target_id)
            for source in sources:
                run.notes.pop(source.source_server_id, None)
            continue
        (source,) = sources
        if target_id in run.used:
            refused: str | None = (
                f"instance {target_id} is already paired with {run.used[target_id]}"
            )
        elif target_id in run.blocked:
            refused = run.blocked[target_id]
        elif source.own_instance_id == target_id:
            refused = f"instance {target_id} is the server's own source instance"
        else:
            # Another server's source instance is allowed here: failing back into the
            # original instance is the one case where that is the point.
            refused = None
        if refused is not None:
            run.leave(source, f"original instance refused: {refused}")
            continue
        run.pair(
            source,
            target_id,
            MatchMethod.ORIGINAL_INSTANCE,
            f"original instance {target_id} of this failing-back server",
        )


def _by_name(run: _Run, normalise: NameNormaliser) -> None:
    ambiguous_sources: set[str] = {s for a in run.ambiguous for s in a.source_server_ids}
    open_sources = [s for s in run.open_sources() if s.source_server_id not in ambiguous_sources]
    if not run.rules.name_tag:
        for source in open_sources:
            run.leave(source, "no explicit pair or original instance, and the name rule is off")
        return
    wanted: dict[str, list[SourceCandidate]] = {}
    for source in open_sources:
        name = run.source_name(source)
        key = normalise(name) if name else ""
        if not key:
            fields = " or ".join(f.value for f in run.rules.source_names)
            run.leave(source, f"has no name to match ({fields})")
            continue
        wanted.setdefault(key, []).append(source)
    offered: dict[str, list[TargetCandidate]] = {}
    for target in run.targets.values():
        if target.listed and target.live and target.name:
            key = normalise(target.name)
            if key in wanted:
                offered.setdefault(key, []).append(target)
    for key in sorted(wanted):
        sources = wanted[key]
        available: list[str] = []
        refused: list[str] = []
        asking = sources[0].source_server_id if len(sources) == 1 else ""
        for target in sorted(offered.get(key, ()), key=lambda t: t.instance_id):
            reason = run.refusal(target.instance_id, for_source=asking)
            if reason is None:
                available.append(target.instance_id)
            else:
                refused.append(f"{target.instance_id} ({reason})")
        if not available:
            why = f"no available instance is named {key!r} once normalised"
            if refused:
                why += "; instances with that name: " + "; ".join(refused)
            for source in sources:
                run.leave(source, why)
        elif len(sources) == 1 and len(available) == 1:
            (source,) = sources
            target = run.targets[available[0]]
            run.pair(
                source,
                available[0],
                MatchMethod.NAME_TAG,
                f"name {run.source_name(source)!r} matches Name tag {target.name!r} "
                f"(normalised {key!r})",
            )
        else:
            ids = [s.source_server_id for s in sources]
            run.ambiguous.append(
                AmbiguousMatch(
                    method=MatchMethod.NAME_TAG,
                    key=key,
                    source_server_ids=ids,
                    target_instance_ids=available,
                    reason=(
                        f"{len(ids)} source server(s) and {len(available)} instance(s) share "
                        f"the name {key!r} once normalised; rename them or pair them "
                        "explicitly (MatchRules.explicit_pairs)"
                    ),
                )
            )
            run.ambiguous_targets.update(available)


def _unmatched_targets(run: _Run, normalise: NameNormaliser) -> list[UnmatchedTarget]:
    found = []
    for target_id in sorted(run.targets):
        target = run.targets[target_id]
        if not target.listed or target_id in run.used or target_id in run.ambiguous_targets:
            continue
        if not target.live:
            reason = "terminated or shutting down"
        elif target_id in run.blocked:
            reason = run.blocked[target_id]
        elif target_id in run.owners:
            reason = f"the source instance of {run.owners[target_id]}"
        elif not target.name:
            reason = "has no Name tag"
        elif not normalise(target.name):
            reason = "its Name tag is blank"
        else:
            reason = f"no unpaired source server is named {normalise(target.name)!r}"
        found.append(UnmatchedTarget(instance_id=target_id, name=target.name, reason=reason))
    return found


def pair_instances(
    sources: Sequence[SourceCandidate],
    targets: Sequence[TargetCandidate],
    rules: MatchRules | None = None,
    *,
    blocked: Mapping[str, str] | None = None,
) -> Pairing:
    """Pair sources with targets by ``rules``; report what cannot be paired one-to-one.

    Rules apply in order and a source decided by one rule is not considered
    by the next: explicit pairs, then original instances, then names. A
    target is used at most once; one in ``blocked`` (already paired in
    another group, say) or one that is a source's own instance is never
    used — except that a failing-back server's original instance may be
    one. An explicit pair whose target is refused leaves its source
    unmatched rather than falling through to another rule. Explicit pairs
    of sources not given are ignored (the caller checks them).

    Args:
        sources: The source servers (distinct IDs).
        targets: The candidate instances, plus any instance a rule names
            (distinct IDs; see :attr:`TargetCandidate.listed`).
        rules: The rules (default :class:`MatchRules`).
        blocked: Instance ID → why no source may have it.

    Returns:
        Pairs, ambiguous groups, unmatched sources and unmatched listed
        targets, each sorted by ID: equal inputs in any order give an equal result.
    """
    run = _Run(sources, targets, rules or MatchRules(), blocked or {})
    normalise = NameNormaliser(run.rules.name_prefixes, run.rules.name_suffixes)
    _explicit(run)
    _original(run)
    _by_name(run, normalise)
    return Pairing(
        pairs=[run.pairs[sid] for sid in sorted(run.pairs)],
        ambiguous=sorted(run.ambiguous, key=lambda a: (a.method.value, a.key)),
        unmatched_sources=[run.unmatched[sid] for sid in sorted(run.unmatched)],
        unmatched_targets=_unmatched_targets(run, normalise),
    )
