"""Any sequence of starts, time, terminations and replication changes keeps DRS's invariants."""

from __future__ import annotations

from collections import Counter
from typing import Any

from botocore.exceptions import ClientError
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sim_helpers import REGION, START

from drs_orchestration.testing import Quotas, SimulatedClientFactory, mock_drs

REFUSALS = {"ConflictException", "ServiceQuotaExceededException", "ValidationException"}
QUOTAS = Quotas(max_servers_per_job=3, max_jobs_in_progress=2, max_servers_in_progress=4)


class DrsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sim = mock_drs(start=START, quotas=QUOTAS).start()
        self.drs = SimulatedClientFactory(self.sim).client("drs", REGION)
        self.servers = [self.sim.add_source_server(hostname=f"s{n}") for n in range(5)]
        self.completed: set[str] = set()

    def teardown(self) -> None:
        self.sim.stop()

    def _call(self, method: str, **params: Any) -> None:
        code = None
        try:
            getattr(self.drs, method)(**params)
        except ClientError as error:
            code = error.response["Error"]["Code"]
        assert code is None or code in REFUSALS, code

    @rule(
        picks=st.lists(st.integers(0, 4), min_size=1, max_size=4, unique=True), drill=st.booleans()
    )
    def start(self, picks: list[int], drill: bool) -> None:
        servers = [{"sourceServerID": self.servers[i]} for i in picks]
        self._call("start_recovery", sourceServers=servers, isDrill=drill)

    @rule(seconds=st.integers(0, 600))
    def advance(self, seconds: int) -> None:
        self.sim.advance(seconds)

    @rule(count=st.integers(1, 3))
    def terminate(self, count: int) -> None:
        instances = self.drs.describe_recovery_instances()["items"]
        if instances:
            ids = [i["recoveryInstanceID"] for i in instances[:count]]
            self._call("terminate_recovery_instances", recoveryInstanceIDs=ids)

    @rule(index=st.integers(0, 4), state=st.sampled_from(["CONTINUOUS", "STALLED", "BACKLOG"]))
    def replication(self, index: int, state: str) -> None:
        self.sim.set_replication_state(self.servers[index], state)

    @rule(index=st.integers(0, 4))
    def fail_next_launch(self, index: int) -> None:
        self.sim.faults.fail_launch(self.servers[index], times=1)

    @invariant()
    def a_server_is_in_at_most_one_job_in_progress(self) -> None:
        jobs = [j for p in self.drs.get_paginator("describe_jobs").paginate() for j in p["items"]]
        active = [j for j in jobs if j["status"] != "COMPLETED"]
        busy = Counter(p["sourceServerID"] for j in active for p in j["participatingServers"])
        assert all(n == 1 for n in busy.values()), busy
        assert len(active) <= QUOTAS.max_jobs_in_progress
        assert sum(busy.values()) <= QUOTAS.max_servers_in_progress
        for job in jobs:
            if job["jobID"] in self.completed:
                assert job["status"] == "COMPLETED"
            if job["status"] == "COMPLETED":
                self.completed.add(job["jobID"])
                assert "endDateTime" in job
                assert all(p["launchStatus"] != "PENDING" for p in job["participatingServers"])

    @invariant()
    def a_server_has_at_most_one_recovery_instance(self) -> None:
        instances = self.drs.describe_recovery_instances()["items"]
        per_server = Counter(i["sourceServerID"] for i in instances)
        assert all(n == 1 for n in per_server.values()), per_server
        described = {
            s["sourceServerID"]: s.get("recoveryInstanceId")
            for s in self.drs.describe_source_servers()["items"]
        }
        for instance in instances:
            assert described[instance["sourceServerID"]] == instance["recoveryInstanceID"]


DrsMachine.TestCase.settings = settings(max_examples=20, stateful_step_count=10, deadline=None)
TestDrsInvariants = DrsMachine.TestCase
