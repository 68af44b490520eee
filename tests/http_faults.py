"""Inject AWS answers at botocore's HTTP seam (``before-send``), below a real client.

The client still serialises and validates the request and parses the
injected response exactly as it would a real one; nothing is mocked above
the wire.

botocore calls *every* ``before-send`` handler and keeps the first answer, so
moto still processes a request answered here: use these only for calls
without side effects (reads, AssumeRole). For DRS, use the simulator's own
faults (``sim.faults.throttle(..., where=...)``), which stop the call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from botocore.awsrequest import AWSResponse


class _RawBody:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def json_error(code: str, status: int = 400, message: str = "injected") -> AWSResponse:
    """An awsJson/rest-json style error response (DynamoDB, DRS)."""
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = {"x-amzn-errortype": code, "x-amzn-requestid": "injected-request"}
    return AWSResponse("https://injected", status, headers, _RawBody(body))


def query_error(code: str, status: int = 400, message: str = "injected") -> AWSResponse:
    """A query-protocol (XML) error response (STS)."""
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
        f"<Message>{message}</Message></Error><RequestId>injected-request</RequestId>"
        "</ErrorResponse>"
    ).encode()
    return AWSResponse("https://injected", status, {}, _RawBody(body))


class HttpFaults:
    """Answer the next calls of one operation with prepared responses or exceptions.

    Calls beyond the prepared ones go through to whatever serves the client
    (moto, the DRS simulator). ``attempts`` counts every call seen.
    """

    def __init__(self, events: Any, service: str, operation: str) -> None:
        self.attempts = 0
        self._queue: list[AWSResponse | Exception | Callable[[], AWSResponse]] = []
        events.register(f"before-send.{service}.{operation}", self._before_send)

    def then(self, *answers: AWSResponse | Exception | Callable[[], AWSResponse]) -> HttpFaults:
        self._queue.extend(answers)
        return self

    def _before_send(self, **_: Any) -> AWSResponse | None:
        self.attempts += 1
        if not self._queue:
            return None
        answer = self._queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer() if callable(answer) else answer
