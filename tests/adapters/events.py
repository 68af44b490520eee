"""Real-shaped Lambda events and contexts: what API Gateway, EventBridge and Region switch send."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

ACCOUNT = "123456789012"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"


@dataclass
class FakeContext:
    """The attributes of a Lambda context object the adapter and powertools read."""

    function_name: str = "drs-orchestration"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:drs-orchestration"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/drs-orchestration"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"
    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def rest_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    query: dict[str, str] | None = None,
    user_arn: str | None = USER_ARN,
    base64_body: bool = False,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy event for a ``{proxy+}`` resource."""
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    encoded = base64_body and text is not None
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Host": "api.example.com"},
        "multiValueHeaders": {"Content-Type": ["application/json"], "Host": ["api.example.com"]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "extendedRequestId": "Xyz0AbCdIAMF8Hg=",
            "requestTime": "01/Jan/2026:00:00:00 +0000",
            "path": f"/prod{path}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "api",
            "requestTimeEpoch": 1767225600000,
            "requestId": str(uuid.uuid4()),
            "identity": {
                "sourceIp": "198.51.100.7",
                "userArn": user_arn,
                "userAgent": "python-requests/2.32",
                "caller": None,
                "accessKey": None,
            },
            "domainName": "api.example.com",
            "apiId": "abcdef1234",
        },
        "body": base64.b64encode(text.encode()).decode() if encoded else text,
        "isBase64Encoded": encoded,
    }


def http_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    query: dict[str, str] | None = None,
    user_arn: str | None = USER_ARN,
    base64_body: bool = False,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) proxy event, IAM-authorised, on the ``$default`` route."""
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    encoded = base64_body and text is not None
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {"content-type": "application/json", "host": "api.example.com"},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abcdef1234",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "python-requests/2.32",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "isBase64Encoded": encoded,
    }
    if user_arn is not None:
        event["requestContext"]["authorizer"] = {
            "iam": {"accountId": ACCOUNT, "userArn": user_arn, "userId": "AIDACKCEVSQ6C2EXAMPLE"}
        }
    if query:
        event["queryStringParameters"] = query
    if text is not None:
        event["body"] = base64.b64encode(text.encode()).decode() if encoded else text
    return event


def scheduled_event(rule: str = "drs-cache-sync") -> dict[str, Any]:
    """What an EventBridge schedule rule without custom input sends."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{rule}"],
        "detail": {},
    }


def drs_launch_result_event(source_server_id: str, job_id: str) -> dict[str, Any]:
    """A ``DRS Source Server Launch Result`` event as DRS publishes it to EventBridge."""
    return {
        "version": "0",
        "id": "0f4a5c8e-1b2d-4f43-9e8a-0c1d2e3f4a5b",
        "detail-type": "DRS Source Server Launch Result",
        "source": "aws.drs",
        "account": ACCOUNT,
        "time": "2026-01-01T00:10:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:drs:us-east-1:{ACCOUNT}:source-server/{source_server_id}"],
        "detail": {"state": "RECOVERY_LAUNCH_SUCCEEDED", "job-id": job_id, "is-drill": True},
    }


def region_switch_event(
    payload: dict[str, Any],
    *,
    execution_id: str = "1234abcd-5678-efgh-ijkl-9012mnopqrst",
    step_name: str = "recover-drs-servers",
) -> dict[str, Any]:
    """A Region switch custom-action invocation: the payload with the metadata merged in.

    The payload's own keys win over the metadata's, as Region switch documents.
    """
    metadata = {
        "InvokedBy": "ARC_REGION_SWITCH",
        "PlanArn": f"arn:aws:arc-region-switch::{ACCOUNT}:plan/shop-failover:a1b2c3",
        "ExecutionId": execution_id,
        "StepName": step_name,
    }
    return {**metadata, **payload}


def content_type(response: dict[str, Any]) -> str | None:
    """The Content-Type of a proxy response (v1 answers in ``multiValueHeaders``)."""
    if "Content-Type" in (response.get("headers") or {}):
        return str(response["headers"]["Content-Type"])
    values = (response.get("multiValueHeaders") or {}).get("Content-Type")
    return str(values[0]) if values else None


def decode(response: dict[str, Any]) -> Any:
    """The JSON body of an API Gateway proxy response."""
    return json.loads(response["body"]) if response.get("body") else None
