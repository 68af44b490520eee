"""Test DR code offline: seed two servers, drill them, see the recovery instances in DRS and EC2.

Run it with ``python examples/simulator_quickstart.py`` (needs the ``sim`` extra:
``pip install "drs-orchestration[sim]"``). ``docs/testing.md`` walks through it.
"""

from __future__ import annotations

import logging

import boto3
from moto import mock_aws

from drs_orchestration.testing import mock_drs

logger = logging.getLogger(__name__)


def run_quickstart() -> dict[str, str]:
    """Drill two simulated servers; return each recovery instance's EC2 state, by instance ID."""
    with mock_aws(), mock_drs() as sim:
        servers = [sim.add_source_server(region="us-east-1", hostname=h) for h in ("web-1", "db-1")]
        drs = boto3.client("drs", region_name="us-east-1")
        drs.start_recovery(sourceServers=[{"sourceServerID": s} for s in servers], isDrill=True)
        sim.advance(600)  # ten simulated minutes: snapshot, conversion, launch
        recovered = drs.describe_recovery_instances()["items"]
        ec2 = boto3.client("ec2", region_name="us-east-1")
        found = ec2.describe_instances(InstanceIds=[r["ec2InstanceID"] for r in recovered])
        instances = [i for r in found["Reservations"] for i in r["Instances"]]
        return {i["InstanceId"]: i["State"]["Name"] for i in instances}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for instance_id, state in run_quickstart().items():
        logger.info("recovery instance %s is %s in EC2", instance_id, state)
