from __future__ import annotations

from datetime import UTC
from typing import Any

import botocore.session
from botocore.model import Shape, StructureShape
from botocore.validate import ParamValidator
from hypothesis import given
from hypothesis import strategies as st

from drs_orchestration.models import LaunchSettings
from drs_orchestration.services.launch_templates import (
    merge_template_data,
    read_template_settings,
    request_template_data,
    request_template_shape,
)

DRS_TEMPLATE: dict[str, Any] = {
    "InstanceType": "t3.small",
    "NetworkInterfaces": [
        {
            "DeviceIndex": 0,
            "SubnetId": "subnet-0aaaaaaaaaaaaaaaa",
            "Groups": ["sg-0aaaaaaaaaaaaaaaa"],
            "AssociatePublicIpAddress": False,
        }
    ],
    "TagSpecifications": [
        {
            "ResourceType": "instance",
            "Tags": [{"Key": "AWSDRS", "Value": "AllowLaunchingIntoThisInstance"}],
        },
        {
            "ResourceType": "volume",
            "Tags": [{"Key": "AWSElasticDisasterRecoveryManaged", "Value": "drs.amazonaws.com"}],
        },
    ],
    "DisableApiTermination": False,
}


def test_only_named_fields_change_and_drs_fields_survive() -> None:
    settings = LaunchSettings(
        target_instance_type_right_sizing_method="NONE",
        instance_type="r6i.large",
        static_private_ip="10.0.1.20",
        security_group_ids=["sg-0bbbbbbbbbbbbbbbb", "sg-0cccccccccccccccc"],
        iam_instance_profile="arn:aws:iam::123456789012:instance-profile/db",
        tags={"Tier": "db"},
    )
    merged = merge_template_data(DRS_TEMPLATE, settings)
    assert merged["InstanceType"] == "r6i.large"
    nic = merged["NetworkInterfaces"][0]
    assert nic["SubnetId"] == "subnet-0aaaaaaaaaaaaaaaa"
    assert nic["Groups"] == ["sg-0bbbbbbbbbbbbbbbb", "sg-0cccccccccccccccc"]
    assert nic["PrivateIpAddress"] == "10.0.1.20"
    assert nic["AssociatePublicIpAddress"] is False
    assert merged["IamInstanceProfile"] == {"Arn": "arn:aws:iam::123456789012:instance-profile/db"}
    instance_tags = merged["TagSpecifications"][0]["Tags"]
    assert {"Key": "AWSDRS", "Value": "AllowLaunchingIntoThisInstance"} in instance_tags
    assert {"Key": "Tier", "Value": "db"} in instance_tags
    assert merged["TagSpecifications"][1] == DRS_TEMPLATE["TagSpecifications"][1]
    assert merged["DisableApiTermination"] is False
    assert DRS_TEMPLATE["InstanceType"] == "t3.small", "the input is not modified"


def test_read_back_matches_what_was_merged() -> None:
    settings = LaunchSettings(
        subnet_id="subnet-0dddddddddddddddd",
        security_group_ids=["sg-0cccccccccccccccc", "sg-0bbbbbbbbbbbbbbbb"],
        iam_instance_profile="db-profile",
        tags={"Tier": "db"},
    )
    found = read_template_settings(merge_template_data(DRS_TEMPLATE, settings))
    assert found["subnet_id"] == "subnet-0dddddddddddddddd"
    assert found["security_group_ids"] == ["sg-0bbbbbbbbbbbbbbbb", "sg-0cccccccccccccccc"]
    assert found["iam_instance_profile"] == "db-profile"
    assert found["tags"]["Tier"] == "db"
    assert found["instance_type"] == "t3.small"


