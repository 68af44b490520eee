from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from drs_orchestration import __version__
from drs_orchestration.aws import (
    AssumeRoleClientFactory,
    ClientFactory,
    RetryPolicy,
    SessionClientFactory,
    default_config,
    library_session,
    parse_aws_timestamp,
    request_timeout_bound_s,
)
from drs_orchestration.errors import CrossAccountError, ValidationError
from drs_orchestration.models import AccountContext
from drs_orchestration.testing import SimulatedClientFactory
from tests.http_faults import HttpFaults, query_error

CALLER = "123456789012"  # moto's default account for the fake credentials
OTHER = "111122223333"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _vpc_count(client: Any) -> int:
    return len(client.describe_vpcs()["Vpcs"])


class TestSessionClientFactory:
    def test_is_a_client_factory(self) -> None:
        assert isinstance(SessionClientFactory(), ClientFactory)
        assert isinstance(AssumeRoleClientFactory(), ClientFactory)

    def test_clients_are_cached_per_service_region_and_account(self, aws: None) -> None:
        factory = SessionClientFactory()
        first = factory.client("ec2", "us-east-1")
        assert factory.client("ec2", "us-east-1") is first
        assert factory.client("ec2", "eu-west-1") is not first
        assert factory.client("drs", "us-east-1") is not first
        own = AccountContext(account_id=CALLER)
        assert factory.client("ec2", "us-east-1", own) is factory.client("ec2", "us-east-1", own)

    def test_user_agent_and_botocore_retries_off(self, aws: None) -> None:
        client = SessionClientFactory().client("drs", "us-east-1")
        assert client.meta.config.user_agent_extra == f"drs-orchestration/{__version__}"
        assert client.meta.config.retries["total_max_attempts"] == 1

    @pytest.mark.parametrize("region", ["", "  "])
    def test_an_empty_region_is_refused_by_name(self, region: str) -> None:
        for factory in (SessionClientFactory(), AssumeRoleClientFactory()):
            with pytest.raises(ValidationError) as err:
                factory.client("drs", region)
            assert err.value.problems[0]["field"] == "region"

    def test_caller_config_is_merged_over_defaults(self, aws: None) -> None:
        client = SessionClientFactory(config=Config(connect_timeout=3)).client("drs", "us-east-1")
        assert client.meta.config.connect_timeout == 3
        assert client.meta.config.user_agent_extra == f"drs-orchestration/{__version__}"

    def test_thread_safe_single_client(self, aws: None) -> None:
        factory = SessionClientFactory()
        seen: list[object] = []
        barrier = threading.Barrier(8)

        def grab() -> None:
            barrier.wait()
            seen.append(factory.client("ec2", "us-west-2"))

        threads = [threading.Thread(target=grab) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({id(c) for c in seen}) == 1

    def test_no_session_or_client_until_asked(self) -> None:
        factory = SessionClientFactory()
        assert factory._session is None  # created lazily, never at construction

    def test_own_account_without_role_is_allowed(self, aws: None) -> None:
        factory = SessionClientFactory()
        client = factory.client("ec2", "us-east-1", AccountContext(account_id=CALLER))
        assert _vpc_count(client) >= 1

    def test_other_account_without_role_never_falls_back(self, aws: None) -> None:
        with pytest.raises(CrossAccountError, match=f"{OTHER} has no role to assume"):
            SessionClientFactory().client("ec2", "us-east-1", AccountContext(account_id=OTHER))

    def test_role_needs_the_assume_role_factory(self, aws: None) -> None:
        ctx = AccountContext(account_id=OTHER, role_name="DRS")
        with pytest.raises(CrossAccountError, match="use AssumeRoleClientFactory"):
            SessionClientFactory().client("ec2", "us-east-1", ctx)


class TestAssumeRoleClientFactory:
    def test_clients_land_in_the_target_account(self, aws: None) -> None:
        factory = AssumeRoleClientFactory()
        ctx = AccountContext(account_id=OTHER, role_name="DRSOrchestration", external_id="ext-1")
        other_ec2 = factory.client("ec2", "us-east-1", ctx)
        own_ec2 = factory.client("ec2", "us-east-1")
        before_own = _vpc_count(own_ec2)
        other_ec2.create_vpc(CidrBlock="10.9.0.0/16")
        assert _vpc_count(own_ec2) == before_own
        sts = factory.client("sts", "us-east-1", ctx)
        identity = sts.get_caller_identity()
        assert identity["Account"] == OTHER
        assert ":assumed-role/DRSOrchestration/drs-orchestration" in identity["Arn"]

    def _record_assume_role(self, session: boto3.Session) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []

        def record(params: dict[str, Any], **_: Any) -> None:
            calls.append(dict(params))

        session.events.register("provide-client-params.sts.AssumeRole", record)
        return calls

    def test_external_id_and_session_name_come_from_each_context(self, aws: None) -> None:
        session = boto3.Session(region_name="us-east-1")
        calls = self._record_assume_role(session)
        factory = AssumeRoleClientFactory(session, duration_s=900)
        a = AccountContext(
            account_id=OTHER, role_name="R", external_id="tenant-a", session_name="drill"
        )
        b = AccountContext(account_id="444455556666", role_arn="arn:aws:iam::444455556666:role/R")
        factory.client("drs", "us-east-1", a)
        factory.client("ec2", "eu-west-1", a)  # same credentials, no second AssumeRole
        factory.client("drs", "us-east-1", b)
        assert calls == [
            {
                "RoleArn": f"arn:aws:iam::{OTHER}:role/R",
                "RoleSessionName": "drill",
                "DurationSeconds": 900,
                "ExternalId": "tenant-a",
            },
            {
                "RoleArn": "arn:aws:iam::444455556666:role/R",
                "RoleSessionName": "drs-orchestration",
                "DurationSeconds": 900,
            },
        ]

    def test_credentials_refresh_before_expiry(self, aws: None) -> None:
        session = boto3.Session(region_name="us-east-1")
        calls = self._record_assume_role(session)
        # 900 s credentials sit inside botocore's 15-minute refresh window from the
        # start, so every signed request must renew them through AssumeRole.
        short = AssumeRoleClientFactory(session, duration_s=900)
        ctx = AccountContext(account_id=OTHER, role_name="R")
        ec2 = short.client("ec2", "us-east-1", ctx)
        after_creation = len(calls)
        ec2.describe_vpcs()
        ec2.describe_vpcs()
        assert len(calls) >= after_creation + 2
        assert type(ec2._request_signer._credentials).__name__ == "RefreshableCredentials"

    def test_long_lived_credentials_are_reused(self, aws: None) -> None:
        session = boto3.Session(region_name="us-east-1")
        calls = self._record_assume_role(session)
        factory = AssumeRoleClientFactory(session, duration_s=3600)
        ec2 = factory.client("ec2", "us-east-1", AccountContext(account_id=OTHER, role_name="R"))
        for _ in range(3):
            ec2.describe_vpcs()
        assert len(calls) == 1

    def test_assume_role_failure_names_role_and_account_not_secrets(self, aws: None) -> None:
        session = boto3.Session(region_name="us-east-1")
        denied = query_error("AccessDenied", 403, "not authorized to perform sts:AssumeRole")
        session.events.register("before-send.sts.AssumeRole", lambda **_: denied)
        factory = AssumeRoleClientFactory(session)
        ctx = AccountContext(account_id=OTHER, role_name="Missing", external_id="secret-ext")
        with pytest.raises(CrossAccountError) as err:
            factory.client("drs", "us-east-1", ctx)
        message = str(err.value)
        assert f"arn:aws:iam::{OTHER}:role/Missing" in message
        assert OTHER in message
        assert "AccessDenied" in message
        assert "testing" not in message
        assert "secret-ext" not in message
        assert err.value.details["externalIdSet"] is True
        assert err.value.http_status == 403

    def test_throttled_assume_role_is_retried_by_the_factorys_policy(self, aws: None) -> None:
        session = boto3.Session(region_name="us-east-1")
        faults = HttpFaults(session.events, "sts", "AssumeRole").then(
            query_error("Throttling", 400, "Rate exceeded")
        )
        sleeps: list[float] = []
        factory = AssumeRoleClientFactory(session, retry=RetryPolicy(sleep=sleeps.append))
        ctx = AccountContext(account_id=OTHER, role_name="R")
        sts = factory.client("sts", "us-east-1", ctx)
        assert sts.get_caller_identity()["Account"] == OTHER
        assert faults.attempts == 2
        assert len(sleeps) == 1

    def test_duration_is_validated(self) -> None:
        with pytest.raises(ValueError, match="duration_s"):
            AssumeRoleClientFactory(duration_s=60)


class TestRequestTimeoutBound:
    def test_defaults_bound_one_request_by_connect_plus_read_timeout(self) -> None:
        config = default_config()
        assert request_timeout_bound_s(config) == 10 + 60

    def test_botocore_retries_if_reenabled_are_counted_with_their_waits(self) -> None:
        config = default_config(
            Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})
        )
        # max_attempts counts retries: 3 requests, 2 waits of at most 20 s
        assert request_timeout_bound_s(config) == 3 * (5 + 10) + 2 * 20
        total = default_config(Config(retries={"total_max_attempts": 2}))
        assert request_timeout_bound_s(total) == 2 * 70 + 20

    def test_unset_timeouts_use_botocores_sixty_seconds(self) -> None:
        assert request_timeout_bound_s(Config(retries={"total_max_attempts": 1})) == 120

    def test_default_start_recovery_call_bound(self) -> None:
        bound = RetryPolicy().call_timeout_bound_s(request_timeout_bound_s(default_config()))
        assert bound == 120 + 70


