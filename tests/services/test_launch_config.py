from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest

from drs_orchestration.errors import (
    ConflictError,
    LaunchConfigApplicationError,
    LaunchConfigValidationError,
    ValidationError,
)
from drs_orchestration.models import ConfigPath, ConfigStatus, LaunchSettings
from drs_orchestration.services import RecoveryPlanService, calculate_config_hash
from drs_orchestration.services.plans import resolve_waves
from tests.ids import server_id
from tests.services.conftest import Env

CONFIG_CALLS = ("UpdateLaunchConfiguration", "GetLaunchConfiguration")
DB_SETTINGS = {
    "copyPrivateIp": False,
    "copyTags": True,
    "targetInstanceTypeRightSizingMethod": "NONE",
    "launchDisposition": "STARTED",
    "licensing": {"osByol": True},
    "instanceType": "r6i.large",
    "tags": {"Tier": "db"},
}


def _config_calls(env: Env) -> int:
    return sum(env.sim.calls.count(op) for op in CONFIG_CALLS)


def _throttle_server(
    env: Env, victim: str, operation: str = "UpdateLaunchConfiguration"
) -> Callable[[], None]:
    """Throttle every call of ``operation`` about one server; returns the undo.

    A throttled call never reaches the simulated DRS, as on AWS.
    """
    healed = threading.Event()
    env.sim.faults.throttle(
        1.0,
        operation,
        where=lambda params: not healed.is_set() and params.get("sourceServerID") == victim,
    )
    return healed.set


