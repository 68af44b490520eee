"""The documented quickstart runs, and the public API is exactly ``__all__``."""

from __future__ import annotations

import logging
import runpy
from pathlib import Path

import pytest

from drs_orchestration import testing
from drs_orchestration.aws import ClientFactory
from drs_orchestration.testing import SimulatedClientFactory

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "simulator_quickstart.py"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def test_the_quickstart_recovers_two_running_instances(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        namespace = runpy.run_path(str(EXAMPLE), run_name="__main__")
    states = namespace["run_quickstart"]()
    assert list(states.values()) == ["running", "running"]
    assert sum("is running in EC2" in r.getMessage() for r in caplog.records) == 2


def test_the_docs_embed_the_quickstart_verbatim() -> None:
    marker = "<!-- example: examples/simulator_quickstart.py -->\n```python\n"
    docs = DOCS.read_text()
    start = docs.index(marker) + len(marker)
    assert docs[start : docs.index("```", start)] == EXAMPLE.read_text()


def test_public_api() -> None:
    assert sorted(testing.__all__) == [
        "CallLog",
        "CallRecord",
        "Credentials",
        "DrsSimulator",
        "FaultPlan",
        "JobTimings",
        "Nic",
        "Quotas",
        "SimulatedClientFactory",
        "SimulatedClock",
        "SimulatorBug",
        "active_simulator",
        "mock_drs",
        "patch_client",
    ]
    assert all(hasattr(testing, name) for name in testing.__all__)


def test_the_factory_is_a_client_factory() -> None:
    assert isinstance(SimulatedClientFactory(), ClientFactory)
