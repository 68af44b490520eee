"""Faults aimed at the calls about one resource."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from drs_orchestration.testing import SimulatedClientFactory, mock_drs


def test_a_throttle_can_target_one_server_and_throttled_calls_change_nothing() -> None:
    with mock_aws(), mock_drs() as sim:
        victim = sim.add_source_server(region="us-east-1", hostname="victim")
        other = sim.add_source_server(region="us-east-1", hostname="other")
        drs = SimulatedClientFactory(sim).client("drs", "us-east-1")
        sim.faults.throttle(
            1.0, "UpdateLaunchConfiguration", where=lambda p: p["sourceServerID"] == victim
        )
        with pytest.raises(ClientError) as err:
            drs.update_launch_configuration(sourceServerID=victim, copyTags=True)
        assert err.value.response["Error"]["Code"] == "ThrottlingException"
        assert drs.get_launch_configuration(sourceServerID=victim)["copyTags"] is False
        drs.update_launch_configuration(sourceServerID=other, copyTags=True)
        assert drs.get_launch_configuration(sourceServerID=other)["copyTags"] is True
        assert sim.calls.count("UpdateLaunchConfiguration", injected=True) == 1
