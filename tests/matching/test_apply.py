"""InstanceMatcher.apply and unpair: pairs stored, overrides written through the group service."""

from __future__ import annotations

import pytest

from drs_orchestration.errors import InstanceMatchingError, ValidationError
from drs_orchestration.events import InstancesPaired, InstancesUnpaired
from drs_orchestration.models import (
    CheckName,
    CheckStatus,
    ConfigPath,
    ConfigStatus,
    LaunchSettings,
    MatchMethod,
    MatchReport,
    MatchRules,
)
from drs_orchestration.services import paired_targets
from tests.ids import instance_id
from tests.matching.conftest import ALLOW, OTHER_ACCOUNT, REGION, Env


def _tags(env: Env, instance: str) -> dict[str, str]:
    reservations = env.ec2().describe_instances(InstanceIds=[instance])["Reservations"]
    return {t["Key"]: t["Value"] for t in reservations[0]["Instances"][0].get("Tags", [])}


def test_apply_writes_launch_into_overrides_that_drs_receives_and_the_fast_path_covers(
    env: Env,
) -> None:
    web, db = env.server("web-1"), env.server("db-1")
    web_target, db_target = env.instance("web-1"), env.instance("db-1")
    group = env.group([web, db], launch_settings={"copyPrivateIp": True})

    result = env.matcher.apply(env.matcher.match(group_id=group.group_id))

    assert result.launch_config_status is ConfigStatus.READY
    assert result.failed_servers == []
    assert result.skipped == []
    for server, target in ((web, web_target), (db, db_target)):
        config = env.launch_config(server)
        assert config["launchIntoInstanceProperties"] == {"launchIntoEC2InstanceID": target}
        assert (config["copyPrivateIp"], config["copyTags"]) == (False, False)
    stored = paired_targets(env.storage, [web, db])
    assert {sid: p.target_instance_id for sid, p in stored.items()} == {
        web: web_target,
        db: db_target,
    }
    assert {p.group_id for p in stored.values()} == {group.group_id}
    assert {p.match_method for p in stored.values()} == {MatchMethod.NAME_TAG}
    assert all(p.validated for p in stored.values())
    assert result.paired == sorted(stored.values(), key=lambda p: p.source_server_id)
    # The pair is a launch setting like any other: hashed, applied, and on the fast path.
    ready = env.launch_configs.ensure_ready(group.group_id)
    assert ready.path is ConfigPath.FAST
    assert not env.launch_configs.detect_drift(group.group_id, remote=True).has_drift
    (event,) = [e for e in env.events if isinstance(e, InstancesPaired)]
    assert (event.group_id, event.paired, event.skipped, event.tagged) == (group.group_id, 2, 0, 0)


def test_a_launch_goes_into_the_paired_instance_and_keeps_its_id(env: Env) -> None:
    web = env.server("web-1")
    target = env.instance("web-1")
    group = env.group([web])
    env.matcher.apply(env.matcher.match(group_id=group.group_id))

    job = env.drs().start_recovery(sourceServers=[{"sourceServerID": web}], isDrill=True)["job"]
    env.sim.advance_until_idle()

    described = env.drs().describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"][0]
    assert described["participatingServers"][0]["launchStatus"] == "LAUNCHED"
    assert described["participatingServers"][0]["recoveryInstanceID"] == target


def test_overrides_are_merged_with_what_the_group_already_has(env: Env) -> None:
    web, db = env.server("web-1"), env.server("db-1")
    target = env.instance("web-1")
    group = env.group(
        [web, db],
        server_overrides={web: {"launchDisposition": "STOPPED"}, db: {"copyTags": True}},
    )

    env.matcher.apply(env.matcher.match(group_id=group.group_id))

    overrides = env.groups.get(group.group_id).server_overrides
    assert overrides[web] == LaunchSettings.parse(
        {
            "launchDisposition": "STOPPED",
            "copyPrivateIp": False,
            "copyTags": False,
            "launchIntoInstanceProperties": {"launchIntoEC2InstanceID": target},
        }
    )
    assert overrides[db] == LaunchSettings(copy_tags=True)
    assert env.launch_config(web)["launchDisposition"] == "STOPPED"


