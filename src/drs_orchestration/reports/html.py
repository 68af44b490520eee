"""Compact HTML tables of the library's objects, for notebooks (``_repr_html_``).

Styles are inline (no ``<style>`` block, no classes): a notebook front end
keeps them, and they never leak into the rest of the page. Each function
takes one object and returns an HTML fragment; the models' ``_repr_html_``
methods delegate here.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from drs_orchestration.models.executions import ServerLaunchStatus
from drs_orchestration.reports._format import (
    format_duration,
    format_time,
    seconds_between,
    status_colours,
)

if TYPE_CHECKING:
    from drs_orchestration.models import (
        CacheLookup,
        Execution,
        LaunchConfigStatus,
        PlanReadiness,
        ProtectionGroup,
        RecoveryPlan,
        ServerOutcome,
        WaveRun,
    )
    from drs_orchestration.services.drift import DriftReport

__all__ = [
    "badge",
    "cache_lookup_html",
    "drift_report_html",
    "esc",
    "execution_html",
    "launch_config_status_html",
    "plan_readiness_html",
    "protection_group_html",
    "recovery_plan_html",
    "table",
    "wave_run_html",
]

_TABLE = "border-collapse:collapse;font-size:12px;margin:4px 0"
_CELL = "padding:2px 8px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top"
_HEAD = _CELL + ";font-weight:600;border-bottom:1px solid #9ca3af"
_MUTED = "color:#6b7280"


def esc(value: object) -> str:
    """HTML-escaped text of ``value`` (``-`` for ``None``)."""
    return "-" if value is None else html.escape(str(value))


def badge(status: str, text: str | None = None) -> str:
    """A status word on its colour (green good, red failed, amber partial, blue busy)."""
    colour, background = status_colours(status)
    return (
        f'<span style="color:{colour};background:{background};padding:0 6px;'
        f'border-radius:8px;white-space:nowrap">{esc(text or status)}</span>'
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table; ``headers`` are text, each row's cells are HTML (escape text with :func:`esc`)."""
    head = "".join(f'<th style="{_HEAD}">{esc(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in row) + "</tr>"
        for row in rows
    )
    return f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _title(text: str, *details: str) -> str:
    extra = " · ".join(d for d in details if d)
    return f"<div><strong>{text}</strong>" + (f" · {extra}" if extra else "") + "</div>"


def _muted(text: object) -> str:
    return f'<span style="{_MUTED};white-space:nowrap">{esc(text)}</span>'


def _id(value: object) -> str:
    """An ID kept on one line (a browser would break it at its hyphen)."""
    return f'<span style="white-space:nowrap">{esc(value)}</span>'


def _server_label(outcome: ServerOutcome) -> str:
    hostname = outcome.readiness.hostname if outcome.readiness else None
    if hostname:
        return f"{esc(hostname)}<br>{_muted(outcome.source_server_id)}"
    return _id(outcome.source_server_id)


def _detail(outcome: ServerOutcome) -> str:
    if outcome.error is not None:
        return esc(f"{outcome.error.code}: {outcome.error.message}")
    return esc(outcome.skipped_reason or "")


def _span(start: datetime | None, end: datetime | None) -> str:
    return esc(format_duration(seconds_between(start, end)))


def _server_rows(run: WaveRun, started_at: datetime | None) -> list[list[str]]:
    rows = []
    for sid in run.server_ids:
        outcome = run.servers.get(sid)
        if outcome is None:
            continue
        p = outcome.phases
        ready = seconds_between(started_at, p.launch_end) if p.launch_end and started_at else None
        instance = outcome.ec2_instance_id or outcome.recovery_instance_id
        rows.append(
            [
                _server_label(outcome),
                badge(outcome.status.value),
                _id(outcome.job_id),
                _span(p.snapshot_start or p.job_start, p.snapshot_end),
                _span(p.conversion_start, p.conversion_end),
                _span(p.launch_start, p.launch_end or p.launch_failed),
                esc(format_duration(ready)),
                _id(format_time(outcome.recovery_point)),
                esc(format_duration(outcome.achieved_rpo_s)),
                _id(instance),
                _detail(outcome),
            ]
        )
    return rows


_SERVER_HEADERS = (
    "server",
    "status",
    "job",
    "snapshot",
    "conversion",
    "launch",
    "ready after",
    "recovery point",
    "RPO",
    "instance",
    "detail",
)


