"""The wave executor benchmark stays runnable (tiny sizes; the numbers are not checked here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "wave_executor.py"


def test_benchmark_runs_with_tiny_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("wave_executor_benchmark", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    module.main(["--waves", "2", "--servers", "6", "--latency", "0", "--latency-servers", "3"])

    out = capsys.readouterr().out
    assert "2 waves x 3 servers, no latency (COMPLETED)" in out
    assert "fast path vs seeds' path" in out
