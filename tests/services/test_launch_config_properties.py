"""Seed 000's correctness properties for launch-configuration pre-application (hypothesis).

Each example runs against the DRS simulator inside moto; the environment is
shared by the examples of one test and every example uses fresh servers.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from drs_orchestration.errors import ConcurrentModificationError, LaunchConfigValidationError
from drs_orchestration.models import (
    ConfigStatus,
    LaunchConfigStatus,
    LaunchSettings,
    ProtectionGroup,
)
from drs_orchestration.models.groups import _TRANSITIONS
from drs_orchestration.services import calculate_config_hash
from drs_orchestration.services.launch_templates import read_template_settings
from tests.services.conftest import Env
from tests.services.test_launch_config import _throttle_server
from tests.strategies import launch_settings

small_fleets = st.integers(min_value=1, max_value=3)


def _group(
    env: Env,
    n: int,
    settings: LaunchSettings,
    overrides: dict[int, LaunchSettings] | None = None,
    **kw: Any,
) -> ProtectionGroup:
    ids = env.servers(n)
    return env.groups.create(
        f"g-{ids[0][-6:]}",
        "us-east-1",
        server_ids=ids,
        launch_settings=settings,
        server_overrides={ids[i]: o for i, o in (overrides or {}).items() if i < n},
        **kw,
    )


@given(settings=launch_settings(), override=launch_settings(), n=small_fleets)
def test_property_1_every_server_is_applied_and_recorded(
    env: Env, settings: LaunchSettings, override: LaunchSettings, n: int
) -> None:
    try:
        settings.merged_with(override)
    except ValueError:
        override = LaunchSettings()
    group = _group(env, n, settings, {0: override})
    status = group.launch_config_status
    assert status.status is ConfigStatus.READY
    for sid in group.source_server_ids:
        effective = group.effective_settings(sid)
        assert status.server_configs[sid].config_hash == calculate_config_hash(effective)
        live = env.drs().get_launch_configuration(sourceServerID=sid)
        for field, value in effective.drs_fields().items():
            assert live[field] == value, field
        if effective.has_template_settings:
            held = read_template_settings(env.template_data(sid))
            for field, value in effective.template_fields().items():
                if field == "tags":
                    assert value.items() <= held["tags"].items()
                elif field == "security_group_ids":
                    assert sorted(value) == held[field]
                else:
                    assert held[field] == value, field
    assert env.groups.get(group.group_id) == group


_CONTRADICTIONS = [
    {"copyPrivateIp": True, "staticPrivateIp": "10.0.0.5"},
    {"instanceType": "m5.large", "targetInstanceTypeRightSizingMethod": "BASIC"},
    {"instanceType": "m5.large", "targetInstanceTypeRightSizingMethod": "IN_AWS"},
    {
        "launchIntoInstanceProperties": {"launchIntoEC2InstanceID": "i-0123456789abcdef0"},
        "copyTags": True,
    },
    {"securityGroupIds": ["sg-bad"]},
    {"staticPrivateIp": "8.8.8.8"},
]


@given(
    base=launch_settings(),
    bad=st.sampled_from(_CONTRADICTIONS),
    as_override=st.booleans(),
    n=small_fleets,
)
def test_property_2_validation_before_persistence(
    env: Env, base: LaunchSettings, bad: dict[str, Any], as_override: bool, n: int
) -> None:
    ids = env.servers(n)
    groups_before = env.storage.protection_groups.list()
    updates_before = env.sim.calls.count("UpdateLaunchConfiguration")
    settings: Any = base if as_override else {**base.to_wire(), **bad}
    overrides: Any = {ids[-1]: bad} if as_override else None
    with pytest.raises(LaunchConfigValidationError):
        env.groups.create(
            "bad", "us-east-1", server_ids=ids, launch_settings=settings, server_overrides=overrides
        )
    assert env.storage.protection_groups.list() == groups_before
    assert env.sim.calls.count("UpdateLaunchConfiguration") == updates_before


def _check_schema(status: LaunchConfigStatus) -> None:
    assert status.status in set(ConfigStatus)
    if status.status is not ConfigStatus.NOT_CONFIGURED:
        assert status.last_applied is not None
    for sid, cfg in status.server_configs.items():
        if cfg.status is ConfigStatus.FAILED:
            assert cfg.errors, sid
            assert any(e.startswith(sid) for e in status.errors), sid


@given(n=st.integers(min_value=1, max_value=4), failing=st.sets(st.integers(0, 3)), data=st.data())
def test_properties_4_and_5_status_schema_and_error_visibility(
    env: Env, n: int, failing: set[int], data: st.DataObject
) -> None:
    ids = env.servers(n)
    victims = {ids[i] for i in failing if i < n}
    undo = [_throttle_server(env, sid) for sid in victims]
    # a name makes sure every server gets an UpdateLaunchConfiguration to throttle
    settings = data.draw(launch_settings()).merged_with(LaunchSettings(name="drill"))
    try:
        group = env.groups.create("g", "us-east-1", server_ids=ids, launch_settings=settings)
    finally:
        for heal in undo:
            heal()
    status = group.launch_config_status
    _check_schema(status)
    assert set(status.failed_servers()) == victims
    expected = (
        ConfigStatus.READY
        if not victims
        else ConfigStatus.FAILED
        if len(victims) == n
        else ConfigStatus.PARTIAL
    )
    assert status.status is expected


@given(first=launch_settings(), second=launch_settings(), n=small_fleets)
def test_property_6_reapply_is_complete(
    env: Env, first: LaunchSettings, second: LaunchSettings, n: int
) -> None:
    # Unset means "leave what DRS has", so DRS ends up holding ``first`` overlaid by
    # ``second``; where that combination is one DRS refuses (copyTags beside a launch-into
    # target), the refusal is tested on its own in test_launch_config.py.
    try:
        first.merged_with(second)
    except ValueError:
        assume(False)
    group = _group(env, n, first)
    env.groups.update(group.group_id, launch_settings=second)
    before = env.sim.calls.count("UpdateLaunchConfiguration")
    status = env.launch_configs.apply_to_group(group.group_id, force=True)
    assert status.status is ConfigStatus.READY
    wanted = calculate_config_hash(second)
    assert all(c.config_hash == wanted for c in status.server_configs.values())
    expected_calls = n if second.drs_fields() else 0
    assert env.sim.calls.count("UpdateLaunchConfiguration") - before == expected_calls


@given(appliers=st.integers(min_value=2, max_value=4), n=small_fleets, settings=launch_settings())
def test_property_9_concurrent_appliers_never_mix_runs(
    env: Env, appliers: int, n: int, settings: LaunchSettings
) -> None:
    group = _group(env, n, settings, apply=False)
    results: list[LaunchConfigStatus] = []
    losers: list[ConcurrentModificationError] = []
    barrier = threading.Barrier(appliers)

    def apply() -> None:
        barrier.wait()
        try:
            results.append(env.launch_configs.apply_to_group(group.group_id, force=True))
        except ConcurrentModificationError as exc:
            losers.append(exc)

    threads = [threading.Thread(target=apply) for _ in range(appliers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) + len(losers) == appliers
    assert results, "at least one applier wins"
    stored = env.groups.get(group.group_id).launch_config_status
    assert stored in results, "the stored status is exactly one run's, never a mix"
    assert stored.apply_id == next(r.apply_id for r in results if r == stored)


def _shuffled(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    items = list(data.items())
    rng.shuffle(items)
    return {k: _shuffled(v, rng) if isinstance(v, dict) else v for k, v in items}


@given(settings=launch_settings(), seed=st.integers(), extra_nones=st.booleans())
def test_property_10_hash_consistency(
    settings: LaunchSettings, seed: int, extra_nones: bool
) -> None:
    rng = random.Random(seed)
    expected = calculate_config_hash(settings)
    assert calculate_config_hash(settings) == expected
    wire = settings.to_wire()
    assert calculate_config_hash(_shuffled(wire, rng)) == expected
    snake = settings.model_dump(exclude_none=not extra_nones)
    assert calculate_config_hash(_shuffled(snake, rng)) == expected
    if settings.security_group_ids:
        reordered = {**wire, "securityGroupIds": list(reversed(settings.security_group_ids))}
        assert calculate_config_hash(reordered) == expected
    as_dynamodb = {k: (Decimal(int(v)) if isinstance(v, bool) else v) for k, v in wire.items()}
    assert calculate_config_hash(as_dynamodb) == expected
    assert expected.startswith("sha256:")
    assert len(expected) == len("sha256:") + 64


@given(
    steps=st.lists(
        st.sampled_from(["update", "force", "fail", "heal", "noop"]), min_size=1, max_size=5
    ),
    n=small_fleets,
)
def test_property_11_every_status_change_is_a_legal_transition(
    env: Env, steps: list[str], n: int
) -> None:
    seen: list[ConfigStatus] = []
    original_put = env.storage.protection_groups.put
    original_transact = env.storage.transact

    def recording_put(item: ProtectionGroup, **kw: Any) -> ProtectionGroup:
        seen.append(item.launch_config_status.status)
        return original_put(item, **kw)

    def recording_transact(operations: list[Any]) -> list[Any]:
        # Group writes that move server claims are transactions.
        stored = original_transact(operations)
        seen.extend(
            item.launch_config_status.status for item in stored if isinstance(item, ProtectionGroup)
        )
        return stored

    env.storage.protection_groups.put = recording_put  # type: ignore[method-assign]
    env.storage.transact = recording_transact  # type: ignore[method-assign]
    undo: list[Callable[[], None]] = []
    try:
        ids = env.servers(n)
        group = env.groups.create(
            "g", "us-east-1", server_ids=ids, launch_settings={"copyTags": True}
        )
        flag = True
        for step in steps:
            if step == "update":
                flag = not flag
                env.groups.update(group.group_id, launch_settings={"copyTags": flag})
            elif step == "force":
                env.groups.update(group.group_id, force=True)
            elif step == "fail":
                undo.append(_throttle_server(env, ids[0]))
                env.groups.update(group.group_id, force=True)
            elif step == "heal":
                while undo:
                    undo.pop()()
                env.launch_configs.apply_to_group(group.group_id)
            else:
                env.groups.update(group.group_id, name="renamed")
    finally:
        env.storage.protection_groups.put = original_put  # type: ignore[method-assign]
        env.storage.transact = original_transact  # type: ignore[method-assign]
        for heal in undo:
            heal()
    assert seen[0] is ConfigStatus.NOT_CONFIGURED
    for before, after in itertools.pairwise(seen):
        assert after is before or after in _TRANSITIONS[before], f"{before} -> {after}"


@given(settings=launch_settings(), n=small_fleets)
def test_property_12_status_round_trips(env: Env, settings: LaunchSettings, n: int) -> None:
    group = _group(env, n, settings)
    stored = env.storage.protection_groups.get(group.group_id)
    assert stored.launch_config_status == group.launch_config_status
    assert (
        LaunchConfigStatus.parse(stored.launch_config_status.to_wire())
        == group.launch_config_status
    )
