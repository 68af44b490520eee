"""Drive an execution one step per invocation, as a Lambda behind Step Functions would.

Each invocation builds its own Orchestrator over the same SQLite file and
takes one step; the "state machine" waits when the step says so. Nothing is
kept in memory between invocations, which is what makes any invocation (or
a retry of a failed one) able to take the next step.

Run it with ``python examples/step_functions_driver.py`` (needs the ``sim`` extra).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from moto import mock_aws

from drs_orchestration import Orchestrator
from drs_orchestration.storage import SqliteStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs

logger = logging.getLogger(__name__)


def handler(event: dict[str, Any], database: Path, sim: DrsSimulator) -> dict[str, Any]:
    """One invocation: one step. Returns what the state machine branches on."""
    with SqliteStorage(database) as storage:
        orchestrator = Orchestrator(storage, SimulatedClientFactory(sim), clock=sim.now)
        result = orchestrator.waves.step(event["executionId"])
    return {
        "executionId": result.execution_id,
        "status": result.status.value,
        "done": result.finished,
        "wait": not result.progressed,
    }


def run_state_machine(database: Path, sim: DrsSimulator, execution_id: str) -> dict[str, Any]:
    """Step Functions in a loop: invoke, then Choice (done?), Wait 30 s when asked, repeat."""
    state = {"executionId": execution_id}
    invocations = 0
    while True:
        state = handler(state, database, sim)
        invocations += 1
        if state["done"]:
            return {**state, "invocations": invocations}
        if state["wait"]:
            sim.advance(30)  # the Wait state; in AWS, simulated time is real time


def main() -> dict[str, Any]:
    with mock_aws(), mock_drs() as sim, tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "drs.db"
        for i in range(3):
            sim.add_source_server(region="us-east-1", hostname=f"db-{i}", tags={"Tier": "db"})
        with SqliteStorage(database) as storage:
            setup = Orchestrator(storage, SimulatedClientFactory(sim), clock=sim.now)
            group = setup.groups.create("database", "us-east-1", tags={"Tier": "db"})
            plan = setup.plans.create(
                "db", [{"name": "db", "protectionGroupIds": [group.group_id]}]
            )
            execution = setup.waves.start(plan.plan_id, drill=True)
        return run_state_machine(database, sim, execution.execution_id)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    outcome = main()
    logger.info("execution %(executionId)s %(status)s after %(invocations)d invocations", outcome)
    if outcome["status"] != "COMPLETED":
        raise SystemExit(1)