def test_template_without_interfaces() -> None:
    merged = merge_template_data({}, LaunchSettings(security_group_ids=["sg-0bbbbbbbbbbbbbbbb"]))
    assert merged == {"SecurityGroupIds": ["sg-0bbbbbbbbbbbbbbbb"]}
    merged = merge_template_data({}, LaunchSettings(static_private_ip="10.0.0.7"))
    assert merged == {"NetworkInterfaces": [{"DeviceIndex": 0, "PrivateIpAddress": "10.0.0.7"}]}
    assert read_template_settings(merged) == {"static_private_ip": "10.0.0.7"}


def test_no_template_fields_no_change() -> None:
    assert merge_template_data(DRS_TEMPLATE, LaunchSettings(copy_tags=True)) == DRS_TEMPLATE


def test_clearing_launch_into_is_part_of_the_hash() -> None:
    from drs_orchestration.services import calculate_config_hash

    assert calculate_config_hash({"launchIntoInstanceProperties": {}}) != calculate_config_hash({})
    assert calculate_config_hash({"licensing": {}}) == calculate_config_hash({})


# ---- what DescribeLaunchTemplateVersions answers, made fit for CreateLaunchTemplateVersion ----


def _ec2_model() -> Any:
    return botocore.session.get_session().get_service_model("ec2")


def _response_shape() -> StructureShape:
    output = _ec2_model().operation_model("DescribeLaunchTemplateVersions").output_shape
    shape = output.members["LaunchTemplateVersions"].member.members["LaunchTemplateData"]
    assert shape.name == "ResponseLaunchTemplateData"
    return shape  # type: ignore[no-any-return]


def _response_only_paths(response: Shape, request: Shape | None, path: str = "") -> list[str]:
    """Every member path the response shape has and the request shape lacks."""
    if request is None:
        return [path]
    if response.type_name == "structure":
        found: list[str] = []
        for name, member in response.members.items():  # type: ignore[attr-defined]
            found += _response_only_paths(
                member,
                request.members.get(name),  # type: ignore[attr-defined]
                f"{path}.{name}" if path else name,
            )
        return found
    if response.type_name == "list":
        return _response_only_paths(response.member, request.member, f"{path}[]")  # type: ignore[attr-defined]
    if response.type_name == "map":
        return _response_only_paths(response.value, request.value, f"{path}{{}}")  # type: ignore[attr-defined]
    return []


def _assert_valid_request(data: dict[str, Any]) -> None:
    report = ParamValidator().validate(data, request_template_shape())
    assert not report.has_errors(), report.generate_report()


READ_BACK = {
    **DRS_TEMPLATE,
    "MetadataOptions": {
        "State": "applied",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 2,
        "HttpEndpoint": "enabled",
    },
    "Operator": {"Managed": True, "HiddenByDefault": False, "Principal": "drs.amazonaws.com"},
    "NetworkInterfaces": [
        {
            **DRS_TEMPLATE["NetworkInterfaces"][0],  # type: ignore[index]
            "Ipv6Addresses": [
                {"Ipv6Address": "2600:1f18::10", "IsPrimaryIpv6": True},
                {"IsPrimaryIpv6": False},
            ],
        }
    ],
    "CreditSpecification": {},  # CpuCredits is required in a request
}


