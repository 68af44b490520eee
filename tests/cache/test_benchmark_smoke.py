"""The cache benchmark still runs (tiny sizes, no timing asserted: benchmarks are not tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "recovery_instance_cache.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("recovery_instance_cache_benchmark", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_measures_what_it_reports() -> None:
    benchmark = _load()

    (reads,) = benchmark.measure_reads(records=150, sizes=[120], repeats=1)
    sync = benchmark.measure_sync(total=6, latency=0.001, repeats=1)

    assert (reads["cache_calls"], reads["baseline_calls"], reads["target_calls"]) == (2, 120, 2)
    assert sync["instances"] == 6
    # Per region: one page of recovery instances, one of source servers, one of jobs, one EC2.
    assert sync["calls"] == 12
