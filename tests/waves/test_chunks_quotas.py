"""Chunks of at most 100 servers, and the account quotas respected by waiting."""

from __future__ import annotations

import pytest

from drs_orchestration import ExecutionStatus
from drs_orchestration.services.waves import DrsQuotas
from drs_orchestration.testing import DrsSimulator
from tests.waves.helpers import drs_jobs, make_drill, simulated, started_server_ids


def _max_jobs_in_flight(sim: DrsSimulator) -> tuple[int, int]:
    """The most jobs (and servers) that were in progress at once, from DRS's own records."""
    jobs = drs_jobs(sim)
    moments = sorted({j["creationDateTime"] for j in jobs} | {j["endDateTime"] for j in jobs})
    most_jobs = most_servers = 0
    for moment in moments:
        live = [j for j in jobs if j["creationDateTime"] <= moment < j["endDateTime"]]
        most_jobs = max(most_jobs, len(live))
        most_servers = max(most_servers, sum(len(j["participatingServers"]) for j in live))
    return most_jobs, most_servers


def test_a_450_server_wave_is_five_start_recovery_calls_of_at_most_100() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"fleet": 450})

        execution = drill.run(drill.start(), poll_interval=60)

        assert execution.status is ExecutionStatus.COMPLETED
        calls = started_server_ids(sim)
        assert [len(c) for c in calls] == [100, 100, 100, 100, 50]
        assert sorted(s for c in calls for s in c) == sorted(drill.servers["fleet"])
        assert sim.calls.count("StartRecovery") == 5
        chunks = [c.params["tags"]["Chunk"] for c in sim.calls.of("StartRecovery")]
        assert chunks == ["0", "1", "2", "3", "4"]
        wave = execution.waves[0]
        assert [j.idempotency_key for j in wave.jobs] == [
            f"{execution.execution_id}:fleet:{i}" for i in range(5)
        ]
        assert len(wave.job_ids) == 5
        assert sim.calls.errors() == []


def test_a_chunk_that_would_exceed_the_jobs_quota_waits() -> None:
    with simulated(ec2=False) as sim:
        sim.quotas.max_jobs_in_progress = 2
        drill = make_drill(
            sim,
            {"fleet": 10},
            quotas=DrsQuotas(max_servers_per_job=2, max_jobs_in_progress=2),
        )

        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.COMPLETED
        assert sim.calls.count("StartRecovery") == 5
        assert sim.calls.errors() == []  # the executor waited; DRS never had to refuse
        assert _max_jobs_in_flight(sim) == (2, 4)


def test_a_chunk_that_would_exceed_the_servers_quota_waits() -> None:
    with simulated(ec2=False) as sim:
        sim.quotas.max_servers_in_progress = 6
        drill = make_drill(
            sim,
            {"fleet": 12},
            quotas=DrsQuotas(max_servers_per_job=4, max_servers_in_progress=6),
        )

        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.COMPLETED
        assert sim.calls.errors() == []
        assert _max_jobs_in_flight(sim)[1] <= 6


def test_when_drs_refuses_for_quota_the_chunk_waits_and_starts_later() -> None:
    with simulated(ec2=False) as sim:
        sim.quotas.max_jobs_in_progress = 1
        # The executor believes the default quotas; DRS enforces a lower one.
        drill = make_drill(sim, {"fleet": 6}, quotas=DrsQuotas(max_servers_per_job=2))

        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.COMPLETED
        refused = sim.calls.of("StartRecovery", succeeded=False)
        assert refused
        assert {c.error_code for c in refused} == {"ServiceQuotaExceededException"}
        assert sim.calls.count("StartRecovery", succeeded=True) == 3
        assert all(j.start_attempts == 1 for j in execution.waves[0].jobs)


def test_quotas_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="max_servers_per_job"):
        DrsQuotas(max_servers_per_job=201)
    with pytest.raises(ValueError, match="max_servers_in_progress"):
        DrsQuotas(max_servers_per_job=100, max_servers_in_progress=50)
    with pytest.raises(ValueError, match="max_jobs_in_progress"):
        DrsQuotas(max_jobs_in_progress=0)
