"""LaunchConfigService: templates DRS reads back, right-sizing, clocks, events and threads."""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.ec2.models import ec2_backends

from drs_orchestration.errors import LaunchConfigValidationError, ValidationError
from drs_orchestration.events import (
    ConfigApplied,
    DriftDetected,
    Event,
    ServerConfigApplied,
)
from drs_orchestration.models import ConfigStatus, LaunchSettings
from drs_orchestration.services import LaunchConfigService, ProtectionGroupService
from tests.services.conftest import Env

PINNED = {"targetInstanceTypeRightSizingMethod": "NONE", "instanceType": "r6i.large"}
WORKER_PREFIX = "drs-launch-config"


def _service(env: Env, **kw: Any) -> tuple[LaunchConfigService, ProtectionGroupService]:
    configs = LaunchConfigService(env.storage, env.clients, retry=env.retry, **kw)
    return configs, ProtectionGroupService(
        env.storage, env.clients, launch_configs=configs, retry=env.retry
    )


def _stored_template_version(env: Env, server: str) -> Any:
    """moto's record of the default version of the server's launch template."""
    template_id = env.sim.launch_template_id(server)
    for account in list(ec2_backends.keys()):
        backend = ec2_backends[account]["us-east-1"]
        if template_id in backend.launch_templates:
            return backend.launch_templates[template_id].default_version()
    raise AssertionError(f"launch template {template_id} not found in moto")


def _workers_alive() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(WORKER_PREFIX)]


class TestTemplatesReadBack:
    def test_response_only_fields_survive_a_full_apply(self, env: Env) -> None:
        ids = env.servers(2)
        for sid in ids:
            # What EC2 answers for templates with these settings; moto only stores them.
            data = _stored_template_version(env, sid).data
            data["MetadataOptions"] = {"State": "applied", "HttpTokens": "required"}
            data["Operator"] = {"Managed": False, "HiddenByDefault": False}
            data["NetworkInterfaces"][0]["Ipv6Addresses"] = [
                {"Ipv6Address": "2600:1f18::10", "IsPrimaryIpv6": True}
            ]
        read_back = env.template_data(ids[0])
        assert read_back["MetadataOptions"]["State"] == "applied"

        group = env.groups.create("db", "us-east-1", server_ids=ids, launch_settings=PINNED)

        status = group.launch_config_status
        assert status.status is ConfigStatus.READY, status.errors
        for sid in ids:
            data = env.template_data(sid)
            assert data["InstanceType"] == "r6i.large"
            assert data["MetadataOptions"] == {"HttpTokens": "required"}
            assert "Operator" not in data
            nic = data["NetworkInterfaces"][0]
            assert nic["Ipv6Addresses"] == [{"Ipv6Address": "2600:1f18::10"}]
            assert nic["SubnetId"] == read_back["NetworkInterfaces"][0]["SubnetId"]
            assert status.server_configs[sid].launch_template_version == 2


