"""Notebook views: compact HTML tables with status colours, DataFrames, and a short repr."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest

from drs_orchestration.models import (
    CacheLookup,
    Execution,
    LaunchConfigStatus,
    PlanReadiness,
    ProtectionGroup,
    RecoveryPlan,
    ServerLaunchStatus,
)
from drs_orchestration.reports import MissingExtraError
from drs_orchestration.reports._format import status_colours
from drs_orchestration.reports.frames import EXECUTION_COLUMNS
from drs_orchestration.services import DriftReport
from drs_orchestration.services.cache import RecoveryInstanceCache
from tests.waves.helpers import make_drill, simulated


@dataclass
class Objects:
    execution: Execution
    group: ProtectionGroup
    plan: RecoveryPlan
    drift: DriftReport
    lookup: CacheLookup
    readiness: PlanReadiness
    cache_frame: Any
    failed: str
    unknown: str


@pytest.fixture(scope="module")
def objects() -> Objects:
    with simulated() as sim:
        drill = make_drill(
            sim, {"database": 2, "app": 2}, failure_policy="continue", sync_cache=True
        )
        failed = drill.servers["app"][0]
        sim.faults.fail_launch(failed)
        readiness = drill.orch.waves.preflight(drill.plan.plan_id, drill=True)
        execution = drill.run(drill.start(started_by="nb"))
        group_id = drill.plan.waves[0].protection_group_ids[0]
        group = drill.orch.groups.get(group_id)
        drift = drill.orch.launch_configs.detect_drift(group_id, remote=True)
        unknown = "s-0000000000000000f"
        lookup = drill.orch.cache.get([*drill.servers["database"], unknown])
        frame = drill.orch.cache.to_dataframe(execution_id=execution.execution_id)
        return Objects(
            execution=execution,
            group=group,
            plan=drill.orch.plans.get(drill.plan.plan_id),
            drift=drift,
            lookup=lookup,
            readiness=readiness,
            cache_frame=frame,
            failed=failed,
            unknown=unknown,
        )


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.styles: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.styles.extend(v or "" for k, v in attrs if k == "style")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(fragment: str) -> _Html:
    parser = _Html()
    parser.feed(fragment)
    parser.close()
    return parser


def colour_of(status: str) -> str:
    text, background = status_colours(status)
    return f"color:{text};background:{background}"


def has_colour(html: _Html, status: str) -> bool:
    return any(colour_of(status) in style for style in html.styles)


def _views(o: Objects) -> dict[str, Any]:
    return {
        "execution": o.execution,
        "wave": o.execution.waves[1],
        "group": o.group,
        "status": o.group.launch_config_status,
        "plan": o.plan,
        "drift": o.drift,
        "lookup": o.lookup,
        "readiness": o.readiness,
    }


@pytest.mark.parametrize(
    "name", ["execution", "wave", "group", "status", "plan", "drift", "lookup", "readiness"]
)
def test_every_view_is_a_table_not_the_repr(objects: Objects, name: str) -> None:
    value = _views(objects)[name]

    fragment = value._repr_html_()
    html = parse(fragment)

    assert "table" in html.tags
    assert "style" not in html.tags  # inline styles only: nothing leaks into the notebook
    assert "script" not in html.tags
    assert repr(value)[:40] not in fragment
    assert len(fragment) < 60_000


def test_the_execution_view_colours_each_status_and_names_the_failure(objects: Objects) -> None:
    ex = objects.execution
    html = parse(ex._repr_html_())
    text = " ".join(html.text)

    assert ex.execution_id in text
    assert has_colour(html, "PARTIAL")  # the execution and the app wave
    assert has_colour(html, "LAUNCHED")
    assert has_colour(html, "FAILED")
    error = ex.outcomes()[objects.failed].error
    assert error is not None
    assert error.message in text
    for run in ex.waves:
        assert run.wave_name in text
        for job_id in run.job_ids:
            assert job_id in text


def test_the_other_views_show_what_matters(objects: Objects) -> None:
    group_text = " ".join(parse(objects.group._repr_html_()).text)
    assert objects.group.name in group_text
    assert all(sid in group_text for sid in objects.group.source_server_ids)
    assert "ready" in group_text

    plan_text = " ".join(parse(objects.plan._repr_html_()).text)
    assert [w.name for w in objects.plan.ordered_waves()] == ["database", "app"]
    assert plan_text.index("database") < plan_text.index("app")

    drift = parse(objects.drift._repr_html_())
    assert "in sync" in " ".join(drift.text)
    assert has_colour(drift, "OK")

    lookup = parse(objects.lookup._repr_html_())
    lookup_text = " ".join(lookup.text)
    assert objects.unknown in lookup_text
    assert has_colour(lookup, "MISS")
    assert all(r.recovery_instance_id in lookup_text for r in objects.lookup.records.values())

    readiness = parse(objects.readiness._repr_html_())
    assert has_colour(readiness, "READY")
    assert "CONTINUOUS" in " ".join(readiness.text)


def test_a_launch_config_status_lists_failed_servers_in_red() -> None:
    from datetime import UTC, datetime

    status = LaunchConfigStatus.parse(
        {
            "status": "partial",
            "lastApplied": datetime(2026, 1, 1, tzinfo=UTC),
            "serverConfigs": {
                "s-0123456789abcdef0": {"status": "failed", "errors": ["AccessDenied: nope"]}
            },
        }
    )

    html = parse(status._repr_html_())

    assert has_colour(html, "failed")
    assert has_colour(html, "partial")
    assert "AccessDenied: nope" in " ".join(html.text)


def test_the_execution_repr_is_one_short_line(objects: Objects) -> None:
    ex = objects.execution

    text = repr(ex)

    assert len(text) < 200
    assert "\n" not in text
    assert text.startswith(f"Execution({ex.execution_id}, plan='three-tier'")
    assert "PARTIAL" in text
    assert "1 failed" in text
    assert "3 launched" in text


def test_to_dataframe_has_a_row_per_server_with_the_records_numbers(objects: Objects) -> None:
    ex = objects.execution

    frame = ex.to_dataframe()

    assert list(frame.columns) == list(EXECUTION_COLUMNS)
    assert len(frame) == len(ex.outcomes())
    assert ex.started_at is not None
    for row in frame.itertuples():
        outcome = ex.outcomes()[row.source_server_id]
        run = ex.wave_run(row.wave)
        job = next(j for j in run.jobs if row.source_server_id in j.server_ids)
        assert row.chunk == job.chunk_index
        assert row.job_id == outcome.job_id
        assert row.status == outcome.status.value
        phases = outcome.phases
        assert phases.snapshot_end is not None
        assert row.snapshot_end.to_pydatetime() == phases.snapshot_end
        assert row.rpo_s == outcome.achieved_rpo_s
        if outcome.status is ServerLaunchStatus.LAUNCHED:
            assert phases.launch_end is not None
            assert row.rto_s == pytest.approx((phases.launch_end - ex.started_at).total_seconds())
            assert row.ec2_instance_id == outcome.ec2_instance_id
        else:
            assert row.error == (outcome.error.message if outcome.error else None)
    assert str(frame["launch_start"].dtype).startswith("datetime64")
    assert frame.groupby("wave")["rto_s"].max()["database"] == pytest.approx(
        ex.wave_run("database").recovery_time.total_seconds()  # type: ignore[union-attr]
    )


def test_the_cache_frame_holds_the_executions_instances(objects: Objects) -> None:
    frame = objects.cache_frame
    launched = {
        sid: o
        for sid, o in objects.execution.outcomes().items()
        if o.status is ServerLaunchStatus.LAUNCHED
    }

    assert set(frame["source_server_id"]) == set(launched)
    for row in frame.itertuples():
        assert row.recovery_instance_id == launched[row.source_server_id].recovery_instance_id
        assert row.source_execution_id == objects.execution.execution_id
    assert str(frame["last_synced"].dtype).startswith("datetime64")


def test_the_cache_frame_takes_one_filter_at_a_time() -> None:
    from drs_orchestration import MemoryStorage, ValidationError
    from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory

    cache = RecoveryInstanceCache(MemoryStorage(), SimulatedClientFactory(DrsSimulator()))

    assert cache.to_dataframe().empty
    assert cache.to_dataframe(["s-0123456789abcdef0"]).empty
    with pytest.raises(ValidationError, match="not both"):
        cache.to_dataframe(["s-0123456789abcdef0"], execution_id="ex-00000000000000000000")


def test_without_pandas_the_error_names_the_extra(
    objects: Objects, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)

    with pytest.raises(ImportError, match=r'pip install "drs-orchestration\[notebook\]"') as info:
        objects.execution.to_dataframe()

    assert isinstance(info.value, MissingExtraError)
    assert "Execution.to_dataframe()" in str(info.value)
