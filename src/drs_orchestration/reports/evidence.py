"""Drill evidence: what an auditor asks of one execution, as data that renders three ways.

:func:`evidence` reads an :class:`~drs_orchestration.models.Execution` (and
optionally its plan and a preflight report) and returns an
:class:`EvidenceReport`: who started what and when, readiness at the start,
per wave and server the phase times, the recovery point used and the achieved
RPO, the instances launched, every failure with its error, the RTO per wave
and in total. Every number is copied or computed from the execution record
alone, so the report can be regenerated at any time from storage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field

from drs_orchestration._version import __version__
from drs_orchestration.models import (
    ErrorRecord,
    Execution,
    ExecutionType,
    JobRecord,
    PlanReadiness,
    RecoveryPlan,
    ServerLaunchStatus,
    ServerOutcome,
    ServerReadiness,
    WaveRun,
)
from drs_orchestration.models.base import DrsModel, Timestamp, utc_now
from drs_orchestration.reports._format import seconds_between

__all__ = [
    "EvidenceReport",
    "FailureEvidence",
    "PhaseEvidence",
    "ReportFormat",
    "ServerEvidence",
    "WaveEvidence",
    "evidence",
]

ReportFormat = Literal["html", "md", "json", "png", "svg"]
"""What :meth:`EvidenceReport.write` writes: the report, or its timeline chart alone."""


class PhaseEvidence(DrsModel):
    """One phase of one server's launch (snapshot, conversion or launch).

    Attributes:
        start: When DRS logged the phase's start.
        end: When it ended (for a failed launch, when the failure was logged).
        seconds: ``end - start`` to the millisecond.
        failed: Whether the phase ended in a failure.
    """

    start: Timestamp | None = None
    end: Timestamp | None = None
    seconds: float | None = None
    failed: bool = False


class ServerEvidence(DrsModel):
    """What happened to one source server, as the execution recorded it.

    Attributes:
        ready_after_s: From the execution's start to the server launched (its
            contribution to the RTO).
        readiness: What preflight saw when the wave started (from the outcome,
            else from the preflight report given to :func:`evidence`).
    """

    wave_name: str
    source_server_id: str
    hostname: str | None = None
    status: ServerLaunchStatus
    chunk_index: int | None = None
    job_id: str | None = None
    adopted_job: bool = False
    readiness: ServerReadiness | None = None
    snapshot: PhaseEvidence = Field(default_factory=PhaseEvidence)
    conversion: PhaseEvidence = Field(default_factory=PhaseEvidence)
    launch: PhaseEvidence = Field(default_factory=PhaseEvidence)
    ready_after_s: float | None = None
    recovery_snapshot_id: str | None = None
    recovery_point: Timestamp | None = None
    achieved_rpo_s: float | None = None
    recovery_instance_id: str | None = None
    ec2_instance_id: str | None = None
    skipped_reason: str | None = None
    error: ErrorRecord | None = None

    @property
    def label(self) -> str:
        """The host name when known, else the source server ID."""
        return self.hostname or self.source_server_id


class FailureEvidence(DrsModel):
    """One error recorded anywhere on the execution.

    Attributes:
        scope: ``execution``, ``wave``, ``chunk``, ``server`` or ``hook``
            (a post-wave hook such as the cache sync, which never fails a wave).
    """

    scope: Literal["execution", "wave", "chunk", "server", "hook"]
    wave_name: str | None = None
    source_server_id: str | None = None
    job_id: str | None = None
    code: str
    message: str
    at: Timestamp


class WaveEvidence(DrsModel):
    """One wave: its status, jobs, servers, RTO and worst RPO."""

    wave_name: str
    status: str
    region: str
    account_id: str | None = None
    config_path: str | None = None
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    rto_s: float | None = None
    worst_rpo_s: float | None = None
    job_ids: list[str] = Field(default_factory=list)
    adopted_job_ids: list[str] = Field(default_factory=list)
    servers: list[ServerEvidence] = Field(default_factory=list)


class EvidenceReport(DrsModel):
    """The evidence of one drill or recovery.

    Render it with :meth:`to_html`, :meth:`to_markdown` or :meth:`to_json`,
    or save it with :meth:`write`.

    Attributes:
        plan_version: The plan version the execution ran.
        current_plan_version: The plan's version when the report was made
            (when the plan was given), to show whether it changed since.
        rto_s: From the start to the last server launched.
        worst_rpo_s: The largest achieved RPO among launched servers.
        preflight: A readiness report given to :func:`evidence` (e.g. the
            pre-drill checklist), kept as it was.
    """

    generated_at: Timestamp
    generator: str
    execution_id: str
    execution_type: ExecutionType
    status: str
    plan_id: str
    plan_name: str
    plan_version: int
    current_plan_version: int | None = None
    plan_description: str | None = None
    started_by: str | None = None
    created_at: Timestamp
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    duration_s: float | None = None
    rto_s: float | None = None
    worst_rpo_s: float | None = None
    servers_total: int
    servers_launched: int
    servers_failed: int
    servers_skipped: int
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    waves: list[WaveEvidence] = Field(default_factory=list)
    failures: list[FailureEvidence] = Field(default_factory=list)
    preflight: PlanReadiness | None = None

    @property
    def is_drill(self) -> bool:
        """Whether the execution was a drill."""
        return self.execution_type is ExecutionType.DRILL

    def servers(self) -> list[ServerEvidence]:
        """Every server of every wave, in wave order."""
        return [server for wave in self.waves for server in wave.servers]

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON (camelCase keys, ISO 8601 UTC times, seconds as numbers).

        Unknown values are ``null`` rather than left out, so every report has
        the same keys.
        """
        return json.dumps(self.model_dump(by_alias=True, mode="json"), indent=indent)

    def to_markdown(self) -> str:
        """The report as Markdown tables (the timeline chart is in the HTML form only)."""
        from drs_orchestration.reports.markdown import evidence_markdown

        return evidence_markdown(self)

    def to_html(self, *, chart: Literal["png", "svg"] | None = "png") -> str:
        """The report as one self-contained HTML file (no external CSS, scripts or fonts).

        Args:
            chart: How the timeline is embedded: a base64 PNG, inline SVG, or
                not at all. Without matplotlib (``pip install
                "drs-orchestration[report]"``) the page says so in its place.
        """
        from drs_orchestration.reports.page import evidence_html

        return evidence_html(self, chart=chart)

    def timeline_png(self) -> bytes:
        """The timeline chart (a Gantt of servers by phase) as PNG.

        Raises:
            MissingExtraError: matplotlib is not installed (an ``ImportError``
                naming the ``report`` extra).
        """
        from drs_orchestration.reports.timeline import render_timeline

        return render_timeline(self, "png")

    def timeline_svg(self) -> str:
        """The timeline chart as SVG text.

        Raises:
            MissingExtraError: matplotlib is not installed.
        """
        from drs_orchestration.reports.timeline import render_timeline

        return render_timeline(self, "svg").decode("utf-8")

    def write(self, path: str | Path, format: ReportFormat | None = None) -> Path:
        """Write the report (or, for ``png``/``svg``, its timeline chart) to ``path``.

        Args:
            path: The file to write (its folder must exist).
            format: ``html``, ``md``, ``json``, ``png`` or ``svg``; by default
                taken from the file's suffix.

        Returns:
            The path written.

        Raises:
            ValueError: the format is unknown (naming it and the known ones).
            MissingExtraError: a chart format without matplotlib installed.
        """
        target = Path(path)
        chosen = format or target.suffix.lstrip(".").lower()
        if chosen == "markdown":
            chosen = "md"
        if chosen == "html":
            target.write_text(self.to_html(), encoding="utf-8")
        elif chosen == "md":
            target.write_text(self.to_markdown(), encoding="utf-8")
        elif chosen == "json":
            target.write_text(self.to_json() + "\n", encoding="utf-8")
        elif chosen == "png":
            target.write_bytes(self.timeline_png())
        elif chosen == "svg":
            target.write_text(self.timeline_svg(), encoding="utf-8")
        else:
            raise ValueError(
                f"format {chosen!r} of {str(target)!r} is not one of html, md, json, png, svg"
            )
        return target

    def _repr_html_(self) -> str:
        # In an iframe, so the page's style sheet stays out of the notebook's.
        import html

        page = html.escape(self.to_html(), quote=True)
        return f'<iframe srcdoc="{page}" style="width:100%;height:640px;border:0"></iframe>'


