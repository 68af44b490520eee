"""``drs-orchestration report EXECUTION``: the drill evidence report, for auditors."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from drs_orchestration.cli.errors import EXIT_OK
from drs_orchestration.cli.options import storage_options
from drs_orchestration.cli.runtime import runtime

__all__ = ["report"]

_FORMATS = ("html", "md", "json")
_SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".json": "json"}


@click.command()
@click.argument("execution_id", metavar="EXECUTION")
@click.option(
    "--format",
    "format_",
    type=click.Choice(_FORMATS),
    default=None,
    help="html (one self-contained file with the timeline chart), md or json "
    "(default: from the -o file's suffix, else html).",
)
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    default=None,
    metavar="FILE",
    help="Write the report to FILE (default: stdout).",
)
@click.option(
    "--chart",
    type=click.Choice(["png", "svg", "none"]),
    default="png",
    show_default=True,
    help="How the HTML report embeds its timeline chart (needs the report extra: matplotlib).",
)
@storage_options
@click.pass_context
def report(
    ctx: click.Context,
    execution_id: str,
    format_: str | None,
    out: Path | None,
    chart: Literal["png", "svg", "none"],
) -> int:
    """Write the evidence report of a drill or recovery.

    Who ran what and when, per-server phases, RTO and RPO.

    Plan and version, who started it, readiness at start, per wave and
    server the phase times, recovery point and achieved RPO, instances,
    failures with their errors, RTO per wave and in total. Never writes to
    the storage.
    """
    from drs_orchestration.reports import evidence

    rt = runtime(ctx)
    execution = rt.execution(execution_id)
    plan = rt.storage(read_only=True).recovery_plans.find(execution.plan_id)
    chosen = format_ or (_SUFFIXES.get(out.suffix.lower(), "html") if out else "html")
    made = evidence(execution, plan=plan)
    if chosen == "html":
        text = made.to_html(chart=None if chart == "none" else chart)
    elif chosen == "md":
        text = made.to_markdown()
    else:
        text = made.to_json() + "\n"
    if not text.endswith("\n"):
        text += "\n"
    if out is None:
        click.echo(text, nl=False)
        return EXIT_OK
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote the {chosen} evidence of {execution_id} to {out}", err=True)
    return EXIT_OK
