"""``drs-orchestration groups``: protection groups and their launch configurations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from drs_orchestration.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from drs_orchestration.cli.group_files import GroupSpec, load_group_specs, resolve_hostnames
from drs_orchestration.cli.options import (
    OrderedGroup,
    OutputFormat,
    aws_options,
    output_option,
    storage_options,
)
from drs_orchestration.cli.output import echo_json, lines, make_table, show, styled, when
from drs_orchestration.cli.runtime import Runtime, runtime
from drs_orchestration.models import ConfigStatus, LaunchConfigStatus, ProtectionGroup

if TYPE_CHECKING:
    from drs_orchestration.services.drift import DriftReport

__all__ = ["groups"]

_FILE = click.option(
    "-f",
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The group file (YAML or JSON): one group, or several under 'groups:'.",
)
_OVERRIDES = click.option(
    "--overrides",
    "overrides_csv",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="CSV",
    help="A CSV of per-server launch settings (a sourceServerId or hostname column, then "
    "setting columns) for the file's group.",
)
_TIMEOUT = click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=1, max=7 * 86400),
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="How long applying launch configurations may take.",
)


@click.group(cls=OrderedGroup)
def groups() -> None:
    """Protection groups and their launch settings.

    A group is the servers that recover together, with their launch settings.

    A group file carries the launch settings of every server in bulk (see
    'groups create --help'); creating or updating a group applies them to
    DRS and the servers' EC2 launch templates, so a drill starts on the
    fast path.
    """


@groups.command("create")
@_FILE
@_OVERRIDES
@click.option("--no-apply", is_flag=True, help="Save the group without applying its settings.")
@_TIMEOUT
@output_option
@storage_options
@aws_options
@click.pass_context
def create(
    ctx: click.Context,
    *,
    path: Path,
    overrides_csv: Path | None,
    no_apply: bool,
    timeout_s: float,
    output: OutputFormat,
) -> int:
    """Create groups from a file and apply their launch settings.

    \b
    The file (YAML or JSON):
      name: database
      region: us-east-1                # default: --region
      selection: {tags: {Tier: db}}    # or {serverIds: [s-...]}
      account: {accountId: "111122223333", roleName: DRSRole, externalId: x}
      launchSettings: {copyPrivateIp: true}
      serverOverrides:                 # by source server ID or host name
        db-1: {targetInstanceTypeRightSizingMethod: NONE, instanceType: r6i.xlarge}
      serverOverridesCsv: db.csv       # optional, relative to the file

    Exits 1 when a group's launch configuration did not become ready.
    """  # noqa: D301 - a backspace (\b) line keeps click from rewrapping the block
    rt = runtime(ctx)
    specs = load_group_specs(path, overrides_csv=overrides_csv)
    orchestrator = rt.orchestrator()
    existing = {g.name: g.group_id for g in orchestrator.groups.list()}
    taken = [f"{s.name!r} ({existing[s.name]})" for s in specs if s.name in existing]
    if taken:
        raise CliError(
            f"{path}: a group with this name exists already: {', '.join(taken)}; "
            "change it with 'groups update -f FILE'",
            EXIT_USAGE,
        )
    created = []
    for spec in specs:
        region = _region(rt, spec)
        created.append(
            orchestrator.groups.create(
                spec.name,
                region,
                server_ids=spec.server_ids,
                tags=spec.tags,
                launch_settings=spec.launch_settings,
                server_overrides=_overrides(rt, spec, region),
                account=spec.account,
                description=spec.description,
                apply=not no_apply,
                timeout_s=timeout_s,
            )
        )
    return _report(created, output, title="created", applied=not no_apply)


@groups.command("list")
@output_option
@storage_options
@click.pass_context
def list_groups(ctx: click.Context, output: OutputFormat) -> int:
    """List the protection groups."""
    stored = sorted(
        runtime(ctx).storage(read_only=True, missing_ok=True).protection_groups.list(), key=_by_name
    )
    if output == "json":
        echo_json([g.to_wire() for g in stored])
        return EXIT_OK
    show(_groups_table(stored, title=None))
    return EXIT_OK


@groups.command("show")
@click.argument("group")
@output_option
@storage_options
@click.pass_context
def show_group(ctx: click.Context, group: str, output: OutputFormat) -> int:
    """Show a group: selection, settings, every server's override and status.

    GROUP is an ID or a name.
    """
    found = runtime(ctx).group(group)
    if output == "json":
        echo_json(found.to_wire())
        return EXIT_OK
    from rich.text import Text

    selection = (
        "tags " + ", ".join(f"{k}={v}" for k, v in (found.server_selection_tags or {}).items())
        if found.selects_by_tags
        else "explicit server IDs"
    )
    details = [
        f"{found.name} ({found.group_id}), version {found.version}",
        f"region {found.region}"
        + (f", account {found.account.account_id}" if found.account else ""),
        f"selection: {selection}",
        f"launch settings: {_settings_text(found.launch_settings.to_wire())}",
    ]
    if found.description:
        details.insert(1, found.description)
    show(Text("\n".join(details)), _status_table(found.launch_config_status, found))
    return EXIT_OK


@groups.command("update")
@click.argument("group", required=False)
@_FILE
@_OVERRIDES
@click.option(
    "--force", is_flag=True, help="Re-apply every server's settings even if nothing changed."
)
@_TIMEOUT
@output_option
@storage_options
@aws_options
@click.pass_context
def update(
    ctx: click.Context,
    *,
    group: str | None,
    path: Path,
    overrides_csv: Path | None,
    force: bool,
    timeout_s: float,
    output: OutputFormat,
) -> int:
    """Update groups from a file and re-apply what changed.

    Each group of the file updates the stored group of the same name (or
    GROUP, by ID or name, which also renames it). Its selection, launch
    settings and overrides replace the stored ones; a tag selection is
    resolved in DRS again. Region and account cannot change.
    Exits 1 when a group's launch configuration did not become ready.
    """
    rt = runtime(ctx)
    specs = load_group_specs(path, overrides_csv=overrides_csv)
    if group is not None and len(specs) != 1:
        raise CliError(
            f"{path} holds {len(specs)} groups: GROUP can only name the one group to update",
            EXIT_USAGE,
        )
    orchestrator = rt.orchestrator()
    # Every group of the file is found (and checked) before any is changed.
    currents = [rt.group(group or spec.name, read_only=False) for spec in specs]
    for spec, current in zip(specs, currents, strict=True):
        region = spec.region or current.region
        if region != current.region or (
            spec.account is not None
            and (current.account is None or spec.account.account_id != current.account.account_id)
        ):
            raise CliError(
                f"{spec.source}: group {current.name!r} is in {current.region}"
                + (f", account {current.account.account_id}" if current.account else "")
                + ": region and account cannot change (create another group)",
                EXIT_USAGE,
            )
    updated = []
    for spec, current in zip(specs, currents, strict=True):
        updated.append(
            orchestrator.groups.update(
                current.group_id,
                name=spec.name,
                description=spec.description,
                server_ids=spec.server_ids,
                tags=spec.tags,
                launch_settings=spec.launch_settings,
                server_overrides=_overrides(rt, spec, current.region, current=current),
                force=force,
                timeout_s=timeout_s,
            )
        )
    return _report(updated, output, title="updated", applied=True)


@groups.command("delete")
@click.argument("group")
@storage_options
@click.pass_context
def delete(ctx: click.Context, group: str) -> int:
    """Delete a group that no plan uses (by ID or name).

    Its servers are released.

    Nothing changes in DRS: the servers keep the launch settings applied last.
    """
    rt = runtime(ctx)
    found = rt.group(group, read_only=False)
    rt.orchestrator().groups.delete(found.group_id, expected_version=found.version)
    click.echo(f"deleted group {found.name!r} ({found.group_id})")
    return EXIT_OK


@groups.command("apply")
@click.argument("group")
@click.option(
    "--force", is_flag=True, help="Apply to every server, not only changed and unapplied ones."
)
@_TIMEOUT
@output_option
@storage_options
@aws_options
@click.pass_context
def apply(
    ctx: click.Context, group: str, force: bool, timeout_s: float, output: OutputFormat
) -> int:
    """Apply a group's launch settings to DRS now.

    Writes DRS launch configurations and the EC2 launch templates.

    Only servers whose settings changed or were never applied, unless --force.
    Exits 1 unless the group ends ready.
    """
    rt = runtime(ctx)
    found = rt.group(group, read_only=False)
    status = rt.orchestrator().launch_configs.apply_to_group(
        found.group_id, force=force, timeout_s=timeout_s, applied_by=rt.operator()
    )
    if output == "json":
        echo_json(status.to_wire())
    else:
        show(_status_table(status, found))
    return EXIT_OK if status.status is ConfigStatus.READY else EXIT_FAILED


@groups.command("status")
@click.argument("group")
@output_option
@storage_options
@click.pass_context
def status(ctx: click.Context, group: str, output: OutputFormat) -> int:
    """Show a group's launch-configuration status per server."""
    found = runtime(ctx).group(group)
    if output == "json":
        echo_json(found.launch_config_status.to_wire())
    else:
        show(_status_table(found.launch_config_status, found))
    return EXIT_OK


