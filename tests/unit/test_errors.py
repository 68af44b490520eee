from __future__ import annotations

import json

import pydantic
import pytest

from drs_orchestration import errors
from drs_orchestration.errors import (
    ConcurrentModificationError,
    DrsOrchestrationError,
    NotFoundError,
    PrivateIPMismatchError,
    ServersNotReadyError,
    ValidationError,
)
from tests.ids import server_id


def _all_error_classes() -> list[type[DrsOrchestrationError]]:
    return [
        obj
        for name in errors.__all__
        if isinstance(obj := getattr(errors, name), type) and issubclass(obj, DrsOrchestrationError)
    ]


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_has_code_status_and_is_in_the_tree(cls: type[DrsOrchestrationError]) -> None:
    assert cls.code
    assert 400 <= cls.http_status <= 599
    assert cls.__name__ in (errors.__doc__ or ""), "the module docstring draws every error"


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in _all_error_classes()]
    assert len(codes) == len(set(codes))


def test_to_dict_is_json_and_keeps_details() -> None:
    err = ServersNotReadyError({server_id(1): "STALLED", server_id(2): "NOT_FOUND"})
    body = err.to_dict()
    assert json.loads(json.dumps(body)) == body
    assert body["error"] == "ServersNotReady"
    assert body["details"]["servers"][server_id(1)] == "STALLED"
    assert server_id(2) in err.message
    assert "NOT_FOUND" in err.message
    assert err.http_status == 409


def test_validation_error_from_pydantic_keeps_paths_and_values() -> None:
    class Inner(pydantic.BaseModel):
        port: int

    class Outer(pydantic.BaseModel):
        items: list[Inner]

    with pytest.raises(pydantic.ValidationError) as raw:
        Outer.model_validate({"items": [{"port": 1}, {"port": "x"}]})
    err = ValidationError.from_pydantic(raw.value, prefix="body")
    assert err.problems == [
        {
            "field": "body.items.1.port",
            "message": "Input should be a valid integer, unable to parse string as an integer",
            "value": "x",
        }
    ]
    assert "body.items.1.port" in str(err)
    assert err.http_status == 400


def test_for_field() -> None:
    err = ValidationError.for_field("waves.0.timeoutS", -1, "must be positive")
    assert err.problems[0]["field"] == "waves.0.timeoutS"
    assert "-1" in err.message


def test_not_found_and_concurrent_modification() -> None:
    missing = NotFoundError("protection group", "pg-x")
    assert missing.to_dict()["details"] == {"kind": "protection group", "key": "pg-x"}
    assert isinstance(missing, LookupError)
    conflict = ConcurrentModificationError(
        "execution", "ex-1", expected_version=3, actual_version=4
    )
    assert "expected version 3, found version 4" in conflict.message
    absent = ConcurrentModificationError(
        "execution", "ex-1", expected_version=3, actual_version=None
    )
    assert "absent" in absent.message


def test_private_ip_mismatch_message_has_remediation() -> None:
    err = PrivateIPMismatchError(
        server_id(1), expected_ip="10.0.0.5", actual_ip="10.0.0.9", remediation="set copyPrivateIp"
    )
    assert "10.0.0.5" in err.message
    assert "10.0.0.9" in err.message
    assert "copyPrivateIp" in err.message


def test_concurrent_modification_says_what_was_expected() -> None:
    created = ConcurrentModificationError(
        "claim", "plan:rp-1", expected_version=0, actual_version=2
    )
    assert "expected it not to exist, found version 2" in created.message
    gone = ConcurrentModificationError("execution", "ex-1", expected_version=3, actual_version=None)
    assert "expected version 3, found it absent" in gone.message
    # Retrying writers that gave up have no single expected version; -1 was used for that.
    for unknown in (None, -1):
        gave_up = ConcurrentModificationError(
            "execution", "ex-1", expected_version=unknown, actual_version=7, attempts=5
        )
        assert gave_up.expected_version is None
        assert "version -1" not in gave_up.message
        assert "gave up after 5 attempt(s); last found version 7" in gave_up.message
        assert gave_up.to_dict()["details"]["expectedVersion"] is None


def test_storage_errors_carry_where_and_what() -> None:
    corrupt = errors.CorruptRecordError(
        "executions", "ex-1", "not valid JSON", location="/var/lib/drs.db"
    )
    assert isinstance(corrupt, errors.StorageError)
    assert (
        corrupt.message == "corrupt record 'ex-1' in executions (/var/lib/drs.db): not valid JSON"
    )
    assert corrupt.to_dict()["details"] == {
        "collection": "executions",
        "key": "ex-1",
        "problem": "not valid JSON",
        "location": "/var/lib/drs.db",
    }
    unavailable = errors.StorageUnavailableError("locked", location="/var/lib/drs.db")
    assert isinstance(unavailable, errors.StorageError)
    assert (unavailable.http_status, unavailable.location) == (503, "/var/lib/drs.db")


def test_every_error_code_is_its_class_name_without_the_error_suffix() -> None:
    """One naming style for the stable codes adapters and logs match on."""
    from drs_orchestration import errors

    classes = [
        getattr(errors, name)
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), errors.DrsOrchestrationError)
    ]
    assert len(classes) > 20
    for cls in classes:
        assert cls.code == cls.__name__.removesuffix("Error"), cls
