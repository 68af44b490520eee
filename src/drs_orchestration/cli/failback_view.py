"""Rich tables of a failback: each server on its way back, what went wrong, and what comes next.

:func:`next_command` is the one place that decides which command moves a
server on; the tables, the hints after them and the JSON all use it.
"""

from __future__ import annotations

from typing import Any

from drs_orchestration.cli.errors import option_words
from drs_orchestration.cli.output import duration, lines, make_table, styled
from drs_orchestration.cli.report import execution_hostnames
from drs_orchestration.models import (
    Execution,
    Failback,
    FailbackMode,
    FailbackPhase,
    FailbackState,
    FailbackStep,
)

__all__ = ["failback_failed", "failback_table", "next_command", "problems_table"]


def failback_failed(state: FailbackState) -> bool:
    """The server's failback, or a step after it, failed."""
    steps = (state.reprotect, state.stop_replication, state.terminate)
    return state.phase is FailbackPhase.FAILED or any(
        s is not None and s.error is not None for s in steps
    )


def next_command(state: FailbackState, execution_id: str) -> str | None:
    """The command that moves this server on (``None``: nothing is left to do)."""
    from drs_orchestration.services.failback.requests import pending

    sid = state.source_server_id
    if state.ip_blocks_failback:
        return f"failback acknowledge-ip {execution_id} {sid} --by NAME"
    if state.phase is FailbackPhase.FAILED:
        return f"failback start {execution_id}"
    if pending(state):
        return f"failback run {execution_id}"
    if state.phase is FailbackPhase.READY:
        return f"failback launch {execution_id}"
    if state.phase is not FailbackPhase.COMPLETED:
        return None
    if state.launch is not None and state.launch.drill:
        return f"failback launch {execution_id}"
    if state.mode is FailbackMode.ON_PREMISES:
        return None
    if state.reprotect is None or state.reprotect.error is not None:
        return f"failback reprotect {execution_id}"
    cleanup_steps = (state.stop_replication, state.terminate)
    never_asked = all(s is None for s in cleanup_steps)
    if never_asked or any(s is not None and s.error is not None for s in cleanup_steps):
        return f"failback cleanup {execution_id}"
    return None


def failback_table(found: Failback, execution: Execution) -> Any:
    """Every server of a failback: phase, replication back, launch back, after-care, next."""
    names = execution_hostnames(execution)
    title = f"failback of {found.execution_id} ({execution.plan_name!r}): {found.phase.value}"
    if not found.staging_consistent:
        title += f"; staging accounts differ: {', '.join(sorted(found.staging_accounts))}"
    table = make_table(
        title,
        [
            "wave",
            "server",
            "way back",
            "phase",
            "replication back",
            "launched back",
            "after-care",
            "next",
        ],
    )
    for state in sorted(
        found.servers,
        key=lambda s: (
            _wave_order(execution, s.wave_name),
            names.get(s.source_server_id, ""),
            s.source_server_id,
        ),
    ):
        sid = state.source_server_id
        command = next_command(state, found.execution_id)
        table.add_row(
            state.wave_name,
            f"{names[sid]}\n{sid}" if sid in names else sid,
            "in AWS" if state.mode is FailbackMode.IN_AWS else "on premises",
            styled(state.phase.value),
            _replication_back(state),
            _launched_back(state),
            _aftercare(state),
            command.replace(f" {found.execution_id}", "") if command else "-",
        )
    return table


def _wave_order(execution: Execution, wave: str) -> int:
    names = [w.wave_name for w in execution.waves]
    return names.index(wave) if wave in names else len(names)


def _replication_back(state: FailbackState) -> str:
    if state.replication_state is None and state.reversed_source_server_id is None:
        return "-"
    parts = []
    if state.replication_state is not None:
        lag = f", lag {duration(state.lag_seconds)}" if state.lag_seconds is not None else ""
        parts.append(f"{state.replication_state}{lag}")
    if state.reversed_source_server_id is not None:
        parts.append(f"{state.reversed_region or '?'}: {state.reversed_source_server_id}")
    return lines(parts)


def _launched_back(state: FailbackState) -> str:
    launch = state.launch
    if launch is None:
        return "-"
    kind = "drill" if launch.drill else "recovery"
    if state.failback_ec2_instance_id is None:
        into = f" into {state.launch_into_instance_id}" if state.launch_into_instance_id else ""
        return f"{kind}{into}"
    original = " (its original)" if state.launched_into_original else ""
    ip = f"\n{state.failback_private_ip}" if state.failback_private_ip else ""
    return f"{kind}: {state.failback_ec2_instance_id}{original}{ip}"


def _step_text(name: str, step: FailbackStep | None) -> str | None:
    if step is None:
        return None
    if step.error is not None:
        state = "FAILED"
    elif step.skipped_reason is not None:
        state = "skipped"
    elif step.done_at is not None:
        state = "done"
    elif step.attempts:
        state = "in progress"
    else:
        state = "requested"
    return f"{name}: {state}"


def _aftercare(state: FailbackState) -> str:
    parts = [
        _step_text("re-protect", state.reprotect),
        _step_text("stop replication", state.stop_replication),
        _step_text("terminate", state.terminate),
    ]
    return lines(p for p in parts if p is not None)


def problems_table(found: Failback, execution: Execution) -> Any | None:
    """Errors, skipped steps and warnings, one row each (``None`` when there are none)."""
    names = execution_hostnames(execution)
    rows: list[tuple[str, str, str]] = []
    for state in found.servers:
        sid = state.source_server_id
        label = f"{names[sid]} ({sid})" if sid in names else sid
        if state.error is not None:
            rows.append((label, state.error.code, option_words(state.error.message)))
        for what, step in (
            ("re-protect", state.reprotect),
            ("stop replication", state.stop_replication),
            ("terminate", state.terminate),
        ):
            if step is not None and step.error is not None:
                rows.append((label, f"{what}: {step.error.code}", option_words(step.error.message)))
            elif step is not None and step.skipped_reason is not None:
                rows.append((label, f"{what}: skipped", option_words(step.skipped_reason)))
        for warning in state.warnings:
            rows.append((label, "warning", warning))
    if not rows:
        return None
    table = make_table("errors and notes", ["server", "what", "message"])
    for row in rows:
        table.add_row(*row)
    return table