def wave_run_html(run: WaveRun, started_at: datetime | None = None) -> str:
    """One wave: status, path, RTO, worst RPO, and a row per server with its phase times.

    Args:
        run: The wave run.
        started_at: The execution's start ("ready after" is measured from it;
            the wave's own start when not given).
    """
    title = _title(
        f"wave {esc(run.wave_name)}",
        badge(run.status.value),
        esc(run.region),
        f"{esc(run.config_path.value)} path" if run.config_path else "",
        f"RTO {esc(format_duration(run.recovery_time))}",
        f"worst RPO {esc(format_duration(run.worst_rpo))}",
    )
    error = f"<div>{badge('FAILED', 'error')} {esc(run.error.message)}</div>" if run.error else ""
    rows = _server_rows(run, started_at or run.started_at)
    return title + error + table(_SERVER_HEADERS, rows)


def execution_html(execution: Execution) -> str:
    """An execution: a summary line, a row per wave, and every server under a fold."""
    kind = "Drill" if execution.is_drill else "Recovery"
    title = _title(
        f"{kind} {esc(execution.execution_id)}",
        f"plan {esc(execution.plan_name)} v{execution.plan_version}",
        badge(execution.status.value),
        f"started {esc(format_time(execution.started_at))}"
        + (f" by {esc(execution.started_by)}" if execution.started_by else ""),
        f"RTO {esc(format_duration(execution.recovery_time))}",
        f"worst RPO {esc(format_duration(execution.worst_rpo))}",
    )
    rows = []
    for run in execution.waves:
        counts = run.counts()
        rows.append(
            [
                esc(run.wave_name),
                badge(run.status.value),
                esc(run.config_path.value if run.config_path else None),
                esc(len(run.server_ids)),
                esc(counts[ServerLaunchStatus.LAUNCHED]),
                esc(counts[ServerLaunchStatus.FAILED]),
                esc(counts[ServerLaunchStatus.SKIPPED]),
                esc(", ".join(run.job_ids) or None),
                esc(format_duration(run.recovery_time)),
                esc(format_duration(run.worst_rpo)),
                esc(run.error.message if run.error else ""),
            ]
        )
    waves = table(
        (
            "wave",
            "status",
            "path",
            "servers",
            "launched",
            "failed",
            "skipped",
            "jobs",
            "RTO",
            "worst RPO",
            "error",
        ),
        rows,
    )
    error = (
        f"<div>{badge('FAILED', 'error')} {esc(execution.error.message)}</div>"
        if execution.error
        else ""
    )
    servers = "".join(
        f"<div>{esc(run.wave_name)}</div>"
        + table(_SERVER_HEADERS, _server_rows(run, execution.started_at))
        for run in execution.waves
    )
    folded = f"<details><summary>servers</summary>{servers}</details>" if servers else ""
    return title + error + waves + folded


def launch_config_status_html(status: LaunchConfigStatus) -> str:
    """A group's launch-configuration status and a row per server."""
    title = _title(
        "launch configuration",
        badge(status.status.value),
        f"applied {esc(format_time(status.last_applied))}",
        f"by {esc(status.applied_by)}" if status.applied_by else "",
    )
    errors = "".join(f"<div>{badge('FAILED', 'error')} {esc(e)}</div>" for e in status.errors)
    rows = [
        [
            esc(sid),
            badge(cfg.status.value),
            esc(format_time(cfg.last_applied)),
            esc(cfg.config_hash[:19] if cfg.config_hash else None),
            esc(cfg.launch_template_version),
            esc("; ".join(cfg.errors)),
        ]
        for sid, cfg in sorted(status.server_configs.items())
    ]
    headers = ("server", "status", "applied", "hash", "template version", "errors")
    return title + errors + (table(headers, rows) if rows else "")


def protection_group_html(group: ProtectionGroup) -> str:
    """A protection group: where, how servers are chosen, and its launch-configuration status."""
    selection = (
        ", ".join(f"{k}={v}" for k, v in sorted(group.server_selection_tags.items()))
        if group.server_selection_tags
        else "explicit server IDs"
    )
    title = _title(
        f"group {esc(group.name)}",
        esc(group.group_id),
        esc(group.region),
        f"account {esc(group.account.account_id)}" if group.account else "",
        f"{len(group.source_server_ids)} servers ({esc(selection)})",
        f"v{group.version}",
    )
    settings = group.launch_settings.to_wire()
    summary = (
        f"<div>{_muted('launch settings:')} "
        + esc(", ".join(f"{k}={v}" for k, v in sorted(settings.items())) or "DRS defaults")
        + (f" · {len(group.server_overrides)} server overrides" if group.server_overrides else "")
        + "</div>"
    )
    return title + summary + launch_config_status_html(group.launch_config_status)