class TestCreateAndApply:
    def test_explicit_servers_are_applied_to_drs_and_template(self, env: Env) -> None:
        ids = env.servers(3)
        drs_own_fields = env.template_data(ids[0])
        group = env.groups.create("db", "us-east-1", server_ids=ids, launch_settings=DB_SETTINGS)

        status = group.launch_config_status
        assert status.status is ConfigStatus.READY
        assert status.last_applied is not None
        assert status.errors == []
        assert set(status.server_configs) == set(ids)
        expected_hash = calculate_config_hash(DB_SETTINGS)
        for sid in ids:
            cfg = status.server_configs[sid]
            assert cfg.status is ConfigStatus.READY
            assert cfg.config_hash == expected_hash
            live = env.drs().get_launch_configuration(sourceServerID=sid)
            assert live["copyTags"] is True
            assert live["targetInstanceTypeRightSizingMethod"] == "NONE"
            assert live["licensing"] == {"osByol": True}
            data = env.template_data(sid)
            assert data["InstanceType"] == "r6i.large"
            tags = {t["Key"]: t["Value"] for s in data["TagSpecifications"] for t in s["Tags"]}
            assert tags["Tier"] == "db"
            assert cfg.launch_template_version is not None
        # DRS's own template fields survive the new version
        data = env.template_data(ids[0])
        for key in drs_own_fields:
            if key not in ("InstanceType", "TagSpecifications"):
                assert data[key] == drs_own_fields[key], key
        assert env.groups.get(group.group_id) == group

    def test_one_update_call_per_server_and_template_calls_only_when_needed(self, env: Env) -> None:
        ids = env.servers(4)
        env.groups.create(
            "plain", "us-east-1", server_ids=ids[:2], launch_settings={"copyTags": True}
        )
        assert env.sim.calls.count("UpdateLaunchConfiguration") == 2
        assert env.sim.calls.count("GetLaunchConfiguration") == 0
        env.groups.create(
            "templated",
            "us-east-1",
            server_ids=ids[2:],
            launch_settings={
                "instanceType": "m5.large",
                "targetInstanceTypeRightSizingMethod": "NONE",
            },
        )
        assert env.sim.calls.count("UpdateLaunchConfiguration") == 4

    def test_tag_selection_is_resolved_at_create_and_update_only(self, env: Env) -> None:
        """Seed 000's duplicate-resolution bug: tags are not re-resolved at execution."""
        web = env.servers(2, tags={"App": "shop", "Tier": "web"})
        env.servers(1, tags={"App": "shop", "Tier": "db"})
        group = env.groups.create("web", "us-east-1", tags={"App": "shop", "Tier": "web"})
        assert group.source_server_ids == sorted(web)
        plans = RecoveryPlanService(env.storage)
        plan = plans.create("shop", [{"name": "web", "protectionGroupIds": [group.group_id]}])

        late = env.sim.add_source_server(
            region="us-east-1", hostname="late", tags={"App": "shop", "Tier": "web"}
        )
        assert late not in env.groups.get(group.group_id).source_server_ids
        assert late not in resolve_waves(env.storage, plans.get(plan.plan_id))[0].server_ids

        updated = env.groups.update(group.group_id)
        assert late in updated.source_server_ids
        assert updated.launch_config_status.server_configs[late].status is ConfigStatus.READY
        # The plan follows its group: the next execution launches the late server too.
        assert late in resolve_waves(env.storage, plans.get(plan.plan_id))[0].server_ids

    def test_unknown_servers_are_listed_and_nothing_is_saved(self, env: Env) -> None:
        known = env.servers(1)
        ghosts = [server_id("ghost-1"), server_id("ghost-2")]
        with pytest.raises(ValidationError) as err:
            env.groups.create("g", "us-east-1", server_ids=[*known, *ghosts])
        assert err.value.problems[0]["value"] == ghosts
        assert all(g in err.value.message for g in ghosts)
        assert env.storage.protection_groups.list() == []
        with pytest.raises(ValidationError) as bad:
            env.groups.create("g", "us-east-1", server_ids=["s-111"])
        assert bad.value.problems[0]["field"] == "serverIds.0"

    def test_exactly_one_selection(self, env: Env) -> None:
        with pytest.raises(ValidationError, match="exactly one"):
            env.groups.create("g", "us-east-1")
        with pytest.raises(ValidationError, match="exactly one"):
            env.groups.create("g", "us-east-1", server_ids=env.servers(1), tags={"a": "b"})

    def test_invalid_settings_write_and_apply_nothing(self, env: Env) -> None:
        ids = env.servers(2)
        with pytest.raises(LaunchConfigValidationError) as err:
            env.groups.create(
                "g",
                "us-east-1",
                server_ids=ids,
                launch_settings={"targetInstanceTypeRightSizingMethod": "BASIC"},
                server_overrides={ids[1]: {"instanceType": "m5.large"}},
            )
        assert err.value.problems[0]["field"].startswith(f"serverOverrides.{ids[1]}")
        assert env.storage.protection_groups.list() == []
        assert _config_calls(env) == 0

    def test_a_server_belongs_to_one_group(self, env: Env) -> None:
        ids = env.servers(3)
        first = env.groups.create("first", "us-east-1", server_ids=ids[:2])
        with pytest.raises(ConflictError) as err:
            env.groups.create("second", "us-east-1", server_ids=ids[1:])
        assert first.group_id in err.value.message
        assert "first" in err.value.message
        assert err.value.details["servers"] == [ids[1]]

    def test_partial_failure_records_the_error(self, env: Env) -> None:
        ids = env.servers(10)
        _throttle_server(env, ids[3])
        group = env.groups.create(
            "g", "us-east-1", server_ids=ids, launch_settings={"copyTags": True}
        )
        status = group.launch_config_status
        assert status.status is ConfigStatus.PARTIAL
        assert status.failed_servers() == [ids[3]]
        failed = status.server_configs[ids[3]]
        assert failed.config_hash is None
        assert any("ThrottlingException" in e for e in failed.errors)
        assert any(e.startswith(ids[3]) and "ThrottlingException" in e for e in status.errors)
        ready = [sid for sid, c in status.server_configs.items() if c.status is ConfigStatus.READY]
        assert len(ready) == 9
        attempts = [
            c
            for c in env.sim.calls.of("UpdateLaunchConfiguration")
            if c.params["sourceServerID"] == ids[3]
        ]
        assert len(attempts) == env.retry.max_attempts, "the retry budget was spent, then recorded"

    def test_all_failed(self, env: Env) -> None:
        ids = env.servers(2)
        for sid in ids:
            _throttle_server(env, sid)
        group = env.groups.create(
            "g", "us-east-1", server_ids=ids, launch_settings={"copyTags": True}
        )
        assert group.launch_config_status.status is ConfigStatus.FAILED
        assert group.launch_config_status.failed_servers() == sorted(ids)

    def test_timeout_leaves_unreached_servers_pending_and_saves_the_group(self, env: Env) -> None:
        ids = env.servers(6)
        env.sim.faults.latency(0.4, "UpdateLaunchConfiguration")
        env.launch_configs._concurrency = 2
        group = env.groups.create(
            "slow", "us-east-1", server_ids=ids, launch_settings={"copyTags": True}, timeout_s=0.6
        )
        status = group.launch_config_status
        assert status.status is ConfigStatus.PARTIAL
        assert 1 <= len(status.pending_servers()) < 6
        pending = status.server_configs[status.pending_servers()[0]]
        assert "timeout" in pending.errors[0]
        assert env.groups.get(group.group_id).launch_config_status == status


