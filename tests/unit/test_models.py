from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drs_orchestration.errors import InvalidStateTransitionError, ValidationError
from drs_orchestration.models import (
    AccountContext,
    ConfigStatus,
    EndedWaves,
    Execution,
    LaunchConfigStatus,
    LaunchSettings,
    ProtectionGroup,
    RecoveryPlan,
    ServerConfigStatus,
    Wave,
    WaveRun,
    new_execution_id,
    new_plan_id,
    new_protection_group_id,
)
from tests.ids import instance_id, server_id
from tests.strategies import wave_runs

S1, S2, S3 = server_id(1), server_id(2), server_id(3)


class TestIds:
    @pytest.mark.parametrize(
        "bad", ["s-111", "s-aaa", "s-xxx", "s-" + "a" * 16, "s-" + "a" * 18, "x-" + "a" * 17, ""]
    )
    def test_source_server_ids_from_the_seeds_are_rejected(self, bad: str) -> None:
        with pytest.raises(ValidationError) as err:
            ProtectionGroup.parse({"name": "g", "region": "us-east-1", "sourceServerIds": [bad]})
        problem = err.value.problems[0]
        assert problem["field"] == "sourceServerIds.0"
        assert problem["value"] == bad

    def test_own_ids_have_prefix_and_are_unique(self) -> None:
        ids = {new_protection_group_id() for _ in range(200)}
        assert len(ids) == 200
        assert all(i.startswith("pg-") and len(i) == 23 for i in ids)
        assert new_plan_id().startswith("rp-")
        assert new_execution_id().startswith("ex-")

    @pytest.mark.parametrize(
        "region", ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-4"]
    )
    def test_regions(self, region: str) -> None:
        assert ProtectionGroup(name="g", region=region).region == region

    @pytest.mark.parametrize("region", ["us-east", "US-EAST-1", "useast1", "us-east-1a"])
    def test_bad_regions(self, region: str) -> None:
        with pytest.raises(ValidationError, match="region"):
            ProtectionGroup.parse({"name": "g", "region": region})


class TestWireForm:
    def test_camel_case_out_and_either_name_in(self) -> None:
        group = ProtectionGroup(name="db", region="us-east-1", source_server_ids=[S1])
        wire = group.to_wire()
        assert wire["sourceServerIds"] == [S1]
        assert "source_server_ids" not in wire
        assert ProtectionGroup.parse(wire) == group
        snake = ProtectionGroup.parse(group.model_dump())
        assert snake == group

    def test_unknown_fields_are_rejected_with_their_path(self) -> None:
        with pytest.raises(ValidationError) as err:
            ProtectionGroup.parse({"name": "g", "region": "us-east-1", "serverIDs": [S1]})
        assert err.value.problems[0]["field"] == "serverIDs"
        assert err.value.to_dict()["details"]["problems"][0]["value"] == [S1]

    def test_naive_datetimes_are_rejected(self) -> None:
        with pytest.raises(ValidationError, match="createdAt"):
            ProtectionGroup.parse(
                {"name": "g", "region": "us-east-1", "createdAt": datetime(2026, 1, 1)}
            )


