"""The pytest plugin's fixtures, as every test session gets them from the entry point."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from drs_orchestration.aws import RetryPolicy
from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.testing import (
    DrsSimulator,
    Quotas,
    SimulatedClientFactory,
    active_simulator,
)
from drs_orchestration.testing.ec2 import moto_active

REGION = "us-east-1"
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_the_plugin_is_registered_for_pytest() -> None:
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "drs_orchestration"]
    assert plugin.value == "drs_orchestration.testing.pytest_plugin"


def test_drs_sim_is_an_active_simulator_inside_moto(
    drs_sim: DrsSimulator, simulated_clients: SimulatedClientFactory
) -> None:
    server = drs_sim.add_source_server(region=REGION, hostname="web-1")
    drs = simulated_clients.client("drs", REGION)

    drs.start_recovery(sourceServers=[{"sourceServerID": server}], isDrill=True)
    drs_sim.advance(600)
    [instance] = drs.describe_recovery_instances()["items"]
    ec2 = simulated_clients.client("ec2", REGION)
    found = ec2.describe_instances(InstanceIds=[instance["ec2InstanceID"]])["Reservations"]

    assert active_simulator() is drs_sim
    assert moto_active()
    assert found[0]["Instances"][0]["State"]["Name"] == "running"  # a moto EC2 instance
    assert drs_sim.calls.count("StartRecovery", succeeded=True) == 1


def test_each_test_gets_a_fresh_simulator(drs_sim: DrsSimulator) -> None:
    assert drs_sim.calls.count() == 0
    assert drs_sim.regions() == []


@pytest.mark.drs_sim(start=START, quotas=Quotas(max_jobs_in_progress=1))
def test_a_marker_passes_options_to_mock_drs(
    drs_sim: DrsSimulator, simulated_clients: SimulatedClientFactory
) -> None:
    servers = [drs_sim.add_source_server(region=REGION, hostname=f"h-{i}") for i in range(2)]
    drs = simulated_clients.client("drs", REGION)
    drs.start_recovery(sourceServers=[{"sourceServerID": servers[0]}], isDrill=True)

    with pytest.raises(drs.exceptions.ServiceQuotaExceededException):
        drs.start_recovery(sourceServers=[{"sourceServerID": servers[1]}], isDrill=True)
    assert drs_sim.now() == START


def test_no_wait_retry_retries_as_production_does_without_sleeping(
    drs_sim: DrsSimulator,
    simulated_clients: SimulatedClientFactory,
    no_wait_retry: RetryPolicy,
) -> None:
    drs_sim.add_source_server(region=REGION, hostname="web-1")
    drs_sim.faults.throttle_next(3, operation="DescribeSourceServers")
    gateway = DrsGateway(simulated_clients, REGION, retry=no_wait_retry)

    started = time.monotonic()
    servers = gateway.describe_source_servers()
    elapsed = time.monotonic() - started

    assert len(servers) == 1
    assert drs_sim.calls.count("DescribeSourceServers") == 4
    assert no_wait_retry == RetryPolicy()  # the production attempts and backoff
    assert elapsed < 3.0  # production waits 0.5 + 1 + 2 s at least before the 4th attempt


def test_without_moto_drs_sim_names_the_extra_to_install(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("import sys\nsys.modules['moto'] = None\n")
    (tmp_path / "test_needs_moto.py").write_text(
        textwrap.dedent(
            """
            def test_uses_the_simulator(drs_sim):
                pass
            """
        )
    )

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1, result.stdout
    assert 'pip install "drs-orchestration[sim]"' in result.stdout
