"""The wave executor benchmark stays runnable (tiny sizes; the numbers are not checked here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "wave_executor.py"


def test_benchmark_runs_with_tiny_sizes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("wave_executor_benchmark", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses resolve their annotations through the module's entry in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    markdown = tmp_path / "wave_executor.md"

    goals = module.main(
        [
            "--sizes", "1x3", "2x6",
            "--backends", "memory", "dynamodb",
            "--repeats", "1",
            "--markdown", str(markdown),
        ]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert "CPU per server per wave" in out
    assert "Storage bytes per step" in out
    assert "Inter-wave gap" in out
    # Every goal is stated with a verdict; the figures are not this test's business.
    assert goals
    assert all(f"{goal.name}: {goal.verdict}" in out for goal in goals)
    assert "| plan | driver | backend |" in markdown.read_text()
    # The growth goal is decided against the first wave run alone beside the plan.
    growth = [g for g in goals if g.name.startswith("client CPU per server per wave at 2x6")]
    assert len(growth) == 4  # two drivers, two backends
    assert all("ms beside" in g.measured for g in growth)
    assert "1 wave beside" in out
