"""Plans of any size are checked and ordered in linear time, and oversized input is refused."""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drs_orchestration.errors import ValidationError
from drs_orchestration.models import RecoveryPlan, Wave, WaveRun
from drs_orchestration.models.base import MAX_TIMEOUT_S
from drs_orchestration.models.plans import (
    MAX_SERVERS_PER_WAVE,
    MAX_WAVES_PER_PLAN,
    check_wave_inputs,
    find_cycle,
)
from tests.ids import server_id


def _wave(i: int, *, depends_on: list[int] | None = None, order: int | None = None) -> Wave:
    return Wave(
        name=f"w{i}",
        server_ids=[server_id(i)],
        depends_on=[f"w{d}" for d in depends_on or []],
        order=order,
    )


def _chain(n: int) -> list[dict[str, Any]]:
    """``n`` waves, each depending on the one before (the issue's 1,500-wave chain)."""
    return [
        {"name": f"w{i}", "serverIds": [server_id(i)], "dependsOn": [f"w{i - 1}"] if i else []}
        for i in range(n)
    ]


def _timed(plan: RecoveryPlan) -> tuple[list[Wave], float]:
    """The order and the best of three timings (a loaded machine pauses now and then)."""
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        ordered = plan.ordered_waves()
        best = min(best, time.perf_counter() - started)
    return ordered, best


class TestCaps:
    def test_a_plan_at_the_cap_is_accepted_and_ordered(self) -> None:
        plan = RecoveryPlan.parse({"name": "big", "waves": list(reversed(_chain(1000)))})
        assert [w.name for w in plan.ordered_waves()] == [f"w{i}" for i in range(1000)]

    def test_a_long_chain_is_a_validation_error_not_a_recursion_error(self) -> None:
        with pytest.raises(ValidationError) as err:
            RecoveryPlan.parse({"name": "huge", "waves": _chain(1500)})
        (problem,) = err.value.problems
        assert problem["field"] == "waves"
        assert problem["value"] == 1500
        assert str(MAX_WAVES_PER_PLAN) in problem["message"]

    def test_servers_per_wave_are_capped(self) -> None:
        ids = [server_id(i) for i in range(MAX_SERVERS_PER_WAVE + 1)]
        with pytest.raises(ValidationError) as err:
            Wave.parse({"name": "w", "serverIds": ids})
        (problem,) = err.value.problems
        assert problem["field"] == "serverIds"
        assert problem["value"] == MAX_SERVERS_PER_WAVE + 1
        assert Wave.parse({"name": "w", "serverIds": ids[:MAX_SERVERS_PER_WAVE]}).server_ids

    @pytest.mark.parametrize("timeout", [0, -1, MAX_TIMEOUT_S + 1, 10**12])
    def test_wave_timeouts_are_bounded(self, timeout: int) -> None:
        with pytest.raises(ValidationError) as err:
            Wave.parse({"name": "w", "serverIds": [server_id(1)], "timeoutS": timeout})
        assert err.value.problems[0]["field"] == "timeoutS"
        assert err.value.problems[0]["value"] == timeout
        with pytest.raises(ValidationError) as run_err:
            WaveRun.parse({"waveName": "w", "region": "us-east-1", "timeoutS": timeout})
        assert run_err.value.problems[0]["field"] == "timeoutS"

    def test_a_week_is_the_longest_timeout(self) -> None:
        wave = Wave.parse({"name": "w", "serverIds": [server_id(1)], "timeoutS": MAX_TIMEOUT_S})
        assert wave.timeout_s == 7 * 24 * 3600

    @pytest.mark.parametrize("waves", [None, "w1", {"name": "w"}, 3])
    def test_waves_that_are_not_a_list_are_a_validation_error(self, waves: object) -> None:
        with pytest.raises(ValidationError) as err:
            RecoveryPlan.parse({"name": "p", "waves": waves})
        assert err.value.problems[0]["field"].startswith("waves")
        with pytest.raises(ValidationError) as helper_err:
            check_wave_inputs(waves)
        assert helper_err.value.problems[0]["field"] == "waves"

    def test_wave_inputs_helper_bounds_the_list(self) -> None:
        assert check_wave_inputs(({"name": "w"},)) == [{"name": "w"}]
        with pytest.raises(ValidationError, match="at least one wave"):
            check_wave_inputs([])
        with pytest.raises(ValidationError) as err:
            check_wave_inputs([{}] * (MAX_WAVES_PER_PLAN + 1))
        assert err.value.problems[0]["value"] == MAX_WAVES_PER_PLAN + 1


