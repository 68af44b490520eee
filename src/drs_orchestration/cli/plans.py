"""``drs-orchestration plans``: recovery plans, their waves, and the check before a run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from drs_orchestration.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from drs_orchestration.cli.options import OrderedGroup, OutputFormat, output_option, storage_options
from drs_orchestration.cli.output import echo_json, lines, make_table, show, styled, when
from drs_orchestration.cli.plan_files import load_plan_document, plan_document
from drs_orchestration.cli.runtime import Runtime, runtime
from drs_orchestration.models import RecoveryPlan

if TYPE_CHECKING:
    from drs_orchestration.services.plans import PlanCheck

__all__ = ["check_json", "groups_by_id", "plans"]

_FILE = click.option(
    "-f",
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The plan file (YAML or JSON).",
)
_ARGUMENTS = {
    "description": "description",
    "failurePolicy": "failure_policy",
    "allowConcurrentWaves": "allow_concurrent_waves",
    "readiness": "readiness",
}


@click.group(cls=OrderedGroup)
def plans() -> None:
    """Recovery plans: waves of protection groups.

    Waves run in dependency order.

    \b
    A plan file (YAML or JSON) names its groups by name:
      name: shop
      failurePolicy: stop              # or continue
      waves:
        - {name: database, protectionGroups: [database]}
        - {name: app, protectionGroups: [app], dependsOn: [database], pauseBefore: true}
    """  # noqa: D301 - a backspace (\b) line keeps click from rewrapping the block


def _read(rt: Runtime, path: Path) -> dict[str, Any]:
    def group_id(name: str) -> str:
        try:
            return rt.group(name, read_only=False).group_id
        except CliError as exc:
            raise CliError(f"{path}: {exc.message}", EXIT_USAGE) from None

    return plan_document(load_plan_document(path), str(path), group_id)


def _arguments(document: dict[str, Any]) -> dict[str, Any]:
    return {arg: document[key] for key, arg in _ARGUMENTS.items() if key in document}


@plans.command("create")
@_FILE
@output_option
@storage_options
@click.pass_context
def create(ctx: click.Context, path: Path, output: OutputFormat) -> int:
    """Create a recovery plan from a file (no AWS call)."""
    rt = runtime(ctx)
    document = _read(rt, path)
    orchestrator = rt.orchestrator()
    name = document.get("name")
    taken = [p.plan_id for p in orchestrator.plans.list() if p.name == name]
    if taken:
        raise CliError(
            f"{path}: a plan named {name!r} exists already ({', '.join(taken)}); change it "
            "with 'plans update PLAN -f FILE'",
            EXIT_USAGE,
        )
    plan = orchestrator.plans.create(
        name,  # type: ignore[arg-type]  # validated by the service, which names a bad one
        document.get("waves"),  # type: ignore[arg-type]
        **_arguments(document),
    )
    return _show_plan(rt, plan, output)


@plans.command("update")
@click.argument("plan")
@_FILE
@output_option
@storage_options
@click.pass_context
def update(ctx: click.Context, plan: str, path: Path, output: OutputFormat) -> int:
    """Replace a plan's waves and settings with a file's.

    No AWS call.
    """
    rt = runtime(ctx)
    current = rt.plan(plan, read_only=False)
    document = _read(rt, path)
    stored = rt.orchestrator().plans.update(
        current.plan_id,
        name=document.get("name"),
        waves=document.get("waves"),
        expected_version=current.version,
        **_arguments(document),
    )
    return _show_plan(rt, stored, output)


@plans.command("list")
@output_option
@storage_options
@click.pass_context
def list_plans(ctx: click.Context, output: OutputFormat) -> int:
    """List the recovery plans."""
    stored = sorted(
        runtime(ctx).storage(read_only=True, missing_ok=True).recovery_plans.list(),
        key=lambda p: (p.name, p.plan_id),
    )
    if output == "json":
        echo_json([p.to_wire() for p in stored])
        return EXIT_OK
    table = make_table(None, ["plan", "ID", "waves", "order", "on failure", "updated"])
    for p in stored:
        table.add_row(
            p.name,
            p.plan_id,
            str(len(p.waves)),
            " -> ".join(w.name for w in p.ordered_waves()),
            p.failure_policy.value,
            when(p.updated_at),
        )
    show(table)
    return EXIT_OK


@plans.command("show")
@click.argument("plan")
@output_option
@storage_options
@click.pass_context
def show_plan(ctx: click.Context, plan: str, output: OutputFormat) -> int:
    """Show a plan's waves in execution order.

    PLAN is an ID or a name.
    """
    rt = runtime(ctx)
    return _show_plan(rt, rt.plan(plan), output)


@plans.command("check")
@click.argument("plan")
@output_option
@storage_options
@click.pass_context
def check(ctx: click.Context, plan: str, output: OutputFormat) -> int:
    """Check a plan against its groups as stored (no AWS call).

    Errors stop an execution from starting (a missing group, a wave without
    servers, a server in two waves); warnings do not (a group whose launch
    configuration is not ready is applied when its wave starts).
    Exits 1 when there is an error.
    """
    rt = runtime(ctx)
    found = rt.plan(plan)
    result = rt.orchestrator(read_only=True).plans.check(found.plan_id)
    if output == "json":
        echo_json(check_json(result))
    else:
        names = groups_by_id(rt)
        waves = make_table(
            f"plan {found.name!r}: " + ("can run" if result.ok else "cannot run"),
            ["wave", "groups", "region", "servers"],
        )
        for wave in result.waves:
            waves.add_row(
                wave.wave.name,
                lines(names.get(g, g) for g in wave.wave.protection_group_ids),
                wave.region,
                str(len(wave.server_ids)),
            )
        findings = make_table(None, ["severity", "field", "finding"])
        for finding in result.findings:
            findings.add_row(
                styled("FAILED" if finding.severity == "error" else "PARTIAL"),
                finding.field,
                finding.message,
            )
        show(waves, *([findings] if result.findings else []))
    return EXIT_OK if result.ok else EXIT_FAILED


@plans.command("pause-before")
@click.argument("plan")
@click.argument("wave")
@click.option("--off", is_flag=True, help="Clear the pause instead of setting it.")
@storage_options
@click.pass_context
def pause_before(ctx: click.Context, plan: str, wave: str, off: bool) -> int:
    """Make a plan's executions pause before a wave.

    With --off, clear that pause.

    Sets the wave's pauseBefore on the plan (no AWS call): executions
    started from then on stop before WAVE as PAUSED (their earlier waves
    done), and 'drs-orchestration resume EXECUTION' releases them. An
    execution already running keeps the plan as it started: pause it with
    'drs-orchestration pause EXECUTION --before WAVE'.
    """
    rt = runtime(ctx)
    found = rt.plan(plan, read_only=False)
    names = [w.name for w in found.waves]
    if wave not in names:
        raise CliError(
            f"plan {found.name!r} has no wave {wave!r} (waves: {', '.join(names)})", EXIT_USAGE
        )
    waves = [
        {
            **w.model_dump(exclude=set() if w.frozen else {"server_ids"}),
            **({"pause_before": not off} if w.name == wave else {}),
        }
        for w in found.waves
    ]
    rt.orchestrator().plans.update(found.plan_id, waves=waves, expected_version=found.version)
    state = "no longer pause" if off else "pause"
    click.echo(f"executions of {found.name!r} started from now on {state} before wave {wave!r}")
    return EXIT_OK


@plans.command("delete")
@click.argument("plan")
@storage_options
@click.pass_context
def delete(ctx: click.Context, plan: str) -> int:
    """Delete a plan (by ID or name).

    Its executions stay in storage.
    """
    rt = runtime(ctx)
    found = rt.plan(plan, read_only=False)
    rt.orchestrator().plans.delete(found.plan_id)
    click.echo(f"deleted plan {found.name!r} ({found.plan_id})")
    return EXIT_OK


# ---- helpers ------------------------------------------------------------------------------


def groups_by_id(rt: Runtime) -> dict[str, str]:
    """Group names by ID, for tables."""
    return {g.group_id: g.name for g in rt.storage(read_only=True).protection_groups.list()}


def check_json(result: PlanCheck) -> dict[str, Any]:
    """A plan check in camelCase JSON form."""
    return {
        "planId": result.plan_id,
        "ok": result.ok,
        "findings": [
            {"severity": f.severity, "field": f.field, "message": f.message, "value": f.value}
            for f in result.findings
        ],
        "waves": [
            {
                "name": w.wave.name,
                "region": w.region,
                "accountId": w.account.account_id if w.account else None,
                "serverIds": w.server_ids,
            }
            for w in result.waves
        ],
    }


def _show_plan(rt: Runtime, plan: RecoveryPlan, output: OutputFormat) -> int:
    if output == "json":
        echo_json(plan.to_wire())
        return EXIT_OK
    names = groups_by_id(rt)
    table = make_table(
        f"{plan.name} ({plan.plan_id}), version {plan.version}, on failure: "
        f"{plan.failure_policy.value}"
        + (", waves may run at once" if plan.allow_concurrent_waves else ""),
        ["#", "wave", "groups", "depends on", "pause before", "region", "timeout"],
    )
    for index, wave in enumerate(plan.ordered_waves(), start=1):
        groups_text = lines(names.get(g, g) for g in wave.protection_group_ids)
        if wave.frozen:
            groups_text += f"\n(frozen: {len(wave.server_ids)} servers)"
        table.add_row(
            str(index),
            wave.name,
            groups_text,
            ", ".join(wave.depends_on) or "-",
            "yes" if wave.pause_before else "-",
            wave.region or "-",
            f"{wave.timeout_s}s",
        )
    if plan.description:
        table.caption = plan.description
    show(table)
    return EXIT_OK