@groups.command("drift")
@click.argument("group")
@click.option(
    "--remote",
    is_flag=True,
    help="Read every server's launch configuration and template back from AWS and compare "
    "field by field (default: compare hashes in storage, no AWS call).",
)
@output_option
@storage_options
@aws_options
@click.pass_context
def drift(ctx: click.Context, group: str, remote: bool, output: OutputFormat) -> int:
    """Find servers whose launch settings drifted from the group's.

    Exits 1 when a server has drifted, was never applied, or could not be read.
    """
    rt = runtime(ctx)
    found = rt.group(group, read_only=not remote)
    report = rt.orchestrator(read_only=not remote).launch_configs.detect_drift(
        found.group_id, remote=remote
    )
    if output == "json":
        echo_json(report.to_wire())
    else:
        show(_drift_table(report, found))
    return EXIT_FAILED if report.has_drift or report.errors else EXIT_OK


# ---- helpers ------------------------------------------------------------------------------


def _by_name(group: ProtectionGroup) -> tuple[str, str]:
    return (group.name, group.group_id)


def _region(rt: Runtime, spec: GroupSpec) -> str:
    region = spec.region or rt.default_region()
    if not region:
        raise CliError(f"{spec.source}: region is missing (and no --region given)", EXIT_USAGE)
    return region