class TestLaunchSettings:
    def test_drs_fields_use_the_exact_drs_names(self) -> None:
        settings = LaunchSettings(
            launch_disposition="STARTED",
            target_instance_type_right_sizing_method="NONE",
            copy_private_ip=False,
            copy_tags=False,
            licensing={"os_byol": True},
            post_launch_enabled=False,
            launch_into_instance_properties={"launchIntoEC2InstanceID": instance_id(1)},
            name="db-1",
            instance_type="r6i.large",
        )
        assert settings.drs_fields() == {
            "name": "db-1",
            "launchDisposition": "STARTED",
            "targetInstanceTypeRightSizingMethod": "NONE",
            "copyPrivateIp": False,
            "copyTags": False,
            "licensing": {"osByol": True},
            "postLaunchEnabled": False,
            "launchIntoInstanceProperties": {"launchIntoEC2InstanceID": instance_id(1)},
        }
        assert settings.template_fields() == {"instance_type": "r6i.large"}
        assert settings.has_template_settings

    def test_unset_fields_are_not_sent(self) -> None:
        assert LaunchSettings().drs_fields() == {}
        assert LaunchSettings(licensing={}).drs_fields() == {}
        assert not LaunchSettings(copy_tags=True).has_template_settings

    @pytest.mark.parametrize(
        ("data", "fragment"),
        [
            ({"copyPrivateIp": True, "staticPrivateIp": "10.0.0.5"}, "contradict"),
            (
                {
                    "launchIntoInstanceProperties": {"launchIntoEC2InstanceID": instance_id(2)},
                    "copyPrivateIp": True,
                },
                "copy_private_ip must be off",
            ),
            (
                {
                    "launchIntoInstanceProperties": {"launchIntoEC2InstanceID": instance_id(2)},
                    "copyTags": True,
                },
                "copy_tags must be off",
            ),
            (
                {"instanceType": "m5.large", "targetInstanceTypeRightSizingMethod": "BASIC"},
                "right-sizing",
            ),
            ({"staticPrivateIp": "8.8.8.8"}, "private"),
            ({"staticPrivateIp": "10.0.0.300"}, "IPv4"),
            ({"securityGroupIds": ["sg-12345678", "sg-12345678"]}, "unique"),
            ({"securityGroupIds": ["sg-1"]}, "securityGroupIds.0"),
            ({"securityGroupIds": []}, "at least 1 item"),
            ({"subnetId": "subnet-xyz"}, "subnetId"),
            ({"tags": {"aws:cloudformation": "x"}}, "reserved"),
            ({"launchDisposition": "RUNNING"}, "launchDisposition"),
            (
                {"targetInstanceTypeRightSizingMethod": "AUTO"},
                "targetInstanceTypeRightSizingMethod",
            ),
        ],
    )
    def test_invalid_settings_name_the_problem(
        self, data: dict[str, object], fragment: str
    ) -> None:
        with pytest.raises(ValidationError, match=fragment):
            LaunchSettings.parse(data)

    def test_override_merges_on_top_and_tags_merge_by_key(self) -> None:
        group = LaunchSettings(
            copy_tags=True,
            target_instance_type_right_sizing_method="BASIC",
            tags={"App": "shop", "Tier": "web"},
            security_group_ids=["sg-12345678"],
        )
        override = LaunchSettings(
            target_instance_type_right_sizing_method="NONE",
            instance_type="r6i.2xlarge",
            static_private_ip="10.0.1.20",
            tags={"Tier": "db"},
        )
        merged = group.merged_with(override)
        assert merged.copy_tags is True
        assert merged.target_instance_type_right_sizing_method == "NONE"
        assert merged.instance_type == "r6i.2xlarge"
        assert merged.static_private_ip == "10.0.1.20"
        assert merged.security_group_ids == ["sg-12345678"]
        assert merged.tags == {"App": "shop", "Tier": "db"}
        assert group.merged_with(None) is group

    def test_contradicting_merge_is_refused(self) -> None:
        group = LaunchSettings(target_instance_type_right_sizing_method="BASIC")
        with pytest.raises(ValueError, match="right-sizing"):
            group.merged_with(LaunchSettings(instance_type="m5.large"))


class TestProtectionGroup:
    def test_duplicate_servers_rejected(self) -> None:
        with pytest.raises(ValidationError, match="duplicate"):
            ProtectionGroup.parse({"name": "g", "region": "us-east-1", "sourceServerIds": [S1, S1]})

    def test_override_for_server_outside_the_group_rejected(self) -> None:
        with pytest.raises(ValidationError, match="not in the group"):
            ProtectionGroup.parse(
                {
                    "name": "g",
                    "region": "us-east-1",
                    "sourceServerIds": [S1],
                    "serverOverrides": {S2: {"copyTags": True}},
                }
            )

    def test_effective_settings(self) -> None:
        group = ProtectionGroup(
            name="g",
            region="us-east-1",
            source_server_ids=[S1, S2],
            launch_settings=LaunchSettings(copy_private_ip=True),
            server_overrides={
                S2: LaunchSettings(copy_private_ip=False, static_private_ip="10.0.0.9")
            },
        )
        assert group.effective_settings(S1).copy_private_ip is True
        assert group.effective_settings(S2).static_private_ip == "10.0.0.9"
        assert group.effective_settings(S2).copy_private_ip is False

    def test_empty_selection_tags_rejected(self) -> None:
        with pytest.raises(ValidationError, match="serverSelectionTags"):
            ProtectionGroup.parse({"name": "g", "region": "us-east-1", "serverSelectionTags": {}})


