"""A DRS plan as a step of an ARC Region switch plan (a custom-action Lambda execution block).

Region switch invokes the function with the step's JSON payload, into which it
merges its execution metadata (``InvokedBy``, ``PlanArn``, ``ExecutionId``,
``StepName``; a key of the payload with the same name wins). If the function
does not succeed, Region switch invokes it again after the step's retry
interval, until the step's timeout.

AWS documents no return value that means "still running", so this module
takes the safe reading of that contract:

- the function **returns** only when the DRS execution has ended
  ``COMPLETED`` (or ``PARTIAL`` with ``acceptPartial: true`` in the payload):
  the step succeeds;
- while the execution is running (or paused before a wave), it **raises**
  :class:`DrsExecutionInProgress`; Region switch invokes it again, and each
  invocation takes the execution's next steps;
- when the execution ended otherwise (``FAILED``, ``CANCELLED``, ``PARTIAL``
  not accepted) or cannot run, it **raises** :class:`DrsExecutionFailed`
  on every invocation, so the step fails when its timeout passes, never
  with a success.

One DRS execution per Region switch step execution, never two: the first
invocation takes the claim ``region-switch:<hash of PlanArn, ExecutionId,
StepName>``, starts the plan with ``startedBy`` naming that claim, and hands
the claim to the execution. A re-invocation finds the execution through the
claim; one that raced the first, or follows a crash between the start and
the hand-over, finds it through ``startedBy`` among the plan's executions.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, StringConstraints

from drs_orchestration.errors import (
    ConcurrentModificationError,
    ConflictError,
    ValidationError,
)
from drs_orchestration.models import Execution, ExecutionStatus, ExecutionType, PlanId
from drs_orchestration.models.base import DrsModel
from drs_orchestration.storage.claims import ClaimRecord, claim_id

if TYPE_CHECKING:
    from drs_orchestration.services import Orchestrator

__all__ = [
    "METADATA_KEYS",
    "DrsExecutionFailed",
    "DrsExecutionInProgress",
    "RegionSwitchStep",
    "is_region_switch_invocation",
    "run_region_switch_step",
]

logger = logging.getLogger(__name__)

METADATA_KEYS = ("InvokedBy", "PlanArn", "ExecutionId", "StepName")
"""The keys Region switch merges into a custom action's JSON payload."""

CLAIM_NAMESPACE = "region-switch"
CLAIM_KIND = "region-switch-step"
_STARTING = "starting"
_MAX_STEPS = 50
_SAFETY_MARGIN_MS = 15_000
"""Time left for the last step and the answer: a step can take a few AWS calls with retries."""

Text = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class DrsExecutionInProgress(Exception):  # noqa: N818 - Region switch shows this name as the step's state
    """The DRS execution is still running: Region switch invokes the function again later."""


class DrsExecutionFailed(Exception):  # noqa: N818 - Region switch shows this name as the step's state
    """The DRS execution ended without success, or could not run: the step must not succeed."""


class RegionSwitchStep(DrsModel):
    """A Region switch custom-action invocation: the step's payload and Region switch's metadata.

    Attributes:
        invoked_by: ``InvokedBy``, as Region switch sends it.
        plan_arn: ``PlanArn``: the Region switch plan.
        region_switch_execution_id: ``ExecutionId``: the Region switch execution.
        step_name: ``StepName``: the step of that plan.
        plan_id: The DRS recovery plan to run (payload ``planId``).
        execution_type: ``DRILL`` or ``RECOVERY`` (payload ``executionType``; required).
        skip_not_ready: Launch the ready servers when some are not (payload).
        accept_partial: A ``PARTIAL`` execution counts as success (payload; default false).
    """

    invoked_by: Text = Field(alias="InvokedBy")
    plan_arn: Text = Field(alias="PlanArn")
    region_switch_execution_id: Text = Field(alias="ExecutionId")
    step_name: Text = Field(alias="StepName")
    plan_id: PlanId = Field(alias="planId")
    execution_type: ExecutionType = Field(alias="executionType")
    skip_not_ready: bool = Field(default=False, alias="skipNotReady")
    accept_partial: bool = Field(default=False, alias="acceptPartial")

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> RegionSwitchStep:
        """Parse an invocation; metadata keys Region switch may add later are ignored.

        Keys starting with an upper-case letter are Region switch's; any other
        unknown key is the payload's and is refused (a misspelt ``executionType``
        must not fall back to a default).

        Raises:
            ValidationError: naming each bad or missing field.
        """
        known = set(METADATA_KEYS)
        data = {k: v for k, v in event.items() if k in known or not k[:1].isupper()}
        return cls.parse(data)

    @property
    def claim(self) -> str:
        """The claim that ties this step execution to one DRS execution."""
        digest = hashlib.sha256(
            "\n".join((self.plan_arn, self.region_switch_execution_id, self.step_name)).encode()
        ).hexdigest()[:40]
        return claim_id(CLAIM_NAMESPACE, digest)

    @property
    def started_by(self) -> str:
        """What the DRS execution records as ``startedBy`` (how a lost hand-over is found)."""
        return f"arc-region-switch {self.claim}"


def is_region_switch_invocation(event: Mapping[str, Any]) -> bool:
    """Whether ``event`` carries every key Region switch merges into a custom action's payload."""
    return all(isinstance(event.get(key), str) for key in METADATA_KEYS)


def _details(step: RegionSwitchStep) -> dict[str, str]:
    return {
        "planArn": step.plan_arn[:512],
        "regionSwitchExecutionId": step.region_switch_execution_id[:256],
        "stepName": step.step_name[:256],
        "planId": step.plan_id,
        "executionType": step.execution_type.value,
    }


