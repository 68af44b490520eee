"""The pairing rules, pure: explicit, original instance, normalised name; what is never guessed."""

from __future__ import annotations

import pytest

from drs_orchestration.errors import ValidationError
from drs_orchestration.models import MatchMethod, MatchRules, SourceNameField
from drs_orchestration.services.matching import (
    SourceCandidate,
    TargetCandidate,
    normalise_name,
    pair_instances,
)
from tests.ids import instance_id, server_id

S1, S2, S3 = server_id(1), server_id(2), server_id(3)
T1, T2, T3, T4 = instance_id(1), instance_id(2), instance_id(3), instance_id(4)


def _pairs(
    sources: list[SourceCandidate], targets: list[TargetCandidate], **rules: object
) -> dict[str, tuple[str, MatchMethod]]:
    result = pair_instances(sources, targets, MatchRules.model_validate(rules))
    return {p.source_server_id: (p.target_instance_id, p.method) for p in result.pairs}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("web-1", "web-1"),
        ("  WEB-1 ", "web-1"),
        ("Web\t 01", "web 01"),
        ("web-1-DR", "web-1"),
        ("dr-web-1", "web-1"),
        ("DR-web-1-dr", "web-1"),
        ("-dr", "-dr"),
        ("   ", ""),
        ("Straße", "strasse"),
    ],
)
def test_names_are_case_folded_whitespace_collapsed_and_one_affix_each_removed(
    raw: str, expected: str
) -> None:
    assert normalise_name(raw, prefixes=["dr-"], suffixes=["-dr", "-DR-Copy"]) == expected


def test_the_longest_matching_affix_is_removed_once() -> None:
    assert normalise_name("web-dr-dr", suffixes=["-dr"]) == "web-dr"
    assert normalise_name("web-1-dr-copy", suffixes=["-copy", "-dr-copy"]) == "web-1"


def test_exact_and_normalised_names_pair_one_to_one() -> None:
    sources = [
        SourceCandidate(S1, name_tag="web-1"),
        SourceCandidate(S2, name_tag="  App  Server "),
        SourceCandidate(S3, hostname="DB-1"),
    ]
    targets = [
        TargetCandidate(T1, name="web-1"),
        TargetCandidate(T2, name="app server-dr"),
        TargetCandidate(T3, name="db-1"),
    ]

    result = pair_instances(sources, targets, MatchRules(name_suffixes=["-dr"]))

    assert [(p.source_server_id, p.target_instance_id, p.method) for p in result.pairs] == sorted(
        [
            (S1, T1, MatchMethod.NAME_TAG),
            (S2, T2, MatchMethod.NAME_TAG),
            (S3, T3, MatchMethod.NAME_TAG),
        ]
    )
    by_source = {p.source_server_id: p for p in result.pairs}
    assert "'app server'" in by_source[S2].reason
    assert by_source[S3].source_name == "DB-1"
    assert result.ambiguous == []
    assert result.unmatched_sources == []
    assert result.unmatched_targets == []


def test_the_name_tag_comes_before_the_host_name_unless_the_rules_say_otherwise() -> None:
    sources = [SourceCandidate(S1, name_tag="web-1", hostname="ip-10-0-0-1")]
    targets = [TargetCandidate(T1, name="web-1"), TargetCandidate(T2, name="ip-10-0-0-1")]

    assert _pairs(sources, targets) == {S1: (T1, MatchMethod.NAME_TAG)}
    assert _pairs(sources, targets, source_names=[SourceNameField.HOSTNAME]) == {
        S1: (T2, MatchMethod.NAME_TAG)
    }


def test_an_explicit_pair_overrides_the_name_rule() -> None:
    sources = [SourceCandidate(S1, name_tag="web-1"), SourceCandidate(S2, name_tag="web-2")]
    targets = [TargetCandidate(T1, name="web-1"), TargetCandidate(T2, name="web-2")]

    result = pair_instances(sources, targets, MatchRules(explicit_pairs={S1: T2}))

    assert {(p.source_server_id, p.target_instance_id, p.method) for p in result.pairs} == {
        (S1, T2, MatchMethod.EXPLICIT)
    }
    # web-2's instance went to S1: S2 is not paired with anything by guesswork.
    assert [u.source_server_id for u in result.unmatched_sources] == [S2]
    assert T2 in result.unmatched_sources[0].reason
    assert [u.instance_id for u in result.unmatched_targets] == [T1]


