"""Drill evidence for an auditor, offline: a drill with a failed launch, reported three ways.

Run it with ``python examples/evidence_report.py [FOLDER]`` (needs the
``sim`` extra, and the ``report`` extra for the chart:
``pip install "drs-orchestration[sim,report]"``). It writes
``evidence.html`` (one self-contained file with the timeline chart),
``evidence.md`` and ``evidence.json`` into FOLDER (default: a new temporary
folder). ``docs/reports.md`` walks through it.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from moto import mock_aws

from drs_orchestration import MemoryStorage, Orchestrator
from drs_orchestration.reports import EvidenceReport, evidence
from drs_orchestration.testing import SimulatedClientFactory, mock_drs

logger = logging.getLogger(__name__)


def drill_evidence() -> EvidenceReport:
    """Drill a three-tier application whose app tier has one server that fails to launch."""
    with mock_aws(), mock_drs() as sim:
        hosts = {}
        for tier, count in (("database", 2), ("app", 3), ("web", 2)):
            for i in range(count):
                hosts[f"{tier}-{i}"] = sim.add_source_server(
                    region="us-east-1", hostname=f"{tier}-{i}", tags={"Tier": tier}
                )
        orchestrator = Orchestrator(
            MemoryStorage(), SimulatedClientFactory(sim), clock=sim.now, sleep=sim.advance
        )
        waves = []
        for tier, after in (("database", []), ("app", ["database"]), ("web", ["app"])):
            group = orchestrator.groups.create(tier, "us-east-1", tags={"Tier": tier})
            waves.append({"name": tier, "protectionGroupIds": [group.group_id], "dependsOn": after})
        plan = orchestrator.plans.create("shop", waves, failure_policy="continue")
        sim.faults.fail_launch(hosts["app-1"], reason="InsufficientInstanceCapacity")

        # The pre-drill checklist, the drill, and the evidence of both.
        checklist = orchestrator.waves.preflight(plan.plan_id, drill=True)
        drill = orchestrator.waves.start(plan.plan_id, drill=True, started_by="dr-team@example.com")
        drill = orchestrator.waves.run(drill.execution_id, poll_interval=15)
        return evidence(drill, plan=orchestrator.plans.get(plan.plan_id), readiness=checklist)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    report = drill_evidence()
    for suffix in ("html", "md", "json"):
        logger.info("wrote %s", report.write(folder / f"evidence.{suffix}"))
    logger.info(
        "%s: %d of %d servers launched, RTO %ss, worst RPO %ss",
        report.status,
        report.servers_launched,
        report.servers_total,
        report.rto_s,
        report.worst_rpo_s,
    )