class TestUpdate:
    def test_unchanged_update_preserves_status_and_calls_nothing(self, env: Env) -> None:
        ids = env.servers(2)
        group = env.groups.create(
            "g", "us-east-1", server_ids=ids, launch_settings={"copyTags": True}
        )
        before = _config_calls(env)
        renamed = env.groups.update(group.group_id, name="renamed")
        assert renamed.name == "renamed"
        assert renamed.launch_config_status == group.launch_config_status
        assert _config_calls(env) == before

    def test_changed_settings_reapply_and_force_reapplies_all(self, env: Env) -> None:
        ids = env.servers(3)
        group = env.groups.create(
            "g", "us-east-1", server_ids=ids, launch_settings={"copyTags": True}
        )
        before = env.sim.calls.count("UpdateLaunchConfiguration")
        changed = env.groups.update(group.group_id, launch_settings={"copyTags": False})
        assert env.sim.calls.count("UpdateLaunchConfiguration") == before + 3
        assert changed.launch_config_status.status is ConfigStatus.READY
        assert changed.launch_config_status.server_configs[
            ids[0]
        ].config_hash == calculate_config_hash({"copyTags": False})
        env.groups.update(group.group_id, force=True)
        assert env.sim.calls.count("UpdateLaunchConfiguration") == before + 6

    def test_reapply_never_overwrites_an_override(self, env: Env) -> None:
        ids = env.servers(2)
        override = {"staticPrivateIp": "172.31.5.50", "copyPrivateIp": False}
        group = env.groups.create(
            "g",
            "us-east-1",
            server_ids=ids,
            launch_settings={"copyPrivateIp": True},
            server_overrides={ids[1]: override},
        )
        assert group.launch_config_status.status is ConfigStatus.READY
        env.groups.update(group.group_id, launch_settings={"copyPrivateIp": True, "copyTags": True})
        nic = env.template_data(ids[1])["NetworkInterfaces"][0]
        assert nic["PrivateIpAddress"] == "172.31.5.50"
        assert env.drs().get_launch_configuration(sourceServerID=ids[1])["copyPrivateIp"] is False
        assert env.drs().get_launch_configuration(sourceServerID=ids[0])["copyPrivateIp"] is True
        report = env.launch_configs.detect_drift(group.group_id)
        assert not report.has_drift, "an override is not drift"

    def test_launch_into_is_cleared_only_when_asked(self, env: Env) -> None:
        ids = env.servers(1)
        target = {
            "launchIntoInstanceProperties": {"launchIntoEC2InstanceID": "i-0123456789abcdef0"}
        }
        group = env.groups.create("g", "us-east-1", server_ids=ids, launch_settings=target)
        assert group.launch_config_status.status is ConfigStatus.READY
        kept = env.groups.update(group.group_id, launch_settings={"copyTags": True})
        assert kept.launch_config_status.status is ConfigStatus.FAILED
        assert "launchIntoInstanceProperties" in kept.launch_config_status.errors[0]
        cleared = env.groups.update(
            group.group_id, launch_settings={"copyTags": True, "launchIntoInstanceProperties": {}}
        )
        assert cleared.launch_config_status.status is ConfigStatus.READY
        live = env.drs().get_launch_configuration(sourceServerID=ids[0])
        assert (
            "launchIntoInstanceProperties" not in live or not live["launchIntoInstanceProperties"]
        )
        assert live["copyTags"] is True
        assert not env.launch_configs.detect_drift(group.group_id, remote=True).has_drift

    def test_removed_servers_lose_their_overrides_and_status(self, env: Env) -> None:
        ids = env.servers(2)
        group = env.groups.create(
            "g", "us-east-1", server_ids=ids, server_overrides={ids[1]: {"copyTags": True}}
        )
        updated = env.groups.update(group.group_id, server_ids=ids[:1])
        assert updated.server_overrides == {}
        assert list(updated.launch_config_status.server_configs) == ids[:1]