class TestLaunchConfigStatus:
    def _now(self) -> datetime:
        return datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def test_lifecycle(self) -> None:
        status = LaunchConfigStatus()
        assert status.status is ConfigStatus.NOT_CONFIGURED
        pending = status.transition_to(ConfigStatus.PENDING, at=self._now())
        assert pending.last_applied == self._now()
        later = self._now() + timedelta(minutes=1)
        ready = pending.transition_to(ConfigStatus.READY, at=later)
        assert ready.is_ready()
        assert ready.last_applied == later
        assert ready.transition_to(ConfigStatus.PENDING, at=later).status is ConfigStatus.PENDING
        assert status.status is ConfigStatus.NOT_CONFIGURED, "the original is unchanged"

    @pytest.mark.parametrize(
        ("start", "target"),
        [
            (ConfigStatus.NOT_CONFIGURED, ConfigStatus.READY),
            (ConfigStatus.NOT_CONFIGURED, ConfigStatus.FAILED),
            (ConfigStatus.READY, ConfigStatus.NOT_CONFIGURED),
            (ConfigStatus.READY, ConfigStatus.FAILED),
            (ConfigStatus.FAILED, ConfigStatus.READY),
            (ConfigStatus.PARTIAL, ConfigStatus.READY),
            (ConfigStatus.PENDING, ConfigStatus.NOT_CONFIGURED),
        ],
    )
    def test_illegal_transitions_are_refused(
        self, start: ConfigStatus, target: ConfigStatus
    ) -> None:
        last = None if start is ConfigStatus.NOT_CONFIGURED else self._now()
        status = LaunchConfigStatus(status=start, last_applied=last)
        with pytest.raises(InvalidStateTransitionError) as err:
            status.transition_to(target, at=self._now())
        assert err.value.to_dict()["details"]["current"] == start.value
        assert err.value.http_status == 409

    def test_last_applied_required_once_configured(self) -> None:
        with pytest.raises(ValidationError, match="last_applied"):
            LaunchConfigStatus.parse({"status": "ready"})

    def test_failed_server_needs_an_error_and_ready_server_a_hash(self) -> None:
        with pytest.raises(ValidationError, match="at least one error"):
            ServerConfigStatus.parse({"status": "failed"})
        with pytest.raises(ValidationError, match="config_hash"):
            ServerConfigStatus.parse({"status": "ready"})
        with pytest.raises(ValidationError, match="pending, ready or failed"):
            ServerConfigStatus.parse({"status": "partial"})

    def test_failed_and_pending_servers(self) -> None:
        status = LaunchConfigStatus(
            status=ConfigStatus.PARTIAL,
            last_applied=self._now(),
            server_configs={
                S1: ServerConfigStatus(status=ConfigStatus.READY, config_hash="sha256:ab"),
                S2: ServerConfigStatus(status=ConfigStatus.FAILED, errors=["ThrottlingException"]),
                S3: ServerConfigStatus(status=ConfigStatus.PENDING),
            },
        )
        assert status.failed_servers() == [S2]
        assert status.pending_servers() == [S3]


class TestRecoveryPlan:
    def _wave(
        self, name: str, *servers: str, depends_on: tuple[str, ...] = ()
    ) -> dict[str, object]:
        return {"name": name, "serverIds": list(servers), "dependsOn": list(depends_on)}

    def test_every_problem_names_its_field(self) -> None:
        with pytest.raises(ValidationError) as err:
            RecoveryPlan.parse(
                {
                    "name": "shop",
                    "waves": [
                        self._wave("db", S1),
                        self._wave("db", S2),
                        self._wave("app", S1, depends_on=("web",)),
                    ],
                }
            )
        fields = {p["field"]: p for p in err.value.problems}
        assert fields["waves.1.name"]["value"] == "db"
        assert fields["waves.2.dependsOn.0"]["value"] == "web"
        assert "already in wave 'db'" in fields["waves.2.serverIds.0"]["message"]

    def test_cycle_is_named(self) -> None:
        with pytest.raises(ValidationError) as err:
            RecoveryPlan.parse(
                {
                    "name": "shop",
                    "waves": [
                        self._wave("db", S1, depends_on=("web",)),
                        self._wave("app", S2, depends_on=("db",)),
                        self._wave("web", S3, depends_on=("app",)),
                    ],
                }
            )
        assert "dependency cycle: db -> web -> app -> db" in str(err.value)

    def test_empty_wave_and_self_dependency(self) -> None:
        with pytest.raises(ValidationError) as err:
            RecoveryPlan.parse({"name": "p", "waves": [{"name": "w"}]})
        assert err.value.problems[0]["field"] == "waves.0.protectionGroupIds"
        with pytest.raises(ValidationError, match="cannot depend on itself"):
            Wave.parse(self._wave("w", S1, depends_on=("w",)))
        with pytest.raises(ValidationError, match="waves"):
            RecoveryPlan.parse({"name": "p", "waves": []})

    def test_ordered_waves_respect_dependencies_then_order(self) -> None:
        plan = RecoveryPlan.parse(
            {
                "name": "shop",
                "waves": [
                    self._wave("web", S3, depends_on=("app",)),
                    self._wave("app", S2, depends_on=("db",)),
                    self._wave("db", S1),
                    {"name": "batch", "serverIds": [server_id(9)], "order": 99},
                ],
            }
        )
        assert [w.name for w in plan.ordered_waves()] == ["db", "app", "web", "batch"]
        assert plan.wave("app").server_ids == [S2]
        with pytest.raises(KeyError):
            plan.wave("nope")


