"""``groups``: YAML, JSON and CSV files in, launch configurations applied, drift found."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from drs_orchestration.cli.errors import CliError
from drs_orchestration.cli.group_files import read_overrides_csv
from drs_orchestration.testing import DrsSimulator
from tests.cli.conftest import GROUPS_YAML, PLAN_YAML, REGION, aws, invoke, seed, write

APP_CSV = """\
hostname,instanceType,targetInstanceTypeRightSizingMethod,tags.CostCenter,copyPrivateIp
app-1,m5.large,NONE,cc-42,false
app-2,,,cc-43,
"""


def _ids(names: dict[str, str]) -> dict[str, str]:
    return {hostname: sid for sid, hostname in names.items()}


def _template_instance_type(source_server_id: str) -> str | None:
    drs = boto3.client("drs", region_name=REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    template = drs.get_launch_configuration(sourceServerID=source_server_id)["ec2LaunchTemplateID"]
    version = ec2.describe_launch_template_versions(
        LaunchTemplateId=template, Versions=["$Default"]
    )["LaunchTemplateVersions"][0]
    return version["LaunchTemplateData"].get("InstanceType")


def test_create_from_yaml_with_host_name_overrides_and_a_csv(
    sim: DrsSimulator, tmp_path: Path
) -> None:
    ids = _ids(seed(sim))
    write(tmp_path / "app.csv", APP_CSV)
    path = write(
        tmp_path / "app.yaml",
        "name: app\n"
        "region: us-east-1\n"
        "selection: {tags: {Tier: app}}\n"
        "launchSettings: {copyTags: true}\n"
        "serverOverrides:\n"
        "  app-2: {copyPrivateIp: true, tags: {Owner: shop}}\n"
        "serverOverridesCsv: app.csv\n",
    )

    created = aws("groups", "create", "-f", path)

    assert created.status == 0, created
    assert "app" in created.out
    assert "ready" in created.out
    [group] = invoke("groups", "list", "--output", "json").json()
    assert group["name"] == "app"
    assert sorted(group["sourceServerIds"]) == sorted([ids["app-1"], ids["app-2"]])
    assert group["launchConfigStatus"]["status"] == "ready"
    overrides = group["serverOverrides"]
    assert overrides[ids["app-1"]] == {
        "instanceType": "m5.large",
        "targetInstanceTypeRightSizingMethod": "NONE",
        "tags": {"CostCenter": "cc-42"},
        "copyPrivateIp": False,
    }
    # The file's override and the CSV's row are merged, the CSV winning where both speak.
    assert overrides[ids["app-2"]] == {
        "copyPrivateIp": True,
        "tags": {"CostCenter": "cc-43"},
    }
    # Applied to the server's EC2 launch template in DRS, not only stored.
    assert _template_instance_type(ids["app-1"]) == "m5.large"


def test_a_json_file_with_explicit_servers_and_an_overrides_option(
    sim: DrsSimulator, tmp_path: Path
) -> None:
    ids = _ids(seed(sim))
    path = write(
        tmp_path / "web.json",
        json.dumps(
            {
                "name": "web",
                "selection": {"serverIds": [ids["web-1"], ids["web-2"]]},
                "launchSettings": {"copyTags": True},
            }
        ),
    )
    csv = write(
        tmp_path / "web.csv",
        f"sourceServerId,launchDisposition\n{ids['web-2']},STOPPED\n",
    )

    created = aws("groups", "create", "-f", path, "--overrides", csv, "--region", REGION)

    assert created.status == 0, created
    [group] = invoke("groups", "list", "--output", "json").json()
    assert group["region"] == REGION
    assert group["sourceServerIds"] == [ids["web-1"], ids["web-2"]]
    assert group["serverOverrides"] == {ids["web-2"]: {"launchDisposition": "STOPPED"}}


def test_show_status_drift_apply_update_and_delete(sim: DrsSimulator, tmp_path: Path) -> None:
    ids = _ids(seed(sim))
    assert aws("groups", "create", "-f", write(tmp_path / "g.yaml", GROUPS_YAML)).status == 0

    shown = invoke("groups", "show", "database")
    assert shown.status == 0, shown
    assert ids["database-1"] in shown.out
    assert "instanceType=r6i.xlarge" in shown.out
    assert "tags App=shop, Tier=database" in shown.out
    as_json = invoke("groups", "show", "database", "--output", "json").json()
    assert as_json["serverSelectionTags"] == {"App": "shop", "Tier": "database"}

    status = invoke("groups", "status", "database", "--output", "json")
    assert status.json()["status"] == "ready"
    assert set(status.json()["serverConfigs"]) == {ids["database-1"], ids["database-2"]}

    in_sync = aws("groups", "drift", "database", "--remote")
    assert in_sync.status == 0, in_sync
    assert "in sync" in in_sync.out

    # Someone changes a server in the DRS console: only a remote check can see it.
    boto3.client("drs", region_name=REGION).update_launch_configuration(
        sourceServerID=ids["database-2"], copyTags=False
    )
    assert invoke("groups", "drift", "database").status == 0
    drifted = aws("groups", "drift", "database", "--remote", "--output", "json")
    assert drifted.status == 1
    assert list(drifted.json()["drifted"]) == [ids["database-2"]]
    assert [d["field"] for d in drifted.json()["differences"][ids["database-2"]]] == ["copyTags"]

    applied = aws("groups", "apply", "database", "--force")
    assert applied.status == 0, applied
    assert aws("groups", "drift", "database", "--remote").status == 0

    # Update from a file: the override changes and is applied; the name finds the group.
    changed = GROUPS_YAML.replace("instanceType: r6i.xlarge", "instanceType: r6i.2xlarge")
    updated = aws("groups", "update", "-f", write(tmp_path / "g2.yaml", changed))
    assert updated.status == 0, updated
    assert _template_instance_type(ids["database-1"]) == "r6i.2xlarge"

    # A plan uses the group: it cannot go; without the plan it can.
    assert invoke("plans", "create", "-f", write(tmp_path / "p.yaml", PLAN_YAML)).status == 0
    refused = invoke("groups", "delete", "web")
    assert "is used by plan(s): shop" in refused.one_line_error()
    assert refused.status == 1
    assert invoke("plans", "delete", "shop").status == 0
    assert invoke("groups", "delete", "web").status == 0
    names = [g["name"] for g in invoke("groups", "list", "--output", "json").json()]
    assert names == ["app", "database"]


def test_update_can_rename_with_the_group_argument_but_not_move_it(
    sim: DrsSimulator, tmp_path: Path
) -> None:
    seed(sim)
    one = "name: app\nregion: us-east-1\nselection: {tags: {Tier: app}}\n"
    assert aws("groups", "create", "-f", write(tmp_path / "a.yaml", one)).status == 0

    renamed = aws(
        "groups",
        "update",
        "app",
        "-f",
        write(tmp_path / "b.yaml", one.replace("app\n", "tier-2\n", 1)),
    )
    assert renamed.status == 0, renamed
    assert [g["name"] for g in invoke("groups", "list", "--output", "json").json()] == ["tier-2"]

    moved = aws(
        "groups",
        "update",
        "tier-2",
        "-f",
        write(tmp_path / "c.yaml", one.replace("us-east-1", "us-west-2")),
    )
    assert moved.status == 2
    assert "region and account cannot change" in moved.one_line_error()


def test_creating_a_name_twice_is_refused(sim: DrsSimulator, tmp_path: Path) -> None:
    seed(sim)
    path = write(
        tmp_path / "a.yaml", "name: app\nregion: us-east-1\nselection: {tags: {Tier: app}}\n"
    )
    assert aws("groups", "create", "-f", path).status == 0

    again = aws("groups", "create", "-f", path)

    assert again.status == 2
    assert "a group with this name exists already: 'app'" in again.one_line_error()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("region: us-east-1\nselection: {tags: {Tier: app}}\n", "name: is required"),
        ("name: a\nregion: us-east-1\n", "selection: give exactly one of serverIds"),
        (
            "name: a\nregion: us-east-1\nselection: {tags: {Tier: app}, serverIds: [x]}\n",
            "selection: give exactly one of serverIds",
        ),
        ("name: a\nselection: {tags: {Tier: app}}\nbogus: 1\n", "unknown key(s) bogus"),
        ("name: a\nselection: {tags: {Tier: app}}\n", "region is missing"),
        (
            "name: a\nregion: us-east-1\nselection: {serverIds: [s-123]}\n",
            "serverIds.0: String should match pattern",
        ),
        (
            "name: a\nregion: us-east-1\nselection: {tags: {Tier: app}}\n"
            "serverOverrides: {app-1: {instanceType: m5.large}}\n",
            "would be overwritten by DRS right-sizing",
        ),
        (
            "name: a\nregion: us-east-1\nselection: {tags: {Tier: app}}\n"
            "serverOverrides: {nosuchhost: {copyTags: true}}\n",
            "no source server with host name 'nosuchhost'",
        ),
        (
            "name: a\nregion: us-east-1\nselection: {tags: {Tier: app}}\n"
            "account: {accountId: '12'}\n",
            "account: accountId: String should match pattern",
        ),
        ("groups: []\n", "groups: must be a non-empty list"),
        ("name: [unclosed\n", "invalid YAML"),
        (
            "name: a\nregion: us-east-1\nselection: {tags: {Tier: app}}\n"
            "serverOverridesCsv: missing.csv\n",
            "missing.csv: cannot read",
        ),
    ],
)
def test_a_bad_group_file_is_one_line_naming_the_place(
    sim: DrsSimulator, tmp_path: Path, text: str, expected: str
) -> None:
    seed(sim)

    result = aws("groups", "create", "-f", write(tmp_path / "g.yaml", text))

    assert result.status == 2
    assert expected in result.one_line_error()
    assert invoke("groups", "list", "--output", "json").json() == []


def test_the_csv_of_server_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.csv",
        "\ufeffsourceServerId , securityGroupIds,tags,licensing.osByol,"
        "launchIntoInstanceProperties.launchIntoEC2InstanceID,copyTags\n"
        "s-0123456789abcdef0,sg-0123456789abcdef0;sg-0123456789abcdef1,A=1;B=two,yes,"
        "i-0123456789abcdef0,no\n"
        "s-0123456789abcdef1,,,,,\n",
    )

    rows = read_overrides_csv(path)

    assert rows == {
        "s-0123456789abcdef0": {
            "securityGroupIds": ["sg-0123456789abcdef0", "sg-0123456789abcdef1"],
            "tags": {"A": "1", "B": "two"},
            "licensing": {"osByol": "yes"},
            "launchIntoInstanceProperties": {"launchIntoEC2InstanceID": "i-0123456789abcdef0"},
            "copyTags": "no",
        },
        "s-0123456789abcdef1": {},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "instanceType\nm5.large\n",
            "needs exactly one of the columns sourceServerId and hostname",
        ),
        ("sourceServerId,hostname\nx,y\n", "needs exactly one of the columns"),
        (
            "sourceServerId,copyTags\ns-1,true\n",
            ":2: sourceServerId 's-1' is not a source server ID",
        ),
        ("hostname,copyTags\n,true\n", ":2: hostname is empty"),
        ("hostname,copyTags\na,true\na,false\n", ":3: a has a row already"),
        ("hostname,copyTags\na,true,extra\n", ":2: more cells than the header"),
        ("hostname,copyTags\na,perhaps\n", ":2 (a): copyTags: Input should be a valid boolean"),
        ("hostname,tags\na,novalue\n", "'novalue' is not KEY=VALUE"),
    ],
)
def test_a_bad_csv_names_its_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(CliError) as raised:
        read_overrides_csv(write(tmp_path / "s.csv", text))

    assert expected in raised.value.message
    assert raised.value.status == 2
