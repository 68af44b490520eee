from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ReadTimeoutError
from moto import mock_aws

from drs_orchestration.aws import RetryPolicy, SessionClientFactory
from drs_orchestration.aws.drs import chunked, drs_timestamp, parse_drs_timestamp
from drs_orchestration.aws.ec2 import Ec2Gateway
from drs_orchestration.errors import AwsResourceNotFoundError


@pytest.fixture
def ec2() -> Iterator[Ec2Gateway]:
    with mock_aws():
        yield Ec2Gateway(SessionClientFactory(), "us-east-1", retry=RetryPolicy.no_retry())


def _template(gateway: Ec2Gateway) -> str:
    response = gateway.client.create_launch_template(
        LaunchTemplateName="drs-s-1",
        LaunchTemplateData={
            "InstanceType": "t3.small",
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": [{"Key": "AWSDRS", "Value": "x"}]}
            ],
        },
    )
    return response["LaunchTemplate"]["LaunchTemplateId"]


def test_template_versions_made_default_by_number(ec2: Ec2Gateway) -> None:
    template_id = _template(ec2)
    current = ec2.default_template_version(template_id)
    assert current["VersionNumber"] == 1
    data = {**current["LaunchTemplateData"], "InstanceType": "r6i.large"}
    version = ec2.create_template_version(
        template_id, source_version=1, data=data, description="drs-orchestration"
    )
    assert version == 2
    assert ec2.default_template_version(template_id)["VersionNumber"] == 1
    ec2.set_default_template_version(template_id, version)
    latest = ec2.default_template_version(template_id)
    assert latest["VersionNumber"] == 2
    assert latest["LaunchTemplateData"]["InstanceType"] == "r6i.large"
    assert latest["LaunchTemplateData"]["TagSpecifications"][0]["Tags"][0]["Key"] == "AWSDRS"


def test_missing_template_is_translated(ec2: Ec2Gateway) -> None:
    with pytest.raises(AwsResourceNotFoundError) as err:
        ec2.default_template_version("lt-0123456789abcdef0")
    assert err.value.aws_code == "InvalidLaunchTemplateId.NotFound"
    assert err.value.resource_ids == ["lt-0123456789abcdef0"]
    assert err.value.operation == "DescribeLaunchTemplateVersions"


def test_describe_instances_skips_missing_ids_and_pages(ec2: Ec2Gateway) -> None:
    run = boto3.client("ec2", region_name="us-east-1").run_instances(
        ImageId="ami-12345678", MinCount=250, MaxCount=250, InstanceType="t3.micro"
    )
    ids = [i["InstanceId"] for i in run["Instances"]]
    ec2.page_size = 50
    found = ec2.describe_instances([*ids, "i-0123456789abcdef0"])
    assert sorted(i["InstanceId"] for i in found) == sorted(ids)


def test_helpers() -> None:
    assert [len(c) for c in chunked(list(range(450)), 100)] == [100, 100, 100, 100, 50]
    with pytest.raises(ValueError, match="chunk size"):
        list(chunked([1], 0))
    moment = parse_drs_timestamp("2026-11-23T10:00:00.123Z")
    assert drs_timestamp(moment) == "2026-11-23T10:00:00Z"
    assert parse_drs_timestamp("2026-11-23T10:00:00+00:00") == parse_drs_timestamp(
        "2026-11-23T10:00:00Z"
    )


def test_a_retried_version_creation_keeps_one_idempotency_token() -> None:
    tokens: list[str] = []

    def lose_first_answer(request: AWSPreparedRequest, **_: Any) -> None:
        body = request.body
        text = body.decode() if isinstance(body, bytes) else str(body)
        tokens.extend(parse_qs(text)["ClientToken"])
        if len(tokens) == 1:
            # raised before moto sees the request; what matters is what was sent
            raise ReadTimeoutError(endpoint_url=request.url)

    with mock_aws():
        sleeps: list[float] = []
        gateway = Ec2Gateway(
            SessionClientFactory(), "us-east-1", retry=RetryPolicy(sleep=sleeps.append)
        )
        template_id = _template(gateway)
        gateway.client.meta.events.register(
            "before-send.ec2.CreateLaunchTemplateVersion", lose_first_answer
        )
        data = gateway.default_template_version(template_id)["LaunchTemplateData"]
        assert gateway.create_template_version(template_id, source_version=1, data=data) == 2
    assert len(tokens) == 2
    assert tokens[0] == tokens[1]
    assert len(sleeps) == 1
