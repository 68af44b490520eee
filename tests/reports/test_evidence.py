"""The drill evidence report: every number comes from the execution record, in every form."""

from __future__ import annotations

import base64
import io
import json
import re
import sys
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from drs_orchestration.models import Execution, ServerLaunchStatus
from drs_orchestration.reports import EvidenceReport, MissingExtraError, evidence
from drs_orchestration.reports.page import CHART_MISSING
from tests.reports.helpers import Finished, drill_with_a_failed_launch, recovery_of_a_lost_site


@pytest.fixture(scope="module")
def drill() -> Finished:
    return drill_with_a_failed_launch()


@pytest.fixture(scope="module")
def recovery() -> Finished:
    return recovery_of_a_lost_site()


def _report(finished: Finished) -> EvidenceReport:
    return evidence(finished.execution, plan=finished.plan, readiness=finished.preflight)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def expected_numbers(finished: Finished) -> dict[str, float]:
    """Every number the JSON must hold, computed here from the records, by its dotted path."""
    ex: Execution = finished.execution
    assert ex.started_at is not None
    statuses = [o.status for o in ex.outcomes().values()]
    found: dict[str, float | None] = {
        "planVersion": ex.plan_version,
        "currentPlanVersion": finished.plan.version,
        "durationS": _seconds(ex.started_at, ex.ended_at),
        "rtoS": ex.recovery_time.total_seconds() if ex.recovery_time is not None else None,
        "worstRpoS": ex.worst_rpo.total_seconds() if ex.worst_rpo is not None else None,
        "serversTotal": len(statuses),
        "serversLaunched": statuses.count(ServerLaunchStatus.LAUNCHED),
        "serversFailed": statuses.count(ServerLaunchStatus.FAILED)
        + statuses.count(ServerLaunchStatus.TERMINATED),
        "serversSkipped": statuses.count(ServerLaunchStatus.SKIPPED),
    }
    for i, run in enumerate(ex.waves):
        w = f"waves.{i}"
        found[f"{w}.rtoS"] = (
            run.recovery_time.total_seconds() if run.recovery_time is not None else None
        )
        found[f"{w}.worstRpoS"] = (
            run.worst_rpo.total_seconds() if run.worst_rpo is not None else None
        )
        for j, sid in enumerate(run.server_ids):
            outcome, s = run.servers[sid], f"{w}.servers.{j}"
            ph = outcome.phases
            chunks = [job.chunk_index for job in run.jobs if sid in job.server_ids]
            found[f"{s}.chunkIndex"] = chunks[0] if chunks else None
            found[f"{s}.readiness.lagS"] = outcome.readiness.lag_s if outcome.readiness else None
            found[f"{s}.snapshot.seconds"] = _seconds(
                ph.snapshot_start or ph.job_start, ph.snapshot_end
            )
            found[f"{s}.conversion.seconds"] = _seconds(ph.conversion_start, ph.conversion_end)
            found[f"{s}.launch.seconds"] = _seconds(
                ph.launch_start, ph.launch_end or ph.launch_failed
            )
            launched = outcome.status is ServerLaunchStatus.LAUNCHED
            found[f"{s}.readyAfterS"] = _seconds(ex.started_at, ph.launch_end) if launched else None
            found[f"{s}.achievedRpoS"] = outcome.achieved_rpo_s
    for k, wave in enumerate(finished.preflight.waves):
        for m, server in enumerate(wave.servers):
            found[f"preflight.waves.{k}.servers.{m}.lagS"] = server.lag_s
    return {path: value for path, value in found.items() if value is not None}


def numbers(value: Any, path: str = "") -> dict[str, float]:
    """Every number (not bool) in a JSON document, by dotted path."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return {}
    if isinstance(value, int | float):
        return {path: value}
    items = value.items() if isinstance(value, dict) else enumerate(value)
    found: dict[str, float] = {}
    for key, item in items:
        found.update(numbers(item, f"{path}.{key}" if path else str(key)))
    return found


class _Cells(HTMLParser):
    """``data-path`` → ``data-value`` of every cell, plus images and external references."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.images: list[str] = []
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.add(tag)
        if "data-path" in found:
            self.values[found["data-path"] or ""] = found.get("data-value") or ""
        if tag == "img":
            self.images.append(found.get("src") or "")
        for name in ("src", "href"):
            ref = found.get(name) or ""
            if ref and not ref.startswith(("data:", "#")):
                self.external.append(ref)


def cells(page: str) -> _Cells:
    parser = _Cells()
    parser.feed(page)
    return parser