def test_add_tag_tags_the_targets_that_lack_it_and_pairs_them(env: Env) -> None:
    web = env.server("web-1")
    target = env.instance("web-1", allow=False)
    group = env.group([web])
    report = env.matcher.match(group_id=group.group_id)
    pair = report.pair(web)
    assert pair is not None
    tag_check = pair.check(CheckName.LAUNCH_INTO_TAG)
    assert tag_check is not None
    assert tag_check.status is CheckStatus.FAIL

    with pytest.raises(InstanceMatchingError) as caught:
        env.matcher.apply(report)
    assert "launch_into_tag" in caught.value.details["skipped"][web]
    assert "AWSDRS" not in _tags(env, target)

    result = env.matcher.apply(report, add_tag=True)

    assert result.tagged_instance_ids == [target]
    assert _tags(env, target)["AWSDRS"] == ALLOW["AWSDRS"]
    (stored,) = result.paired
    assert stored.validated
    assert stored.validation_errors == []
    assert env.launch_config(web)["launchIntoInstanceProperties"] == {
        "launchIntoEC2InstanceID": target
    }


def test_pairs_with_failed_checks_or_servers_outside_the_group_are_skipped(env: Env) -> None:
    good, bad, stranger = env.server("good"), env.server("bad", os="WINDOWS"), env.server("x")
    env.instance("good")
    env.instance("bad")  # Linux: DRS would refuse
    env.instance("x")
    report = env.matcher.match(source_server_ids=[good, bad, stranger], region=REGION)
    group = env.group([good, bad])

    result = env.matcher.apply(report, group_id=group.group_id)

    assert [p.source_server_id for p in result.paired] == [good]
    skipped = {s.source_server_id: s.reason for s in result.skipped}
    assert "os_platform" in skipped[bad]
    assert f"not a server of protection group {group.group_id}" in skipped[stranger]
    assert "launchIntoInstanceProperties" not in env.launch_config(bad)
    assert set(paired_targets(env.storage, [good, bad, stranger])) == {good}


def test_a_target_paired_elsewhere_since_the_match_is_skipped(env: Env) -> None:
    first, second = env.server("web-1"), env.server("web-1")
    env.instance("web-1")
    group_a, group_b = env.group([first], name="a"), env.group([second], name="b")
    report_a = env.matcher.match(group_id=group_a.group_id)
    report_b = env.matcher.match(group_id=group_b.group_id)
    env.matcher.apply(report_a)

    with pytest.raises(InstanceMatchingError) as caught:
        env.matcher.apply(report_b)

    assert f"paired with source server {first}" in caught.value.details["skipped"][second]
    assert "launchIntoInstanceProperties" not in env.launch_config(second)


def test_servers_of_one_group_may_swap_targets(env: Env) -> None:
    web, db = env.server("web"), env.server("db")
    web_target, db_target = env.instance("web"), env.instance("db")
    group = env.group([web, db])
    env.matcher.apply(env.matcher.match(group_id=group.group_id))

    swapped = env.matcher.match(
        group_id=group.group_id, rules=MatchRules(explicit_pairs={web: db_target, db: web_target})
    )
    result = env.matcher.apply(swapped)

    assert {p.source_server_id: p.target_instance_id for p in result.paired} == {
        web: db_target,
        db: web_target,
    }
    assert {p.match_method for p in result.paired} == {MatchMethod.EXPLICIT}
    assert env.launch_config(web)["launchIntoInstanceProperties"] == {
        "launchIntoEC2InstanceID": db_target
    }


def test_a_report_applies_from_its_wire_form(env: Env) -> None:
    web = env.server("web-1")
    target = env.instance("web-1")
    group = env.group([web])
    wire = env.matcher.match(group_id=group.group_id).to_wire()

    result = env.matcher.apply(wire)

    assert [p.target_instance_id for p in result.paired] == [target]