class TestRightSizing:
    def test_instance_type_with_right_sizing_unset_is_refused(self, env: Env) -> None:
        ids = env.servers(3)
        with pytest.raises(LaunchConfigValidationError) as err:
            env.groups.create(
                "g", "us-east-1", server_ids=ids, launch_settings={"instanceType": "m5.large"}
            )
        (problem,) = err.value.problems
        assert problem["field"] == "launchSettings.instanceType"
        assert problem["value"] == "m5.large"
        assert "targetInstanceTypeRightSizingMethod: NONE" in err.value.message
        assert "instanceType" in err.value.message
        assert env.storage.protection_groups.list() == []
        assert len(env.sim.calls) == len(env.sim.calls.of("DescribeSourceServers"))

    def test_the_override_that_sets_the_type_is_named(self, env: Env) -> None:
        ids = env.servers(2)
        with pytest.raises(LaunchConfigValidationError) as err:
            env.groups.create(
                "g",
                "us-east-1",
                server_ids=ids,
                launch_settings={"copyTags": True},
                server_overrides={ids[1]: {"instanceType": "m5.large"}},
            )
        assert [p["field"] for p in err.value.problems] == [
            f"serverOverrides.{ids[1]}.instanceType"
        ]

    def test_right_sizing_off_in_the_default_lets_an_override_pin_the_type(self, env: Env) -> None:
        ids = env.servers(2)
        group = env.groups.create(
            "g",
            "us-east-1",
            server_ids=ids,
            launch_settings={"targetInstanceTypeRightSizingMethod": "NONE"},
            server_overrides={ids[1]: {"instanceType": "m5.large"}},
        )
        assert group.launch_config_status.status is ConfigStatus.READY
        assert env.template_data(ids[1])["InstanceType"] == "m5.large"

    def test_an_override_turning_right_sizing_on_under_a_pinned_type_is_refused(
        self, env: Env
    ) -> None:
        ids = env.servers(2)
        with pytest.raises(LaunchConfigValidationError) as err:
            env.groups.create(
                "g",
                "us-east-1",
                server_ids=ids,
                launch_settings=PINNED,
                server_overrides={ids[0]: {"targetInstanceTypeRightSizingMethod": "IN_AWS"}},
            )
        assert err.value.problems[0]["field"] == f"serverOverrides.{ids[0]}.instanceType"
        assert "IN_AWS" in err.value.problems[0]["message"]

    @pytest.mark.parametrize("method", ["BASIC", "IN_AWS"])
    def test_one_settings_object_with_both_is_refused(self, method: str) -> None:
        with pytest.raises(LaunchConfigValidationError) as err:
            LaunchSettings.parse(
                {"instanceType": "m5.large", "targetInstanceTypeRightSizingMethod": method}
            )
        (problem,) = err.value.problems
        assert problem["field"] == "instanceType"
        assert f"targetInstanceTypeRightSizingMethod is {method}" in problem["message"]
        assert "set targetInstanceTypeRightSizingMethod: NONE" in problem["message"]

    def test_a_part_may_leave_right_sizing_to_the_other_part(self) -> None:
        part = LaunchSettings.parse({"instanceType": "m5.large"})
        assert part.effective_problems()[0][0] == "instanceType"
        pinned = LaunchSettings.parse({"targetInstanceTypeRightSizingMethod": "NONE"})
        assert pinned.merged_with(part).effective_problems() == []


class TestClockAndEvents:
    def test_events_status_and_drift_use_the_injected_clock(self, env: Env) -> None:
        env.sim.advance(3 * 86400)  # far from the wall clock, so a wall-time stamp shows
        seen: list[Event] = []
        configs, groups = _service(env, events=seen.append, clock=env.sim.now)
        ids = env.servers(2)
        group = groups.create("g", "us-east-1", server_ids=ids, launch_settings=PINNED)
        now = env.sim.now()
        assert group.launch_config_status.last_applied == now
        assert all(
            c.last_applied == now for c in group.launch_config_status.server_configs.values()
        )

        stored = env.storage.protection_groups.get(group.group_id)
        env.storage.protection_groups.put(
            stored.model_copy(update={"server_overrides": {ids[0]: LaunchSettings(copy_tags=True)}})
        )
        env.sim.advance(60)
        report = configs.detect_drift(group.group_id)
        assert report.checked_at == env.sim.now()
        assert list(report.drifted) == [ids[0]]
        remote = configs.detect_drift(group.group_id, remote=True)
        assert remote.checked_at == env.sim.now()

        kinds = {type(e) for e in seen}
        assert {ServerConfigApplied, ConfigApplied, DriftDetected} <= kinds
        assert all(e.at in (now, env.sim.now()) for e in seen), [e.at for e in seen]

    def test_a_naive_clock_is_refused_before_anything_is_written(self, env: Env) -> None:
        configs, groups = _service(env, clock=lambda: datetime(2026, 1, 1, 12, 0))
        ids = env.servers(1)
        group = groups.create("g", "us-east-1", server_ids=ids, apply=False)
        before = len(env.sim.calls)
        with pytest.raises(ValidationError) as err:
            configs.apply_to_group(group.group_id)
        assert err.value.problems[0]["field"] == "clock"
        assert env.storage.protection_groups.get(group.group_id) == group
        assert len(env.sim.calls) == before

    @pytest.mark.parametrize("concurrency", [0, -1, 1.5, True])
    def test_bad_concurrency_is_a_validation_error(self, env: Env, concurrency: Any) -> None:
        with pytest.raises(ValidationError) as err:
            LaunchConfigService(env.storage, env.clients, concurrency=concurrency)
        assert err.value.problems[0] == {
            "field": "concurrency",
            "message": "must be at least 1",
            "value": concurrency,
        }

    @pytest.mark.parametrize("timeout", [0, -5, math.nan, math.inf, 10**12])
    def test_bad_timeouts_are_validation_errors(self, env: Env, timeout: float) -> None:
        ids = env.servers(1)
        group = env.groups.create("g", "us-east-1", server_ids=ids, apply=False)
        for call in (env.launch_configs.apply_to_group, env.launch_configs.ensure_ready):
            with pytest.raises(ValidationError) as err:
                call(group.group_id, timeout_s=timeout)
            assert err.value.problems[0]["field"] == "timeout_s"
        assert env.storage.protection_groups.get(group.group_id) == group