def evidence(
    execution: Execution,
    *,
    plan: RecoveryPlan | None = None,
    readiness: PlanReadiness | None = None,
    hostnames: Mapping[str, str] | None = None,
    generated_at: datetime | None = None,
) -> EvidenceReport:
    """The evidence report of one execution.

    Args:
        execution: The drill or recovery, as stored (finished or not).
        plan: Its plan, to show the description and whether the plan
            changed since the execution ran.
        readiness: A preflight report made before the start (the pre-drill
            checklist); kept on the report, and used for servers whose
            outcome has no readiness of its own.
        hostnames: Host name by source server ID, where the outcomes'
            readiness does not carry them.
        generated_at: When the report is made (default: now).

    Returns:
        The report; every number in it comes from ``execution``.

    Examples:
        >>> report = evidence(orchestrator.waves.get(execution_id))
        >>> report.write("drill-evidence.html")
    """
    checked = _preflight_by_server(readiness)
    names = dict(hostnames or {})
    waves = [_wave(execution, run, checked, names) for run in execution.waves]
    statuses = [s.status for w in waves for s in w.servers]
    cancel = execution.cancel_request
    return EvidenceReport(
        generated_at=generated_at or utc_now(),
        generator=f"drs-orchestration {__version__}",
        execution_id=execution.execution_id,
        execution_type=execution.execution_type,
        status=execution.status.value,
        plan_id=execution.plan_id,
        plan_name=execution.plan_name,
        plan_version=execution.plan_version,
        current_plan_version=plan.version if plan is not None else None,
        plan_description=plan.description if plan is not None else None,
        started_by=execution.started_by,
        created_at=execution.created_at,
        started_at=execution.started_at,
        ended_at=execution.ended_at,
        duration_s=seconds_between(execution.started_at, execution.ended_at),
        rto_s=_seconds(execution.recovery_time),
        worst_rpo_s=_seconds(execution.worst_rpo),
        servers_total=len(statuses),
        servers_launched=statuses.count(ServerLaunchStatus.LAUNCHED),
        servers_failed=sum(
            s in (ServerLaunchStatus.FAILED, ServerLaunchStatus.TERMINATED) for s in statuses
        ),
        servers_skipped=statuses.count(ServerLaunchStatus.SKIPPED),
        cancelled_by=cancel.requested_by if cancel else None,
        cancel_reason=cancel.reason if cancel else None,
        waves=waves,
        failures=_failures(execution),
        preflight=readiness,
    )


