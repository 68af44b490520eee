"""Fixtures for the simulator's own tests: a simulator inside moto, one without, and clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from sim_helpers import REGION, START

from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient
    from mypy_boto3_ec2 import EC2Client


@pytest.fixture(autouse=True)
def _lean_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip moto's catalogue of 1,300 AMIs per region: it costs a third of a second each time."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def drs_sim_options() -> dict[str, Any]:
    """The plugin's ``drs_sim`` starts at a fixed time in these tests."""
    return {"start": START}


@pytest.fixture
def sim(drs_sim: DrsSimulator) -> DrsSimulator:
    """A simulator inside moto's mock_aws(), starting at a fixed time."""
    return drs_sim


@pytest.fixture
def bare_sim() -> Iterator[DrsSimulator]:
    """A simulator without moto: DRS only, EC2 detached."""
    with mock_drs(start=START) as simulator:
        yield simulator


@pytest.fixture
def factory(simulated_clients: SimulatedClientFactory) -> SimulatedClientFactory:
    return simulated_clients


@pytest.fixture
def drs(factory: SimulatedClientFactory) -> DrsClient:
    return factory.client("drs", REGION)


@pytest.fixture
def ec2(factory: SimulatedClientFactory) -> EC2Client:
    return factory.client("ec2", REGION)


@pytest.fixture
def bare_drs(bare_sim: DrsSimulator) -> DrsClient:
    return SimulatedClientFactory(bare_sim).client("drs", REGION)
