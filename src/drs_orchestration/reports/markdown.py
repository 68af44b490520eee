"""The evidence report as Markdown: the same facts as the HTML page, in plain tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from drs_orchestration.reports._format import format_duration, format_time

if TYPE_CHECKING:
    from drs_orchestration.reports.evidence import EvidenceReport, PhaseEvidence, WaveEvidence

__all__ = ["evidence_markdown"]


def _cell(value: object) -> str:
    text = "-" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return [*lines, ""]


def _phase(phase: PhaseEvidence) -> str:
    if phase.seconds is None:
        return "-"
    text = format_duration(phase.seconds)
    return f"{text} failed" if phase.failed else text


def _wave(wave: WaveEvidence) -> list[str]:
    lines = [
        f"### Wave {wave.wave_name}",
        "",
        f"Status {wave.status}, region {wave.region}"
        + (f", account {wave.account_id}" if wave.account_id else "")
        + (f", {wave.config_path} path" if wave.config_path else "")
        + f". Started {format_time(wave.started_at)}, ended {format_time(wave.ended_at)}."
        + f" Wave RTO {format_duration(wave.rto_s)},"
        + f" worst RPO {format_duration(wave.worst_rpo_s)}.",
        "",
        "Jobs: "
        + (", ".join(wave.job_ids) or "none")
        + (f" (adopted: {', '.join(wave.adopted_job_ids)})" if wave.adopted_job_ids else ""),
        "",
    ]
    rows = []
    for s in wave.servers:
        readiness = s.readiness
        ready = (
            f"{readiness.state}, {'ready' if readiness.ready else 'not ready'}"
            + (f", lag {format_duration(readiness.lag_s)}" if readiness.lag_s is not None else "")
            if readiness
            else None
        )
        rows.append(
            [
                f"{s.hostname} ({s.source_server_id})" if s.hostname else s.source_server_id,
                s.status.value,
                s.chunk_index,
                s.job_id,
                ready,
                _phase(s.snapshot),
                _phase(s.conversion),
                _phase(s.launch),
                format_duration(s.ready_after_s),
                format_time(s.recovery_point),
                format_duration(s.achieved_rpo_s),
                s.recovery_instance_id,
                s.ec2_instance_id,
            ]
        )
    headers = (
        "server",
        "status",
        "chunk",
        "job",
        "readiness at start",
        "snapshot",
        "conversion",
        "launch",
        "ready after",
        "recovery point",
        "achieved RPO",
        "recovery instance",
        "EC2 instance",
    )
    return lines + _table(headers, rows)


def evidence_markdown(report: EvidenceReport) -> str:
    """The report as Markdown (see :meth:`EvidenceReport.to_markdown`)."""
    kind = "Drill" if report.is_drill else "Recovery"
    version = f"v{report.plan_version}"
    if report.current_plan_version not in (None, report.plan_version):
        version += f" (the plan is at v{report.current_plan_version} now)"
    summary = [
        ("execution", report.execution_id),
        ("type", report.execution_type.value),
        ("status", report.status),
        ("plan", f"{report.plan_name} ({report.plan_id})"),
        ("plan version", version),
        ("started by", report.started_by),
        ("created", format_time(report.created_at)),
        ("started", format_time(report.started_at)),
        ("ended", format_time(report.ended_at)),
        ("duration", format_duration(report.duration_s)),
        ("RTO (start to last server launched)", format_duration(report.rto_s)),
        ("worst achieved RPO", format_duration(report.worst_rpo_s)),
        (
            "servers",
            f"{report.servers_total} ({report.servers_launched} launched, "
            f"{report.servers_failed} failed, {report.servers_skipped} skipped)",
        ),
    ]
    if report.cancelled_by:
        summary.append(("cancelled by", f"{report.cancelled_by}: {report.cancel_reason or '-'}"))
    lines = [
        f"# {kind} evidence: {report.plan_name}",
        "",
        f"All times are UTC. Generated {format_time(report.generated_at)} by "
        f"{report.generator} from the execution record. The timeline chart is in the "
        "HTML form of this report.",
        "",
        *([report.plan_description, ""] if report.plan_description else []),
        "## Summary",
        "",
        *_table(("", ""), summary),
        "## Waves",
        "",
    ]
    for wave in report.waves:
        lines.extend(_wave(wave))
    skipped = [s for s in report.servers() if s.skipped_reason]
    if skipped:
        lines.extend(["Skipped servers:", ""])
        lines.extend(f"- {s.label} ({s.source_server_id}): {s.skipped_reason}" for s in skipped)
        lines.append("")
    lines.extend(["## Failures", ""])
    if report.failures:
        lines.extend(
            _table(
                ("scope", "wave", "server", "job", "code", "message", "at"),
                (
                    (
                        f.scope,
                        f.wave_name,
                        f.source_server_id,
                        f.job_id,
                        f.code,
                        f.message,
                        format_time(f.at),
                    )
                    for f in report.failures
                ),
            )
        )
    else:
        lines.extend(["No failures were recorded.", ""])
    if report.preflight is not None:
        checked = report.preflight
        lines.extend([f"## Preflight before the start ({format_time(checked.checked_at)})", ""])
        lines.extend(
            _table(
                ("wave", "server", "state", "lag", "latest recovery point", "ready", "reason"),
                (
                    (
                        w.wave_name,
                        s.hostname or s.source_server_id,
                        s.state,
                        format_duration(s.lag_s),
                        format_time(s.latest_recovery_point),
                        "yes" if s.ready else "no",
                        s.reason,
                    )
                    for w in checked.waves
                    for s in w.servers
                ),
            )
        )
    return "\n".join(lines).rstrip() + "\n"