def _claim(orchestrator: Orchestrator, step: RegionSwitchStep) -> ClaimRecord:
    claims = orchestrator.storage.claims
    holder = claims.find(step.claim)
    if holder is None:
        try:
            holder = claims.acquire(
                step.claim, f"{_STARTING}:{step.claim}", kind=CLAIM_KIND, details=_details(step)
            )
        except ConflictError:
            holder = claims.get(step.claim)  # another invocation took it first
    for name in ("planId", "executionType"):
        if holder.details.get(name) != _details(step)[name]:
            raise DrsExecutionFailed(
                f"this Region switch step already runs {holder.details.get('executionType')} "
                f"of plan {holder.details.get('planId')}; the payload asks for "
                f"{step.execution_type.value} of {step.plan_id}"
            )
    return holder


def _started_here(orchestrator: Orchestrator, step: RegionSwitchStep) -> Execution | None:
    for execution in orchestrator.storage.executions.list_for_plan(step.plan_id):
        if execution.started_by == step.started_by:
            return execution
    return None


def _execution_for(orchestrator: Orchestrator, step: RegionSwitchStep) -> str:
    holder = _claim(orchestrator, step)
    if not holder.owner_id.startswith(f"{_STARTING}:"):
        return holder.owner_id
    execution = _started_here(orchestrator, step)
    if execution is None:
        try:
            execution = orchestrator.waves.start(
                step.plan_id,
                drill=step.execution_type is ExecutionType.DRILL,
                skip_not_ready=step.skip_not_ready,
                started_by=step.started_by,
            )
            logger.info(
                "Region switch step started a DRS execution",
                extra={"executionId": execution.execution_id, **_details(step)},
            )
        except ConflictError as exc:
            execution = _started_here(orchestrator, step)  # a concurrent invocation won
            if execution is None:
                running = ", ".join(exc.details.get("executionIds", [])) or "another execution"
                raise DrsExecutionInProgress(
                    f"plan {step.plan_id} is busy with {running}, not started by this Region "
                    "switch step; cancel it (or wait for it to end) and this step starts the plan"
                ) from None
    handed = holder.model_copy(update={"owner_id": execution.execution_id})
    try:
        orchestrator.storage.claims.put(handed, expected_version=holder.version)
    except ConcurrentModificationError:
        current = orchestrator.storage.claims.get(step.claim)
        if current.owner_id != execution.execution_id:
            raise DrsExecutionFailed(
                f"this Region switch step is tied to {current.owner_id}, and also found "
                f"{execution.execution_id}: check both before retrying"
            ) from None
    return execution.execution_id


def _report(execution: Execution, step: RegionSwitchStep) -> dict[str, Any]:
    rto = execution.recovery_time
    rpo = execution.worst_rpo
    outcomes = execution.outcomes().values()
    return {
        "drsExecutionId": execution.execution_id,
        "planId": execution.plan_id,
        "executionType": execution.execution_type.value,
        "status": execution.status.value,
        "serversLaunched": sum(1 for o in outcomes if o.status.value == "LAUNCHED"),
        "servers": len(execution.outcomes()),
        "recoveryTimeS": rto.total_seconds() if rto is not None else None,
        "worstRpoS": rpo.total_seconds() if rpo is not None else None,
        "regionSwitchExecutionId": step.region_switch_execution_id,
        "stepName": step.step_name,
    }


def run_region_switch_step(
    orchestrator: Orchestrator,
    event: Mapping[str, Any],
    *,
    remaining_ms: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Start (once) and advance the DRS execution of a Region switch step; report it.

    Steps the execution while it makes progress and time is left (at most
    50 steps, stopping 15 s before the invocation's end), so a
    retry interval of minutes is not spent waiting for work that could be done now.

    Args:
        orchestrator: The library's services.
        event: The invocation: the step's payload with Region switch's metadata.
        remaining_ms: Milliseconds left in the invocation
            (``context.get_remaining_time_in_millis``).

    Returns:
        A summary of the execution that ended successfully (the step succeeds).

    Raises:
        DrsExecutionInProgress: the execution is still running or paused.
        DrsExecutionFailed: it ended without success, or the invocation is invalid.
    """
    try:
        step = RegionSwitchStep.from_event(event)
    except ValidationError as exc:
        raise DrsExecutionFailed(f"invalid Region switch payload: {exc.message}") from None
    execution_id = _execution_for(orchestrator, step)
    result = orchestrator.waves.step(execution_id)
    steps = 1
    while (
        result.progressed
        and not result.finished
        and steps < _MAX_STEPS
        and (remaining_ms is None or remaining_ms() > _SAFETY_MARGIN_MS)
    ):
        result = orchestrator.waves.step(execution_id)
        steps += 1
    execution = result.execution
    status = execution.status
    report = _report(execution, step)
    logger.info("Region switch step advanced", extra={**report, "steps": steps})
    if status is ExecutionStatus.COMPLETED or (
        status is ExecutionStatus.PARTIAL and step.accept_partial
    ):
        return report
    if status.is_terminal:
        reason = f": {execution.error.message}" if execution.error else ""
        raise DrsExecutionFailed(
            f"DRS execution {execution_id} of plan {step.plan_id} ended {status.value}"
            f" ({report['serversLaunched']}/{report['servers']} servers launched){reason}"
        )
    if status is ExecutionStatus.PAUSED:
        raise DrsExecutionInProgress(
            f"DRS execution {execution_id} is paused before wave {execution.paused_before!r}; "
            "resume it to continue"
        )
    raise DrsExecutionInProgress(
        f"DRS execution {execution_id} is {status.value}: "
        f"{report['serversLaunched']}/{report['servers']} servers launched"
    )