class TestDriftAndEnsureReady:
    def test_fast_path_makes_no_launch_config_calls(self, env: Env) -> None:
        ids = env.servers(3)
        group = env.groups.create("g", "us-east-1", server_ids=ids, launch_settings=DB_SETTINGS)
        env.sim.calls.clear()
        ec2_calls: list[str] = []
        env.ec2().meta.events.register(
            "before-call.ec2", lambda model, **_: ec2_calls.append(model.name)
        )
        result = env.launch_configs.ensure_ready(group.group_id)
        assert result.path is ConfigPath.FAST
        assert result.applied_servers == []
        assert len(env.sim.calls) == 0
        assert ec2_calls == [], "no launch-template reads on the fast path either"

    def test_drift_triggers_reapply_on_the_fallback_path(self, env: Env) -> None:
        ids = env.servers(3)
        group = env.groups.create(
            "g", "us-east-1", server_ids=ids, launch_settings={"copyTags": True}
        )
        stored = env.storage.protection_groups.get(group.group_id)
        changed = stored.model_copy(
            update={"server_overrides": {ids[2]: LaunchSettings(copy_tags=False)}}
        )
        env.storage.protection_groups.put(changed)
        report = env.launch_configs.detect_drift(group.group_id)
        assert list(report.drifted) == [ids[2]]
        env.sim.calls.clear()
        result = env.launch_configs.ensure_ready(group.group_id)
        assert result.path is ConfigPath.FALLBACK
        assert result.applied_servers == [ids[2]]
        assert [
            c.params["sourceServerID"] for c in env.sim.calls.of("UpdateLaunchConfiguration")
        ] == [ids[2]]
        assert env.launch_configs.ensure_ready(group.group_id).path is ConfigPath.FAST

    def test_not_ready_group_is_applied_first(self, env: Env) -> None:
        ids = env.servers(2)
        group = env.groups.create("g", "us-east-1", server_ids=ids, apply=False)
        assert group.launch_config_status.status is ConfigStatus.NOT_CONFIGURED
        result = env.launch_configs.ensure_ready(group.group_id)
        assert result.path is ConfigPath.FALLBACK
        assert result.status.status is ConfigStatus.READY

    def test_ensure_ready_names_what_failed(self, env: Env) -> None:
        ids = env.servers(2)
        group = env.groups.create(
            "g", "us-east-1", server_ids=ids, launch_settings={"copyTags": True}, apply=False
        )
        _throttle_server(env, ids[0])
        with pytest.raises(LaunchConfigApplicationError) as err:
            env.launch_configs.ensure_ready(group.group_id)
        assert err.value.details["failedServers"] == [ids[0]]
        assert "partial" in err.value.message

    def test_remote_drift_names_server_and_field(self, env: Env) -> None:
        ids = env.servers(3)
        group = env.groups.create("g", "us-east-1", server_ids=ids, launch_settings=DB_SETTINGS)
        env.drs().update_launch_configuration(sourceServerID=ids[1], copyTags=False)
        assert not env.launch_configs.detect_drift(group.group_id).has_drift
        report = env.launch_configs.detect_drift(group.group_id, remote=True)
        assert list(report.drifted) == [ids[1]]
        diff = report.differences[ids[1]][0]
        assert (diff.field, diff.desired, diff.actual) == ("copyTags", True, False)
        assert report.errors == {}

    def test_remote_drift_in_the_launch_template(self, env: Env) -> None:
        ids = env.servers(1)
        group = env.groups.create("g", "us-east-1", server_ids=ids, launch_settings=DB_SETTINGS)
        template_id = env.sim.launch_template_id(ids[0])
        version = env.ec2().create_launch_template_version(
            LaunchTemplateId=template_id,
            SourceVersion="$Default",
            LaunchTemplateData={**env.template_data(ids[0]), "InstanceType": "t3.nano"},
        )["LaunchTemplateVersion"]["VersionNumber"]
        env.ec2().modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(version))
        report = env.launch_configs.detect_drift(group.group_id, remote=True)
        diff = report.differences[ids[0]][0]
        assert (diff.field, diff.desired, diff.actual) == ("instanceType", "r6i.large", "t3.nano")

    def test_remote_drift_sees_what_drs_writes_into_the_template(self, env: Env) -> None:
        ids = env.servers(1, cpus=4, ram_bytes=16 * 2**30)
        group = env.groups.create("g", "us-east-1", server_ids=ids, launch_settings=DB_SETTINGS)
        assert not env.launch_configs.detect_drift(group.group_id, remote=True).has_drift
        # Right sizing turned back on outside the library: DRS rewrites the template's type.
        env.drs().update_launch_configuration(
            sourceServerID=ids[0], targetInstanceTypeRightSizingMethod="BASIC"
        )
        assert env.template_data(ids[0])["InstanceType"] == "m5.xlarge"
        report = env.launch_configs.detect_drift(group.group_id, remote=True)
        found = {d.field: (d.desired, d.actual) for d in report.differences[ids[0]]}
        assert found == {
            "targetInstanceTypeRightSizingMethod": ("NONE", "BASIC"),
            "instanceType": ("r6i.large", "m5.xlarge"),
        }

    def test_unreadable_server_is_an_error_not_a_match(self, env: Env) -> None:
        ids = env.servers(2)
        group = env.groups.create(
            "g", "us-east-1", server_ids=ids, launch_settings={"copyTags": True}
        )
        _throttle_server(env, ids[0], "GetLaunchConfiguration")
        report = env.launch_configs.detect_drift(group.group_id, remote=True)
        assert ids[0] in report.errors
        assert "ThrottlingException" in report.errors[ids[0]]


def test_status_serialises_camel_case(env: Env) -> None:
    ids = env.servers(1)
    group = env.groups.create("g", "us-east-1", server_ids=ids, launch_settings={"copyTags": True})
    wire = json.loads(json.dumps(group.launch_config_status.to_wire()))
    assert wire["status"] == "ready"
    assert wire["serverConfigs"][ids[0]]["configHash"].startswith("sha256:")
    assert "lastApplied" in wire
