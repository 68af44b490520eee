"""Rules on request values beyond the model: real dates, date windows, AWS tag rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from sim_helpers import REGION, START, run_drill

from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs
from drs_orchestration.testing.service import service_model

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient

# Every date-time member of every implemented operation's input, with a call sending `value` there.
DATE_FIELDS: dict[tuple[str, str], Callable[[DrsClient, str, str], Any]] = {
    ("DescribeJobs", "filters.fromDate"): lambda drs, _, value: drs.describe_jobs(
        filters={"fromDate": value}
    ),
    ("DescribeJobs", "filters.toDate"): lambda drs, _, value: drs.describe_jobs(
        filters={"toDate": value}
    ),
    ("DescribeRecoverySnapshots", "filters.fromDateTime"): lambda drs, sid, value: (
        drs.describe_recovery_snapshots(sourceServerID=sid, filters={"fromDateTime": value})
    ),
    ("DescribeRecoverySnapshots", "filters.toDateTime"): lambda drs, sid, value: (
        drs.describe_recovery_snapshots(sourceServerID=sid, filters={"toDateTime": value})
    ),
}


def _date_members(shape: Shape, path: str, seen: frozenset[str]) -> list[str]:
    if shape.name in seen:
        return []
    seen = seen | {shape.name}
    if isinstance(shape, StructureShape):
        return [
            found
            for name, member in shape.members.items()
            for found in _date_members(member, f"{path}.{name}".lstrip("."), seen)
        ]
    if isinstance(shape, ListShape):
        return _date_members(shape.member, path, seen)
    if isinstance(shape, MapShape):
        return _date_members(shape.value, path, seen)
    is_date = shape.type_name == "timestamp" or "T([0-1]" in shape.metadata.get("pattern", "")
    return [path] if is_date else []


def test_the_date_cases_cover_every_date_an_implemented_operation_takes(
    bare_sim: DrsSimulator,
) -> None:
    found = {
        (operation, path)
        for operation in bare_sim.implemented_operations
        if (shape := service_model().operation_model(operation).input_shape) is not None
        for path in _date_members(shape, "", frozenset())
    }
    assert found == set(DATE_FIELDS)


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("case", sorted(DATE_FIELDS))
@pytest.mark.parametrize(
    "value", ["2026-02-30T00:00:00Z", "2025-02-29T12:00:00Z", "2025-03-01 noon UTC!"]
)
def test_an_impossible_date_is_a_validation_error_naming_the_field(
    case: tuple[str, str], value: str, strict: bool
) -> None:
    with mock_drs(start=START, strict=strict) as sim:
        drs = SimulatedClientFactory(sim).client("drs", REGION)
        server = sim.add_source_server(hostname="db")
        with pytest.raises(drs.exceptions.ValidationException) as caught:
            DATE_FIELDS[case](drs, server, value)
    fields = caught.value.response["fieldList"]  # type: ignore[typeddict-item]
    assert [f["name"] for f in fields] == [case[1]]
    assert value in caught.value.response["Error"]["Message"]


def test_a_window_that_ends_before_it_starts_is_refused(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="db")
    early, late = "2025-03-01T10:00:00Z", "2025-03-01T11:00:00Z"
    with pytest.raises(bare_drs.exceptions.ValidationException) as jobs:
        bare_drs.describe_jobs(filters={"fromDate": late, "toDate": early})
    assert jobs.value.response["fieldList"][0]["name"] == "filters.fromDate"  # type: ignore[typeddict-item]
    with pytest.raises(bare_drs.exceptions.ValidationException) as snapshots:
        bare_drs.describe_recovery_snapshots(
            sourceServerID=server, filters={"fromDateTime": late, "toDateTime": early}
        )
    assert snapshots.value.response["fieldList"][0]["name"] == "filters.fromDateTime"  # type: ignore[typeddict-item]
    run_drill(bare_drs, [server])
    same = bare_drs.describe_jobs(filters={"fromDate": early, "toDate": early})["items"]
    assert same == []  # an empty window is fine; the drill was created at noon
    assert len(bare_drs.describe_jobs(filters={"fromDate": early})["items"]) == 1


# -- tags ----------------------------------------------------------------------------------

BAD_TAGS = [
    ({"aws:team": "x"}, "aws:team"),
    ({"AWS:Team": "x"}, "AWS:Team"),
    ({"": "x"}, "''"),
    ({"k" * 129: "x"}, "k" * 129),
    ({"team": "v" * 257}, "team"),
    ({"R&D": "x"}, "R&D"),
    ({"PlanName": "Payroll & HR (prod) #1"}, "PlanName"),
    ({"tab\there": "x"}, "tab"),
]


@pytest.mark.parametrize(("tags", "named"), BAD_TAGS)
def test_job_tags_follow_aws_tag_rules(
    bare_sim: DrsSimulator, bare_drs: DrsClient, tags: dict[str, str], named: str
) -> None:
    server = bare_sim.add_source_server(hostname="db")
    with pytest.raises(bare_drs.exceptions.ValidationException) as caught:
        run_drill(bare_drs, [server], tags=tags)
    assert named in caught.value.response["Error"]["Message"]
    assert bare_drs.describe_jobs()["items"] == []


def test_tags_within_the_rules_are_accepted(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    server = bare_sim.add_source_server(hostname="db")
    tags = {
        "Ünïcödé ключ 名前": "ÄÖÜ 値 ٣",
        "a_b.c:d/e=f+g-h@i": "",
        "k" * 128: "v" * 256,
        **{f"t{n}": str(n) for n in range(47)},
    }
    assert len(tags) == 50
    job = run_drill(bare_drs, [server], tags=tags)
    assert job["tags"] == tags
    with pytest.raises(bare_drs.exceptions.ValidationException, match="at most 50"):
        run_drill(bare_drs, [server], tags={**tags, "one-more": "x"})


def test_tag_resource_counts_the_tags_already_there(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="db", tags={f"t{n}": "x" for n in range(49)})
    arn = bare_drs.describe_source_servers()["items"][0]["arn"]
    bare_drs.tag_resource(resourceArn=arn, tags={"t0": "overwritten", "t49": "x"})
    with pytest.raises(bare_drs.exceptions.ValidationException, match="51"):
        bare_drs.tag_resource(resourceArn=arn, tags={"t50": "x"})
    with pytest.raises(bare_drs.exceptions.ValidationException, match="aws:"):
        bare_drs.tag_resource(resourceArn=arn, tags={"aws:cloudformation:stack-name": "x"})
    with pytest.raises(bare_drs.exceptions.ValidationException, match="aws:"):
        bare_drs.untag_resource(resourceArn=arn, tagKeys=["aws:created-by"])
    tags = bare_drs.list_tags_for_resource(resourceArn=arn)["tags"]
    assert len(tags) == 50
    assert tags["t0"] == "overwritten"
    assert bare_sim.find_server(server).tags == tags