@pytest.mark.parametrize("which", ["drill", "recovery"])
def test_every_number_in_the_json_is_the_execution_records(
    which: str, request: pytest.FixtureRequest
) -> None:
    finished: Finished = request.getfixturevalue(which)
    document = json.loads(_report(finished).to_json())

    expected = expected_numbers(finished)
    assert numbers(document).keys() == expected.keys()
    for path, value in numbers(document).items():
        assert value == pytest.approx(expected[path], abs=0.0005), path


def test_the_drill_report_names_the_plan_the_operator_and_the_failure(drill: Finished) -> None:
    document = json.loads(_report(drill).to_json())
    ex = drill.execution

    assert document["executionType"] == "DRILL"
    assert document["status"] == ex.status.value == "PARTIAL"
    assert (document["planId"], document["planName"]) == (ex.plan_id, ex.plan_name)
    assert document["startedBy"] == "auditor@example.com"
    assert document["startedAt"] == ex.started_at.isoformat().replace("+00:00", "Z")
    assert document["serversFailed"] == 1
    failure = next(f for f in document["failures"] if f["scope"] == "server")
    failed_outcome = ex.outcomes()[drill.failed_server]
    assert failed_outcome.error is not None
    assert failure["sourceServerId"] == drill.failed_server
    assert failure["message"] == failed_outcome.error.message
    assert "InsufficientInstanceCapacity" in failure["message"]
    servers = {s["sourceServerId"]: s for w in document["waves"] for s in w["servers"]}
    assert servers[drill.failed_server]["launch"]["failed"] is True
    assert servers[drill.failed_server]["recoveryInstanceId"] is None
    for sid, outcome in ex.outcomes().items():
        assert servers[sid]["recoveryInstanceId"] == outcome.recovery_instance_id
        assert servers[sid]["ec2InstanceId"] == outcome.ec2_instance_id
        assert servers[sid]["readiness"]["state"] == "CONTINUOUS"
        assert servers[sid]["hostname"] == (
            outcome.readiness.hostname if outcome.readiness else None
        )


def test_a_recovery_report_carries_the_recovery_points_and_the_server_left_out(
    recovery: Finished,
) -> None:
    document = json.loads(_report(recovery).to_json())

    assert document["executionType"] == "RECOVERY"
    assert document["worstRpoS"] > 600  # launched from points taken before the outage
    servers = {s["sourceServerId"]: s for w in document["waves"] for s in w["servers"]}
    assert servers[recovery.failed_server]["status"] == "SKIPPED"
    assert "no recovery point" in servers[recovery.failed_server]["skippedReason"]
    for sid, outcome in recovery.execution.outcomes().items():
        if outcome.recovery_point is not None:
            assert servers[sid]["recoveryPoint"] == outcome.recovery_point.isoformat().replace(
                "+00:00", "Z"
            )
    markdown = _report(recovery).to_markdown()
    assert "# Recovery evidence" in markdown
    assert "no recovery point" in markdown


@pytest.mark.parametrize("which", ["drill", "recovery"])
def test_the_html_page_holds_every_number_of_the_json(
    which: str, request: pytest.FixtureRequest
) -> None:
    finished: Finished = request.getfixturevalue(which)
    report = _report(finished)
    document = json.loads(report.to_json())
    page = cells(report.to_html(chart=None))

    for path, value in numbers(document).items():
        assert path in page.values, f"{path} is not on the page"
        assert json.loads(page.values[path]) == value, path
    for server in report.servers():
        prefix = next(
            p
            for p, v in page.values.items()
            if p.startswith("waves.") and json.loads(v) == server.source_server_id
        )
        base = prefix.rsplit(".", 1)[0]
        assert json.loads(page.values[f"{base}.status"]) == server.status.value
        assert json.loads(page.values[f"{base}.recoveryInstanceId"]) == server.recovery_instance_id


def test_the_page_is_one_self_contained_file_with_a_drawn_chart(drill: Finished) -> None:
    from matplotlib import image

    page_text = _report(drill).to_html()
    page = cells(page_text)

    assert page.external == []
    assert not {"script", "link", "iframe"} & page.tags
    assert "@import" not in page_text
    assert "url(" not in page_text
    [src] = page.images
    assert src.startswith("data:image/png;base64,")
    png = base64.b64decode(src.split(",", 1)[1])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 15_000
    pixels = image.imread(io.BytesIO(png), format="png")
    height, width = pixels.shape[:2]
    assert width >= 800
    assert height >= 300
    # The bars are drawn: a good share of the picture is neither white nor grey.
    rgb = pixels[..., :3]
    coloured = ((rgb.max(axis=2) - rgb.min(axis=2)) > 0.25).mean()
    assert coloured > 0.05
    # The failed launch is drawn in the failed colour (#ef4444).
    red = (abs(rgb[..., 0] - 0xEF / 255) < 0.02) & (abs(rgb[..., 1] - 0x44 / 255) < 0.02)
    assert red.sum() > 200
    for text in (drill.execution.execution_id, drill.execution.plan_name, "auditor@example.com"):
        assert text in page_text