def test_a_report_must_fit_the_group_it_is_applied_to(env: Env) -> None:
    web = env.server("web-1")
    env.instance("web-1")
    group = env.group([web], name="a")
    other = env.group([env.server("db-1")], name="b")
    loose = env.matcher.match(source_server_ids=[web], region=REGION)
    grouped = env.matcher.match(group_id=group.group_id)

    cases = [
        (lambda: env.matcher.apply(loose), "group_id"),
        (lambda: env.matcher.apply(grouped, group_id=other.group_id), "group_id"),
        (
            lambda: env.matcher.apply(grouped.model_copy(update={"region": "us-west-2"})),
            "report.region",
        ),
        (
            lambda: env.matcher.apply(grouped.model_copy(update={"account": OTHER_ACCOUNT})),
            "report.account",
        ),
        (lambda: env.matcher.apply({"region": "nowhere"}), "region"),
    ]
    for apply, field in cases:
        with pytest.raises(ValidationError) as caught:
            apply()
        assert caught.value.problems[0]["field"] == field
    assert paired_targets(env.storage, [web]) == {}


def test_a_report_with_nothing_to_apply_is_an_error_naming_why(env: Env) -> None:
    web = env.server("web-1")
    group = env.group([web])
    report = env.matcher.match(group_id=group.group_id)
    assert isinstance(report, MatchReport)
    assert report.pairs == []

    with pytest.raises(InstanceMatchingError) as caught:
        env.matcher.apply(report)

    assert caught.value.details == {"groupId": group.group_id, "skipped": {}}


def test_unpair_clears_the_setting_in_drs_and_deletes_the_pairs(env: Env) -> None:
    web, db = env.server("web-1"), env.server("db-1")
    env.instance("web-1")
    db_target = env.instance("db-1")
    group = env.group([web, db])
    env.matcher.apply(env.matcher.match(group_id=group.group_id))

    removed = env.matcher.unpair([web], group.group_id)

    assert [p.source_server_id for p in removed] == [web]
    assert "launchIntoInstanceProperties" not in env.launch_config(web)
    assert env.launch_config(db)["launchIntoInstanceProperties"] == {
        "launchIntoEC2InstanceID": db_target
    }
    assert set(paired_targets(env.storage, [web, db])) == {db}
    updated = env.groups.get(group.group_id)
    override = updated.server_overrides[web]
    assert override.launch_into_instance_properties is not None
    assert override.launch_into_instance_properties.launch_into_ec2_instance_id is None
    assert updated.launch_config_status.status is ConfigStatus.READY
    (event,) = [e for e in env.events if isinstance(e, InstancesUnpaired)]
    assert (event.source_server_ids, event.pairs_deleted) == ((web,), 1)
    # The freed instance can be paired again.
    assert env.matcher.match(group_id=group.group_id).pair(web) is not None


def test_unpair_refuses_servers_outside_the_group_naming_them(env: Env) -> None:
    web = env.server("web-1")
    group = env.group([web])
    outsider = env.server("db-1")
    with pytest.raises(ValidationError) as caught:
        env.matcher.unpair([web, outsider], group.group_id)
    assert caught.value.problems == [
        {
            "field": "source_server_ids[1]",
            "message": f"is not a server of protection group {group.group_id}",
            "value": outsider,
        }
    ]
    with pytest.raises(ValidationError) as caught:
        env.matcher.unpair([instance_id(1)], group.group_id)
    assert caught.value.problems[0]["field"] == "source_server_ids[0]"


def test_pairs_round_trip_on_every_backend(backend_env: Env) -> None:
    env = backend_env
    web = env.server("web-1")
    target = env.instance("web-1")
    group = env.group([web])

    result = env.matcher.apply(env.matcher.match(group_id=group.group_id))

    stored = env.storage.instance_pairs.get(web)
    assert stored == result.paired[0]
    assert (stored.target_instance_id, stored.group_id) == (target, group.group_id)
    assert stored.warnings  # moto reports no boot mode
    env.matcher.unpair([web], group.group_id)
    assert env.storage.instance_pairs.find(web) is None
