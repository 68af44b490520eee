"""docs/lambda.md lists every operation with its route, status and summary, and every metric."""

from __future__ import annotations

from pathlib import Path

from drs_orchestration.adapters.aws_lambda import METRIC_UNITS
from drs_orchestration.adapters.aws_lambda.operations import OPERATIONS

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "lambda.md").read_text()


def test_the_route_table_lists_every_operation_in_order_as_the_code_describes_it() -> None:
    documented = [line for line in PAGE.splitlines() if line.startswith("| `") and " /" in line]
    expected = [
        f"| `{op.method} {op.path}` | `{op.name}` | {op.status} | {op.summary.replace('``', '`')} |"
        for op in OPERATIONS
    ]
    assert documented == expected


def test_every_metric_is_documented() -> None:
    for name in METRIC_UNITS:
        assert f"`{name}`" in PAGE, name