def test_the_chart_comes_as_svg_on_request(drill: Finished, tmp_path: Path) -> None:
    report = _report(drill)

    page = report.to_html(chart="svg")
    written = report.write(tmp_path / "timeline.svg")

    assert "<svg" in page
    assert "data:image/png" not in page
    svg = written.read_text()
    assert svg.startswith("<?xml")
    assert svg.count("<path") > 20
    assert report.timeline_svg() == svg  # deterministic: no date, fixed ids


def test_without_matplotlib_the_page_says_what_to_install(
    drill: Finished, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    report = _report(drill)

    page = report.to_html()

    assert CHART_MISSING in page.replace("&quot;", '"')
    assert 'pip install "drs-orchestration[report]"' in CHART_MISSING
    assert "data:image/png" not in page
    with pytest.raises(MissingExtraError, match=re.escape("drs-orchestration[report]")):
        report.timeline_png()
    assert issubclass(MissingExtraError, ImportError)


def test_write_picks_the_format_from_the_suffix(drill: Finished, tmp_path: Path) -> None:
    report = _report(drill)

    html = report.write(tmp_path / "evidence.html").read_text()
    markdown = report.write(tmp_path / "evidence.md").read_text()
    document = json.loads(report.write(tmp_path / "evidence.json").read_text())
    png = report.write(tmp_path / "chart.out", format="png").read_bytes()

    assert html.startswith("<!DOCTYPE html>")
    assert markdown.startswith("# Drill evidence: three-tier")
    assert document["executionId"] == drill.execution.execution_id
    assert png.startswith(b"\x89PNG")
    with pytest.raises(ValueError, match=r"'pdf'.*html, md, json, png, svg"):
        report.write(tmp_path / "evidence.pdf")


def test_markdown_lists_every_server_phase_and_failure(drill: Finished) -> None:
    report = _report(drill)
    markdown = report.to_markdown()

    for server in report.servers():
        row = next(line for line in markdown.splitlines() if server.source_server_id in line)
        assert server.status.value in row
        assert (server.recovery_instance_id or "-") in row
    for failure in report.failures:
        assert failure.message in markdown
    assert "## Preflight before the start" in markdown
    assert "failed |" in markdown  # the failed launch phase


def test_each_error_is_listed_once_under_its_wave(drill: Finished) -> None:
    ex = drill.execution
    failed = ex.model_copy(deep=True)
    run = failed.waves[1]
    run.error = run.servers[drill.failed_server].error
    failed.error = run.error

    found = evidence(failed).failures

    assert [f.scope for f in found].count("execution") == 0
    assert [(f.scope, f.wave_name) for f in found if f.scope == "wave"] == [("wave", "app")]


def test_adopted_jobs_are_named(drill: Finished) -> None:
    ex = drill.execution.model_copy(deep=True)
    job = ex.waves[0].jobs[0]
    job.adopted = True

    report = evidence(ex)

    assert report.waves[0].adopted_job_ids == [job.job_id]
    assert all(s.adopted_job for s in report.waves[0].servers)
    assert "(adopted)" in report.to_html(chart=None)
    assert f"adopted: {job.job_id}" in report.to_markdown()


def test_importing_the_reports_loads_neither_matplotlib_nor_pandas() -> None:
    import subprocess

    code = (
        "import sys, drs_orchestration, drs_orchestration.reports;"
        "print(sorted(m for m in ('matplotlib', 'pandas') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_an_execution_that_launched_nothing_yet_still_reports() -> None:
    from tests.waves.helpers import make_drill, simulated

    with simulated() as sim:
        drill = make_drill(sim, {"database": 2})
        started = drill.start(started_by="early-bird")

    report = evidence(started)

    assert report.status == "PENDING"
    assert report.rto_s is None
    assert (report.servers_total, report.servers_launched) == (2, 0)
    assert {s.status.value for s in report.servers()} == {"NOT_STARTED"}
    assert json.loads(report.to_json())["startedBy"] == "early-bird"
    assert '<figure id="timeline">' in report.to_html()
    assert report.to_markdown().startswith("# Drill evidence")


def test_the_evidence_report_shows_itself_in_a_notebook_in_its_own_frame(drill: Finished) -> None:
    fragment = _report(drill)._repr_html_()

    assert fragment.startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;')
    assert "<style>" not in fragment  # the page's style sheet stays inside the frame
