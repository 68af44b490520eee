"""The evidence report as one self-contained HTML file an auditor can open offline.

No external CSS, scripts, fonts or images: the style sheet is inline, the
timeline chart is a base64 PNG (or inline SVG). Every value sits in a cell
carrying ``data-path`` (its dotted path in the JSON form, e.g.
``waves.1.servers.0.snapshot.seconds``) and ``data-value`` (its exact JSON
value), so a program can check the page against the JSON while a person
reads the formatted text.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Literal

from drs_orchestration.reports._format import (
    MissingExtraError,
    format_duration,
    format_time,
)
from drs_orchestration.reports.html import badge, esc

if TYPE_CHECKING:
    from datetime import datetime

    from drs_orchestration.reports.evidence import (
        EvidenceReport,
        PhaseEvidence,
        ServerEvidence,
        WaveEvidence,
    )

__all__ = ["CHART_MISSING", "evidence_html"]

CHART_MISSING = (
    "The timeline chart needs matplotlib, which is not installed: "
    'pip install "drs-orchestration[report]"'
)
"""What the page says in place of the chart when matplotlib is missing."""

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:24px;color:#111827;font-size:14px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 6px}
h3{font-size:15px;margin:18px 0 4px}
table{border-collapse:collapse;margin:6px 0;font-size:12px}
th,td{padding:3px 6px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
thead th{border-bottom:1px solid #6b7280;font-weight:600}
table.summary th{font-weight:600;color:#374151;white-space:nowrap}
td.num{text-align:right;white-space:nowrap}table.summary td.num{text-align:left}
td.id,td.time{white-space:nowrap}
small,.muted{color:#6b7280}
figure{margin:8px 0}figure img,figure svg{max-width:100%;height:auto}
p.note{background:#fef9c3;padding:6px 10px;border-radius:4px}
footer{margin-top:28px;color:#6b7280;font-size:12px}
@media print{body{margin:0}h2{page-break-after:avoid}}
"""


def _value(value: object) -> str:
    """The exact JSON text of a value, for ``data-value``."""
    return esc(json.dumps(value))


def _cell(path: str, value: object, shown: str, *, css: str = "", tag: str = "td") -> str:
    klass = f' class="{css}"' if css else ""
    return f'<{tag}{klass} data-path="{esc(path)}" data-value="{_value(value)}">{shown}</{tag}>'


def _num(path: str, value: float | int | None, text: str, *, extra: str = "") -> str:
    shown = esc(text) + (f"<br><small>{extra}</small>" if extra else "")
    return _cell(path, value, shown, css="num")


def _time(path: str, value: datetime | None) -> str:
    iso = value.isoformat().replace("+00:00", "Z") if value else None
    return _cell(path, iso, esc(format_time(value)), css="time")


def _id(path: str, value: str | None, shown: str | None = None) -> str:
    return _cell(path, value, esc(value) if shown is None else shown, css="id")


def _row(label: str, cell: str) -> str:
    return f"<tr><th>{esc(label)}</th>{cell}</tr>"


def _text(path: str, value: str | None) -> str:
    return _cell(path, value, esc(value))


def _summary(report: EvidenceReport) -> str:
    plan_version = esc(f"v{report.plan_version}")
    status = badge(report.status)
    rows = [
        _row("execution", _text("executionId", report.execution_id)),
        _row("type", _text("executionType", report.execution_type.value)),
        _row("status", _cell("status", report.status, status)),
        _row("plan", _text("planName", report.plan_name)),
        _row("plan ID", _text("planId", report.plan_id)),
        _row("plan version run", _cell("planVersion", report.plan_version, plan_version)),
        _row("started by", _text("startedBy", report.started_by)),
        _row("created", _time("createdAt", report.created_at)),
        _row("started", _time("startedAt", report.started_at)),
        _row("ended", _time("endedAt", report.ended_at)),
        _row(
            "duration",
            _num("durationS", report.duration_s, format_duration(report.duration_s)),
        ),
        _row(
            "RTO (start to last server launched)",
            _num("rtoS", report.rto_s, format_duration(report.rto_s)),
        ),
        _row(
            "worst achieved RPO",
            _num("worstRpoS", report.worst_rpo_s, format_duration(report.worst_rpo_s)),
        ),
        _row("servers", _num("serversTotal", report.servers_total, str(report.servers_total))),
        _row(
            "launched",
            _num("serversLaunched", report.servers_launched, str(report.servers_launched)),
        ),
        _row("failed", _num("serversFailed", report.servers_failed, str(report.servers_failed))),
        _row(
            "skipped", _num("serversSkipped", report.servers_skipped, str(report.servers_skipped))
        ),
    ]
    if report.current_plan_version is not None:
        rows.insert(
            6,
            _row(
                "plan version now",
                _num(
                    "currentPlanVersion",
                    report.current_plan_version,
                    f"v{report.current_plan_version}",
                ),
            ),
        )
    if report.cancelled_by:
        rows.append(_row("cancelled by", _text("cancelledBy", report.cancelled_by)))
        rows.append(_row("cancel reason", _text("cancelReason", report.cancel_reason)))
    description = f"<p>{esc(report.plan_description)}</p>" if report.plan_description else ""
    return description + '<table class="summary">' + "".join(rows) + "</table>"