def recovery_plan_html(plan: RecoveryPlan) -> str:
    """A recovery plan and its waves in execution order."""
    title = _title(
        f"plan {esc(plan.name)}",
        esc(plan.plan_id),
        f"v{plan.version}",
        f"on failure: {esc(plan.failure_policy.value)}",
        "concurrent waves" if plan.allow_concurrent_waves else "one wave at a time",
    )
    rows = [
        [
            esc(position),
            esc(wave.name),
            esc(", ".join(wave.depends_on) or None),
            esc(", ".join(wave.protection_group_ids) or None),
            esc(f"{len(wave.server_ids)} frozen" if wave.frozen else "from groups"),
            esc(wave.region),
            esc("yes" if wave.pause_before else ""),
            esc(format_duration(wave.timeout_s)),
        ]
        for position, wave in enumerate(plan.ordered_waves(), start=1)
    ]
    headers = ("#", "wave", "depends on", "groups", "servers", "region", "pause", "timeout")
    description = f"<div>{esc(plan.description)}</div>" if plan.description else ""
    return title + description + table(headers, rows)


def drift_report_html(report: DriftReport) -> str:
    """Drifted, never-applied and unreadable servers of a group, with the reasons."""
    verdict = badge("DRIFTED") if report.has_drift else badge("OK", "in sync")
    title = _title(
        f"drift of {esc(report.group_id)}",
        verdict,
        "remote (read back from DRS and EC2)" if report.remote else "local (hashes)",
        f"checked {esc(format_time(report.checked_at))}",
    )
    rows: list[list[str]] = []
    for sid, reasons in sorted(report.drifted.items()):
        fields = report.differences.get(sid, [])
        detail = (
            "; ".join(f"{d.field}: {d.actual!r} (want {d.desired!r})" for d in fields)
            if fields
            else "; ".join(reasons)
        )
        rows.append([esc(sid), badge("DRIFTED", "drifted"), esc(detail)])
    rows.extend([esc(sid), badge("NOT APPLIED", "not applied"), ""] for sid in report.not_applied)
    rows.extend(
        [esc(sid), badge("FAILED", "unreadable"), esc(message)]
        for sid, message in sorted(report.errors.items())
    )
    if not rows:
        rows.append(["every server", badge("OK", "in sync"), esc("applied settings match")])
    return title + table(("server", "state", "detail"), rows)


def cache_lookup_html(lookup: CacheLookup) -> str:
    """Cached recovery instances found, then the servers with none (misses)."""
    title = _title(
        "recovery-instance cache",
        f"{len(lookup.records)} found",
        f"{len(lookup.misses)} missing" if lookup.misses else "",
    )
    rows = [
        [
            esc(sid),
            esc(record.source_hostname),
            esc(record.recovery_instance_id),
            esc(record.ec2_instance_id),
            badge(record.ec2_instance_state or "unknown"),
            esc("drill" if record.is_drill else "recovery" if record.is_drill is False else None),
            esc(record.private_ip),
            esc(record.source_execution_id),
            esc(format_time(record.last_synced)),
        ]
        for sid, record in lookup.records.items()
    ]
    rows.extend(
        [esc(sid), "", "", "", badge("MISS", "not cached"), "", "", "", ""] for sid in lookup.misses
    )
    headers = (
        "server",
        "hostname",
        "recovery instance",
        "EC2 instance",
        "state",
        "type",
        "private IP",
        "execution",
        "synced",
    )
    return title + table(headers, rows)


def plan_readiness_html(readiness: PlanReadiness) -> str:
    """What a drill or recovery would launch now: a row per server with the verdict and why."""
    verdict = badge("READY", "all ready") if readiness.all_ready else badge("NOT READY")
    title = _title(
        f"readiness of {esc(readiness.plan_name)}",
        "drill" if readiness.drill else "recovery",
        verdict,
        f"checked {esc(format_time(readiness.checked_at))}",
    )
    rows = [
        [
            esc(wave.wave_name),
            esc(server.hostname or server.source_server_id)
            + (f"<br>{_muted(server.source_server_id)}" if server.hostname else ""),
            esc(server.state),
            esc(format_duration(server.lag_s)),
            esc(format_time(server.latest_recovery_point)),
            badge("READY" if server.ready else "NOT READY"),
            esc(server.reason),
        ]
        for wave in readiness.waves
        for server in wave.servers
    ]
    headers = ("wave", "server", "state", "lag", "latest recovery point", "verdict", "reason")
    return title + table(headers, rows)