def _overrides(
    rt: Runtime, spec: GroupSpec, region: str, *, current: ProtectionGroup | None = None
) -> dict[str, dict[str, Any]]:
    from drs_orchestration.aws.drs import DrsGateway

    account = spec.account or (current.account if current is not None else None)

    def describe() -> list[Any]:
        gateway = DrsGateway(rt.clients(), region, account, retry=rt.retry())
        return list(gateway.describe_source_servers())

    return resolve_hostnames(spec, describe)


def _report(
    stored: list[ProtectionGroup], output: OutputFormat, *, title: str, applied: bool
) -> int:
    if output == "json":
        echo_json([g.to_wire() for g in stored])
    else:
        show(_groups_table(stored, title=title))
    if not applied:
        return EXIT_OK
    not_ready = [g for g in stored if not g.launch_config_status.is_ready()]
    for g in not_ready:
        status = g.launch_config_status
        click.echo(
            f"group {g.name!r}: launch configuration {status.status.value}"
            + (f"; failed: {', '.join(status.failed_servers())}" if status.failed_servers() else "")
            + (f"; errors: {'; '.join(status.errors)}" if status.errors else ""),
            err=True,
        )
    return EXIT_FAILED if not_ready else EXIT_OK


def _groups_table(stored: list[ProtectionGroup], *, title: str | None) -> Any:
    table = make_table(
        title,
        ["group", "ID", "region", "account", "servers", "selection", "launch config", "applied"],
    )
    for g in stored:
        status = g.launch_config_status
        table.add_row(
            g.name,
            g.group_id,
            g.region,
            g.account.account_id if g.account else "-",
            str(len(g.source_server_ids)),
            "tags" if g.selects_by_tags else "IDs",
            styled(status.status.value),
            when(status.last_applied),
        )
    return table


def _settings_text(settings: dict[str, Any]) -> str:
    if not settings:
        return "-"
    return ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))


def _status_table(status: LaunchConfigStatus, group: ProtectionGroup) -> Any:
    table = make_table(
        f"launch configuration: {status.status.value}"
        + (f", applied {when(status.last_applied)}" if status.last_applied else "")
        + (f" by {status.applied_by}" if status.applied_by else ""),
        ["server", "status", "override", "template version", "applied", "errors"],
    )
    for sid in group.source_server_ids:
        config = status.server_configs.get(sid)
        override = group.server_overrides.get(sid)
        table.add_row(
            sid,
            styled(config.status.value) if config else styled("not_configured"),
            _settings_text(override.to_wire()) if override else "-",
            str(config.launch_template_version)
            if config and config.launch_template_version
            else "-",
            when(config.last_applied) if config else "-",
            lines(config.errors) if config else "-",
        )
    if status.errors:
        table.caption = "; ".join(status.errors)
    return table


def _drift_table(report: DriftReport, group: ProtectionGroup) -> Any:
    kind = "remote (read back from AWS)" if report.remote else "local (hashes in storage)"
    table = make_table(
        f"drift of {group.name!r}, {kind}: "
        + (f"{len(report.servers_to_apply)} server(s) to apply" if report.has_drift else "none"),
        ["server", "finding", "details"],
    )
    for sid in group.source_server_ids:
        if sid in report.drifted:
            differences = report.differences.get(sid, [])
            detail = (
                lines(f"{d.field}: wanted {d.desired!r}, found {d.actual!r}" for d in differences)
                if differences
                else lines(report.drifted[sid])
            )
            table.add_row(sid, styled("drifted"), detail)
        elif sid in report.not_applied:
            table.add_row(sid, styled("not applied"), "never applied successfully")
        elif sid in report.errors:
            table.add_row(sid, styled("unreadable"), report.errors[sid])
        else:
            table.add_row(sid, styled("in sync"), "")
    return table