class TestSimulatedClientFactory:
    def test_is_configured_like_the_production_factory(self) -> None:
        simulated = SimulatedClientFactory().config
        production = SessionClientFactory().config
        for option in ("retries", "connect_timeout", "read_timeout", "tcp_keepalive"):
            assert getattr(simulated, option) == getattr(production, option), option

    def test_caller_config_is_merged_over_defaults(self) -> None:
        config = SimulatedClientFactory(config=Config(read_timeout=5)).config
        assert config.read_timeout == 5
        assert config.retries == {"mode": "standard", "total_max_attempts": 1}

    def test_another_account_without_simulator_or_moto_is_a_cross_account_error(self) -> None:
        ctx = AccountContext(account_id=OTHER, role_name="R")
        with pytest.raises(CrossAccountError, match=OTHER):
            SimulatedClientFactory().client("drs", "us-east-1", ctx)


class TestTimestampParsing:
    @settings(max_examples=200)
    @given(
        at=st.datetimes(
            min_value=datetime(1971, 1, 1),
            max_value=datetime(2200, 1, 1),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))]),
        ),
        form=st.sampled_from(["z", "millis-z", "offset", "naive"]),
    )
    def test_iso_text_parses_to_what_botocore_parses(self, at: datetime, form: str) -> None:
        if form == "z":
            text = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif form == "millis-z":
            text = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        elif form == "offset":
            text = at.isoformat()
        else:
            text = at.replace(tzinfo=None).isoformat()
        ours, botocores = parse_aws_timestamp(text), botocore_parse_timestamp(text)
        assert ours == botocores
        assert ours.utcoffset() == botocores.utcoffset()

    @pytest.mark.parametrize(
        "value",
        [1700000000, 1700000000.25, "1700000000", "Wed, 02 Oct 2002 13:00:00 GMT", "2002-10-02"],
    )
    def test_other_forms_go_to_botocores_parser(self, value: str | float) -> None:
        assert parse_aws_timestamp(value) == botocore_parse_timestamp(value)

    def test_text_that_is_no_timestamp_fails_as_botocore_fails(self) -> None:
        with pytest.raises(ValueError, match="not-a-time"):
            parse_aws_timestamp("2026-13-45Tnot-a-time")

    # Which parser read a timestamp shows in its zone: a dateutil zone (tzutc, tzlocal)
    # for botocore's, datetime.timezone.utc for parse_aws_timestamp.
    @staticmethod
    def _launch_time_zone(ec2: Any) -> object:
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
        reservation = ec2.describe_instances()["Reservations"][-1]
        return reservation["Instances"][0]["LaunchTime"].tzinfo

    def test_the_factorys_own_session_parses_ec2_times_like_a_plain_session(
        self, aws: None
    ) -> None:
        ec2 = SessionClientFactory().client("ec2", "us-east-1")
        assert self._launch_time_zone(ec2) is UTC
        plain = boto3.client("ec2", region_name="us-east-1")
        assert not isinstance(self._launch_time_zone(plain), timezone)
        assert (
            ec2.describe_instances()["Reservations"] == plain.describe_instances()["Reservations"]
        )

    def test_a_session_the_caller_passes_is_left_as_it_is(self, aws: None) -> None:
        session = boto3.Session(region_name="us-east-1")
        ec2 = SessionClientFactory(session=session).client("ec2", "us-east-1")
        assert not isinstance(self._launch_time_zone(ec2), timezone)
        assert not isinstance(self._launch_time_zone(session.client("ec2")), timezone)

    def test_assumed_role_sessions_parse_fast(self, aws: None) -> None:
        ctx = AccountContext(account_id=OTHER, role_name="DRSOrchestration")
        ec2 = AssumeRoleClientFactory().client("ec2", "us-east-1", ctx)
        assert self._launch_time_zone(ec2) is UTC

    def test_library_sessions_parse_fast(self, aws: None) -> None:
        session = library_session(region_name="eu-west-1")
        assert session.region_name == "eu-west-1"
        assert self._launch_time_zone(session.client("ec2")) is UTC
