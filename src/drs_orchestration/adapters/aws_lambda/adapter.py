"""``LambdaAdapter``: one Lambda handler in front of the library, for every way a Lambda is invoked.

The handler looks at the event's shape and dispatches (a powertools REST
resolver raises on anything that is not an API Gateway event, so the
dispatcher comes first):

=======================================  ==============================================
event                                    handled by
=======================================  ==============================================
API Gateway REST API proxy (v1)          powertools ``APIGatewayRestResolver``
API Gateway HTTP API proxy (v2)          powertools ``APIGatewayHttpResolver``
ARC Region switch custom action          :func:`.region_switch.run_region_switch_step`
``{"operation": ..., ...}``              the operation of that name
EventBridge ``Scheduled Event``          ``sync_cache``
EventBridge ``source: aws.drs``          ``WaveExecutor.on_drs_event``
=======================================  ==============================================

HTTP answers are API Gateway proxy responses with a JSON body; a direct
invocation or an EventBridge event gets ``{"statusCode": ..., "body": {...}}``
with the body as an object. Errors never raise out of the handler (Lambda
would return a stack trace), except for Region switch, whose only documented
signal for "not done" is a function error.

A DRS event answers ``{"handled": true, "executionId", "status", "progressed",
"finished"}`` when it moved an execution (the steps it took, from the
execution's header), and ``{"handled": false, "reason": ...}`` when it
concerns none: a launch result of a job the library did not start, or
another detail type. Both are 200, so EventBridge does not retry them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    Response,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from drs_orchestration.adapters.aws_lambda.metrics import InvocationMetrics
from drs_orchestration.adapters.aws_lambda.operations import (
    Invocation,
    Operation,
    available_operations,
    run_operation,
)
from drs_orchestration.adapters.aws_lambda.region_switch import (
    DrsExecutionFailed,
    DrsExecutionInProgress,
    is_region_switch_invocation,
    run_region_switch_step,
)
from drs_orchestration.adapters.aws_lambda.responses import (
    error_body,
    error_status,
    scrub,
)
from drs_orchestration.errors import DrsOrchestrationError, ValidationError
from drs_orchestration.events import Event, EventSink
from drs_orchestration.services.waves.executor import DRS_LAUNCH_RESULT

if TYPE_CHECKING:
    from drs_orchestration.aws.clients import ClientFactory
    from drs_orchestration.services import Orchestrator
    from drs_orchestration.storage.base import Storage

__all__ = ["EventKind", "LambdaAdapter", "classify"]

_log = logging.getLogger(__name__)
_JSON = "application/json"


class EventKind(Enum):
    """The invocation styles the handler tells apart."""

    REST_API = "rest-api"
    HTTP_API = "http-api"
    REGION_SWITCH = "region-switch"
    DIRECT = "direct"
    SCHEDULE = "schedule"
    DRS_EVENT = "drs-event"
    EVENTBRIDGE = "eventbridge"
    UNKNOWN = "unknown"


def classify(event: object) -> EventKind:
    """Which invocation style ``event`` is."""
    if not isinstance(event, Mapping):
        return EventKind.UNKNOWN
    context = event.get("requestContext")
    if isinstance(context, Mapping):
        if event.get("version") == "2.0" and isinstance(context.get("http"), Mapping):
            return EventKind.HTTP_API
        if "httpMethod" in event:
            return EventKind.REST_API
    if is_region_switch_invocation(event):
        return EventKind.REGION_SWITCH
    if "operation" in event:
        return EventKind.DIRECT
    if "detail-type" in event and "source" in event:
        if event.get("source") == "aws.drs":
            return EventKind.DRS_EVENT
        if event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event":
            return EventKind.SCHEDULE
        return EventKind.EVENTBRIDGE
    return EventKind.UNKNOWN


def _fan_out(*sinks: EventSink | None) -> EventSink:
    chosen = [s for s in sinks if s is not None]

    def send(event: Event) -> None:
        for sink in chosen:
            sink(event)

    return send


def _caller(event: Mapping[str, Any]) -> str | None:
    """The authenticated principal of an API Gateway request, if the API has one."""
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    iam = authorizer.get("iam") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or authorizer.get("claims") or {}
    identity = context.get("identity") or {}
    for value in (
        iam.get("userArn"),
        claims.get("email"),
        claims.get("sub"),
        authorizer.get("principalId"),
        identity.get("userArn"),
    ):
        if isinstance(value, str) and value:
            return value[:256]
    return None


def _request_id(context: object) -> str | None:
    value = getattr(context, "aws_request_id", None)
    return value if isinstance(value, str) else None


def _envelope(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "body": body}


class LambdaAdapter:
    """The library behind one Lambda handler: API Gateway, direct, EventBridge, Region switch.

    Args:
        orchestrator: The services to expose.
        metrics: The event sink the orchestrator was built with (``events=``), whose
            counts are published as EMF at the end of each invocation; use
            :meth:`create` to have both wired together.
        logger: A powertools logger (default: one for ``service``).
        service: The service name in logs and the metrics' ``service`` dimension.

    Examples:
        >>> adapter = LambdaAdapter.create(DynamoDBStorage(table_prefix="drs-orch-"))
        >>> handler = adapter.handler
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        metrics: InvocationMetrics | None = None,
        logger: Logger | None = None,
        service: str = "drs-orchestration",
    ) -> None:
        self.orchestrator = orchestrator
        self.metrics = metrics
        self.logger = logger or Logger(service=service)
        self.operations: dict[str, Operation] = available_operations()
        # Lambda sends one event at a time to a container; tests and local servers may not.
        self._local = threading.local()
        self._rest = APIGatewayRestResolver()
        self._http = APIGatewayHttpResolver()
        for resolver in (self._rest, self._http):
            self._register(resolver)

    @classmethod
    def create(
        cls,
        storage: Storage,
        clients: ClientFactory | None = None,
        *,
        namespace: str = "DrsOrchestration",
        service: str = "drs-orchestration",
        events: EventSink | None = None,
        **orchestrator_options: Any,
    ) -> LambdaAdapter:
        """Build the :class:`~drs_orchestration.Orchestrator` and the adapter, metrics wired in.

        Args:
            storage: Where everything is kept (``DynamoDBStorage`` in a Lambda).
            clients: Where AWS clients come from (default: the function's role).
            namespace: The CloudWatch metrics namespace.
            service: The service name in logs and metrics.
            events: Another event sink to receive every event too.
            **orchestrator_options: Passed to ``Orchestrator`` (``clock``, ``retry``...).
        """
        from drs_orchestration.services import Orchestrator

        metrics = InvocationMetrics(namespace=namespace, service=service)
        orchestrator = Orchestrator(
            storage, clients, events=_fan_out(metrics, events), **orchestrator_options
        )
        return cls(orchestrator, metrics=metrics, service=service)

    @property
    def _invocation(self) -> Invocation:
        current: Invocation | None = getattr(self._local, "invocation", None)
        if current is None:
            current = self._local.invocation = Invocation()
        return current

    @_invocation.setter
    def _invocation(self, value: Invocation) -> None:
        self._local.invocation = value

    # ---- the handler ----------------------------------------------------------------

    def handler(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda handler: dispatch ``event`` by its shape and answer it.

        Raises:
            DrsExecutionInProgress: a Region switch step whose DRS execution is running.
            DrsExecutionFailed: a Region switch step that must not succeed.
        """
        kind = classify(event)
        self._invocation = Invocation(request_id=_request_id(context))
        self.logger.append_keys(requestId=self._invocation.request_id, invocation=kind.value)
        try:
            if kind is EventKind.REGION_SWITCH:
                return self._region_switch(event, context)
            return self._dispatch(kind, event, context)
        finally:
            self._publish_metrics()
            self.logger.remove_keys(["requestId", "invocation"])

    def _dispatch(self, kind: EventKind, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if kind is EventKind.REST_API:
            self._invocation.caller = _caller(event)
            return self._rest.resolve(event, context)
        if kind is EventKind.HTTP_API:
            self._invocation.caller = _caller(event)
            return self._http.resolve(event, context)
        if kind is EventKind.DIRECT:
            params = {k: v for k, v in event.items() if k != "operation"}
            return self._direct(event.get("operation"), params)
        if kind is EventKind.SCHEDULE:
            return self._direct("sync_cache", {})
        if kind is EventKind.DRS_EVENT:
            return self._drs_event(event)
        source = event.get("source") if isinstance(event, Mapping) else None
        return _envelope(
            400,
            {
                "error": "UnsupportedEvent",
                "message": (
                    f"EventBridge events from {source!r} are not handled"
                    if kind is EventKind.EVENTBRIDGE
                    else "not an API Gateway proxy event, an EventBridge event, an ARC Region "
                    'switch invocation, or a direct invocation {"operation": ...}'
                ),
                "details": {},
            },
        )

    # ---- direct invocations and EventBridge ------------------------------------------

    def _direct(self, name: object, params: Mapping[str, Any]) -> dict[str, Any]:
        operation = self.operations.get(name) if isinstance(name, str) else None
        if operation is None:
            return _envelope(
                400,
                {
                    "error": "UnknownOperation",
                    "message": f"unknown operation {name!r}",
                    "details": {"operations": sorted(self.operations)},
                },
            )
        try:
            result = run_operation(self.orchestrator, operation, params, self._invocation)
        except Exception as exc:  # every error becomes a response, never a trace
            return _envelope(*self._error(exc, operation.name))
        self.logger.info("operation succeeded", extra={"operation": operation.name})
        return _envelope(operation.status, result)

    def _drs_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            result = self.orchestrator.waves.on_drs_event(event)
        except Exception as exc:  # every error becomes a response, never a trace
            return _envelope(*self._error(exc, "on_drs_event"))
        detail_type = event.get("detail-type")
        if result is None:
            detail = event.get("detail")
            job_id = detail.get("job-id") if isinstance(detail, Mapping) else None
            reason = (
                f"job {job_id} belongs to no execution of this library's storage"
                if detail_type == DRS_LAUNCH_RESULT
                else f"{detail_type!r} events do not move executions"
            )
            self.logger.info(
                "DRS event not acted on", extra={"detailType": detail_type, "jobId": job_id}
            )
            return _envelope(200, {"handled": False, "reason": reason})
        # The header the steps left, never the whole execution: an event costs one wave's reads.
        header = result.header
        self.logger.info(
            "DRS event handled",
            extra={"executionId": header.execution_id, "status": header.status.value},
        )
        return _envelope(
            200,
            {
                "handled": True,
                "executionId": header.execution_id,
                "status": header.status.value,
                "progressed": result.progressed,
                "finished": result.finished,
            },
        )

    def _region_switch(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        remaining: Callable[[], int] | None = getattr(context, "get_remaining_time_in_millis", None)
        try:
            return run_region_switch_step(self.orchestrator, event, remaining_ms=remaining)
        except (DrsExecutionInProgress, DrsExecutionFailed) as signal:
            self.logger.info("Region switch step not done", extra={"signal": type(signal).__name__})
            # Re-raised from here with no chained cause: Lambda reports this frame only.
            raise type(signal)(scrub(str(signal))) from None
        except Exception as exc:  # reported as a failed step, without its trace
            _, body = self._error(exc, "region_switch")
            raise DrsExecutionFailed(f"{body['error']}: {body['message']}") from None

    # ---- HTTP ------------------------------------------------------------------------

    def _register(self, resolver: ApiGatewayResolver) -> None:
        for operation in self.operations.values():
            resolver.route(operation.path, method=operation.method)(
                self._route(resolver, operation)
            )

        @resolver.not_found
        def not_found(_: Exception) -> Response[str]:
            event = resolver.current_event
            body = {
                "error": "RouteNotFound",
                "message": f"no route {event.http_method} {event.path}",
                "details": {
                    "routes": sorted(f"{op.method} {op.path}" for op in self.operations.values())
                },
            }
            return Response(404, _JSON, json.dumps(body))

    def _route(self, resolver: ApiGatewayResolver, operation: Operation) -> Callable[..., Any]:
        def route(**path: str) -> Response[str]:
            try:
                params = {**self._query(resolver), **self._body(resolver)}
                for name, value in path.items():
                    if name in params and params[name] != value:
                        raise ValidationError.for_field(
                            name, params[name], f"differs from the path's {value!r}"
                        )
                    params[name] = value
                result = run_operation(self.orchestrator, operation, params, self._invocation)
            except Exception as exc:  # every error becomes a response
                status, body = self._error(exc, operation.name)
                return Response(status, _JSON, json.dumps(body))
            self.logger.info("operation succeeded", extra={"operation": operation.name})
            return Response(operation.status, _JSON, json.dumps(result))

        route.__name__ = operation.name
        return route

    @staticmethod
    def _query(resolver: ApiGatewayResolver) -> dict[str, Any]:
        return dict(resolver.current_event.query_string_parameters or {})

    @staticmethod
    def _body(resolver: ApiGatewayResolver) -> dict[str, Any]:
        raw = resolver.current_event.decoded_body
        if raw is None or not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise ValidationError.for_field("(body)", raw[:100], "is not valid JSON") from None
        if not isinstance(body, dict):
            raise ValidationError.for_field("(body)", body, "must be a JSON object")
        return body

    # ---- errors and metrics ----------------------------------------------------------

    def _error(self, exc: Exception, operation: str) -> tuple[int, dict[str, Any]]:
        status = error_status(exc)
        code = exc.code if isinstance(exc, DrsOrchestrationError) else type(exc).__name__
        extra = {"operation": operation, "status": status, "errorCode": code}
        if isinstance(exc, DrsOrchestrationError) and status < 500:
            self.logger.info("operation refused", extra=extra)
        else:
            self.logger.exception("operation failed", extra=extra)
        return status, error_body(exc, request_id=self._invocation.request_id)

    def _publish_metrics(self) -> None:
        if self.metrics is None:
            return
        for name, value in self._invocation.counters.items():
            self.metrics.add(name, value)
        try:
            self.metrics.publish(self.orchestrator)
        except Exception:  # metrics never fail an invocation
            _log.exception("publishing metrics failed")
