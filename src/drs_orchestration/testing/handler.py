"""The seam: a handler on botocore's ``before-send.drs`` event that answers DRS requests in-process.

botocore emits ``before-send.<service>.<Operation>`` just before it sends a
request and uses the first handler's response instead of going to the
network. moto registers one handler on the generic ``before-send``; this
one is registered on ``before-send.drs``, which botocore calls first
because it is more specific. So with ``mock_aws()`` active, DRS requests
reach the simulator and everything else (EC2, STS, DynamoDB) still reaches
moto; without moto, DRS works on its own.

Like moto, the handler is added to ``botocore.handlers.BUILTIN_HANDLERS``
when this module is imported, so every session created afterwards has it
(and it does nothing while no simulator is active); clients created before
the import can be hooked up with :func:`patch_client`.

Per request: find the operation (from the event name), parse the request
back into parameters, find the caller's account (from the access key in
the ``Authorization`` header) and region, consult the fault plan (sleeping
for injected latency *without* holding the simulator's lock), check the
input strictly, dispatch, check the output strictly, serialise, record the
call.

The fault plan is consulted before anything touches simulated state, for
every operation alike: an injected throttle or server error answers without
dispatching, so, as AWS documents for throttling, the call has no effect
(not even the job transitions that have fallen due are applied; the next
call that gets through applies them, each stamped with its own time). Only
the call log records it.

Every answer — success, modelled error, injected fault, bare 503 — carries
an HTTP ``Date`` header (RFC 7231 IMF-fixdate, as AWS sends it) read from
the simulator's clock, so a client can measure the skew between its host
clock and DRS's, as it would against the real service.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from datetime import UTC
from io import BytesIO
from typing import TYPE_CHECKING, Any

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.handlers import BUILTIN_HANDLERS

from drs_orchestration.testing.calls import CallRecord
from drs_orchestration.testing.errors import DrsServiceError, SimulatorBug, validation_failed
from drs_orchestration.testing.service import operation_model
from drs_orchestration.testing.shapes import check_input, check_output
from drs_orchestration.testing.wire import (
    HttpReply,
    error_reply,
    parse_request,
    raw_reply,
    success_reply,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from botocore.hooks import BaseEventHooks

    from drs_orchestration.testing.simulator import DrsSimulator

__all__ = ["EVENT", "activate", "active_simulator", "deactivate", "patch_client"]

EVENT = "before-send.drs"
"""The botocore event the simulator answers."""

_HANDLER_ID = "drs-orchestration-simulator"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/")
_HOST_REGION = re.compile(r"^https?://drs(?:-fips)?\.([a-z0-9-]+)\.")

_active: list[DrsSimulator] = []
_active_lock = threading.Lock()


def activate(sim: DrsSimulator) -> None:
    """Make ``sim`` answer DRS requests (nesting: the last activated answers)."""
    with _active_lock:
        _active.append(sim)
    session = boto3.DEFAULT_SESSION
    if session is not None:
        # The default session may predate this module's import; hook it up too.
        _hook(session.events)


def deactivate(sim: DrsSimulator) -> None:
    """Stop ``sim`` answering DRS requests."""
    with _active_lock:
        for index in range(len(_active) - 1, -1, -1):
            if _active[index] is sim:
                del _active[index]
                break


def active_simulator() -> DrsSimulator | None:
    """The simulator currently answering DRS requests, if any."""
    with _active_lock:
        return _active[-1] if _active else None


def patch_client(client: BaseClient) -> None:
    """Route a DRS client created before this module was imported through the simulator."""
    _hook(client.meta.events)


def _hook(events: BaseEventHooks) -> None:
    # botocore calls *every* before-send handler (and uses the first answer), so a
    # second registration would run each operation twice. Replace whatever is there
    # (the built-in registration, or ours) with exactly one.
    events.unregister(EVENT, unique_id=_HANDLER_ID)
    events.unregister(EVENT, handle_before_send)  # type: ignore[arg-type]
    events.register(EVENT, handle_before_send, unique_id=_HANDLER_ID)  # type: ignore[arg-type]


class _Body(BytesIO):
    def stream(self, **_: Any) -> Any:
        contents = self.read()
        while contents:
            yield contents
            contents = self.read()


def handle_before_send(
    event_name: str, request: AWSPreparedRequest, **_: Any
) -> AWSResponse | None:
    """Botocore ``before-send.drs`` handler: answer the request if a simulator is active."""
    sim = active_simulator()
    if sim is None:
        return None
    operation = event_name.rsplit(".", 1)[-1]
    status, headers, body = serve(sim, operation, request)
    return AWSResponse(request.url, status, headers, _Body(body))  # type: ignore[arg-type]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _caller(sim: DrsSimulator, request: AWSPreparedRequest) -> tuple[str, str]:
    authorization = _text(request.headers.get("Authorization"))
    match = _CREDENTIAL.search(authorization)
    access_key = match.group(1) if match else None
    region = match.group(2) if match else None
    if region is None:
        host = _HOST_REGION.match(request.url or "")
        region = host.group(1) if host else sim.default_region
    return sim.account_for_access_key(access_key), region


def _read_body(request: AWSPreparedRequest) -> bytes | str | None:
    body = request.body
    if body is None or isinstance(body, bytes | str):
        return body
    if hasattr(body, "read"):
        data = body.read()
        if hasattr(body, "seek"):
            body.seek(0)
        return data
    return bytes(body)


def serve(sim: DrsSimulator, operation: str, request: AWSPreparedRequest) -> HttpReply:
    """Answer one DRS request (the whole pipeline described in the module docstring)."""
    status, headers, body = _answer(sim, operation, request)
    headers["date"] = email.utils.format_datetime(sim.now().astimezone(UTC), usegmt=True)
    return status, headers, body


def _answer(sim: DrsSimulator, operation: str, request: AWSPreparedRequest) -> HttpReply:
    account_id, region = _caller(sim, request)
    model = operation_model(operation)
    params: dict[str, Any] = {}

    def record(error_code: str | None, *, injected: bool = False) -> None:
        sim.calls.append(
            CallRecord(operation, region, account_id, params, sim.now(), error_code, injected)
        )

    try:
        params = parse_request(model, request.url, dict(request.headers), _read_body(request))
    except DrsServiceError as error:
        record(error.code)
        return error_reply(error, strict=sim.strict)
    decision = sim.faults.decide(operation, params)
    if decision.delay > 0:
        time.sleep(decision.delay)  # outside every lock, so concurrent calls overlap
    if decision.error is not None:
        record(decision.error.code, injected=True)
        return error_reply(decision.error, strict=sim.strict)
    if decision.raw_status is not None:
        record(str(decision.raw_status), injected=True)
        return raw_reply(decision.raw_status, decision.raw_body)
    if operation not in sim.implemented_operations:
        record("NotImplementedException")
        return error_reply(
            DrsServiceError(
                "NotImplementedException",
                f"The DRS simulator does not implement {operation}",
                status=501,
            ),
            strict=sim.strict,
        )
    try:
        if sim.strict:
            problems = check_input(model, params)
            if problems:
                raise validation_failed(problems)
        data = sim.dispatch(operation, region, account_id, params)
        data = {k: v for k, v in data.items() if v is not None}
        if sim.strict:
            problems = check_output(model, data)
            if problems:
                raise SimulatorBug(
                    f"{operation} response does not match the DRS model: "
                    + "; ".join(
                        f"{p.path or '<root>'}: {p.message} (value {p.value!r})" for p in problems
                    )
                )
    except DrsServiceError as error:
        record(error.code)
        return error_reply(error, strict=sim.strict)
    except SimulatorBug:
        record("SimulatorBug")
        raise
    record(None)
    return success_reply(model, data)


BUILTIN_HANDLERS.append((EVENT, handle_before_send))