def test_an_explicit_pair_may_name_an_instance_outside_the_listing() -> None:
    sources = [SourceCandidate(S1, name_tag="web-1")]
    targets = [TargetCandidate(T1, name="web-1"), TargetCandidate(T2, name="x", listed=False)]

    assert _pairs(sources, targets, explicit_pairs={S1: T2}) == {S1: (T2, MatchMethod.EXPLICIT)}


def test_a_refused_explicit_pair_leaves_its_source_unmatched_instead_of_guessing() -> None:
    sources = [SourceCandidate(S1, name_tag="web-1", own_instance_id=T2)]
    targets = [TargetCandidate(T1, name="web-1"), TargetCandidate(T2, name="web-1-src")]

    result = pair_instances(sources, targets, MatchRules(explicit_pairs={S1: T2}))

    assert result.pairs == []
    (unmatched,) = result.unmatched_sources
    assert "explicit pair refused" in unmatched.reason
    assert "its own source instance" in unmatched.reason


def test_a_failing_back_server_goes_to_its_original_instance_before_any_name() -> None:
    sources = [SourceCandidate(S1, name_tag="web-1", original_instance_id=T2)]
    targets = [TargetCandidate(T1, name="web-1"), TargetCandidate(T2, name="old-web")]

    result = pair_instances(sources, targets)

    (pair,) = result.pairs
    assert (pair.target_instance_id, pair.method) == (T2, MatchMethod.ORIGINAL_INSTANCE)
    assert [u.instance_id for u in result.unmatched_targets] == [T1]


def test_an_original_instance_that_is_gone_falls_through_to_the_name_rule_and_says_so() -> None:
    sources = [SourceCandidate(S1, name_tag="web-1", original_instance_id=T2)]
    targets = [TargetCandidate(T1, name="web-1"), TargetCandidate(T2, live=False, listed=False)]

    (pair,) = pair_instances(sources, targets).pairs

    assert (pair.target_instance_id, pair.method) == (T1, MatchMethod.NAME_TAG)
    assert f"original instance {T2} no longer exists" in pair.reason


def test_the_original_instance_rule_can_be_turned_off() -> None:
    sources = [SourceCandidate(S1, name_tag="web-1", original_instance_id=T2)]
    targets = [TargetCandidate(T1, name="web-1"), TargetCandidate(T2, name="old")]

    assert _pairs(sources, targets, original_instance=False) == {S1: (T1, MatchMethod.NAME_TAG)}


def test_two_servers_naming_the_same_original_instance_are_ambiguous() -> None:
    sources = [
        SourceCandidate(S1, name_tag="a", original_instance_id=T1),
        SourceCandidate(S2, name_tag="b", original_instance_id=T1),
    ]
    targets = [TargetCandidate(T1, name="orig"), TargetCandidate(T2, name="a")]

    result = pair_instances(sources, targets)

    assert result.pairs == []
    (ambiguous,) = result.ambiguous
    assert (ambiguous.method, ambiguous.source_server_ids, ambiguous.target_instance_ids) == (
        MatchMethod.ORIGINAL_INSTANCE,
        sorted([S1, S2]),
        [T1],
    )
    assert result.unmatched_sources == []


def test_two_targets_with_one_name_are_ambiguous_and_neither_is_guessed() -> None:
    sources = [SourceCandidate(S1, name_tag="web-1"), SourceCandidate(S2, name_tag="web-2")]
    targets = [
        TargetCandidate(T1, name="web-1"),
        TargetCandidate(T2, name="WEB-1-dr"),
        TargetCandidate(T3, name="web-2"),
    ]

    result = pair_instances(sources, targets, MatchRules(name_suffixes=["-dr"]))

    assert {(p.source_server_id, p.target_instance_id) for p in result.pairs} == {(S2, T3)}
    (ambiguous,) = result.ambiguous
    assert ambiguous.key == "web-1"
    assert ambiguous.source_server_ids == [S1]
    assert ambiguous.target_instance_ids == sorted([T1, T2])
    assert "explicit" in ambiguous.reason
    assert result.unmatched_sources == []
    assert result.unmatched_targets == []