def _seconds(value: timedelta | None) -> float | None:
    return round(value.total_seconds(), 3) if isinstance(value, timedelta) else None


def _preflight_by_server(readiness: PlanReadiness | None) -> dict[str, ServerReadiness]:
    if readiness is None:
        return {}
    return {s.source_server_id: s for w in readiness.waves for s in w.servers}


def _job_of(run: WaveRun, source_server_id: str) -> JobRecord | None:
    for job in run.jobs:
        if source_server_id in job.server_ids:
            return job
    return None


def _wave(
    execution: Execution,
    run: WaveRun,
    checked: Mapping[str, ServerReadiness],
    names: Mapping[str, str],
) -> WaveEvidence:
    order = list(run.server_ids) + [sid for sid in run.servers if sid not in run.server_ids]
    servers = [
        _server(execution, run, run.servers[sid], checked, names)
        for sid in order
        if sid in run.servers
    ]
    return WaveEvidence(
        wave_name=run.wave_name,
        status=run.status.value,
        region=run.region,
        account_id=run.account.account_id if run.account else None,
        config_path=run.config_path.value if run.config_path else None,
        started_at=run.started_at,
        ended_at=run.ended_at,
        rto_s=_seconds(run.recovery_time),
        worst_rpo_s=_seconds(run.worst_rpo),
        job_ids=run.job_ids,
        adopted_job_ids=[j.job_id for j in run.jobs if j.adopted and j.job_id],
        servers=servers,
    )


