"""``drs-orchestration validate PLAN_FILE``: check a recovery plan file without touching AWS."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from drs_orchestration.cli.files import DocumentError, load_document
from drs_orchestration.errors import ValidationError
from drs_orchestration.models import RecoveryPlan

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add the ``validate`` sub-command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "validate",
        help="check a recovery plan file (JSON or YAML) and list every problem",
        description=(
            "Validate a recovery plan document: wave names, dependencies (unknown, "
            "cyclic), servers in two waves, IDs. Exits 0 when valid, 1 when not."
        ),
    )
    parser.add_argument("plan_file", type=Path, metavar="PLAN_FILE")
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON (for scripts)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate ``args.plan_file``; print problems (exit 1) or a summary (exit 0)."""
    path: Path = args.plan_file
    try:
        document = load_document(path)
    except DocumentError as exc:
        return _fail(args, [{"field": "(file)", "message": str(exc), "value": str(path)}])
    try:
        plan = RecoveryPlan.parse(document)
    except ValidationError as exc:
        return _fail(args, list(exc.problems))
    summary = _summary(plan)
    if args.json:
        print(json.dumps({"valid": True, **summary}, indent=2))
    else:
        order = " -> ".join(summary["order"])
        print(
            f"{path}: valid plan {plan.name!r}: {summary['waves']} wave(s), "
            f"{summary['servers']} server(s) listed, "
            f"{summary['protectionGroups']} protection group(s); order: {order}"
        )
    return 0


def _summary(plan: RecoveryPlan) -> dict[str, Any]:
    groups = {g for w in plan.waves for g in w.protection_group_ids}
    return {
        "name": plan.name,
        "waves": len(plan.waves),
        "servers": sum(len(w.server_ids) for w in plan.waves),
        "protectionGroups": len(groups),
        "order": [w.name for w in plan.ordered_waves()],
    }


def _fail(args: argparse.Namespace, problems: list[dict[str, Any]]) -> int:
    if args.json:
        print(json.dumps({"valid": False, "problems": problems}, indent=2, default=str))
        return 1
    print(f"{args.plan_file}: {len(problems)} problem(s)", file=sys.stderr)
    for problem in problems:
        value = problem.get("value")
        shown = "" if value is None else f" (got {json.dumps(value, default=str)[:120]})"
        print(f"  {problem['field']}: {problem['message']}{shown}", file=sys.stderr)
    return 1