class TestThreads:
    def _settled_after_return(self, env: Env, seen: list[Event]) -> None:
        """Nothing this apply started is still calling DRS or emitting."""
        assert _workers_alive() == []
        calls, events = len(env.sim.calls), len(seen)
        time.sleep(1.2)  # longer than any injected latency
        assert len(env.sim.calls) == calls
        assert len(seen) == events

    def test_after_a_timeout_no_worker_calls_aws_or_emits(self, env: Env) -> None:
        threads: list[str] = []
        seen: list[Event] = []

        def sink(event: Event) -> None:
            threads.append(threading.current_thread().name)
            seen.append(event)

        configs, groups = _service(env, events=sink, concurrency=2)
        ids = env.servers(6)
        group = groups.create(
            "g", "us-east-1", server_ids=ids, launch_settings={"copyTags": True}, apply=False
        )
        env.sim.faults.latency(1.0, "UpdateLaunchConfiguration")

        started = time.monotonic()
        status = configs.apply_to_group(group.group_id, timeout_s=0.3)
        assert time.monotonic() - started >= 0.9, "the calls in flight were waited for"
        self._settled_after_return(env, seen)

        # The calls in flight at the timeout finished, and count; nothing else started.
        calls = env.sim.calls.of("UpdateLaunchConfiguration")
        assert 1 <= len(calls) <= 2
        ready = sorted(c.params["sourceServerID"] for c in calls)
        assert (
            sorted(
                sid for sid, c in status.server_configs.items() if c.status is ConfigStatus.READY
            )
            == ready
        )
        assert len(status.pending_servers()) == 6 - len(ready)
        assert status.status is ConfigStatus.PARTIAL
        pending = status.server_configs[status.pending_servers()[0]]
        assert pending.errors == ["not applied within the 0.3 s timeout"]
        assert threads
        assert set(threads) == {threading.current_thread().name}
        assert (
            sorted(e.source_server_id for e in seen if isinstance(e, ServerConfigApplied)) == ready
        )
        assert isinstance(seen[-1], ConfigApplied)
        assert seen[-1].pending == 6 - len(ready)

    def test_workers_stop_between_calls_at_the_timeout(self, env: Env) -> None:
        seen: list[Event] = []
        configs, groups = _service(env, events=seen.append, concurrency=2)
        ids = env.servers(4)
        group = groups.create(
            "g",
            "us-east-1",
            server_ids=ids,
            launch_settings={**PINNED, "copyTags": True},
            apply=False,
        )
        env.sim.faults.latency(1.0, "UpdateLaunchConfiguration")
        ec2_calls: list[str] = []
        env.ec2().meta.events.register(
            "before-call.ec2", lambda model, **_: ec2_calls.append(model.name)
        )

        status = configs.apply_to_group(group.group_id, timeout_s=0.3)
        self._settled_after_return(env, seen)

        assert ec2_calls == [], "the template step was not started after the timeout"
        stopped = [
            c
            for c in status.server_configs.values()
            if c.errors == ["stopped at the timeout before DescribeLaunchTemplateVersions"]
        ]
        assert 1 <= len(stopped) <= 2
        assert status.pending_servers() == sorted(ids)

    def test_an_error_in_the_callers_thread_still_stops_every_worker(self, env: Env) -> None:
        main = threading.current_thread()
        readings = {"main": 0}

        def clock() -> datetime:
            # Two readings before the workers start, then the caller's clock breaks.
            if threading.current_thread() is main:
                readings["main"] += 1
                if readings["main"] > 2:
                    return datetime(2026, 1, 1)
            return datetime(2026, 1, 1, tzinfo=UTC)

        seen: list[Event] = []
        configs, groups = _service(env, events=seen.append, concurrency=2, clock=clock)
        ids = env.servers(8)
        group = groups.create(
            "g", "us-east-1", server_ids=ids, launch_settings={"copyTags": True}, apply=False
        )
        env.sim.faults.latency(0.3, "UpdateLaunchConfiguration")
        with pytest.raises(ValidationError, match="clock"):
            configs.apply_to_group(group.group_id, timeout_s=30)
        self._settled_after_return(env, seen)
        # Each worker may have started one more call before the error; the queue was dropped.
        assert env.sim.calls.count("UpdateLaunchConfiguration") <= 4
        assert seen == []
