"""The matching models: rules, checks, pairs and reports, on the wire and in errors."""

from __future__ import annotations

import pytest

from drs_orchestration.errors import ValidationError
from drs_orchestration.models import (
    CheckName,
    CheckStatus,
    MatchedPair,
    MatchMethod,
    MatchReport,
    MatchRules,
    PairCheck,
    UnmatchedSource,
)
from tests.ids import instance_id, server_id


def _check(name: CheckName, status: CheckStatus) -> PairCheck:
    fix = None if status is CheckStatus.PASS else "do this"
    return PairCheck(name=name, status=status, message="found", remediation=fix)


def test_a_warning_or_failure_must_say_how_to_fix_it() -> None:
    with pytest.raises(ValidationError, match="remediation"):
        PairCheck.parse({"name": "os_platform", "status": "fail", "message": "Windows"})
    passed = PairCheck.parse({"name": "os_platform", "status": "pass", "message": "ok"})
    assert passed.remediation is None


def test_a_pair_is_as_bad_as_its_worst_check() -> None:
    pair = MatchedPair(
        source_server_id=server_id(1),
        target_instance_id=instance_id(1),
        method=MatchMethod.NAME_TAG,
        reason="same name",
        checks=[
            _check(CheckName.TARGET_EXISTS, CheckStatus.PASS),
            _check(CheckName.TARGET_STOPPED, CheckStatus.WARN),
        ],
    )
    assert pair.status is CheckStatus.WARN
    assert pair.ok
    failing = pair.model_copy(
        update={"checks": [*pair.checks, _check(CheckName.OS_PLATFORM, CheckStatus.FAIL)]}
    )
    assert failing.status is CheckStatus.FAIL
    assert not failing.ok
    assert [c.name for c in failing.with_status(CheckStatus.FAIL)] == [CheckName.OS_PLATFORM]
    assert failing.check(CheckName.LICENSING) is None


def test_a_report_round_trips_through_its_wire_form() -> None:
    report = MatchReport(
        region="us-east-1",
        rules=MatchRules(name_suffixes=["-dr"], explicit_pairs={server_id(2): instance_id(2)}),
        pairs=[
            MatchedPair(
                source_server_id=server_id(1),
                target_instance_id=instance_id(1),
                method=MatchMethod.ORIGINAL_INSTANCE,
                reason="original",
                checks=[_check(CheckName.OS_PLATFORM, CheckStatus.FAIL)],
            )
        ],
        unmatched_sources=[UnmatchedSource(source_server_id=server_id(3), reason="no name")],
    )
    wire = report.to_wire()

    assert wire["rules"]["explicitPairs"] == {server_id(2): instance_id(2)}
    assert wire["pairs"][0]["checks"][0]["remediation"] == "do this"
    assert MatchReport.parse(wire) == report
    assert [p.source_server_id for p in report.failed_pairs] == [server_id(1)]
    assert report.ready_pairs == []
    assert not report.complete


def test_a_complete_report_raises_nothing() -> None:
    MatchReport(region="us-east-1").raise_for_problems()
