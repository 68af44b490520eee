"""``drs_sim_options`` overridden for a whole module (as a conftest.py would for a folder)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from drs_orchestration.testing import DrsSimulator

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def drs_sim_options() -> dict[str, Any]:
    return {"start": START, "seed": 7}


def test_an_overridden_options_fixture_configures_the_simulator(drs_sim: DrsSimulator) -> None:
    assert drs_sim.now() == START


@pytest.mark.drs_sim(start=LATER)
def test_a_marker_wins_over_the_options_fixture(drs_sim: DrsSimulator) -> None:
    assert drs_sim.now() == LATER


@pytest.mark.drs_sim("positional")
def test_a_marker_takes_keyword_arguments_only(request: pytest.FixtureRequest) -> None:
    with pytest.raises(TypeError, match="keyword arguments only"):
        request.getfixturevalue("drs_sim")
