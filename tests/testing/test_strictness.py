"""Requests meet botocore's checks and then the model's server-side ones; responses are checked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from drs_orchestration.testing import DrsSimulator, SimulatorBug, mock_drs
from drs_orchestration.testing.operations import OPERATIONS

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient


def test_a_parameter_the_model_lacks_fails_in_botocore(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="web")
    with pytest.raises(ParamValidationError, match="recoveryInstanceProperties"):
        bare_drs.start_recovery(
            sourceServers=[
                {"sourceServerID": server, "recoveryInstanceProperties": {"x": 1}}  # type: ignore[typeddict-unknown-key]
            ]
        )
    assert bare_sim.calls.count() == 0


def test_a_bad_pattern_is_a_validation_exception_naming_the_field(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    with pytest.raises(bare_drs.exceptions.ValidationException) as caught:
        bare_drs.get_launch_configuration(sourceServerID="s-0123456789abcdef_")
    response: dict[str, Any] = caught.value.response  # type: ignore[assignment]
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["reason"] == "fieldValidationFailed"
    assert response["fieldList"] == [
        {
            "name": "sourceServerID",
            "message": "Member must satisfy regular expression pattern: s-[0-9a-zA-Z]{17}",
        }
    ]
    assert response["Error"]["Message"].startswith("1 validation error detected: Value ")
    assert bare_sim.calls.of("GetLaunchConfiguration")[0].error_code == "ValidationException"


def test_nested_paths_use_aws_notation(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    server = bare_sim.add_source_server(hostname="web")
    with pytest.raises(bare_drs.exceptions.ValidationException) as caught:
        bare_drs.start_recovery(
            sourceServers=[
                {"sourceServerID": server, "recoverySnapshotID": "pit-" + "x" * 16 + "_"}
            ]
        )
    fields = caught.value.response["fieldList"]  # type: ignore[typeddict-item]
    assert [f["name"] for f in fields] == ["sourceServers.1.member.recoverySnapshotID"]


def test_model_maxima_are_enforced_server_side(bare_drs: DrsClient) -> None:
    too_many = [{"sourceServerID": f"s-{n:017d}"} for n in range(201)]
    with pytest.raises(bare_drs.exceptions.ValidationException) as caught:
        bare_drs.start_recovery(sourceServers=too_many)  # type: ignore[arg-type]
    assert caught.value.response["fieldList"][0]["message"] == (  # type: ignore[typeddict-item]
        "Member must have length less than or equal to 200"
    )
    with pytest.raises(bare_drs.exceptions.ValidationException):
        bare_drs.list_staging_accounts(maxResults=51)


def test_enums_are_enforced_server_side(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    server = bare_sim.add_source_server(hostname="web")
    with pytest.raises(bare_drs.exceptions.ValidationException, match="enum value set"):
        bare_drs.update_launch_configuration(
            sourceServerID=server,
            launchDisposition="PAUSED",  # type: ignore[arg-type]
        )


def test_lax_mode_skips_the_server_side_checks() -> None:
    with mock_drs(strict=False) as sim:
        from drs_orchestration.testing import SimulatedClientFactory

        drs = SimulatedClientFactory(sim).client("drs", "us-east-1")
        with pytest.raises(drs.exceptions.ResourceNotFoundException):
            drs.get_launch_configuration(sourceServerID="s-0123456789abcdef_")


def test_unsupported_operations_answer_501_naming_the_operation(bare_drs: DrsClient) -> None:
    assert "CreateRecoveryPlan" not in OPERATIONS
    with pytest.raises(ClientError) as caught:
        bare_drs.list_launch_actions(resourceId="s-0123456789abcdef0")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert caught.value.response["Error"]["Code"] == "NotImplementedException"
    assert "ListLaunchActions" in caught.value.response["Error"]["Message"]


def test_a_response_the_model_cannot_describe_is_a_loud_simulator_bug(
    bare_sim: DrsSimulator, bare_drs: DrsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = OPERATIONS["DescribeJobs"]

    def invents_a_field(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        result = original(ctx, params)
        result["items"] = [{"jobID": "drsjob-00000000000000000", "status": "RUNNING"}]
        return result

    monkeypatch.setitem(OPERATIONS, "DescribeJobs", invents_a_field)
    with pytest.raises(SimulatorBug) as caught:
        bare_drs.describe_jobs()
    message = str(caught.value)
    assert "DescribeJobs" in message
    assert "items.1.member.status" in message
    assert bare_sim.calls.of("DescribeJobs")[0].error_code == "SimulatorBug"


def test_a_missing_required_output_member_is_a_simulator_bug(
    bare_drs: DrsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        OPERATIONS, "DescribeJobs", lambda ctx, params: {"items": [{"type": "LAUNCH"}]}
    )
    with pytest.raises(SimulatorBug, match=r"items\.1\.member\.jobID: Member is required"):
        bare_drs.describe_jobs()


def test_errors_come_back_as_the_modeled_exception_classes(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    with pytest.raises(bare_drs.exceptions.ResourceNotFoundException) as caught:
        bare_drs.get_launch_configuration(sourceServerID="s-0123456789abcdef0")
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["resourceId"] == "s-0123456789abcdef0"  # type: ignore[typeddict-item]
    assert response["resourceType"] == "SOURCE_SERVER"  # type: ignore[typeddict-item]
    assert response["ResponseMetadata"]["RequestId"]


def test_uninitialized_regions_refuse_until_initialized(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    bare_sim.set_initialized("us-east-1", False)
    with pytest.raises(bare_drs.exceptions.UninitializedAccountException):
        bare_drs.describe_source_servers()
    bare_drs.initialize_service()
    assert bare_drs.describe_source_servers()["items"] == []
