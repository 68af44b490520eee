"""A minimal Amazon States Language interpreter for the states the driver uses, and graph checks.

It runs a definition the way Step Functions would for the features used:
``Task`` (``lambda:invoke`` of the adapter's handler in-process, and
``events:putEvents.waitForTaskToken`` answered by a callback), ``Choice``
(``Variable`` with ``NumericEquals``, ``StringEquals``, ``BooleanEquals``,
``IsPresent``, and ``And``/``Or``/``Not``), ``Wait`` (advancing the
simulator's clock), ``Pass``, ``Succeed`` and ``Fail``; ``Parameters`` and
``ResultSelector`` with ``.$`` paths, ``ResultPath``, ``Retry`` and ``Catch``.
Anything else raises, so the test fails if the definition grows a feature
this interpreter would silently misread.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


class TaskError(Exception):
    """A task failed with an ASL error name (``Lambda.ServiceException``...)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def read_path(data: Any, path: str, context: dict[str, Any]) -> Any:
    if path.startswith("$$."):
        data, path = context, path[1:]
    if path == "$":
        return data
    assert path.startswith("$."), path
    for part in path[2:].split("."):
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def resolve(template: Any, data: Any, context: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                found = read_path(data, value, context)
                assert found is not _MISSING, f"path {value} not found"
                out[key[:-2]] = found
            else:
                out[key] = resolve(value, data, context)
        return out
    if isinstance(template, list):
        return [resolve(v, data, context) for v in template]
    return template


def write_path(data: Any, path: str | None, result: Any) -> Any:
    if path is None:
        return data
    if path == "$":
        return result
    data = copy.deepcopy(data)
    target = data
    parts = path[2:].split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = result
    return data


def matches(rule: dict[str, Any], data: Any, context: dict[str, Any]) -> bool:
    if "And" in rule:
        return all(matches(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(matches(r, data, context) for r in rule["Or"])
    if "Not" in rule:
        return not matches(rule["Not"], data, context)
    value = read_path(data, rule["Variable"], context)
    if "IsPresent" in rule:
        return (value is not _MISSING) == rule["IsPresent"]
    assert value is not _MISSING, f"Choice on a missing path {rule['Variable']} (States.Runtime)"
    for test, expected in rule.items():
        if test == "NumericEquals":
            return isinstance(value, int | float) and value == expected
        if test == "StringEquals":
            return isinstance(value, str) and value == expected
        if test == "BooleanEquals":
            return isinstance(value, bool) and value == expected
    raise AssertionError(f"unsupported choice rule {rule}")


@dataclass
class Run:
    """The outcome of interpreting a definition."""

    status: str  # SUCCEEDED or FAILED
    output: Any
    error: str | None
    visited: list[str] = field(default_factory=list)
    invocations: int = 0
    waited_s: float = 0


def interpret(
    definition: dict[str, Any],
    state_input: dict[str, Any],
    *,
    invoke: Callable[[dict[str, Any]], dict[str, Any]],
    wait: Callable[[float], None],
    answer_pause: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    max_transitions: int = 5_000,
) -> Run:
    states = definition["States"]
    name = definition["StartAt"]
    data: Any = copy.deepcopy(state_input)
    run = Run(status="RUNNING", output=None, error=None)
    context: dict[str, Any] = {"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:"
                                             "execution:drs-driver:test"}}  # fmt: skip
    for _ in range(max_transitions):
        state = states[name]
        run.visited.append(name)
        kind = state["Type"]
        if kind == "Succeed":
            run.status, run.output = "SUCCEEDED", data
            return run
        if kind == "Fail":
            run.status, run.output, run.error = "FAILED", data, state["Error"]
            return run
        if kind == "Pass":
            result = (
                resolve(state.get("Parameters"), data, context) if "Parameters" in state else data
            )
            data = write_path(data, state.get("ResultPath", "$"), result)
            name = state["Next"]
            continue
        if kind == "Wait":
            wait(state["Seconds"])
            run.waited_s += state["Seconds"]
            name = state["Next"]
            continue
        if kind == "Choice":
            name = next(
                (rule["Next"] for rule in state["Choices"] if matches(rule, data, context)),
                state.get("Default"),
            )
            assert name is not None, "no choice matched and no Default (States.NoChoiceMatched)"
            continue
        assert kind == "Task", f"unsupported state type {kind}"
        context["Task"] = {"Token": f"token-{len(run.visited)}"}
        parameters = resolve(state["Parameters"], data, context)
        try:
            result = _task(state, parameters, invoke, answer_pause, run)
        except TaskError as failure:
            caught = next(
                (c for c in state.get("Catch", []) if _handles(c["ErrorEquals"], failure.error)),
                None,
            )
            if caught is None:
                run.status, run.error = "FAILED", failure.error
                return run
            data = write_path(data, caught.get("ResultPath", "$"), {"Error": failure.error})
            name = caught["Next"]
            continue
        if "ResultSelector" in state:
            result = resolve(state["ResultSelector"], result, context)
        data = write_path(data, state.get("ResultPath", "$"), result)
        name = state["Next"]
    raise AssertionError("the state machine did not end")


def _handles(errors: list[str], error: str) -> bool:
    return error in errors or "States.ALL" in errors


def _task(
    state: dict[str, Any],
    parameters: dict[str, Any],
    invoke: Callable[[dict[str, Any]], dict[str, Any]],
    answer_pause: Callable[[dict[str, Any]], dict[str, Any]] | None,
    run: Run,
) -> Any:
    resource = state["Resource"]
    if resource.endswith(":lambda:invoke"):
        attempts = {id(rule): 0 for rule in state.get("Retry", [])}
        while True:
            try:
                run.invocations += 1
                return {"Payload": invoke(parameters["Payload"]), "StatusCode": 200}
            except TaskError as failure:
                rule = next(
                    (
                        r
                        for r in state.get("Retry", [])
                        if _handles(r["ErrorEquals"], failure.error)
                    ),
                    None,
                )
                if rule is None or attempts[id(rule)] >= rule["MaxAttempts"]:
                    raise
                attempts[id(rule)] += 1
    if resource.endswith(":events:putEvents.waitForTaskToken"):
        assert answer_pause is not None, "the execution paused and nobody answers"
        return answer_pause(parameters["Entries"][0])
    raise AssertionError(f"unsupported resource {resource}")


# ---- graph checks ----------------------------------------------------------------------


def successors(state: dict[str, Any]) -> set[str]:
    found = set()
    if "Next" in state:
        found.add(state["Next"])
    if "Default" in state:
        found.add(state["Default"])
    for rule in state.get("Choices", []):
        found.add(rule["Next"])
    for catch in state.get("Catch", []):
        found.add(catch["Next"])
    return found


def reachable(definition: dict[str, Any], start: str | None = None) -> set[str]:
    seen: set[str] = set()
    todo = [start or definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(successors(definition["States"][name]))
    return seen


def terminal(state: dict[str, Any]) -> bool:
    return state["Type"] in ("Succeed", "Fail") or state.get("End") is True