def _server(
    execution: Execution,
    run: WaveRun,
    outcome: ServerOutcome,
    checked: Mapping[str, ServerReadiness],
    names: Mapping[str, str],
) -> ServerEvidence:
    sid = outcome.source_server_id
    readiness = outcome.readiness or checked.get(sid)
    job = _job_of(run, sid)
    phases = outcome.phases
    launched = outcome.status is ServerLaunchStatus.LAUNCHED
    launch_end = phases.launch_end if phases.launch_end else phases.launch_failed
    return ServerEvidence(
        wave_name=run.wave_name,
        source_server_id=sid,
        hostname=names.get(sid) or (readiness.hostname if readiness else None),
        status=outcome.status,
        chunk_index=job.chunk_index if job else None,
        job_id=outcome.job_id or (job.job_id if job else None),
        adopted_job=bool(job and job.adopted),
        readiness=readiness,
        snapshot=_phase(phases.snapshot_start or phases.job_start, phases.snapshot_end),
        conversion=_phase(phases.conversion_start, phases.conversion_end),
        launch=_phase(
            phases.launch_start,
            launch_end,
            failed=phases.launch_end is None and phases.launch_failed is not None,
        ),
        ready_after_s=(
            seconds_between(execution.started_at, phases.launch_end) if launched else None
        ),
        recovery_snapshot_id=outcome.recovery_snapshot_id,
        recovery_point=outcome.recovery_point,
        achieved_rpo_s=outcome.achieved_rpo_s,
        recovery_instance_id=outcome.recovery_instance_id,
        ec2_instance_id=outcome.ec2_instance_id,
        skipped_reason=outcome.skipped_reason,
        error=outcome.error,
    )


def _phase(start: datetime | None, end: datetime | None, *, failed: bool = False) -> PhaseEvidence:
    return PhaseEvidence(start=start, end=end, seconds=seconds_between(start, end), failed=failed)


def _failures(execution: Execution) -> list[FailureEvidence]:
    found: list[FailureEvidence] = []

    def add(
        scope: Literal["execution", "wave", "chunk", "server", "hook"],
        error: ErrorRecord,
        **where: str | None,
    ) -> None:
        found.append(
            FailureEvidence(
                scope=scope, code=error.code, message=error.message, at=error.at, **where
            )
        )

    wave_errors = [run.error for run in execution.waves if run.error is not None]
    # The execution's error is often its failed wave's: list each error once, by its wave.
    if execution.error is not None and execution.error not in wave_errors:
        add("execution", execution.error)
    for run in execution.waves:
        if run.error is not None:
            add("wave", run.error, wave_name=run.wave_name)
        for job in run.jobs:
            if job.error is not None:
                add("chunk", job.error, wave_name=run.wave_name, job_id=job.job_id)
        for sid in run.server_ids:
            outcome = run.servers.get(sid)
            if outcome is not None and outcome.error is not None:
                add(
                    "server",
                    outcome.error,
                    wave_name=run.wave_name,
                    source_server_id=sid,
                    job_id=outcome.job_id,
                )
        for error in run.hook_errors:
            add("hook", error, wave_name=run.wave_name)
    return found
