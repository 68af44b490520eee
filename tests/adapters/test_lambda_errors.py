"""Errors answer with their status and ``to_dict()``; nothing internal ever reaches a response."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

import drs_orchestration.errors as errors_module
from drs_orchestration import SqliteStorage
from drs_orchestration.adapters.aws_lambda import LambdaAdapter
from drs_orchestration.adapters.aws_lambda.responses import error_body, error_status, scrub
from drs_orchestration.errors import DrsOrchestrationError, StorageError
from drs_orchestration.testing import DrsSimulator

from .conftest import REGION, make_adapter, seed
from .events import FakeContext, decode, rest_event

# The status each error answers with: the table docs/lambda.md shows. A change to an
# error's http_status changes the API's answers, so it must change this table too.
EXPECTED_STATUS = {
    "DrsOrchestrationError": 500,
    "ValidationError": 400,
    "LaunchConfigValidationError": 400,
    "NotFoundError": 404,
    "ConflictError": 409,
    "ConcurrentModificationError": 409,
    "TerminationRefusedError": 409,
    "InvalidStateTransitionError": 409,
    "LaunchConfigApplicationError": 502,
    "LaunchConfigTimeoutError": 504,
    "ServersNotReadyError": 409,
    "RecoveryError": 502,
    "JobTimeoutError": 504,
    "ReplicationTimeoutError": 504,
    "InstanceMatchingError": 422,
    "PrivateIPMismatchError": 409,
    "AgentInstallationError": 502,
    "CrossAccountError": 403,
    "StorageError": 500,
    "StorageUnavailableError": 503,
    "CorruptRecordError": 500,
    "AwsApiError": 502,
    "ThrottledError": 429,
    "AwsAccessDeniedError": 403,
    "AwsResourceNotFoundError": 404,
    "AwsConflictError": 409,
    "AwsValidationError": 400,
    "ServiceQuotaExceededError": 429,
}

ERROR_CLASSES = {
    name: cls
    for name, cls in inspect.getmembers(errors_module, inspect.isclass)
    if issubclass(cls, DrsOrchestrationError)
}


def test_the_table_covers_every_error_class() -> None:
    assert set(ERROR_CLASSES) == set(EXPECTED_STATUS)


@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_each_error_answers_its_status(name: str) -> None:
    error = ERROR_CLASSES[name].__new__(ERROR_CLASSES[name])
    assert error_status(error) == EXPECTED_STATUS[name]


def test_an_unexpected_exception_is_a_500_without_its_text() -> None:
    error = RuntimeError("boom in /var/task/drs_orchestration/services/plans.py line 12")
    assert error_status(error) == 500
    body = error_body(error, request_id="req-1")
    assert body == {
        "error": "Internal",
        "message": "internal error; the function's log has the details",
        "details": {"requestId": "req-1"},
    }


def test_scrub_removes_keys_secrets_and_paths() -> None:
    text = (
        "denied for AKIAIOSFODNN7EXAMPLE with aws_secret_access_key=wJalrXUtnFEMI/K7MDENG "
        "reading /var/task/drs_orchestration/x.py and C:\\Users\\me\\dr.db; "
        "arn:aws:drs:us-east-1:123456789012:source-server/s-1234567890abcdef0 stays"
    )
    cleaned = scrub(text)
    assert "AKIAIOSFODNN7EXAMPLE" not in cleaned
    assert "wJalrXUtnFEMI" not in cleaned
    assert "/var/task" not in cleaned
    assert "Users" not in cleaned
    assert "source-server/s-1234567890abcdef0" in cleaned


def _get(adapter: LambdaAdapter, path: str) -> tuple[int, Any, str]:
    response = adapter.handler(rest_event("GET", path), FakeContext())
    return response["statusCode"], decode(response), response["body"]


def test_a_storage_failure_answers_500_without_the_database_path(
    sim: DrsSimulator, tmp_path: Path
) -> None:
    database = tmp_path / "secret-place" / "dr.db"
    database.parent.mkdir()
    storage = SqliteStorage(database)
    adapter = make_adapter(sim, storage)
    storage.close()  # every read now fails inside the backend
    status, body, raw = _get(adapter, "/recovery-plans")
    assert status == 500
    assert body["error"] == "Storage"
    assert "secret-place" not in raw
    assert str(tmp_path) not in raw
    assert "Traceback" not in raw


def test_an_unexpected_exception_answers_500_and_logs_the_trace(
    sim: DrsSimulator, adapter: LambdaAdapter, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    def broken() -> list[Any]:
        raise KeyError("/var/task/drs_orchestration/services/plans.py")

    monkeypatch.setattr(adapter.orchestrator.plans, "list", broken)
    status, body, raw = _get(adapter, "/recovery-plans")
    assert (status, body["error"]) == (500, "Internal")
    assert "plans.py" not in raw
    assert "Traceback" not in raw
    failure = next(r for r in caplog.records if r.getMessage() == "operation failed")
    assert failure.exc_info is not None  # the log keeps what the response does not
    assert "plans.py" in str(failure.exc_info[1])


def test_throttling_that_outlasts_the_retries_answers_429(sim: DrsSimulator) -> None:
    adapter = make_adapter(sim)
    seed(sim, adapter)
    group = adapter.handler(
        rest_event("POST", "/protection-groups",
                   {"name": "db", "region": REGION, "tags": {"Tier": "db"}}),
        FakeContext(),
    )  # fmt: skip
    plan = adapter.handler(
        rest_event("POST", "/recovery-plans",
                   {"name": "p", "waves": [{"name": "w",
                                            "protectionGroupIds": [decode(group)["groupId"]]}]}),
        FakeContext(),
    )  # fmt: skip
    sim.faults.throttle(rate=1.0)
    response = adapter.handler(
        rest_event("POST", f"/recovery-plans/{decode(plan)['planId']}/preflight",
                   {"executionType": "RECOVERY"}),
        FakeContext(),
    )  # fmt: skip
    body = decode(response)
    assert (response["statusCode"], body["error"]) == (429, "Throttled")
    assert body["details"]["awsCode"] == "ThrottlingException"
    assert body["details"]["retryable"] is True


def test_storage_errors_keep_only_their_code_and_retryability() -> None:
    error = StorageError("cannot open /srv/dr/dr.db: disk I/O error", location="/srv/dr/dr.db")
    assert error_body(error) == {
        "error": "Storage",
        "message": "storage failed; the function's log has the details",
        "details": {"retryable": False},
    }
