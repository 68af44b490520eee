"""DRS's rest-json wire format: requests in, responses and errors out, driven by the model.

DRS is rest-json: almost every operation is a ``POST`` of a JSON body; the
tag operations carry the ARN in the URI path and ``UntagResource`` its keys
in the query string; ``ListStagingAccounts`` is a ``GET`` with query
parameters. Dates are plain ISO strings, so bodies map straight to dicts.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.model import NoShapeFoundError, OperationModel, Shape, StructureShape

from drs_orchestration.testing.errors import DrsServiceError, SimulatorBug
from drs_orchestration.testing.service import service_model
from drs_orchestration.testing.shapes import check_shape

__all__ = ["HttpReply", "error_reply", "parse_request", "raw_reply", "success_reply"]

HttpReply = tuple[int, dict[str, str], bytes]
"""An HTTP answer: status, headers (lower-case names), body."""


@functools.cache
def _uri_regex(request_uri: str) -> re.Pattern[str]:
    path = request_uri.split("?", 1)[0]
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece[1:-1]
            greedy = name.endswith("+")
            name = name.rstrip("+")
            pattern += f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)"
        else:
            pattern += re.escape(piece)
    return re.compile(f"^{pattern}$")


def _coerce(shape: Shape, text: str) -> Any:
    if shape.type_name in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if shape.type_name == "boolean":
        return text.lower() == "true"
    return text


def parse_request(
    operation: OperationModel, url: str, headers: Mapping[str, str], body: bytes | str | None
) -> dict[str, Any]:
    """Turn a serialised DRS request back into the parameters the caller passed.

    Raises:
        DrsServiceError: ``ValidationException`` (reason ``cannotParse``) for a body that is
            not a JSON object.
    """
    shape = operation.input_shape
    if not isinstance(shape, StructureShape):
        return {}
    split = urlsplit(url)
    match = _uri_regex(operation.http.get("requestUri", "/")).match(split.path)
    labels = {k: unquote(v) for k, v in match.groupdict().items()} if match else {}
    query = parse_qs(split.query, keep_blank_values=True)
    lowered = {k.lower(): v for k, v in headers.items()}
    params: dict[str, Any] = {}
    payload = _json_body(body)
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in labels:
            params[name] = _coerce(member, labels[wire_name])
        elif location == "querystring" and wire_name in query:
            values = query[wire_name]
            params[name] = values if member.type_name == "list" else _coerce(member, values[0])
        elif location == "header" and wire_name.lower() in lowered:
            params[name] = _coerce(member, lowered[wire_name.lower()])
        elif location is None and wire_name in payload:
            params[name] = payload[wire_name]
    return params


def _json_body(body: bytes | str | None) -> dict[str, Any]:
    if body is None:
        return {}
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    if not text.strip():
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise DrsServiceError(
            "ValidationException", "Request body is not a JSON object", reason="cannotParse"
        )
    return parsed


def _base_headers() -> dict[str, str]:
    return {"content-type": "application/json", "x-amzn-requestid": str(uuid.uuid4())}


def success_reply(operation: OperationModel, data: Mapping[str, Any]) -> HttpReply:
    """Serialise an operation's output (status from the model's ``responseCode``)."""
    status = int(operation.http.get("responseCode", 200))
    headers = _base_headers()
    shape = operation.output_shape
    if not isinstance(shape, StructureShape):
        return status, headers, b""
    body: dict[str, Any] = {}
    for name, value in data.items():
        member = shape.members.get(name)
        location = member.serialization.get("location") if member is not None else None
        if location == "header" and member is not None:
            headers[member.serialization.get("name", name).lower()] = str(value)
        elif location == "statusCode":
            status = int(value)
        elif value is not None:
            body[name] = value
    return status, headers, json.dumps(body).encode()


def error_reply(error: DrsServiceError, *, strict: bool = True) -> HttpReply:
    """Serialise an error with its model shape's HTTP status and ``x-amzn-errortype``.

    Raises:
        SimulatorBug: in strict mode, when the error's members do not fit its model shape.
    """
    headers = _base_headers()
    headers["x-amzn-errortype"] = error.code
    shape = _error_shape(error.code)
    body: dict[str, Any] = {"message": error.message}
    status = error.status or 400
    if shape is not None:
        status = error.status or int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
        for name, value in error.members.items():
            member = shape.members.get(name)
            if member is not None and member.serialization.get("location") == "header":
                headers[member.serialization.get("name", name).lower()] = str(value)
            else:
                body[name] = value
        if strict:
            problems = check_shape(shape, body)
            if problems:
                raise SimulatorBug(
                    f"error {error.code} does not fit its model shape: "
                    + "; ".join(f"{p.path}: {p.message}" for p in problems)
                )
    else:
        body.update(error.members)
    return status, headers, json.dumps(body).encode()


def raw_reply(status: int, text: str) -> HttpReply:
    """A bare HTTP answer, as a load balancer in front of DRS might give (e.g. a 503 page)."""
    return status, {"content-type": "text/html"}, text.encode()


def _error_shape(code: str) -> StructureShape | None:
    try:
        shape = service_model().shape_for(code)
    except NoShapeFoundError:
        return None
    if isinstance(shape, StructureShape) and shape.metadata.get("exception"):
        return shape
    return None
