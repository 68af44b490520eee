"""Bad arguments are library ValidationErrors naming the field, before anything is written."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest

from drs_orchestration import ValidationError, WaveExecutor
from drs_orchestration.services.launch_config import LaunchConfigService
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.testing import SimulatedClientFactory
from tests.waves.helpers import make_drill, simulated


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("start_lease_s", {"start_lease_s": -1}),
        ("start_lease_s", {"start_lease_s": math.nan}),
        ("start_lease_s", {"start_lease_s": math.inf}),
        ("start_lease_s", {"start_lease_s": 10**12}),
        ("start_lease_s", {"start_lease_s": 60}),  # shorter than a StartRecovery can take
        ("max_start_attempts", {"max_start_attempts": 0}),
        ("max_start_attempts", {"max_start_attempts": 2.5}),
        ("quota_window", {"quota_window": timedelta(seconds=-5)}),
        ("search_skew", {"search_skew": 300}),
    ],
)
def test_executor_settings_are_checked(field: str, kwargs: dict[str, Any]) -> None:
    storage = MemoryStorage()
    clients = SimulatedClientFactory()
    with pytest.raises(ValidationError) as err:
        WaveExecutor(
            storage, clients, launch_configs=LaunchConfigService(storage, clients), **kwargs
        )
    assert err.value.problems[0]["field"] == field


@pytest.mark.parametrize("poll_interval", [-1.0, 0.0, math.nan, math.inf])
def test_run_checks_the_poll_interval_before_stepping(poll_interval: float) -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 1})
        execution = drill.start()
        with pytest.raises(ValidationError, match="poll_interval"):
            drill.orch.waves.run(execution.execution_id, poll_interval=poll_interval)
        assert drill.orch.waves.get(execution.execution_id).version == execution.version


def test_cancel_needs_someone_to_name() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 1})
        execution = drill.start()
        with pytest.raises(ValidationError) as err:
            drill.orch.waves.cancel(execution.execution_id, "")
        assert err.value.problems[0]["field"] == "requested_by"


def test_a_naive_clock_is_refused_with_a_clear_error() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 1})
        orch = drill.orch
        naive = WaveExecutor(
            orch.storage,
            orch.clients,
            launch_configs=orch.launch_configs,
            clock=lambda: datetime(2026, 1, 1),  # a naive clock: the point of the test
        )
        with pytest.raises(ValidationError, match="timezone-aware"):
            naive.start(drill.plan.plan_id)
        assert orch.storage.executions.list() == []
