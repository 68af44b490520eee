"""Test your DR code with pytest: the drs_sim, simulated_clients and no_wait_retry fixtures.

With the ``sim`` extra installed (``pip install "drs-orchestration[sim]"``) every
pytest session has these fixtures; copy tests like these into your own suite.
``python examples/pytest_fixtures.py`` runs this file with pytest; ``docs/testing.md``
walks through it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from drs_orchestration import DrsQuotas, ExecutionStatus, MemoryStorage, Orchestrator, RetryPolicy
from drs_orchestration.testing import DrsSimulator, Quotas, SimulatedClientFactory


def shop(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    retry: RetryPolicy,
    quotas: DrsQuotas | None = None,
) -> Orchestrator:
    """Three web servers replicating in the simulator, and an orchestrator on its clock."""
    for i in range(3):
        sim.add_source_server(region="us-east-1", hostname=f"web-{i}", tags={"App": "shop"})
    return Orchestrator(
        MemoryStorage(), clients, retry=retry, clock=sim.now, sleep=sim.advance, quotas=quotas
    )


def drill(orchestrator: Orchestrator) -> str:
    group = orchestrator.groups.create("web", "us-east-1", tags={"App": "shop"})
    plan = orchestrator.plans.create(
        "shop", [{"name": "web", "protectionGroupIds": [group.group_id]}]
    )
    return orchestrator.waves.start(plan.plan_id, drill=True).execution_id


def test_a_drill_launches_every_server(
    drs_sim: DrsSimulator, simulated_clients: SimulatedClientFactory, no_wait_retry: RetryPolicy
) -> None:
    orchestrator = shop(drs_sim, simulated_clients, no_wait_retry)

    execution = orchestrator.waves.run(drill(orchestrator), poll_interval=30)

    assert execution.status is ExecutionStatus.COMPLETED
    assert len(orchestrator.cache.for_execution(execution.execution_id)) == 3


def test_throttling_is_retried_without_waiting(
    drs_sim: DrsSimulator, simulated_clients: SimulatedClientFactory, no_wait_retry: RetryPolicy
) -> None:
    orchestrator = shop(drs_sim, simulated_clients, no_wait_retry)
    drs_sim.faults.throttle_next(2, operation="StartRecovery")

    execution = orchestrator.waves.run(drill(orchestrator), poll_interval=30)

    assert execution.status is ExecutionStatus.COMPLETED
    assert drs_sim.calls.count("StartRecovery", succeeded=False) == 2


# The simulated account allows one server per job; the orchestrator is told so.
@pytest.mark.drs_sim(quotas=Quotas(max_servers_per_job=1))
def test_a_drill_stays_within_the_account_quotas(
    drs_sim: DrsSimulator, simulated_clients: SimulatedClientFactory, no_wait_retry: RetryPolicy
) -> None:
    orchestrator = shop(
        drs_sim, simulated_clients, no_wait_retry, quotas=DrsQuotas(max_servers_per_job=1)
    )

    execution = orchestrator.waves.run(drill(orchestrator), poll_interval=30)

    assert drs_sim.quotas.max_servers_per_job == 1
    assert execution.status is ExecutionStatus.COMPLETED
    assert drs_sim.calls.count("StartRecovery", succeeded=True) == 3


if __name__ == "__main__":
    # A pytest of its own: this process imported the library before pytest could
    # load it as the plugin.
    command = [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider"]
    sys.exit(subprocess.call(command))
