"""Pairing is a partial bijection, accounts for every source, and ignores input order."""

from __future__ import annotations

from random import Random

from hypothesis import given
from hypothesis import strategies as st

from drs_orchestration.models import MatchMethod, MatchRules
from drs_orchestration.services.matching import (
    NameNormaliser,
    Pairing,
    SourceCandidate,
    TargetCandidate,
    pair_instances,
)
from tests.ids import instance_id, server_id

SUFFIXES = ["-dr"]
TARGET_IDS = [instance_id(n) for n in range(14)]

# Few base names and many spellings of each, so collisions (and ambiguity) are common.
names = st.builds(
    lambda base, upper, pad, suffix: f"{' ' * pad}{base.upper() if upper else base}{suffix}",
    st.sampled_from(["web-1", "web-2", "db", "app server"]),
    st.booleans(),
    st.integers(0, 2),
    st.sampled_from(["", "-dr", "-DR", " "]),
)
maybe_name = st.none() | names
target_ref = st.none() | st.sampled_from(TARGET_IDS)


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[SourceCandidate], list[TargetCandidate], MatchRules, dict[str, str]]:
    target_ids = draw(st.lists(st.sampled_from(TARGET_IDS), max_size=12, unique=True))
    targets = [
        TargetCandidate(
            tid, name=draw(maybe_name), live=draw(st.booleans()), listed=draw(st.booleans())
        )
        for tid in target_ids
    ]
    count = draw(st.integers(0, 10))
    sources = [
        SourceCandidate(
            server_id(n),
            name_tag=draw(maybe_name),
            hostname=draw(maybe_name),
            own_instance_id=draw(target_ref),
            original_instance_id=draw(target_ref),
        )
        for n in range(count)
    ]
    explicit_targets = draw(st.lists(st.sampled_from(TARGET_IDS), max_size=4, unique=True))
    explicit_sources = draw(
        st.lists(
            st.sampled_from([s.source_server_id for s in sources] or [server_id(99)]),
            max_size=len(explicit_targets),
            unique=True,
        )
    )
    rules = MatchRules(
        explicit_pairs=dict(zip(explicit_sources, explicit_targets, strict=False)),
        name_suffixes=SUFFIXES,
        original_instance=draw(st.booleans()),
    )
    blocked = {
        tid: f"taken {tid}" for tid in draw(st.lists(st.sampled_from(TARGET_IDS), max_size=3))
    }
    return sources, targets, rules, blocked


def _canonical(result: Pairing) -> tuple[object, ...]:
    return (
        result.pairs,
        [a.to_wire() for a in result.ambiguous],
        [u.to_wire() for u in result.unmatched_sources],
        [u.to_wire() for u in result.unmatched_targets],
    )


@given(scenarios(), st.randoms(use_true_random=False))
def test_pairing_is_a_partial_bijection_independent_of_input_order(
    scenario: tuple[list[SourceCandidate], list[TargetCandidate], MatchRules, dict[str, str]],
    random: Random,
) -> None:
    sources, targets, rules, blocked = scenario
    result = pair_instances(sources, targets, rules, blocked=blocked)

    # No target twice, no source twice.
    paired_targets = [p.target_instance_id for p in result.pairs]
    paired_sources = [p.source_server_id for p in result.pairs]
    assert len(set(paired_targets)) == len(paired_targets)
    assert len(set(paired_sources)) == len(paired_sources)

    # Every source is accounted for exactly once.
    ambiguous_sources = [s for a in result.ambiguous for s in a.source_server_ids]
    unmatched = [u.source_server_id for u in result.unmatched_sources]
    accounted = paired_sources + ambiguous_sources + unmatched
    assert sorted(accounted) == sorted(s.source_server_id for s in sources)

    # Reported targets are neither paired nor ambiguous, and were listed.
    ambiguous_targets = {t for a in result.ambiguous for t in a.target_instance_ids}
    listed = {t.instance_id for t in targets if t.listed}
    left = {u.instance_id for u in result.unmatched_targets}
    assert not left & set(paired_targets)
    assert not left & ambiguous_targets
    assert not ambiguous_targets & set(paired_targets)
    assert left <= listed

    # Each pair obeys its rule.
    normalise = NameNormaliser(rules.name_prefixes, rules.name_suffixes)
    by_source = {s.source_server_id: s for s in sources}
    by_target = {t.instance_id: t for t in targets}
    owners = {s.own_instance_id for s in sources if s.own_instance_id}
    for pair in result.pairs:
        source = by_source[pair.source_server_id]
        assert pair.target_instance_id not in blocked
        if pair.method is MatchMethod.EXPLICIT:
            assert rules.explicit_pairs[pair.source_server_id] == pair.target_instance_id
            assert pair.target_instance_id not in owners
        elif pair.method is MatchMethod.ORIGINAL_INSTANCE:
            assert rules.original_instance
            assert source.original_instance_id == pair.target_instance_id
            assert by_target[pair.target_instance_id].live
            assert source.own_instance_id != pair.target_instance_id
        else:
            target = by_target[pair.target_instance_id]
            assert target.listed
            assert target.live
            assert target.name
            assert pair.target_instance_id not in owners
            name = source.name(rules.source_names)
            assert name is not None
            assert normalise(name) == normalise(target.name)

    # Order does not matter.
    shuffled_sources, shuffled_targets = list(sources), list(targets)
    random.shuffle(shuffled_sources)
    random.shuffle(shuffled_targets)
    again = pair_instances(shuffled_sources, shuffled_targets, rules, blocked=blocked)
    assert _canonical(again) == _canonical(result)


@given(scenarios())
def test_an_explicit_pair_is_kept_unless_its_target_is_refused(
    scenario: tuple[list[SourceCandidate], list[TargetCandidate], MatchRules, dict[str, str]],
) -> None:
    sources, targets, rules, blocked = scenario
    result = pair_instances(sources, targets, rules, blocked=blocked)
    pairs = {p.source_server_id: p for p in result.pairs}
    unmatched = {u.source_server_id: u for u in result.unmatched_sources}
    owners = {s.own_instance_id for s in sources if s.own_instance_id}
    for source in sources:
        wanted = rules.explicit_pairs.get(source.source_server_id)
        if wanted is None:
            continue
        if wanted in blocked or wanted in owners:
            assert "explicit pair refused" in unmatched[source.source_server_id].reason
        else:
            assert pairs[source.source_server_id].target_instance_id == wanted
            assert pairs[source.source_server_id].method is MatchMethod.EXPLICIT
