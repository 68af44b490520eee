"""The Step Functions state machine that drives an execution through the Lambda adapter.

:func:`state_machine_definition` returns an Amazon States Language document
(JSONPath) whose tasks invoke the adapter's function directly (``{"operation":
"step_execution", ...}``): start the plan (or take an ``executionId`` to
drive), take a step, branch on the answer, wait when the step made no
progress, and step again — the loop :meth:`WaveExecutor.run` runs in one
process, with Step Functions keeping time and state between invocations::

    HasExecution ─► Start ─► Started? ─► Step ◄──────────────────┐
                                          │                       │
                                       Answered? ── 429/503 ─► Backoff
                                          │ 200
                                        Route ── progressed ──────┤
                                          │ ├── running ─► Wait ──┤
                                          │ └── paused ─► WaitForResume ─► Decide ─► Resume/Cancel
                                          ├── COMPLETED ─► Completed (Succeed)
                                          └── PARTIAL / FAILED / CANCELLED ─► Fail states

A paused execution (a wave with ``pauseBefore``, or a ``pause_execution``
asked through the adapter meanwhile) publishes an EventBridge event ``DRS
execution paused`` carrying a task token and waits for
``SendTaskSuccess`` with ``{"action": "resume"}`` or ``{"action": "cancel"}``.
Lambda service errors and timeouts are retried with exponential backoff and
jitter (a step is safe to repeat: every step is persisted before and after
its AWS side effects); answers that say "try later" (429 throttled, 503
storage unavailable, 409 concurrent modification) wait a poll interval and
step again; any other refusal ends the state machine in a ``Fail`` state
naming it.

:func:`state_machine_role_statements` gives the IAM statements the state
machine's role needs.
"""

from __future__ import annotations

from typing import Any

from drs_orchestration.errors import ValidationError

__all__ = [
    "LAMBDA_RETRY",
    "PAUSED_DETAIL_TYPE",
    "state_machine_definition",
    "state_machine_role_statements",
]

PAUSED_DETAIL_TYPE = "DRS execution paused"
"""The ``detail-type`` of the event a paused execution publishes (with its task token)."""

LAMBDA_RETRY: list[dict[str, Any]] = [
    {
        "ErrorEquals": [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
            "Lambda.ClientExecutionTimeoutException",
        ],
        "IntervalSeconds": 2,
        "MaxAttempts": 6,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": 60,
        "JitterStrategy": "FULL",
    },
    {
        "ErrorEquals": ["States.Timeout", "Lambda.Unknown", "States.TaskFailed"],
        "IntervalSeconds": 5,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
        "JitterStrategy": "FULL",
    },
]
"""Retries of every Lambda task: Lambda's own errors, then timeouts and crashes of the function."""

_RESULT = {"statusCode.$": "$.Payload.statusCode", "body.$": "$.Payload.body"}


def _invoke(
    function_arn: str, payload: dict[str, Any], result_path: str, next_state: str, partition: str
) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": f"arn:{partition}:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload": payload},
        "ResultSelector": _RESULT,
        "ResultPath": result_path,
        "Retry": LAMBDA_RETRY,
        "Catch": [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "LambdaFailed"}
        ],
        "Next": next_state,
    }


def _status(value: str, next_state: str) -> dict[str, Any]:
    return {"Variable": "$.step.body.status", "StringEquals": value, "Next": next_state}


def _fail(error: str, cause: str) -> dict[str, Any]:
    return {"Type": "Fail", "Error": f"DrsOrchestration.{error}", "Cause": cause}