class TestRequestTemplateData:
    def test_the_installed_model_has_the_response_only_members_of_the_issue(self) -> None:
        paths = _response_only_paths(_response_shape(), request_template_shape())
        assert "MetadataOptions.State" in paths
        assert "NetworkInterfaces[].Ipv6Addresses[].IsPrimaryIpv6" in paths
        assert "Operator.Managed" in paths

    def test_botocore_refuses_the_read_back_as_it_is(self) -> None:
        report = ParamValidator().validate(READ_BACK, request_template_shape())
        assert report.has_errors()
        assert "State" in report.generate_report()

    def test_response_only_members_are_dropped_and_the_rest_kept(self) -> None:
        sent = request_template_data(READ_BACK)
        _assert_valid_request(sent)
        assert sent["MetadataOptions"] == {
            "HttpTokens": "required",
            "HttpPutResponseHopLimit": 2,
            "HttpEndpoint": "enabled",
        }
        assert sent["Operator"] == {"Principal": "drs.amazonaws.com"}
        nic = sent["NetworkInterfaces"][0]
        assert nic["Ipv6Addresses"] == [{"Ipv6Address": "2600:1f18::10"}]
        assert nic["Groups"] == ["sg-0aaaaaaaaaaaaaaaa"]
        assert "CreditSpecification" not in sent
        for key in ("InstanceType", "TagSpecifications", "DisableApiTermination"):
            assert sent[key] == DRS_TEMPLATE[key]
        assert READ_BACK["MetadataOptions"]["State"] == "applied", "the input is not modified"  # type: ignore[index]

    def test_a_structure_of_response_only_members_is_dropped_whole(self) -> None:
        sent = request_template_data({"Operator": {"Managed": True, "HiddenByDefault": True}})
        assert sent == {}

    def test_unknown_and_mistyped_members_are_dropped_and_case_is_the_requests(self) -> None:
        sent = request_template_data(
            {
                "instancetype": "t3.small",
                "SomethingNew": {"A": 1},
                "DisableApiStop": "yes",
                "ElasticGpuSpecifications": [{}],
                "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
            }
        )
        assert sent == {
            "InstanceType": "t3.small",
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
        }
        _assert_valid_request(sent)


def _from_shape(shape: Shape, *, request: bool, depth: int = 0) -> st.SearchStrategy[Any]:
    """Data the way botocore represents ``shape`` (constraints of requests when ``request``)."""
    minimum = shape.metadata.get("min")
    if shape.type_name == "structure":
        members = {
            name: _from_shape(member, request=request, depth=depth + 1)
            for name, member in shape.members.items()  # type: ignore[attr-defined]
            if depth < 6
        }
        required = set(shape.required_members) if request else set()  # type: ignore[attr-defined]
        return st.fixed_dictionaries(
            {k: v for k, v in members.items() if k in required},
            optional={k: v for k, v in members.items() if k not in required},
        )
    if shape.type_name == "list":
        item = _from_shape(shape.member, request=request, depth=depth + 1)  # type: ignore[attr-defined]
        return st.lists(item, min_size=minimum or 0 if request else 0, max_size=2)
    if shape.type_name == "map":
        return st.dictionaries(
            _from_shape(shape.key, request=request, depth=depth + 1),  # type: ignore[attr-defined]
            _from_shape(shape.value, request=request, depth=depth + 1),  # type: ignore[attr-defined]
            max_size=2,
        )
    if shape.type_name == "string":
        if shape.enum:  # type: ignore[attr-defined]
            return st.sampled_from(shape.enum)  # type: ignore[attr-defined]
        low = minimum or 0 if request else 0
        return st.text("abcdefgh-0123456789", min_size=low, max_size=low + 6)
    if shape.type_name in ("integer", "long"):
        low = minimum if request and minimum is not None else -5
        return st.integers(min_value=low, max_value=low + 4096)
    if shape.type_name == "boolean":
        return st.booleans()
    if shape.type_name in ("double", "float"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if shape.type_name == "timestamp":
        return st.datetimes(timezones=st.just(UTC))
    if shape.type_name == "blob":
        return st.binary(max_size=8)
    raise AssertionError(f"unexpected shape type {shape.type_name}")


@given(data=_from_shape(_response_shape(), request=False))
def test_property_anything_ec2_answers_becomes_a_valid_request(data: dict[str, Any]) -> None:
    sent = request_template_data(data)
    _assert_valid_request(sent)
    assert request_template_data(sent) == sent, "nothing more to drop the second time"


@given(data=_from_shape(request_template_shape(), request=True))
def test_property_a_valid_request_is_kept_as_it_is(data: dict[str, Any]) -> None:
    _assert_valid_request(data)  # the generator makes requests botocore accepts
    assert request_template_data(data) == data
