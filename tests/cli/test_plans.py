"""``plans`` and ``validate``: plan files that name their groups, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drs_orchestration.testing import DrsSimulator
from tests.cli.conftest import GROUPS_YAML, PLAN_YAML, aws, invoke, seed, write


@pytest.fixture
def groups(sim: DrsSimulator, tmp_path: Path) -> dict[str, str]:
    seed(sim)
    assert aws("groups", "create", "-f", write(tmp_path / "g.yaml", GROUPS_YAML)).status == 0
    return {g["name"]: g["groupId"] for g in invoke("groups", "list", "--output", "json").json()}


def test_create_show_check_list_and_delete(groups: dict[str, str], tmp_path: Path) -> None:
    created = invoke("plans", "create", "-f", write(tmp_path / "p.yaml", PLAN_YAML))

    assert created.status == 0, created
    assert "database" in created.out
    plan = invoke("plans", "show", "shop", "--output", "json").json()
    assert plan["name"] == "shop"
    assert plan["failurePolicy"] == "continue"
    # Group names in the file are stored as the groups' IDs.
    assert [w["protectionGroupIds"] for w in plan["waves"]] == [
        [groups["database"]],
        [groups["app"]],
        [groups["web"]],
    ]
    assert invoke("plans", "show", plan["planId"]).status == 0

    check = invoke("plans", "check", "shop", "--output", "json")
    assert check.status == 0
    assert check.json()["ok"] is True
    assert [len(w["serverIds"]) for w in check.json()["waves"]] == [2, 2, 3]
    shown = invoke("plans", "check", "shop")
    assert "can run" in shown.out

    listed = invoke("plans", "list")
    assert "database -> app -> web" in listed.out

    again = invoke("plans", "create", "-f", tmp_path / "p.yaml")
    assert again.status == 2
    assert "a plan named 'shop' exists already" in again.one_line_error()

    assert invoke("plans", "delete", "shop").status == 0
    assert invoke("plans", "list", "--output", "json").json() == []


def test_update_replaces_the_waves(groups: dict[str, str], tmp_path: Path) -> None:
    assert invoke("plans", "create", "-f", write(tmp_path / "p.yaml", PLAN_YAML)).status == 0
    two_waves = (
        "name: shop\nwaves:\n"
        "  - {name: data, protectionGroups: [database, app]}\n"
        "  - {name: front, protectionGroups: [web], dependsOn: [data]}\n"
    )

    updated = invoke("plans", "update", "shop", "-f", write(tmp_path / "q.yaml", two_waves))

    assert updated.status == 0, updated
    plan = invoke("plans", "show", "shop", "--output", "json").json()
    assert [w["name"] for w in plan["waves"]] == ["data", "front"]
    assert plan["version"] == 2


def test_check_fails_when_a_group_has_lost_its_servers(
    groups: dict[str, str], tmp_path: Path, sim: DrsSimulator
) -> None:
    assert invoke("plans", "create", "-f", write(tmp_path / "p.yaml", PLAN_YAML)).status == 0
    nothing = "name: web\nregion: us-east-1\nselection: {tags: {Tier: none}}\n"
    assert aws("groups", "update", "-f", write(tmp_path / "w.yaml", nothing)).status == 0

    check = invoke("plans", "check", "shop")

    assert check.status == 1
    assert "cannot run" in check.out
    assert "waves.2" in check.out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: p\nwaves:\n  - {name: a, protectionGroups: [nosuch]}\n",
            "no protection group 'nosuch'",
        ),
        (
            "name: p\nwaves:\n  - {name: a, protectionGroups: database}\n",
            "must be a list of group names",
        ),
        ("name: p\nplanId: rp-x\nwaves: []\n", "planId are kept by storage"),
        ("name: p\nwaves: []\nextra: 1\n", "unknown key(s) extra"),
        ("- a\n- b\n", "a plan is a mapping"),
        ("name: p\nwaves: []\n", "waves"),
        (
            "name: p\nwaves:\n  - {name: a, protectionGroups: [database], dependsOn: [b]}\n",
            "waves.0.dependsOn.0: unknown wave",
        ),
    ],
)
def test_a_bad_plan_file_is_one_line(
    groups: dict[str, str], tmp_path: Path, text: str, expected: str
) -> None:
    result = invoke("plans", "create", "-f", write(tmp_path / "p.yaml", text))

    assert result.status == 2
    assert expected in result.one_line_error()


def test_validate_reads_group_names_without_storage(tmp_path: Path) -> None:
    valid = invoke("validate", write(tmp_path / "p.yaml", PLAN_YAML), "--output", "json")
    assert valid.status == 0
    assert valid.json()["order"] == ["database", "app", "web"]
    assert valid.json()["protectionGroups"] == 3

    twice = PLAN_YAML.replace("protectionGroups: [app]", "protectionGroups: [app, database]")
    invalid = invoke("validate", write(tmp_path / "q.yaml", twice), "--output", "json")
    # Two waves naming one group are caught by the plan service (it knows the groups); the
    # file's structure alone is valid.
    assert invalid.status == 0
    cyclic = PLAN_YAML.replace(
        "{name: database, protectionGroups: [database]}",
        "{name: database, protectionGroups: [database], dependsOn: [web]}",
    )
    result = invoke("validate", write(tmp_path / "r.yaml", cyclic), "--json")
    assert result.status == 1
    assert "dependency cycle" in json.dumps(result.json()["problems"])


def test_the_help_shows_the_file_examples_as_written() -> None:
    plans = invoke("plans", "--help")
    groups = invoke("groups", "create", "--help")

    assert plans.status == 0
    assert "\\b" not in plans.out
    assert "\n    name: shop\n    failurePolicy: stop" in plans.out
    assert "\n    selection: {tags: {Tier: db}}" in groups.out
