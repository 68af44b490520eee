"""The clock: manual by default, real-time (scaled) on request."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sim_helpers import REGION, START, run_drill

from drs_orchestration.testing import SimulatedClock, mock_drs


class FakeWall:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_manual_time_moves_only_when_advanced() -> None:
    clock = SimulatedClock(START)
    assert clock.now() == START
    assert clock.advance(90) == START + timedelta(seconds=90)
    assert clock.scale is None
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatedClock(datetime(2025, 1, 1))


def test_real_time_runs_at_a_scale_of_wall_time() -> None:
    wall = FakeWall()
    clock = SimulatedClock(START, wall=wall)
    clock.realtime(60)
    wall.now += 2
    assert clock.now() == START + timedelta(minutes=2)
    clock.advance(30)
    wall.now += 1
    assert clock.now() == START + timedelta(minutes=3, seconds=30)
    clock.freeze()
    wall.now += 100
    assert clock.now() == START + timedelta(minutes=3, seconds=30)
    with pytest.raises(ValueError, match="positive"):
        clock.realtime(0)


def test_default_start_is_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    assert SimulatedClock().now() >= before


def test_a_drill_finishes_in_real_time_mode_without_advancing() -> None:
    with mock_drs(start=START, realtime_scale=1200) as sim:
        drs = boto3.client("drs", region_name=REGION)
        server = sim.add_source_server(hostname="demo")
        job = run_drill(drs, [server])
        deadline = time.monotonic() + 10
        status = job["status"]
        while status != "COMPLETED" and time.monotonic() < deadline:
            time.sleep(0.05)
            status = drs.describe_jobs()["items"][0]["status"]
        assert status == "COMPLETED"
        assert sim.now() > START + timedelta(minutes=4)


def test_every_answer_carries_a_date_header_from_the_simulated_clock() -> None:
    with mock_drs(start=START) as sim:
        one_attempt = Config(retries={"mode": "standard", "total_max_attempts": 1})
        drs = boto3.client("drs", region_name=REGION, config=one_attempt)
        first = drs.describe_jobs()["ResponseMetadata"]["HTTPHeaders"]["date"]
        assert first == "Sat, 01 Mar 2025 12:00:00 GMT"
        assert parsedate_to_datetime(first) == START
        sim.advance(3661)
        later = drs.describe_source_servers()["ResponseMetadata"]["HTTPHeaders"]["date"]
        assert parsedate_to_datetime(later) == START + timedelta(seconds=3661)

        sim.faults.throttle_next(1, "DescribeJobs")
        with pytest.raises(drs.exceptions.ThrottlingException) as throttled:
            drs.describe_jobs()
        assert throttled.value.response["ResponseMetadata"]["HTTPHeaders"]["date"] == later
        with pytest.raises(drs.exceptions.ResourceNotFoundException) as refused:
            drs.get_launch_configuration(sourceServerID="s-00000000000000000")
        assert refused.value.response["ResponseMetadata"]["HTTPHeaders"]["date"] == later
        sim.faults.server_error(status=503, times=1)
        with pytest.raises(ClientError) as unavailable:
            drs.describe_jobs()
        assert unavailable.value.response["ResponseMetadata"]["HTTPHeaders"]["date"] == later
