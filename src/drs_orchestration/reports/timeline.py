"""The timeline chart of an execution: a Gantt of servers by phase (snapshot, conversion, launch).

Drawn with matplotlib's object API (no ``pyplot``, so no GUI backend and no
global figure state), imported only when a chart is asked for: matplotlib is
the ``report`` extra.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from drs_orchestration.reports._format import format_duration, format_time, require_extra

if TYPE_CHECKING:
    from drs_orchestration.reports.evidence import EvidenceReport, PhaseEvidence

__all__ = ["PHASE_COLOURS", "render_timeline"]

PHASE_COLOURS: dict[str, str] = {
    "snapshot": "#60a5fa",
    "conversion": "#f59e0b",
    "launch": "#22c55e",
    "failed": "#ef4444",
}
"""Bar colour of each phase (``failed``: a launch that failed)."""

_ROW_INCHES = 0.32
_FRAME_INCHES = 1.6


def render_timeline(report: EvidenceReport, fmt: Literal["png", "svg"]) -> bytes:
    """Draw the report's timeline and return it as PNG bytes or UTF-8 SVG.

    One row per server (wave order), minutes since the execution started on
    the x axis, a bar per phase, a dashed line at each wave's RTO mark and
    at the execution's. Servers that never reached a job show an empty row
    with their status.

    Raises:
        MissingExtraError: matplotlib is not installed (names the ``report`` extra).
    """
    matplotlib = require_extra("matplotlib", "report", purpose="the timeline chart")
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    servers = report.servers()
    origin = report.started_at or _earliest(report) or report.created_at
    rows = max(len(servers), 1)
    with matplotlib.rc_context({"svg.hashsalt": "drs-orchestration", "font.size": 9}):
        figure = Figure(figsize=(10, _FRAME_INCHES + rows * _ROW_INCHES), layout="constrained")
        axes = figure.add_subplot()
        labels: list[str] = []
        previous_wave: str | None = None
        for row, server in enumerate(servers):
            labels.append(f"{server.wave_name} · {server.label}")
            if previous_wave is not None and server.wave_name != previous_wave:
                axes.axhline(row - 0.5, color="#9ca3af", linewidth=0.8)
            previous_wave = server.wave_name
            drawn = False
            for name, phase in (
                ("snapshot", server.snapshot),
                ("conversion", server.conversion),
                ("launch", server.launch),
            ):
                span = _span(phase, origin)
                if span is None:
                    continue
                colour = PHASE_COLOURS["failed" if phase.failed else name]
                axes.broken_barh(
                    [span],
                    (row - 0.35, 0.7),
                    facecolors=colour,
                    edgecolor="#1f2937",
                    linewidth=0.4,
                    hatch="//" if phase.failed else None,
                )
                drawn = True
            if not drawn:
                axes.text(
                    0.0, row, f"  {server.status.value.lower()}", va="center", color="#6b7280"
                )
        if report.rto_s is not None:
            axes.axvline(report.rto_s / 60, color="#111827", linestyle="--", linewidth=1)
            axes.annotate(
                f"RTO {format_duration(report.rto_s)}",
                xy=(report.rto_s / 60, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(-4, -4),
                textcoords="offset points",
                ha="right",
                va="top",
                color="#111827",
            )
        axes.set_yticks(range(len(labels)), labels=labels)
        axes.set_ylim(rows - 0.5, -0.5)
        axes.set_xlim(0, _last_minute(report, origin) * 1.02 or 1.0)
        axes.set_xlabel(f"minutes since the execution started ({format_time(origin)})")
        axes.grid(axis="x", color="#e5e7eb", linewidth=0.6)
        axes.set_axisbelow(True)
        kind = "Drill" if report.is_drill else "Recovery"
        axes.set_title(f"{kind} {report.execution_id} of {report.plan_name}", loc="left")
        figure.legend(
            handles=[
                Patch(facecolor=colour, edgecolor="#1f2937", label=name)
                for name, colour in PHASE_COLOURS.items()
            ],
            loc="outside upper right",
            ncols=4,
            frameon=False,
        )
        buffer = io.BytesIO()
        metadata: dict[str, str | None] = {"Date": None} if fmt == "svg" else {"Software": None}
        figure.savefig(buffer, format=fmt, dpi=100, metadata=metadata)
    return buffer.getvalue()


def _earliest(report: EvidenceReport) -> datetime | None:
    starts = [s.snapshot.start for s in report.servers() if s.snapshot.start is not None]
    return min(starts) if starts else None


def _last_minute(report: EvidenceReport, origin: datetime) -> float:
    ends = [
        (phase.end - origin).total_seconds() / 60
        for s in report.servers()
        for phase in (s.snapshot, s.conversion, s.launch)
        if phase.end is not None
    ]
    return max([*ends, (report.rto_s or 0.0) / 60])


def _span(phase: PhaseEvidence, origin: datetime) -> tuple[float, float] | None:
    if phase.start is None or phase.end is None:
        return None
    start = (phase.start - origin).total_seconds() / 60
    width = max((phase.end - phase.start).total_seconds() / 60, 0.0)
    return (start, width)
