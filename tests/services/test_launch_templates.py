from __future__ import annotations

from drs_orchestration.models import LaunchSettings
from drs_orchestration.services.launch_templates import merge_template_data, read_template_settings

DRS_TEMPLATE = {
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
