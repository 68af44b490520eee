"""``drs-orchestration match``: pair a group's servers with existing instances to launch into."""

from __future__ import annotations

from typing import Any

import click

from drs_orchestration.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from drs_orchestration.cli.options import OutputFormat, aws_options, output_option, storage_options
from drs_orchestration.cli.output import echo_json, lines, make_table, show, styled
from drs_orchestration.cli.runtime import runtime
from drs_orchestration.errors import ValidationError
from drs_orchestration.models import MatchReport, MatchRules
from drs_orchestration.models.matching import CheckStatus, PairingResult

__all__ = ["match"]


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        source, sep, target = value.partition("=")
        if not sep or not source or not target:
            raise CliError(f"--pair {value!r}: give SOURCE_SERVER=INSTANCE", EXIT_USAGE)
        pairs[source.strip()] = target.strip()
    return pairs


def _tags(values: tuple[str, ...]) -> dict[str, str] | None:
    if not values:
        return None
    tags: dict[str, str] = {}
    for value in values:
        key, sep, tag_value = value.partition("=")
        if not sep or not key:
            raise CliError(f"--target-tag {value!r}: give KEY=VALUE", EXIT_USAGE)
        tags[key] = tag_value
    return tags


@click.command()
@click.option("--group", "group", required=True, help="The protection group (ID or name).")
@click.option("--suffix", "suffixes", multiple=True, help="Name suffix to ignore, e.g. -dr.")
@click.option("--prefix", "prefixes", multiple=True, help="Name prefix to ignore, e.g. dr-.")
@click.option(
    "--target-tag",
    "target_tags",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only instances with this tag (repeatable).",
)
@click.option("--vpc", "vpcs", multiple=True, metavar="VPC_ID", help="Only instances in this VPC.")
@click.option(
    "--pair",
    "pairs",
    multiple=True,
    metavar="SOURCE_SERVER=INSTANCE",
    help="An explicit pair, whatever the names (repeatable).",
)
@click.option(
    "--apply",
    "apply_",
    is_flag=True,
    help="Store the good pairs and make DRS launch each server into its instance "
    "(the group's overrides get launchIntoInstanceProperties, applied at once).",
)
@click.option(
    "--add-tag",
    is_flag=True,
    help="With --apply: tag targets that lack AWSDRS=AllowLaunchingIntoThisInstance.",
)
@output_option
@storage_options
@aws_options
@click.pass_context
def match(
    ctx: click.Context,
    *,
    group: str,
    suffixes: tuple[str, ...],
    prefixes: tuple[str, ...],
    target_tags: tuple[str, ...],
    vpcs: tuple[str, ...],
    pairs: tuple[str, ...],
    apply_: bool,
    add_tag: bool,
    output: OutputFormat,
) -> int:
    """Pair a group's servers with existing instances.

    By Name tag (normalised), checking each pair.

    Reads only, unless --apply. Exits 1 when a server stays unpaired, is
    ambiguous or a pair fails a check (with --apply: when a pair was not applied).
    """
    if add_tag and not apply_:
        raise CliError("--add-tag only makes sense with --apply", EXIT_USAGE)
    rt = runtime(ctx)
    found = rt.group(group, read_only=not apply_)
    try:
        rules = MatchRules.parse(
            {
                "namePrefixes": list(prefixes),
                "nameSuffixes": list(suffixes),
                "targetVpcIds": list(vpcs) or None,
                "targetTags": _tags(target_tags),
                "explicitPairs": _pairs(pairs),
            }
        )
    except ValidationError as exc:
        raise CliError(f"matching rules: {exc}", EXIT_USAGE) from None
    orchestrator = rt.orchestrator(read_only=not apply_)
    report = orchestrator.matcher.match(group_id=found.group_id, rules=rules)
    result = orchestrator.matcher.apply(report, add_tag=add_tag) if apply_ else None
    if output == "json":
        echo_json({"report": report.to_wire(), "applied": result.to_wire() if result else None})
    else:
        show(*_report_tables(report))
        if result is not None:
            show(_applied_table(result))
    if result is not None:
        return EXIT_FAILED if result.skipped or result.failed_servers else EXIT_OK
    return EXIT_OK if report.complete else EXIT_FAILED


def _report_tables(report: MatchReport) -> list[Any]:
    pairs = make_table(
        f"{len(report.pairs)} pair(s) in {report.region}: "
        f"{len(report.ready_pairs)} ready, {len(report.failed_pairs)} failing a check",
        ["source server", "name", "instance", "instance name", "rule", "checks"],
    )
    for pair in report.pairs:
        problems = [
            f"{c.name.value}: {c.message}"
            for c in pair.checks
            if c.status in (CheckStatus.FAIL, CheckStatus.WARN)
        ]
        pairs.add_row(
            pair.source_server_id,
            pair.source_name or "-",
            pair.target_instance_id,
            pair.target_name or "-",
            pair.method.value,
            styled("FAILED") if not pair.ok else ("ok" if not problems else "warnings"),
        )
        if problems:
            pairs.add_row("", "", "", "", "", lines(problems))
    tables: list[Any] = [pairs]
    if report.ambiguous or report.unmatched_sources:
        left = make_table("not paired", ["source server(s)", "reason"])
        for ambiguous in report.ambiguous:
            left.add_row(lines(ambiguous.source_server_ids), ambiguous.reason)
        for unmatched in report.unmatched_sources:
            left.add_row(unmatched.source_server_id, unmatched.reason)
        tables.append(left)
    return tables


def _applied_table(result: PairingResult) -> Any:
    table = make_table(
        f"applied to group {result.group_id}: launch configuration "
        f"{result.launch_config_status.value}",
        ["source server", "instance", "result"],
    )
    for pair in result.paired:
        table.add_row(pair.source_server_id, pair.target_instance_id, styled("paired"))
    for skipped in result.skipped:
        table.add_row(skipped.source_server_id, skipped.target_instance_id, skipped.reason)
    return table