def _chart(report: EvidenceReport, chart: Literal["png", "svg"] | None) -> str:
    if chart is None:
        return ""
    try:
        if chart == "png":
            data = base64.b64encode(report.timeline_png()).decode("ascii")
            image = (
                f'<img alt="Timeline of every server by phase" src="data:image/png;base64,{data}">'
            )
        else:
            svg = report.timeline_svg()
            image = svg[svg.index("<svg") :]
    except MissingExtraError:
        return f'<p class="note" id="chart-missing">{esc(CHART_MISSING)}</p>'
    legend = (
        "<figcaption><small>Bars: snapshot, conversion, launch (red: a failed launch); "
        "the dashed line marks the RTO.</small></figcaption>"
    )
    return f'<figure id="timeline">{image}{legend}</figure>'


def _phase(path: str, phase: PhaseEvidence) -> str:
    times = ""
    if phase.start is not None:
        end = phase.end.strftime("%H:%M:%S") if phase.end else "?"
        times = esc(f"{phase.start.strftime('%H:%M:%S')} to {end}")
    text = format_duration(phase.seconds) + (" failed" if phase.failed else "")
    return _num(f"{path}.seconds", phase.seconds, text, extra=times)


def _readiness(path: str, server: ServerEvidence) -> str:
    readiness = server.readiness
    if readiness is None:
        return _cell(f"{path}.readiness", None, "-")
    verdict = badge("READY" if readiness.ready else "NOT READY")
    lag = f" lag {esc(format_duration(readiness.lag_s))}" if readiness.lag_s is not None else ""
    # A refused server's reason is the evidence; a ready one's repeats its state.
    reason = "" if readiness.ready else f"<br><small>{esc(readiness.reason)}</small>"
    return _cell(
        f"{path}.readiness.lagS",
        readiness.lag_s,
        esc(readiness.state) + lag + "<br>" + verdict + reason,
    )


def _server_row(path: str, server: ServerEvidence) -> str:
    label = esc(server.hostname) + "<br>" if server.hostname else ""
    chunk = "-" if server.chunk_index is None else str(server.chunk_index)
    adopted = " (adopted)" if server.adopted_job else ""
    sid = server.source_server_id
    job = (
        _cell(f"{path}.jobId", server.job_id, esc(server.job_id), tag="span")
        + f"<br><small>chunk {_cell(f'{path}.chunkIndex', server.chunk_index, chunk, tag='span')}"
        + f"{adopted}</small>"
    )
    recovery, ec2 = server.recovery_instance_id, server.ec2_instance_id
    instances = (
        _cell(f"{path}.recoveryInstanceId", recovery, esc(recovery), tag="span")
        + "<br><small>EC2 "
        + _cell(f"{path}.ec2InstanceId", server.ec2_instance_id, esc(ec2), tag="span")
        + "</small>"
    )
    cells = [
        _id(f"{path}.sourceServerId", sid, f"{label}<small>{esc(sid)}</small>"),
        _cell(f"{path}.status", server.status.value, badge(server.status.value)),
        f'<td class="id">{job}</td>',
        _readiness(path, server),
        _phase(f"{path}.snapshot", server.snapshot),
        _phase(f"{path}.conversion", server.conversion),
        _phase(f"{path}.launch", server.launch),
        _num(f"{path}.readyAfterS", server.ready_after_s, format_duration(server.ready_after_s)),
        _time(f"{path}.recoveryPoint", server.recovery_point),
        _num(f"{path}.achievedRpoS", server.achieved_rpo_s, format_duration(server.achieved_rpo_s)),
        f'<td class="id">{instances}</td>',
    ]
    return f'<tr data-server="{esc(sid)}">' + "".join(cells) + "</tr>"


_SERVER_HEADERS = (
    "server",
    "status",
    "job",
    "readiness at start",
    "snapshot",
    "conversion",
    "launch",
    "ready after",
    "recovery point",
    "achieved RPO",
    "recovery / EC2 instance",
)