class TestAccountContext:
    def test_role_name_resolves_to_arn(self) -> None:
        ctx = AccountContext(account_id="111122223333", role_name="DRSOrchestration")
        assert ctx.resolved_role_arn == "arn:aws:iam::111122223333:role/DRSOrchestration"
        gov = AccountContext(account_id="111122223333", role_name="R", partition="aws-us-gov")
        assert gov.resolved_role_arn == "arn:aws-us-gov:iam::111122223333:role/R"

    def test_role_in_another_account_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="role_arn is in account 444455556666"):
            AccountContext.parse(
                {"accountId": "111122223333", "roleArn": "arn:aws:iam::444455556666:role/R"}
            )

    def test_bad_account_id(self) -> None:
        with pytest.raises(ValidationError) as err:
            AccountContext.parse({"accountId": "1234"})
        assert err.value.problems[0] == {
            "field": "accountId",
            "message": "String should match pattern '^[0-9]{12}$'",
            "value": "1234",
        }


def test_execution_defaults() -> None:
    execution = Execution(plan_id=new_plan_id(), plan_name="p")
    assert execution.is_drill
    assert execution.expires_at > execution.created_at
    assert not execution.status.is_terminal


@pytest.mark.parametrize("tags", [{"x": "\x08"}, {"bad!": "v"}, {"": "v"}, {"k": "v" * 257}])
def test_tags_follow_aws_limits(tags: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="tags"):
        LaunchSettings.parse({"tags": tags})
    assert LaunchSettings(tags={"Tier": "db é 1", "a:b/c=d+e-f@g_h.i": ""}).tags


def test_launch_into_without_an_instance_clears_the_setting() -> None:
    clear = LaunchSettings.parse({"launchIntoInstanceProperties": {}, "copyTags": True})
    assert not clear.launches_into_instance
    assert clear.drs_fields() == {"launchIntoInstanceProperties": {}, "copyTags": True}
    assert not LaunchSettings().launches_into_instance


def _folded(ended: EndedWaves) -> tuple[object, ...]:
    return (
        ended.last_launch_end,
        ended.worst_rpo_s,
        set(ended.job_ids),
        {(c.region, c.account, c.first_claim_at) for c in ended.claims},
    )


@given(
    runs=st.lists(wave_runs(), max_size=5, unique_by=lambda r: r.wave_name),
    split=st.integers(0, 5),
)
def test_ended_waves_folded_as_they_end_add_up_to_folding_them_at_once(
    runs: list[WaveRun], split: int
) -> None:
    at_once = EndedWaves().including(runs)
    # Folded in two steps, the first step's waves again in the second (a wave stored twice).
    in_steps = EndedWaves().including(runs[:split]).including(runs)

    assert _folded(in_steps) == _folded(at_once)
    ended = [r for r in runs if r.status.is_terminal]
    execution = Execution(
        plan_id="rp-" + "0" * 20,
        plan_name="fold",
        waves=ended,
        started_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    header = execution.model_copy(
        update={
            "waves": [
                WaveRun(wave_name=r.wave_name, region=r.region, status=r.status) for r in ended
            ],
            "ended_waves": at_once,
        }
    )
    assert header.worst_rpo == execution.worst_rpo
    assert header.recovery_time == execution.recovery_time
    assert set(at_once.job_ids) == {j for r in ended for j in r.job_ids}