def test_two_sources_with_one_name_are_ambiguous() -> None:
    sources = [SourceCandidate(S1, name_tag="web-1"), SourceCandidate(S2, hostname="Web-1")]
    targets = [TargetCandidate(T1, name="web-1")]

    result = pair_instances(sources, targets)

    assert result.pairs == []
    assert result.ambiguous[0].source_server_ids == sorted([S1, S2])
    assert result.ambiguous[0].target_instance_ids == [T1]


def test_unmatched_sources_and_targets_are_reported_with_reasons() -> None:
    sources = [SourceCandidate(S1, name_tag="web-1"), SourceCandidate(S2)]
    targets = [
        TargetCandidate(T1, name="db-1"),
        TargetCandidate(T2),
        TargetCandidate(T3, name="  "),
        TargetCandidate(T4, name="web-1", live=False),
    ]

    result = pair_instances(sources, targets)

    assert result.pairs == []
    reasons = {u.source_server_id: u.reason for u in result.unmatched_sources}
    assert "no available instance is named 'web-1'" in reasons[S1]
    assert "no name" in reasons[S2]
    targets_left = {u.instance_id: u.reason for u in result.unmatched_targets}
    assert "'db-1'" in targets_left[T1]
    assert targets_left[T2] == "has no Name tag"
    assert targets_left[T3] == "its Name tag is blank"
    assert targets_left[T4] == "terminated or shutting down"


def test_a_source_instance_is_never_a_target_of_the_name_rule() -> None:
    # AZ-to-AZ recovery in one region: the production instance has the same name.
    sources = [
        SourceCandidate(S1, name_tag="web-1", own_instance_id=T1),
        SourceCandidate(S2, name_tag="web-2", own_instance_id=T3),
    ]
    targets = [
        TargetCandidate(T1, name="web-1"),
        TargetCandidate(T2, name="web-1-dr"),
        TargetCandidate(T3, name="web-2"),
    ]

    result = pair_instances(sources, targets, MatchRules(name_suffixes=["-dr"]))

    assert {(p.source_server_id, p.target_instance_id) for p in result.pairs} == {(S1, T2)}
    (unmatched,) = result.unmatched_sources
    assert unmatched.source_server_id == S2
    assert "its own source instance" in unmatched.reason
    assert {u.instance_id: u.reason for u in result.unmatched_targets} == {
        T1: f"the source instance of {S1}",
        T3: f"the source instance of {S2}",
    }


def test_an_instance_paired_in_another_group_is_never_used() -> None:
    sources = [SourceCandidate(S1, name_tag="web-1")]
    targets = [TargetCandidate(T1, name="web-1")]

    result = pair_instances(sources, targets, blocked={T1: "paired with s-x in pg-y"})

    assert result.pairs == []
    assert "paired with s-x in pg-y" in result.unmatched_sources[0].reason
    assert result.unmatched_targets[0].reason == "paired with s-x in pg-y"


def test_the_name_rule_can_be_turned_off() -> None:
    result = pair_instances(
        [SourceCandidate(S1, name_tag="web-1")],
        [TargetCandidate(T1, name="web-1")],
        MatchRules(name_tag=False),
    )
    assert result.pairs == []
    assert "name rule is off" in result.unmatched_sources[0].reason


def test_duplicate_candidates_are_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="distinct source server IDs"):
        pair_instances([SourceCandidate(S1), SourceCandidate(S1)], [])
    with pytest.raises(ValueError, match="distinct instance IDs"):
        pair_instances([], [TargetCandidate(T1), TargetCandidate(T1)])


def test_rules_refuse_one_instance_for_two_explicit_sources_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        MatchRules.parse({"explicitPairs": {S1: T1, S2: T1}})
    fields = sorted(p["field"] for p in caught.value.problems)
    assert fields == sorted([f"explicitPairs.{S1}", f"explicitPairs.{S2}"])


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"nameSuffixes": ["  "]}, "nameSuffixes"),
        ({"targetVpcIds": ["vpc-nothex"]}, "targetVpcIds.0"),
        ({"targetTags": {}}, "targetTags"),
        ({"sourceNames": ["hostname", "hostname"]}, "sourceNames"),
        ({"explicitPairs": {"s-111": T1}}, "explicitPairs.s-111.[key]"),
    ],
)
def test_bad_rules_name_the_field(rules: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MatchRules.parse(rules)
    assert [p["field"] for p in caught.value.problems] == [field]
