"""The failback state machine: which unit of work comes next, one per step.

In order: a server to start (install, reverse), a reversal to resolve, a
launch back to advance, the replication back to follow, re-protection, then
clean-up (after re-protection when both were asked). A unit that did work
ends the step; one that only waits lets the next kind of unit run.
"""

from __future__ import annotations

from drs_orchestration.models import Execution, FailbackMode, FailbackPhase, FailbackState
from drs_orchestration.services.failback.aftercare import (
    advance_cleanup,
    advance_reprotect,
    pending_step,
)
from drs_orchestration.services.failback.context import FailbackContext
from drs_orchestration.services.failback.launch import (
    LaunchServices,
    advance_in_aws,
    advance_on_premises,
)
from drs_orchestration.services.failback.reverse import begin, poll_replication, resolve_reverse

__all__ = ["dispatch"]


def dispatch(
    ctx: FailbackContext,
    services: LaunchServices,
    execution: Execution,
    states: list[FailbackState],
) -> None:
    """Do the next unit of work of a failback (its states as read), if there is one."""
    for state in states:
        if state.phase is FailbackPhase.NOT_STARTED and not state.ip_blocks_failback:
            begin(ctx, state)
            return
    for state in states:
        if (
            state.phase is FailbackPhase.REVERSE_REPLICATING
            and state.mode is FailbackMode.IN_AWS
            and state.reversed_source_server_arn is None
            and state.reverse_requested_at is not None
        ):
            resolve_reverse(ctx, state)
            if ctx.progressed:
                return
    launches: dict[str, list[FailbackState]] = {}
    for state in states:
        if state.phase is FailbackPhase.LAUNCHING and state.launch is not None:
            launches.setdefault(state.launch.launch_id, []).append(state)
    for members in launches.values():
        if members[0].mode is FailbackMode.IN_AWS:
            advance_in_aws(ctx, services, execution, members)
        else:
            advance_on_premises(ctx, members)
        if ctx.progressed:
            return
    following = [
        s
        for s in states
        if s.phase is FailbackPhase.REVERSE_REPLICATING
        and (s.mode is FailbackMode.ON_PREMISES or s.reversed_source_server_arn is not None)
    ]
    if following:
        poll_replication(ctx, following)
        if ctx.progressed:
            return
    done = [s for s in states if s.phase is FailbackPhase.COMPLETED]
    reprotecting = [s for s in done if pending_step(s.reprotect)]
    if reprotecting:
        advance_reprotect(ctx, reprotecting)
        if ctx.progressed:
            return
    cleaning = [
        s
        for s in done
        if not pending_step(s.reprotect)
        and (pending_step(s.stop_replication) or pending_step(s.terminate))
    ]
    if cleaning:
        advance_cleanup(ctx, cleaning)
