"""InstanceMatcher.match against the DRS simulator and moto EC2: rules, reports, checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from drs_orchestration.errors import InstanceMatchingError, NotFoundError, ValidationError
from drs_orchestration.events import InstancesMatched
from drs_orchestration.models import (
    CheckName,
    CheckStatus,
    MatchedPair,
    MatchMethod,
    MatchReport,
    MatchRules,
)
from drs_orchestration.services import InstanceMatcher
from drs_orchestration.testing.operations import OPERATIONS
from tests.http_faults import HttpFaults, _RawBody
from tests.ids import instance_id, server_id
from tests.matching.conftest import OTHER_ACCOUNT, REGION, Env, launch_into_source_instance

ORIGIN = "us-west-2"
GIB = 1024**3


def ec2_error(code: str, status: int = 403) -> AWSResponse:
    """An EC2-protocol error answer."""
    body = (
        f"<Response><Errors><Error><Code>{code}</Code><Message>injected</Message></Error>"
        "</Errors><RequestID>injected</RequestID></Response>"
    ).encode()
    return AWSResponse("https://injected", status, {}, _RawBody(body))


def _pairs(report: MatchReport) -> dict[str, tuple[str, MatchMethod]]:
    return {p.source_server_id: (p.target_instance_id, p.method) for p in report.pairs}


def _status(pair: MatchedPair | None, name: CheckName) -> CheckStatus:
    assert pair is not None
    check = pair.check(name)
    assert check is not None
    return check.status


def _default_subnet(env: Env, zone: str = "us-east-1a") -> str:
    subnets = env.ec2().describe_subnets(Filters=[{"Name": "availability-zone", "Values": [zone]}])[
        "Subnets"
    ]
    return str(subnets[0]["SubnetId"])


def test_exact_and_normalised_names_pair_and_a_prepared_target_passes_its_checks(
    env: Env,
) -> None:
    web = env.server("web-1", name="web-1", private_ip="172.31.0.50")
    app = env.server("App  Server")
    db = env.server("db-host", name="DB-1")
    web_target = env.instance(
        "web-1", SubnetId=_default_subnet(env), PrivateIpAddress="172.31.0.50"
    )
    app_target = env.instance("app server-DR")
    db_target = env.instance("  db-1 ")

    report = env.matcher.match(
        source_server_ids=[web, app, db], region=REGION, rules=MatchRules(name_suffixes=["-dr"])
    )

    assert _pairs(report) == {
        web: (web_target, MatchMethod.NAME_TAG),
        app: (app_target, MatchMethod.NAME_TAG),
        db: (db_target, MatchMethod.NAME_TAG),
    }
    assert report.complete
    assert report.launch_into_source_instance is False
    pair = report.pair(web)
    assert pair is not None
    assert (pair.source_private_ip, pair.target_private_ip) == ("172.31.0.50", "172.31.0.50")
    statuses = {c.name: c.status for c in pair.checks}
    assert list(statuses) == list(CheckName)
    # moto reports no boot mode, so that one check can only warn.
    assert {n for n, s in statuses.items() if s is not CheckStatus.PASS} == {CheckName.BOOT_MODE}
    app_pair = report.pair(app)
    assert app_pair is not None
    assert app_pair.source_name == "App  Server"
    assert "'app server'" in app_pair.reason
    (event,) = [e for e in env.events if isinstance(e, InstancesMatched)]
    assert (event.pairs, event.failed_pairs, event.unmatched_sources) == (3, 0, 0)
    assert event.at == env.sim.now()


def test_an_explicit_pair_overrides_the_name_and_may_point_outside_the_filters(env: Env) -> None:
    web = env.server("web-1", name="web-1")
    named = env.instance("web-1", tags={"Role": "standby"})
    chosen = env.instance("spare-7")

    report = env.matcher.match(
        source_server_ids=[web],
        region=REGION,
        rules={"explicitPairs": {web: chosen}, "targetTags": {"Role": "standby"}},
    )

    assert _pairs(report) == {web: (chosen, MatchMethod.EXPLICIT)}
    assert [t.instance_id for t in report.unmatched_targets] == [named]
    pair = report.pair(web)
    assert pair is not None
    assert pair.target_name == "spare-7"


def test_ambiguous_names_and_unmatched_sources_and_targets_are_reported_never_guessed(
    env: Env,
) -> None:
    web = env.server("web-1")
    lonely = env.server("batch-9")
    first, second = env.instance("web-1"), env.instance("WEB-1")
    spare = env.instance("spare")
    unknown = server_id("not-in-drs")

    report = env.matcher.match(source_server_ids=[web, lonely, unknown], region=REGION)

    assert report.pairs == []
    (ambiguous,) = report.ambiguous
    assert ambiguous.method is MatchMethod.NAME_TAG
    assert ambiguous.source_server_ids == [web]
    assert ambiguous.target_instance_ids == sorted([first, second])
    reasons = {u.source_server_id: u.reason for u in report.unmatched_sources}
    assert set(reasons) == {lonely, unknown}
    assert "'batch-9'" in reasons[lonely]
    assert "DRS has no source server" in reasons[unknown]
    assert [t.instance_id for t in report.unmatched_targets] == [spare]
    with pytest.raises(InstanceMatchingError) as caught:
        report.raise_for_problems()
    assert caught.value.details["unmatchedSources"][unknown] == reasons[unknown]
    assert caught.value.details["ambiguous"][0]["targetInstanceIds"] == sorted([first, second])


def test_a_group_is_matched_in_its_own_region_and_account_across_accounts(env: Env) -> None:
    mine = env.server("web-1", name="web-1", account=OTHER_ACCOUNT)
    # Same name in the caller's own account: never looked at.
    env.instance("web-1")
    theirs = env.instance("web-1", account=OTHER_ACCOUNT)
    group = env.group([mine], account=OTHER_ACCOUNT)

    report = env.matcher.match(group_id=group.group_id)

    assert report.account == OTHER_ACCOUNT
    assert report.group_id == group.group_id
    assert _pairs(report) == {mine: (theirs, MatchMethod.NAME_TAG)}
    pair = report.pair(mine)
    assert _status(pair, CheckName.LAUNCH_INTO_TAG) is CheckStatus.PASS
    assert _status(pair, CheckName.NETWORK) is CheckStatus.PASS


def test_targets_are_narrowed_to_the_rules_vpcs_and_tags(env: Env) -> None:
    ec2 = env.ec2()
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24", AvailabilityZone="us-east-1a")
    web = env.server("web-1")
    in_vpc = env.instance("web-1", SubnetId=subnet["Subnet"]["SubnetId"])
    tagged = env.instance("web-1", tags={"Role": "standby"})

    assert env.matcher.match(source_server_ids=[web], region=REGION).ambiguous
    by_vpc = env.matcher.match(
        source_server_ids=[web], region=REGION, rules=MatchRules(target_vpc_ids=[vpc])
    )
    by_tag = env.matcher.match(
        source_server_ids=[web], region=REGION, rules=MatchRules(target_tags={"Role": "standby"})
    )

    assert _pairs(by_vpc) == {web: (in_vpc, MatchMethod.NAME_TAG)}
    assert _pairs(by_tag) == {web: (tagged, MatchMethod.NAME_TAG)}


def test_a_source_instance_in_the_same_region_is_never_a_target(env: Env) -> None:
    production = env.instance("web-1", state="running")
    web = env.server("web-1", name="web-1", source_instance_id=production, origin_region=REGION)
    standby = env.instance("web-1-dr")

    report = env.matcher.match(
        source_server_ids=[web], region=REGION, rules=MatchRules(name_suffixes=["-dr"])
    )

    assert _pairs(report) == {web: (standby, MatchMethod.NAME_TAG)}
    assert {t.instance_id: t.reason for t in report.unmatched_targets} == {
        production: f"the source instance of {web}"
    }
    refused = env.matcher.match(
        source_server_ids=[web], region=REGION, rules=MatchRules(explicit_pairs={web: production})
    )
    assert refused.pairs == []
    assert "its own source instance" in refused.unmatched_sources[0].reason


def test_an_instance_paired_in_another_group_is_not_offered_again(env: Env) -> None:
    first = env.server("web-1")
    other = env.server("web-1")  # the same host name, protected by another group
    target = env.instance("web-1")
    group_a, group_b = env.group([first], name="a"), env.group([other], name="b")
    env.matcher.apply(env.matcher.match(group_id=group_a.group_id))

    report = env.matcher.match(group_id=group_b.group_id)

    assert report.pairs == []
    (unmatched,) = report.unmatched_sources
    assert f"paired with source server {first}" in unmatched.reason
    assert group_a.group_id in unmatched.reason
    assert report.unmatched_targets[0].instance_id == target
    # The group that holds the pair matches it again without a complaint.
    assert _pairs(env.matcher.match(group_id=group_a.group_id)) == {
        first: (target, MatchMethod.NAME_TAG)
    }


def _failed_over(env: Env, hostname: str) -> tuple[str, str, str]:
    """A server from ``ORIGIN`` recovered in ``REGION`` and replicating back.

    Returns the original instance, the original source server and the
    reversed (failing-back) source server in ``ORIGIN``.
    """
    original = env.instance(hostname, region=ORIGIN)
    server = env.server(hostname, source_instance_id=original, origin_region=ORIGIN)
    env.drs().start_recovery(sourceServers=[{"sourceServerID": server}], isDrill=False)
    env.sim.advance_until_idle()
    recovery = env.drs().describe_recovery_instances()["items"][0]["recoveryInstanceID"]
    arn = env.drs().reverse_replication(recoveryInstanceID=recovery)[
        "reversedDirectionSourceServerArn"
    ]
    return original, server, arn.rsplit("/", 1)[1]


def test_a_failing_back_server_goes_into_its_original_instance(env: Env) -> None:
    original, _, reversed_id = _failed_over(env, "app")
    decoy = env.instance("app", region=ORIGIN)
    launch_into_source_instance(env, ORIGIN)

    report = env.matcher.match(source_server_ids=[reversed_id], region=ORIGIN)

    assert _pairs(report) == {reversed_id: (original, MatchMethod.ORIGINAL_INSTANCE)}
    pair = report.pair(reversed_id)
    assert pair is not None
    assert original in pair.reason
    assert _status(pair, CheckName.BOOT_MODE) is CheckStatus.PASS
    # DRS's own setting would choose the same instance: nothing to fight.
    assert report.launch_into_source_instance is True
    assert _status(pair, CheckName.LAUNCH_INTO_SOURCE_INSTANCE) is CheckStatus.PASS
    assert [t.instance_id for t in report.unmatched_targets] == [decoy]


def test_a_failing_back_server_whose_original_instance_is_gone_is_matched_by_name(
    env: Env,
) -> None:
    original, _, reversed_id = _failed_over(env, "app")
    env.ec2(ORIGIN).terminate_instances(InstanceIds=[original])
    replacement = env.instance("app", region=ORIGIN)

    report = env.matcher.match(source_server_ids=[reversed_id], region=ORIGIN)

    assert _pairs(report) == {reversed_id: (replacement, MatchMethod.NAME_TAG)}
    pair = report.pair(reversed_id)
    assert pair is not None
    assert f"original instance {original} no longer exists" in pair.reason


def test_drs_launch_into_source_instance_setting_is_detected_and_reported(env: Env) -> None:
    launch_into_source_instance(env, REGION)
    production = env.instance("web-1", state="running")
    local = env.server("web-1", source_instance_id=production, origin_region=REGION)
    remote = env.server("db-1", source_instance_id=instance_id("db"), origin_region=ORIGIN)
    env.instance("web-1-dr")
    env.instance("db-1")

    report = env.matcher.match(
        source_server_ids=[local, remote], region=REGION, rules=MatchRules(name_suffixes=["-dr"])
    )

    assert report.launch_into_source_instance is True
    assert any("launchIntoSourceInstance" in note for note in report.notes)
    local_pair = report.pair(local)
    assert _status(local_pair, CheckName.LAUNCH_INTO_SOURCE_INSTANCE) is CheckStatus.WARN
    assert _status(report.pair(remote), CheckName.LAUNCH_INTO_SOURCE_INSTANCE) is CheckStatus.PASS
    # A warning, not a failure: the library does not fight DRS's setting.
    assert local_pair is not None
    assert local_pair.ok


def test_an_unreadable_template_setting_is_a_warning(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(OPERATIONS, "DescribeLaunchConfigurationTemplates")
    web = env.server("web-1")
    env.instance("web-1")

    report = env.matcher.match(source_server_ids=[web], region=REGION)

    assert report.launch_into_source_instance is None
    pair = report.pair(web)
    assert _status(pair, CheckName.LAUNCH_INTO_SOURCE_INSTANCE) is CheckStatus.WARN
    assert pair is not None
    check = pair.check(CheckName.LAUNCH_INTO_SOURCE_INSTANCE)
    assert check is not None
    assert "NotImplementedException" in check.message


def test_checks_read_what_ec2_and_drs_say_about_each_pair(env: Env) -> None:
    untagged = env.server("untagged")
    windows_target = env.server("linux-on-windows")
    running = env.server("running")
    small = env.server("small", cpus=8, ram_bytes=32 * GIB)
    byol = env.server("byol", os="WINDOWS")
    copying = env.server("copying")
    gone = env.server("gone")
    nowhere = env.server("nowhere")
    env.instance("untagged", allow=False)
    env.instance("linux-on-windows", os="WINDOWS")
    env.instance("running", state="running")
    env.instance("small", instance_type="t3.micro")
    env.instance("byol", os="WINDOWS")
    env.instance("copying")
    terminated = env.instance("whatever", state="terminated")
    drs = env.drs()
    drs.update_launch_configuration(sourceServerID=byol, licensing={"osByol": True})
    drs.update_launch_configuration(sourceServerID=copying, copyPrivateIp=True, copyTags=True)
    servers = [untagged, windows_target, running, small, byol, copying, gone, nowhere]

    report = env.matcher.match(
        source_server_ids=servers,
        region=REGION,
        rules=MatchRules(explicit_pairs={gone: terminated, nowhere: instance_id("never-launched")}),
    )

    assert _status(report.pair(untagged), CheckName.LAUNCH_INTO_TAG) is CheckStatus.FAIL
    assert _status(report.pair(windows_target), CheckName.OS_PLATFORM) is CheckStatus.FAIL
    assert _status(report.pair(running), CheckName.TARGET_STOPPED) is CheckStatus.WARN
    assert _status(report.pair(small), CheckName.INSTANCE_SIZE) is CheckStatus.WARN
    small_pair = report.pair(small)
    assert small_pair is not None
    size = small_pair.check(CheckName.INSTANCE_SIZE)
    assert size is not None
    assert "m5.2xlarge" in (size.remediation or "")
    assert _status(report.pair(byol), CheckName.OS_PLATFORM) is CheckStatus.PASS
    assert _status(report.pair(byol), CheckName.LICENSING) is CheckStatus.FAIL
    assert _status(report.pair(copying), CheckName.COPY_SETTINGS) is CheckStatus.WARN
    for missing in (gone, nowhere):
        pair = report.pair(missing)
        assert pair is not None
        assert [c.name for c in pair.checks] == [CheckName.TARGET_EXISTS]
        assert pair.status is CheckStatus.FAIL
    assert {p.source_server_id for p in report.failed_pairs} == {
        untagged,
        windows_target,
        byol,
        gone,
        nowhere,
    }


def test_an_ec2_read_that_fails_turns_its_checks_into_warnings(env: Env) -> None:
    web = env.server("web-1")
    env.instance("web-1")
    HttpFaults(env.ec2().meta.events, "ec2", "DescribeInstanceTypes").then(
        ec2_error("UnauthorizedOperation")
    )

    report = env.matcher.match(source_server_ids=[web], region=REGION)

    pair = report.pair(web)
    assert pair is not None
    size = pair.check(CheckName.INSTANCE_SIZE)
    assert size is not None
    assert size.status is CheckStatus.WARN
    assert "UnauthorizedOperation" in size.message
    assert pair.ok


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "source_server_ids"),
        (
            {"source_server_ids": [server_id(1)], "group_id": "pg-aaaaaaaaaaaaaaaaaaaa"},
            "source_server_ids",
        ),
        ({"source_server_ids": [server_id(1), "s-111"], "region": REGION}, "source_server_ids[1]"),
        ({"source_server_ids": "s-12345678901234567", "region": REGION}, "source_server_ids"),
        ({"source_server_ids": [], "region": REGION}, "source_server_ids"),
        ({"source_server_ids": [server_id(1)]}, "region"),
        ({"source_server_ids": [server_id(1)], "region": "Virginia"}, "region"),
        (
            {
                "source_server_ids": [server_id(1)],
                "region": REGION,
                "rules": {"nameSuffixes": [""]},
            },
            "rules.nameSuffixes.0",
        ),
        (
            {
                "source_server_ids": [server_id(1)],
                "region": REGION,
                "rules": {"explicitPairs": {server_id(2): instance_id(2)}},
            },
            f"rules.explicitPairs.{server_id(2)}",
        ),
    ],
)
def test_bad_arguments_name_the_field_before_any_call(
    env: Env, arguments: dict[str, Any], field: str
) -> None:
    env.sim.calls.clear()
    with pytest.raises(ValidationError) as caught:
        env.matcher.match(**arguments)
    assert caught.value.problems[0]["field"] == field
    assert len(env.sim.calls) == 0


def test_a_group_is_matched_only_in_its_own_region_and_account(env: Env) -> None:
    group = env.group([env.server("web-1")])
    with pytest.raises(ValidationError) as caught:
        env.matcher.match(group_id=group.group_id, region=ORIGIN)
    assert caught.value.problems[0]["field"] == "region"
    with pytest.raises(ValidationError) as caught:
        env.matcher.match(group_id=group.group_id, account=OTHER_ACCOUNT)
    assert caught.value.problems[0]["field"] == "account"
    with pytest.raises(NotFoundError):
        env.matcher.match(group_id="pg-aaaaaaaaaaaaaaaaaaaa")


def test_reads_stay_within_each_ec2_page_limit(env: Env) -> None:
    sent: dict[str, list[int]] = {}

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        sent.setdefault(model.name, []).append(params.get("MaxResults", 0))

    env.ec2().meta.events.register("before-parameter-build.ec2", record)
    servers = [env.server(f"web-{n}") for n in range(3)]
    for n in range(3):
        env.instance(f"web-{n}", instance_type=["m5.large", "t3.micro", "m5.xlarge"][n])

    report = env.matcher.match(source_server_ids=servers, region=REGION)

    assert len(report.pairs) == 3
    # DescribeInstanceTypes pages hold 100 types at most; the others 1,000.
    assert sent["DescribeInstanceTypes"]
    assert all(0 < size <= 100 for size in sent["DescribeInstanceTypes"])
    assert all(0 < size <= 1000 for size in sent["DescribeInstances"])
    assert all(0 < size <= 1000 for size in sent["DescribeSubnets"])


def test_the_matcher_checks_its_settings_and_clock(env: Env) -> None:
    with pytest.raises(ValidationError) as caught:
        InstanceMatcher(env.storage, env.clients, concurrency=0)
    assert caught.value.problems[0]["field"] == "concurrency"
    naive = InstanceMatcher(env.storage, env.clients, clock=lambda: datetime(2026, 1, 1))
    web = env.server("web-1")
    with pytest.raises(ValidationError) as caught:
        naive.match(source_server_ids=[web], region=REGION)
    assert caught.value.problems[0]["field"] == "clock"
