"""``drs-orchestration validate PLAN_FILE``: check a recovery plan file without storage or AWS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from drs_orchestration.cli.errors import EXIT_FAILED, EXIT_OK, CliError
from drs_orchestration.cli.options import OutputFormat, output_option
from drs_orchestration.cli.plan_files import (
    load_plan_document,
    placeholder_group_id,
    plan_document,
)
from drs_orchestration.errors import ValidationError
from drs_orchestration.models import RecoveryPlan

__all__ = ["validate"]


@click.command()
@click.argument("plan_file", type=click.Path(path_type=Path, dir_okay=False), metavar="PLAN_FILE")
@output_option
def validate(plan_file: Path, output: OutputFormat) -> int:
    """Check a recovery plan file without storage or AWS.

    Lists every problem of a JSON or YAML plan file: wave names,
    dependencies (unknown, cyclic), servers in two waves, IDs. Groups named
    under protectionGroups are not looked up. Exits 0 when valid, 1 when not.
    """
    as_json = output == "json"
    try:
        document = load_plan_document(plan_file)
        document = plan_document(document, str(plan_file), _placeholder)
    except CliError as exc:
        return _fail(
            plan_file, as_json, [{"field": "(file)", "message": exc.message, "value": None}]
        )
    try:
        plan = RecoveryPlan.parse(document)
    except ValidationError as exc:
        return _fail(plan_file, as_json, list(exc.problems))
    summary = _summary(plan)
    if as_json:
        click.echo(json.dumps({"valid": True, **summary}, indent=2))
    else:
        order = " -> ".join(summary["order"])
        click.echo(
            f"{plan_file}: valid plan {plan.name!r}: {summary['waves']} wave(s), "
            f"{summary['servers']} server(s) listed, "
            f"{summary['protectionGroups']} protection group(s); order: {order}"
        )
    return EXIT_OK


def _placeholder(name: str) -> str:
    return name if name.startswith("pg-") else placeholder_group_id(name)


def _summary(plan: RecoveryPlan) -> dict[str, Any]:
    groups = {g for w in plan.waves for g in w.protection_group_ids}
    return {
        "name": plan.name,
        "waves": len(plan.waves),
        "servers": sum(len(w.server_ids) for w in plan.waves),
        "protectionGroups": len(groups),
        "order": [w.name for w in plan.ordered_waves()],
    }


def _fail(plan_file: Path, as_json: bool, problems: list[dict[str, Any]]) -> int:
    if as_json:
        click.echo(json.dumps({"valid": False, "problems": problems}, indent=2, default=str))
        return EXIT_FAILED
    click.echo(f"{plan_file}: {len(problems)} problem(s)", err=True)
    for problem in problems:
        value = problem.get("value")
        shown = "" if value is None else f" (got {json.dumps(value, default=str)[:120]})"
        click.echo(f"  {problem['field']}: {problem['message']}{shown}", err=True)
    return EXIT_FAILED
