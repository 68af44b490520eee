"""What the coordinator's requests check and change: choosing servers, targets, restarts.

Pure functions over the failback records (and, for a drill, the reversed
servers' launch settings), so the coordinator's methods stay short.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from drs_orchestration.errors import ValidationError
from drs_orchestration.models import FailbackMode, FailbackPhase, FailbackState
from drs_orchestration.services.failback.aftercare import pending_step
from drs_orchestration.services.failback.context import FailbackContext
from drs_orchestration.services.failback.reverse import grouped

__all__ = [
    "aftercare_refusal",
    "launch_targets",
    "new_launch_id",
    "pending",
    "pick",
    "refuse_drill_overwrites",
    "restarted",
]

_ID_ALPHABET = string.ascii_lowercase + string.digits


def pending(state: FailbackState) -> bool:
    """Whether steps still have work to do for this server (no request awaited)."""
    if state.phase is FailbackPhase.NOT_STARTED:
        return not state.ip_blocks_failback
    if state.phase in (FailbackPhase.REVERSE_REPLICATING, FailbackPhase.LAUNCHING):
        return True
    if state.phase is FailbackPhase.COMPLETED:
        return any(
            pending_step(step)
            for step in (state.reprotect, state.stop_replication, state.terminate)
        )
    return False


def new_launch_id() -> str:
    """A fresh launch ID: ``fl-`` and 20 lowercase alphanumerics."""
    return "fl-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


def pick(
    states: Sequence[FailbackState],
    servers: Sequence[str] | None,
    eligible: Callable[[FailbackState], str | None],
    what: str,
) -> list[FailbackState]:
    """The states to act on; ``eligible`` says why one cannot (``None``: it can)."""
    by_server = {s.source_server_id: s for s in states}
    if servers is None:
        chosen = [s for s in states if eligible(s) is None]
        if chosen:
            return chosen
        servers = [s.source_server_id for s in states]  # none can: say why for each
    problems = []
    chosen = []
    for index, sid in enumerate(dict.fromkeys(servers)):
        state = by_server.get(sid)
        why = "takes no part in this failback" if state is None else eligible(state)
        if why is not None:
            problems.append({"field": f"servers.{index}", "message": why, "value": sid})
        elif state is not None:
            chosen.append(state)
    if problems:
        raise ValidationError(
            f"cannot {what}: " + "; ".join(f"{p['value']} {p['message']}" for p in problems),
            problems=problems,
        )
    return chosen


def launch_targets(
    states: Sequence[FailbackState], *, into_original: bool, pairs: Mapping[str, str]
) -> dict[str, str]:
    """Source server → the existing instance its launch back goes into.

    Raises:
        ValidationError: ``pairs`` names servers not launched back in AWS, or an
            original instance is unknown.
    """
    known = {s.source_server_id for s in states}
    unknown = sorted(set(pairs) - known)
    if unknown:
        raise ValidationError.for_field(
            "pairs", unknown, "names servers that are not launched back in AWS by this call"
        )
    targets = dict(pairs)
    if into_original:
        missing = []
        for state in states:
            if state.source_server_id in targets:
                continue
            if state.original_instance_id is None:
                missing.append(state.source_server_id)
            else:
                targets[state.source_server_id] = state.original_instance_id
        if missing:
            raise ValidationError.for_field(
                "into_original",
                missing,
                "DRS names no original instance for these servers; give pairs= for them",
            )
    return targets


def refuse_drill_overwrites(
    ctx: FailbackContext, states: Sequence[FailbackState], targets: Mapping[str, str]
) -> None:
    """Refuse a drill that would launch into existing instances (ours, or DRS's own setting).

    Raises:
        ValidationError: naming each server and instance.
    """
    overwrites = dict(targets)
    for (region, account_id), group in grouped(
        [s for s in states if s.source_server_id not in targets],
        lambda s: (str(s.reversed_region), s.reversed_account_id),
    ).items():
        drs = ctx.drs(region, ctx.reach(account_id, group[0].account))
        for state in group:
            config = drs.get_launch_configuration(str(state.reversed_source_server_id))
            into = (config.get("launchIntoInstanceProperties") or {}).get("launchIntoEC2InstanceID")
            if into:
                overwrites[state.source_server_id] = into
    if overwrites:
        raise ValidationError.for_field(
            "drill_into_original",
            False,
            "a drill would launch into (and overwrite) existing instances: "
            + ", ".join(f"{s} into {i}" for s, i in sorted(overwrites.items()))
            + "; pass drill_into_original=True to drill into them anyway",
        )


def aftercare_refusal(state: FailbackState) -> str | None:
    """Why a server cannot be re-protected or cleaned up (``None``: it can)."""
    if state.phase is not FailbackPhase.COMPLETED:
        return f"is {state.phase.value}: it has not been launched back"
    if state.mode is not FailbackMode.IN_AWS:
        return "failed back on premises: re-protect it by installing the replication agent"
    if state.launch is not None and state.launch.drill:
        return (
            "was launched back as a drill: a failback drill leaves the original replication "
            "and the recovery instance untouched"
        )
    return None


def restarted(state: FailbackState, now: datetime, timeout: timedelta) -> FailbackState:
    """A failed server's record, ready to go again from where it can.

    A server whose launch back failed after it had caught up follows its
    reversed source server again; any other starts over, and its reversal is
    looked for in DRS before any new call (``ReverseReplication`` is refused
    while one runs, and the refusal makes the next step look).
    """
    launch_failed = state.launch is not None and state.ready_at is not None
    stopped = state.error is not None and state.error.code == "FailbackStopped"
    state.error = None
    state.launch = None
    state.launch_into_instance_id = None
    if launch_failed and not stopped and state.reversed_source_server_arn is not None:
        state.phase = FailbackPhase.REVERSE_REPLICATING
        state.deadline = now + timeout
        return state
    state.phase = FailbackPhase.NOT_STARTED
    state.deadline = None
    state.ready_at = None
    state.reverse_requested_at = None
    state.reverse_attempts = 0
    state.reversed_source_server_arn = None
    state.reversed_source_server_id = None
    state.agent_install_started_at = None
    return state