class TestScale:
    def test_cycle_detection_needs_no_recursion(self) -> None:
        n = 100_000
        chain = {f"w{i}": [f"w{i - 1}"] if i else [] for i in range(n)}
        assert find_cycle(chain) is None
        chain["w0"] = [f"w{n - 1}"]
        cycle = find_cycle(chain)
        assert cycle is not None
        assert len(cycle) == n + 1
        assert cycle[0] == cycle[-1]

    def test_ten_thousand_waves_order_well_under_a_second(self) -> None:
        n = 10_000
        # Built without validation: plans are capped far lower, the algorithm is not.
        waves = [
            _wave(i, depends_on=[d for d in (i - 1, i - 2) if d >= 0], order=n - i)
            for i in range(n)
        ]
        plan = RecoveryPlan.model_construct(name="p", waves=waves)
        ordered, elapsed = _timed(plan)
        assert [w.name for w in ordered] == [f"w{i}" for i in range(n)]
        assert elapsed < 0.5, f"{elapsed:.3f} s"

    def test_ten_thousand_independent_waves_follow_order(self) -> None:
        n = 10_000
        waves = [_wave(i, order=(i * 7919) % n) for i in range(n)]
        plan = RecoveryPlan.model_construct(name="p", waves=waves)
        ordered, elapsed = _timed(plan)
        assert elapsed < 0.5, f"{elapsed:.3f} s"
        assert [w.order for w in ordered] == list(range(n))

    def test_ordering_a_cyclic_plan_built_without_validation_names_the_cycle(self) -> None:
        plan = RecoveryPlan.model_construct(
            name="p", waves=[_wave(0, depends_on=[1]), _wave(1, depends_on=[0])]
        )
        with pytest.raises(ValidationError, match="dependency cycle: w0 -> w1 -> w0"):
            plan.ordered_waves()


# ---- properties against brute force on small graphs ------------------------------------


@st.composite
def _graphs(draw: st.DrawFn) -> tuple[list[list[int]], list[int | None]]:
    """Dependencies (indices, any direction, so cycles happen) and optional unique orders."""
    n = draw(st.integers(min_value=1, max_value=6))
    deps = [
        draw(st.lists(st.sampled_from([j for j in range(n) if j != i]), unique=True))
        if n > 1
        else []
        for i in range(n)
    ]
    orders = draw(
        st.lists(st.none() | st.integers(-3, 8), min_size=n, max_size=n).filter(
            lambda os: (
                len([o for o in os if o is not None]) == len({o for o in os if o is not None})
            )
        )
    )
    return deps, orders


def _is_topological(perm: tuple[int, ...], deps: list[list[int]]) -> bool:
    seen: set[int] = set()
    for i in perm:
        if not set(deps[i]) <= seen:
            return False
        seen.add(i)
    return True


def _key(i: int, orders: list[int | None]) -> tuple[int, int]:
    order = orders[i]
    return (order if order is not None else i, i)


@given(graph=_graphs())
def test_ordered_waves_is_the_first_topological_order_by_order_then_position(
    graph: tuple[list[list[int]], list[int | None]],
) -> None:
    deps, orders = graph
    n = len(deps)
    valid = [p for p in itertools.permutations(range(n)) if _is_topological(p, deps)]
    data = {
        "name": "p",
        "waves": [
            {
                "name": f"w{i}",
                "serverIds": [server_id(i)],
                "dependsOn": [f"w{d}" for d in deps[i]],
                "order": orders[i],
            }
            for i in range(n)
        ],
    }
    if not valid:
        with pytest.raises(ValidationError, match="dependency cycle"):
            RecoveryPlan.parse(data)
        return
    # At each step the ready wave with the lowest (order, position) goes first: that is
    # the topological order whose sequence of keys is lexicographically smallest.
    expected = min(valid, key=lambda p: [_key(i, orders) for i in p])
    plan = RecoveryPlan.parse(data)
    assert [w.name for w in plan.ordered_waves()] == [f"w{i}" for i in expected]


@given(graph=_graphs())
def test_find_cycle_finds_a_real_cycle_iff_there_is_one(
    graph: tuple[list[list[int]], list[int | None]],
) -> None:
    deps, _ = graph
    n = len(deps)
    acyclic = any(_is_topological(p, deps) for p in itertools.permutations(range(n)))
    cycle = find_cycle({f"w{i}": [f"w{d}" for d in deps[i]] for i in range(n)})
    assert (cycle is None) == acyclic
    if cycle is not None:
        assert cycle[0] == cycle[-1]
        assert len(set(cycle[:-1])) == len(cycle) - 1, "a simple cycle"
        for a, b in itertools.pairwise(cycle):
            assert int(b[1:]) in deps[int(a[1:])], f"{a} does not depend on {b}"
