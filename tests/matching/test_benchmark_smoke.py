"""The matching benchmark still runs (tiny sizes, no timing asserted: benchmarks are not tests)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "instance_matcher.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("instance_matcher_benchmark", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses resolve their annotations through the module's entry in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_measures_what_it_reports() -> None:
    benchmark = _load()

    result = benchmark.measure(sources=400, targets=420, naive_size=100, repeats=1)

    assert result["pairs"] + result["ambiguous"] + result["unmatched"] == 400
    assert result["pairs"] > 300
    assert result["naive_full_s"] == pytest.approx(result["naive_small_s"] * 16.8)


def test_the_naive_baseline_pairs_what_the_name_rule_pairs() -> None:
    benchmark = _load()
    inputs = benchmark.build(300, 300)
    without_other_rules = benchmark.Inputs(
        inputs.sources,
        inputs.targets,
        inputs.rules.model_copy(update={"explicit_pairs": {}, "original_instance": False}),
    )
    library = benchmark.pair_instances(
        without_other_rules.sources, without_other_rules.targets, without_other_rules.rules
    )
    # Without explicit pairs and original instances (the inputs' own instances are never
    # targets), both pair exactly the names that are unique on both sides.
    assert benchmark.naive_pairs(without_other_rules) == len(library.pairs)
