"""``cache`` (the recovery-instance cache) and ``terminate`` (a drill's instances)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from drs_orchestration.cli.errors import EXIT_FAILED, EXIT_OK, option_words
from drs_orchestration.cli.options import (
    OrderedGroup,
    OutputFormat,
    aws_options,
    output_option,
    storage_options,
)
from drs_orchestration.cli.output import duration, echo_json, make_table, show, styled, when
from drs_orchestration.cli.runtime import Runtime, runtime
from drs_orchestration.models import RecoveryInstanceRecord, SyncStatus

if TYPE_CHECKING:
    from drs_orchestration.services import RecoveryInstanceCache

__all__ = ["cache", "terminate"]


@click.group(cls=OrderedGroup)
def cache() -> None:
    """The recovery-instance cache.

    What is recovered for each source server.

    'cache sync' reads recovery instances from DRS and EC2 into storage
    (schedule it); 'show' and 'for-execution' answer from storage alone.
    """


def _cache(rt: Runtime, *, read_only: bool, targets: tuple[str, ...] = ()) -> RecoveryInstanceCache:
    from drs_orchestration.services import RecoveryInstanceCache

    return RecoveryInstanceCache(
        rt.storage(read_only=read_only, missing_ok=read_only),
        rt.clients(),
        targets=[(region, None) for region in targets] or None,
        retry=rt.retry(),
        clock=rt.clock,
        sleep=rt.sleep,
    )


@cache.command("sync")
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="REGION",
    help="Sync this region of the caller's account (repeatable); default: every region "
    "and account of the stored protection groups.",
)
@output_option
@storage_options
@aws_options
@click.pass_context
def sync(ctx: click.Context, targets: tuple[str, ...], output: OutputFormat) -> int:
    """Read recovery instances from DRS and EC2 into the cache.

    Exits 1 when an account or region could not be synced (its records are kept).
    """
    status = _cache(runtime(ctx), read_only=False, targets=targets).sync_all()
    if output == "json":
        echo_json(status.to_wire())
    else:
        show(_sync_table(status))
    return EXIT_OK if status.succeeded else EXIT_FAILED


@cache.command("show")
@click.argument("source_server_ids", nargs=-1, metavar="[SOURCE_SERVER]...")
@output_option
@storage_options
@click.pass_context
def show_cache(ctx: click.Context, source_server_ids: tuple[str, ...], output: OutputFormat) -> int:
    """Show cached recovery instances and the last sync.

    Of the source servers given, or every one.

    Exits 1 when a source server given has no cached record.
    """
    rt = runtime(ctx)
    found = _cache(rt, read_only=True)
    if source_server_ids:
        lookup = found.get(list(source_server_ids))
        records, misses = list(lookup.records.values()), lookup.misses
    else:
        records, misses = rt.storage(read_only=True, missing_ok=True).recovery_instances.list(), []
    if output == "json":
        echo_json(
            {
                "records": [r.to_wire() for r in records],
                "misses": misses,
                "syncStatus": (s.to_wire() if (s := found.get_sync_status()) else None),
            }
        )
    else:
        last = found.get_sync_status()
        title = (
            f"last sync {when(last.finished_at or last.started_at)}: {last.instances} instances"
            + ("" if last.succeeded else ", with errors")
            if last
            else "never synced ('drs-orchestration cache sync')"
        )
        show(_records_table(records, title=title))
        if misses:
            click.echo(f"not in the cache: {', '.join(misses)}", err=True)
    return EXIT_FAILED if misses else EXIT_OK


@cache.command("for-execution")
@click.argument("execution_id", metavar="EXECUTION")
@output_option
@storage_options
@click.pass_context
def for_execution(ctx: click.Context, execution_id: str, output: OutputFormat) -> int:
    """Show the cached recovery instances an execution launched."""
    records = _cache(runtime(ctx), read_only=True).for_execution(execution_id)
    if output == "json":
        echo_json([r.to_wire() for r in records])
    else:
        show(_records_table(records, title=f"recovery instances of {execution_id}"))
    return EXIT_OK


@click.command()
@click.argument("execution_id", metavar="EXECUTION")
@click.option("--yes", "-y", is_flag=True, help="Terminate (default: a dry run that lists them).")
@click.option(
    "--include-recovery",
    is_flag=True,
    help="Also a real recovery's instances (refused by default: production may run on them).",
)
@click.option(
    "--include-launched-into",
    is_flag=True,
    help="Also existing instances DRS launched into (skipped by default: they existed before).",
)
@output_option
@storage_options
@aws_options
@click.pass_context
def terminate(
    ctx: click.Context,
    *,
    execution_id: str,
    yes: bool,
    include_recovery: bool,
    include_launched_into: bool,
    output: OutputFormat,
) -> int:
    """Terminate a drill's recovery instances (dry run by default).

    Lists them unless --yes.

    Only that execution's own instances, each checked in DRS first; another
    execution's instances survive. Exits 1 when an instance could not be
    terminated.
    """
    rt = runtime(ctx)
    rt.execution(execution_id, read_only=not yes)
    report = _cache(rt, read_only=not yes).terminate_execution(
        execution_id,
        dry_run=not yes,
        include_recovery=include_recovery,
        include_launched_into=include_launched_into,
    )
    if output == "json":
        echo_json(report.to_wire())
    else:
        table = make_table(
            ("dry run: " if report.dry_run else "")
            + f"recovery instances of {execution_id} ({report.execution_type.value.lower()})",
            ["recovery instance", "source server", "region", "status", "reason", "job"],
        )
        for item in report.instances:
            table.add_row(
                item.recovery_instance_id,
                item.source_server_id or "-",
                item.region,
                styled(item.status.value),
                option_words(item.reason or (item.error.message if item.error else "")),
                item.terminate_job_id or "-",
            )
        show(table)
        if report.dry_run:
            click.echo(
                f"dry run: nothing terminated; 'drs-orchestration terminate {execution_id} --yes' "
                "terminates the instances marked WOULD_TERMINATE",
                err=True,
            )
        for error in report.errors:
            click.echo(f"error: {error.message}", err=True)
    return EXIT_OK if report.succeeded and not report.errors else EXIT_FAILED


def _sync_table(status: SyncStatus) -> Any:
    table = make_table(
        f"synced {status.instances} recovery instances in {duration(status.duration_s)}",
        ["region", "account", "instances", "written", "deleted", "error"],
    )
    for target in status.targets:
        table.add_row(
            target.region,
            target.account_id or "-",
            str(target.instances),
            str(target.written),
            str(target.deleted),
            target.error.message if target.error else "",
        )
    return table


def _records_table(records: list[RecoveryInstanceRecord], *, title: str) -> Any:
    table = make_table(
        title,
        [
            "source server",
            "host",
            "recovery instance",
            "type",
            "private IP",
            "drill",
            "execution",
            "region",
            "synced",
        ],
    )
    for record in sorted(records, key=lambda r: (r.source_hostname or "", r.source_server_id)):
        table.add_row(
            record.source_server_id,
            record.source_hostname or "-",
            record.recovery_instance_id,
            record.instance_type or "-",
            record.private_ip or "-",
            "-" if record.is_drill is None else ("yes" if record.is_drill else "NO"),
            record.source_execution_id or "-",
            record.region + (f"/{record.account_id}" if record.account_id else ""),
            when(record.last_synced),
        )
    return table