def _wave(index: int, wave: WaveEvidence) -> str:
    p = f"waves.{index}"
    facts = [
        _row("status", _cell(f"{p}.status", wave.status, badge(wave.status))),
        _row("region", _text(f"{p}.region", wave.region)),
        _row("account", _text(f"{p}.accountId", wave.account_id)),
        _row("launch configuration path", _text(f"{p}.configPath", wave.config_path)),
        _row("started", _time(f"{p}.startedAt", wave.started_at)),
        _row("ended", _time(f"{p}.endedAt", wave.ended_at)),
        _row("wave RTO", _num(f"{p}.rtoS", wave.rto_s, format_duration(wave.rto_s))),
        _row(
            "worst achieved RPO",
            _num(f"{p}.worstRpoS", wave.worst_rpo_s, format_duration(wave.worst_rpo_s)),
        ),
        _row("jobs", _cell(f"{p}.jobIds", wave.job_ids, esc(", ".join(wave.job_ids) or None))),
    ]
    if wave.adopted_job_ids:
        adopted = wave.adopted_job_ids
        facts.append(
            _row("adopted jobs", _cell(f"{p}.adoptedJobIds", adopted, esc(", ".join(adopted))))
        )
    head = "".join(f"<th>{esc(h)}</th>" for h in _SERVER_HEADERS)
    rows = "".join(_server_row(f"{p}.servers.{j}", s) for j, s in enumerate(wave.servers))
    return (
        f'<section data-wave="{esc(wave.wave_name)}"><h3>wave {esc(wave.wave_name)}</h3>'
        f'<table class="summary">{"".join(facts)}</table>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _failures(report: EvidenceReport) -> str:
    if not report.failures:
        return "<p>No failures were recorded.</p>"
    rows = "".join(
        "<tr>"
        f"<td>{esc(f.scope)}</td><td>{esc(f.wave_name)}</td>"
        f"<td>{esc(f.source_server_id)}</td><td>{esc(f.job_id)}</td>"
        f"<td>{esc(f.code)}</td><td>{esc(f.message)}</td><td>{esc(format_time(f.at))}</td>"
        "</tr>"
        for f in report.failures
    )
    head = "".join(
        f"<th>{h}</th>" for h in ("scope", "wave", "server", "job", "code", "message", "at")
    )
    return f'<table id="failures"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _skipped(report: EvidenceReport) -> str:
    notes = [
        f"<li>{esc(s.label)} ({esc(s.source_server_id)}): {esc(s.skipped_reason)}</li>"
        for s in report.servers()
        if s.skipped_reason
    ]
    return f"<h3>skipped servers</h3><ul>{''.join(notes)}</ul>" if notes else ""


def _preflight(report: EvidenceReport) -> str:
    checked = report.preflight
    if checked is None:
        return ""
    rows = []
    for k, wave in enumerate(checked.waves):
        for m, server in enumerate(wave.servers):
            p = f"preflight.waves.{k}.servers.{m}"
            verdict = badge("READY" if server.ready else "NOT READY")
            rows.append(
                "<tr>"
                f"<td>{esc(wave.wave_name)}</td>"
                + _cell(
                    f"{p}.sourceServerId",
                    server.source_server_id,
                    (esc(server.hostname) + "<br>" if server.hostname else "")
                    + f"<small>{esc(server.source_server_id)}</small>",
                )
                + _text(f"{p}.state", server.state)
                + _num(f"{p}.lagS", server.lag_s, format_duration(server.lag_s))
                + _time(f"{p}.latestRecoveryPoint", server.latest_recovery_point)
                + _cell(f"{p}.ready", server.ready, verdict)
                + _text(f"{p}.reason", server.reason)
                + "</tr>"
            )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("wave", "server", "state", "lag", "latest recovery point", "verdict", "reason")
    )
    kind = "drill" if checked.drill else "recovery"
    return (
        f"<h2>Preflight before the start</h2><p>A {kind} preflight of "
        f"{esc(checked.plan_name)}, checked {esc(format_time(checked.checked_at))}.</p>"
        f'<table id="preflight"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table>"
    )


def evidence_html(report: EvidenceReport, *, chart: Literal["png", "svg"] | None = "png") -> str:
    """The whole report as an HTML document (see :meth:`EvidenceReport.to_html`)."""
    kind = "Drill" if report.is_drill else "Recovery"
    title = f"{kind} evidence: {report.plan_name} ({report.execution_id})"
    body = [
        f"<h1>{esc(title)}</h1>",
        f"<p class=muted>All times are UTC. Generated {esc(format_time(report.generated_at))} "
        f"by {esc(report.generator)} from the execution record.</p>",
        "<h2>Summary</h2>",
        _summary(report),
        "<h2>Timeline</h2>" if chart else "",
        _chart(report, chart),
        "<h2>Waves</h2>",
        *(_wave(i, w) for i, w in enumerate(report.waves)),
        _skipped(report),
        "<h2>Failures</h2>",
        _failures(report),
        _preflight(report),
        f"<footer>{esc(report.generator)} · execution {esc(report.execution_id)} · "
        f"plan {esc(report.plan_id)} v{report.plan_version}</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