def _check_seconds(value: int, name: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationError.for_field(name, value, f"must be a whole number from 1 to {maximum}")
    return value


def state_machine_definition(
    function_arn: str,
    *,
    poll_interval_s: int = 30,
    pause_timeout_s: int = 7 * 24 * 3600,
    event_bus: str = "default",
    event_source: str = "drs-orchestration",
    partial_succeeds: bool = False,
    partition: str = "aws",
) -> dict[str, Any]:
    """The ASL definition of the driver, as a JSON-ready dict.

    The input is ``{"planId": ..., "executionType": "DRILL" | "RECOVERY"}`` to
    start a plan, or ``{"executionId": ...}`` to drive an execution already
    started (after a resume, or one started through the API).

    Args:
        function_arn: The Lambda adapter's function (ARN, name, or a
            ``${Placeholder}`` for ``DefinitionSubstitutions``).
        poll_interval_s: Seconds to wait when a step made no progress.
        pause_timeout_s: How long a pause waits for resume or cancel before the state
            machine fails (the execution stays paused and resumable).
        event_bus: The EventBridge bus of the "paused" event.
        event_source: The ``source`` of that event.
        partial_succeeds: End ``PARTIAL`` executions (some servers failed) in the
            ``Succeed`` state instead of a ``Fail`` state.
        partition: The AWS partition of the service integrations.

    Raises:
        ValidationError: a bad interval or timeout, or an empty function.
    """
    if not function_arn:
        raise ValidationError.for_field("function_arn", function_arn, "must not be empty")
    poll = _check_seconds(poll_interval_s, "poll_interval_s", 3600)
    pause_timeout = _check_seconds(pause_timeout_s, "pause_timeout_s", 365 * 24 * 3600)
    states: dict[str, Any] = {
        "HasExecution": {
            "Type": "Choice",
            "Comment": "Drive the given execution, or start the plan",
            "Choices": [{"Variable": "$.executionId", "IsPresent": True, "Next": "Step"}],
            "Default": "Start",
        },
        "Start": _invoke(
            function_arn,
            {
                "operation": "start_execution",
                "planId.$": "$.planId",
                "executionType.$": "$.executionType",
                "startedBy.$": "$$.Execution.Id",
            },
            "$.start",
            "Started",
            partition,
        ),
        "Started": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.start.statusCode", "NumericEquals": 201, "Next": "KeepExecutionId"}
            ],
            "Default": "StartRejected",
        },
        "KeepExecutionId": {
            "Type": "Pass",
            "Parameters": {"executionId.$": "$.start.body.executionId"},
            "Next": "Step",
        },
        "Step": _invoke(
            function_arn,
            {"operation": "step_execution", "executionId.$": "$.executionId"},
            "$.step",
            "Answered",
            partition,
        ),
        "Answered": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.step.statusCode", "NumericEquals": 200, "Next": "Route"},
                {
                    "Or": [
                        {"Variable": "$.step.statusCode", "NumericEquals": 429},
                        {"Variable": "$.step.statusCode", "NumericEquals": 503},
                        {
                            "And": [
                                {"Variable": "$.step.statusCode", "NumericEquals": 409},
                                {
                                    "Variable": "$.step.body.error",
                                    "StringEquals": "ConcurrentModification",
                                },
                            ]
                        },
                    ],
                    "Next": "Backoff",
                },
            ],
            "Default": "StepRejected",
        },
        "Backoff": {"Type": "Wait", "Seconds": poll, "Next": "Step"},
        "Route": {
            "Type": "Choice",
            "Choices": [
                _status("COMPLETED", "Completed"),
                _status("PARTIAL", "Completed" if partial_succeeds else "Partial"),
                _status("FAILED", "Failed"),
                _status("CANCELLED", "Cancelled"),
                _status("PAUSED", "WaitForResume"),
                {"Variable": "$.step.body.progressed", "BooleanEquals": True, "Next": "Step"},
            ],
            "Default": "Wait",
        },
        "Wait": {"Type": "Wait", "Seconds": poll, "Next": "Step"},
        "WaitForResume": {
            "Type": "Task",
            "Comment": "Publish the pause with a task token; SendTaskSuccess answers it",
            "Resource": f"arn:{partition}:states:::events:putEvents.waitForTaskToken",
            "Parameters": {
                "Entries": [
                    {
                        "EventBusName": event_bus,
                        "Source": event_source,
                        "DetailType": PAUSED_DETAIL_TYPE,
                        "Detail": {
                            "executionId.$": "$.executionId",
                            "pausedBefore.$": "$.step.body.pausedBefore",
                            "stateMachineExecutionId.$": "$$.Execution.Id",
                            "taskToken.$": "$$.Task.Token",
                        },
                    }
                ]
            },
            "ResultPath": "$.decision",
            "TimeoutSeconds": pause_timeout,
            "Catch": [
                {
                    "ErrorEquals": ["States.Timeout"],
                    "ResultPath": "$.failure",
                    "Next": "PauseTimedOut",
                }
            ],
            "Next": "Decide",
        },
        "Decide": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.decision.action", "IsPresent": True},
                        {"Variable": "$.decision.action", "StringEquals": "cancel"},
                    ],
                    "Next": "Cancel",
                }
            ],
            "Default": "Resume",
        },
        "Resume": _invoke(
            function_arn,
            {"operation": "resume_execution", "executionId.$": "$.executionId"},
            "$.resumed",
            "Step",
            partition,
        ),
        "Cancel": _invoke(
            function_arn,
            {
                "operation": "cancel_execution",
                "executionId.$": "$.executionId",
                "requestedBy.$": "$$.Execution.Id",
                "reason": "cancelled while paused",
            },
            "$.cancelled",
            "Step",
            partition,
        ),
        "Completed": {"Type": "Succeed"},
        "Partial": _fail("ExecutionPartial", "the execution ended PARTIAL: some servers failed"),
        "Failed": _fail("ExecutionFailed", "the execution ended FAILED"),
        "Cancelled": _fail("ExecutionCancelled", "the execution was cancelled"),
        "StartRejected": _fail("StartRejected", "the plan could not be started (see $.start)"),
        "StepRejected": _fail("StepRejected", "a step was refused (see $.step)"),
        "LambdaFailed": _fail("LambdaFailed", "the function failed after its retries"),
        "PauseTimedOut": _fail(
            "PauseTimedOut", "nobody resumed or cancelled the paused execution in time"
        ),
    }
    return {
        "Comment": "drs-orchestration: drive a recovery-plan execution through the Lambda adapter",
        "StartAt": "HasExecution",
        "States": states,
    }


def state_machine_role_statements(function_arn: str, *, event_bus_arn: str) -> list[dict[str, Any]]:
    """The IAM statements the state machine's execution role needs.

    ``lambda:InvokeFunction`` on the adapter's function (and its versions
    and aliases), and ``events:PutEvents`` on the bus of the "paused" event.
    Logging and tracing, if enabled on the state machine, need their own
    statements.
    """
    return [
        {
            "Sid": "InvokeTheAdapter",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [function_arn, f"{function_arn}:*"],
        },
        {
            "Sid": "PublishPauses",
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": [event_bus_arn],
        },
    ]
