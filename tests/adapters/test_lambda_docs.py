"""docs/lambda.md lists every operation with its route, and every metric."""

from __future__ import annotations

from pathlib import Path

from drs_orchestration.adapters.aws_lambda import METRIC_UNITS
from drs_orchestration.adapters.aws_lambda.operations import OPERATIONS

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "lambda.md").read_text()


def test_every_operation_is_documented_with_its_route_and_status() -> None:
    for op in OPERATIONS:
        assert f"| `{op.method} {op.path}` | `{op.name}` | {op.status} |" in PAGE, op.name


def test_every_metric_is_documented() -> None:
    for name in METRIC_UNITS:
        assert f"`{name}`" in PAGE, name
