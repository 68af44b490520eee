"""``--storage``: one option for every command, its environment variable, and each backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from moto import mock_aws

from drs_orchestration.cli.errors import CliError
from drs_orchestration.cli.storage_url import StorageSpec, parse_storage, resolve_storage
from drs_orchestration.storage import DynamoDBStorage, SqliteStorage
from drs_orchestration.testing import DrsSimulator
from tests.cli.conftest import PLAN_YAML, aws, invoke, seed, write


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("memory", StorageSpec("memory")),
        ("sqlite:///var/lib/dr.db", StorageSpec("sqlite", path=Path("/var/lib/dr.db"))),
        ("sqlite://dr.db", StorageSpec("sqlite", path=Path("dr.db"))),
        ("sqlite:dr.db", StorageSpec("sqlite", path=Path("dr.db"))),
        ("dynamodb://", StorageSpec("dynamodb")),
        ("dynamodb://dr-", StorageSpec("dynamodb", table_prefix="dr-")),
        (
            "dynamodb://dr-?region=eu-west-1",
            StorageSpec("dynamodb", table_prefix="dr-", region="eu-west-1"),
        ),
    ],
)
def test_the_forms_of_a_storage_url(value: str, expected: StorageSpec) -> None:
    parsed = parse_storage(value)

    assert parsed == expected
    assert parse_storage(parsed.url()) == parsed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgres://db", "is not one of sqlite:///PATH"),
        ("sqlite://", "no file after sqlite://"),
        ("dynamodb://p?regoin=x", "unknown parameter(s) regoin"),
        ("dynamodb://p?region=", "give region=REGION once"),
        ("dynamodb://p?region=a&region=b", "give region=REGION once"),
        ("./dr.db", "is not one of"),
    ],
)
def test_a_bad_storage_url_is_a_usage_error(value: str, expected: str) -> None:
    with pytest.raises(CliError) as raised:
        parse_storage(value)

    assert expected in raised.value.message
    assert raised.value.status == 2


def test_which_storage_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DRS_ORCHESTRATION_STORAGE")
    default = tmp_path / "state" / "drs-orchestration" / "drs-orchestration.db"
    assert resolve_storage(None, None) == StorageSpec("sqlite", path=default, given=False)
    monkeypatch.setenv("DRS_ORCHESTRATION_DB", "/tmp/old.db")
    assert resolve_storage(None, None) == StorageSpec("sqlite", path=Path("/tmp/old.db"))
    monkeypatch.setenv("DRS_ORCHESTRATION_STORAGE", "memory")
    assert resolve_storage(None, None).kind == "memory"
    assert resolve_storage(None, Path("x.db")) == StorageSpec("sqlite", path=Path("x.db"))
    assert resolve_storage("dynamodb://p-", None).table_prefix == "p-"
    with pytest.raises(CliError, match="give --storage or --db, not both"):
        resolve_storage("memory", Path("x.db"))
    monkeypatch.setenv("DRS_ORCHESTRATION_STORAGE", "nonsense")
    with pytest.raises(CliError, match=r"\$DRS_ORCHESTRATION_STORAGE: --storage 'nonsense'"):
        resolve_storage(None, None)


def test_every_command_takes_the_same_storage_option(
    sim: DrsSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sim)
    other = tmp_path / "other.db"
    group = "name: app\nregion: us-east-1\nselection: {tags: {Tier: app}}\n"
    plan = "name: p\nwaves:\n  - {name: a, protectionGroups: [app]}\n"

    assert (
        aws("groups", "create", "-f", write(tmp_path / "g.yaml", group), "--db", other).status == 0
    )
    assert (
        invoke(
            "plans",
            "create",
            "-f",
            write(tmp_path / "p.yaml", plan),
            "--storage",
            f"sqlite://{other}",
        ).status
        == 0
    )
    drill = aws("drill", "p", "--storage", f"sqlite://{other}", "--output", "json")
    assert drill.status == 0, drill

    # The default storage (the environment's) holds none of it.
    assert invoke("groups", "list", "--output", "json").json() == []
    with SqliteStorage(other, read_only=True) as storage:
        assert [g.name for g in storage.protection_groups.list()] == ["app"]
        assert storage.executions.get(drill.json()["executionId"]).status.value == "COMPLETED"
    monkeypatch.setenv("DRS_ORCHESTRATION_STORAGE", f"sqlite://{other}")
    assert invoke("status", "--output", "json").json()["executionId"] == drill.json()["executionId"]


def test_dynamodb_storage_from_the_command_line(sim: DrsSimulator, tmp_path: Path) -> None:
    DynamoDBStorage("drcli-", region="us-east-1").create_tables()
    url = "dynamodb://drcli-?region=us-east-1"
    seed(sim)
    group = "name: app\nregion: us-east-1\nselection: {tags: {Tier: app}}\n"
    plan = "name: p\nwaves:\n  - {name: a, protectionGroups: [app]}\n"

    assert (
        aws("groups", "create", "-f", write(tmp_path / "g.yaml", group), "--storage", url).status
        == 0
    )
    assert (
        invoke("plans", "create", "-f", write(tmp_path / "p.yaml", plan), "--storage", url).status
        == 0
    )
    drill = aws("drill", "p", "--storage", url, "--output", "json")

    assert drill.status == 0, drill
    listed = invoke("executions", "list", "--storage", url, "--output", "json").json()
    assert [e["executionId"] for e in listed] == [drill.json()["executionId"]]
    stored = DynamoDBStorage("drcli-", region="us-east-1").executions.get(listed[0]["executionId"])
    assert stored.status.value == "COMPLETED"


def test_dynamodb_without_a_region_or_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    no_region = invoke("groups", "list", "--storage", "dynamodb://x-")
    assert no_region.status == 2
    assert "DynamoDB needs a region" in no_region.one_line_error()

    with mock_aws():
        no_tables = invoke("plans", "list", "--storage", "dynamodb://x-?region=us-east-1")
    assert no_tables.status == 3
    assert no_tables.one_line_error().startswith("drs-orchestration plans list: ")


def test_memory_storage_keeps_nothing(sim: DrsSimulator, tmp_path: Path) -> None:
    seed(sim)
    group = "name: app\nregion: us-east-1\nselection: {tags: {Tier: app}}\n"

    created = aws(
        "groups", "create", "-f", write(tmp_path / "g.yaml", group), "--storage", "memory"
    )

    assert created.status == 0
    assert invoke("groups", "list", "--storage", "memory", "--output", "json").json() == []
    assert not (tmp_path / "dr.db").exists()


def test_read_commands_never_create_the_database(tmp_path: Path) -> None:
    assert invoke("groups", "list", "--output", "json").json() == []
    assert invoke("plans", "list", "--output", "json").json() == []
    assert invoke("executions", "list", "--output", "json").json() == []
    latest = invoke("status")
    assert latest.status == 1
    assert "no executions stored yet" in latest.one_line_error()
    assert invoke("validate", write(tmp_path / "p.yaml", PLAN_YAML)).status == 0
    assert not (tmp_path / "dr.db").exists()
