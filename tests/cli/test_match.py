"""``match``: pair a group's servers with standby instances by name, then apply, through the CLI."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from drs_orchestration.testing import DrsSimulator
from tests.cli.conftest import REGION, aws, invoke, seed, write

LINUX_AMI = "ami-04681a1dbd79675a5"


@pytest.fixture
def amis(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's image catalogue, so instances launched from it are HVM like real ones."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")


def _standby(name: str) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    tags = {"Name": name, "AWSDRS": "AllowLaunchingIntoThisInstance"}
    instance = ec2.run_instances(
        ImageId=LINUX_AMI,
        InstanceType="m5.large",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance])
    return str(instance)


def test_match_by_name_with_a_suffix_then_apply(
    amis: None, sim: DrsSimulator, tmp_path: Path
) -> None:
    names = seed(sim, (("web", 2),))
    by_host = {hostname: sid for sid, hostname in names.items()}
    targets = {"web-1": _standby("WEB-1-dr"), "web-2": _standby("web-2-dr")}
    group = "name: web\nregion: us-east-1\nselection: {tags: {Tier: web}}\n"
    assert aws("groups", "create", "-f", write(tmp_path / "g.yaml", group)).status == 0

    unmatched = aws("match", "--group", "web")
    assert unmatched.status == 1
    assert "not paired" in unmatched.out

    report = aws("match", "--group", "web", "--suffix", "-dr", "--output", "json")
    assert report.status == 0, report
    pairs = {p["sourceServerId"]: p["targetInstanceId"] for p in report.json()["report"]["pairs"]}
    assert pairs == {by_host[h]: i for h, i in targets.items()}
    assert report.json()["applied"] is None
    # Matching only reads: the group has no overrides yet.
    assert (
        invoke("groups", "show", "web", "--output", "json").json().get("serverOverrides", {}) == {}
    )

    applied = aws("match", "--group", "web", "--suffix", "-dr", "--apply")
    assert applied.status == 0, applied
    assert "paired" in applied.out
    overrides = invoke("groups", "show", "web", "--output", "json").json()["serverOverrides"]
    assert {
        sid: o["launchIntoInstanceProperties"]["launchIntoEC2InstanceID"]
        for sid, o in overrides.items()
    } == pairs


def test_match_refuses_what_does_not_make_sense(sim: DrsSimulator, tmp_path: Path) -> None:
    seed(sim, (("web", 1),))
    group = "name: web\nregion: us-east-1\nselection: {tags: {Tier: web}}\n"
    assert aws("groups", "create", "-f", write(tmp_path / "g.yaml", group)).status == 0

    tag_only = aws("match", "--group", "web", "--add-tag")
    assert tag_only.status == 2
    assert "--add-tag only makes sense with --apply" in tag_only.one_line_error()

    bad_pair = aws("match", "--group", "web", "--pair", "s-1")
    assert bad_pair.status == 2
    assert "give SOURCE_SERVER=INSTANCE" in bad_pair.one_line_error()

    bad_vpc = aws("match", "--group", "web", "--vpc", "not-a-vpc")
    assert bad_vpc.status == 2
    assert "targetVpcIds" in bad_vpc.one_line_error()
