"""Recover into prepared standby instances: match, review the checks, apply, unpair.

Runs offline against the DRS simulator and moto: ``python examples/instance_matching.py``
(needs ``pip install "drs-orchestration[sim]"``). ``docs/matching.md`` walks through it.
"""

from __future__ import annotations

import logging
import os

from moto import mock_aws

from drs_orchestration import MatchRules, MemoryStorage, Orchestrator
from drs_orchestration.models import CheckStatus
from drs_orchestration.testing import SimulatedClientFactory, mock_drs

logger = logging.getLogger(__name__)
REGION = "us-east-1"
AMAZON_LINUX = "ami-04681a1dbd79675a5"  # from moto's catalogue: HVM, x86_64, EBS-backed


def standby(ec2: object, name: str, *, ready_for_drs: bool = True) -> str:
    """A stopped instance prepared to receive a server (tagged for DRS unless told not to)."""
    tags = [{"Key": "Name", "Value": name}]
    if ready_for_drs:
        tags.append({"Key": "AWSDRS", "Value": "AllowLaunchingIntoThisInstance"})
    instance = ec2.run_instances(  # type: ignore[attr-defined]
        ImageId=AMAZON_LINUX,
        InstanceType="m5.large",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance])  # type: ignore[attr-defined]
    return str(instance)


def main() -> None:
    # moto's catalogue images carry the platform and architecture the checks read.
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "true"
    with mock_aws(), mock_drs() as sim:
        servers = [
            sim.add_source_server(region=REGION, hostname=name, tags={"Tier": "web"})
            for name in ("web-1", "web-2", "web-3")
        ]
        orchestrator = Orchestrator(MemoryStorage(), SimulatedClientFactory(sim), clock=sim.now)
        ec2 = orchestrator.clients.client("ec2", REGION)
        standby(ec2, "WEB-1-dr")
        standby(ec2, "web-2 -dr", ready_for_drs=False)  # the tag is missing: apply adds it
        standby(ec2, "web-3-dr")
        standby(ec2, "web-3-DR")  # two candidates for web-3: reported, never guessed

        group = orchestrator.groups.create("web", REGION, tags={"Tier": "web"})
        report = orchestrator.matcher.match(
            group_id=group.group_id, rules=MatchRules(name_suffixes=["-dr"])
        )
        for pair in report.pairs:
            logger.info(
                "%s -> %s (%s): %s",
                pair.source_name,
                pair.target_instance_id,
                pair.method.value,
                pair.reason,
            )
            for check in pair.checks:
                if check.status is not CheckStatus.PASS:
                    logger.info(
                        "  %s %s: %s. Fix: %s",
                        check.status.value.upper(),
                        check.name.value,
                        check.message,
                        check.remediation,
                    )
        for ambiguous in report.ambiguous:
            logger.info("ambiguous: %s", ambiguous.reason)

        result = orchestrator.matcher.apply(report, add_tag=True)
        logger.info(
            "paired %d, tagged %s, group %s",
            len(result.paired),
            result.tagged_instance_ids,
            result.launch_config_status.value,
        )
        drs = orchestrator.clients.client("drs", REGION)
        for server in servers:
            config = drs.get_launch_configuration(sourceServerID=server)
            logger.info("%s launches into %s", server, config.get("launchIntoInstanceProperties"))

        orchestrator.matcher.unpair(servers[:1], group.group_id)
        config = drs.get_launch_configuration(sourceServerID=servers[0])
        logger.info(
            "after unpair: %s", config.get("launchIntoInstanceProperties", "a new instance")
        )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
