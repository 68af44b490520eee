"""DrsQuotas: one value for launching and terminating, read from Service Quotas on moto.

moto's Service Quotas backend serves ``GetServiceQuota`` for ``vpc`` only;
these tests give it DRS quotas (or AWS errors) by replacing that backend
method on the backend of one account and region, below the real client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws
from moto.core.exceptions import JsonRESTError
from moto.servicequotas.models import servicequotas_backends

from drs_orchestration import Orchestrator, TerminationLimits, ValidationError
from drs_orchestration.aws import DrsQuotas, RetryPolicy
from drs_orchestration.aws import quotas as quotas_module
from drs_orchestration.aws.quotas import DRS_QUOTA_CODES
from drs_orchestration.models import AccountContext
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory

REGION = "us-east-1"
CALLER = "123456789012"
CODES = {code: name for name, code in DRS_QUOTA_CODES.items()}

Answer = float | JsonRESTError | Callable[[], float]
"""What the injected backend answers for one DRS quota code: its value, or an AWS error."""


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Warnings are once per account and region per process; each test starts afresh.
    monkeypatch.setattr(quotas_module, "_warned", set())


@pytest.fixture
def clients() -> Iterator[SimulatedClientFactory]:
    with mock_aws():
        yield SimulatedClientFactory()


@pytest.fixture
def serve(clients: SimulatedClientFactory) -> Iterator[Callable[..., list[str]]]:
    """Make moto's Service Quotas answer DRS quota codes; returns the codes asked for."""
    patched: list[Any] = []

    def install(
        answers: dict[str, Answer], *, account: str = CALLER, region: str = REGION
    ) -> list[str]:
        asked: list[str] = []
        backend = servicequotas_backends[account][region]

        def get_service_quota(service_code: str, quota_code: str) -> dict[str, Any]:
            asked.append(quota_code)
            answer = answers.get(quota_code) if service_code == "drs" else None
            if answer is None:
                raise JsonRESTError("NoSuchResourceException", "The request failed.")
            if isinstance(answer, JsonRESTError):
                raise answer
            value = answer() if callable(answer) else answer
            return {
                "ServiceCode": "drs",
                "ServiceName": "AWS Elastic Disaster Recovery",
                "QuotaArn": f"arn:aws:servicequotas:{region}:{account}:drs/{quota_code}",
                "QuotaCode": quota_code,
                "QuotaName": CODES[quota_code],
                "Value": value,
                "Adjustable": False,
                "GlobalQuota": False,
            }

        # On the instance, below the real client; removed before moto stops.
        backend.get_service_quota = get_service_quota
        patched.append(backend)
        return asked

    yield install
    for backend in patched:
        vars(backend).pop("get_service_quota", None)


def no_wait(max_attempts: int = 3) -> RetryPolicy:
    return RetryPolicy(max_attempts=max_attempts, sleep=lambda _: None)


def denied() -> JsonRESTError:
    return JsonRESTError("AccessDeniedException", "not authorized to GetServiceQuota")


# ---- the value -------------------------------------------------------------------------


def test_the_defaults_are_drs_documented_quotas() -> None:
    assert DrsQuotas() == DrsQuotas(
        max_servers_per_job=100, max_jobs_in_progress=20, max_servers_in_progress=500
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_servers_per_job", 0),
        ("max_servers_per_job", 201),
        ("max_servers_per_job", 2.5),
        ("max_jobs_in_progress", 0),
        ("max_jobs_in_progress", True),
        ("max_servers_in_progress", 50),
    ],
)
def test_quotas_out_of_range_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        DrsQuotas(**{field: value})  # type: ignore[arg-type]
    assert caught.value.problems[0]["field"] == field


def test_termination_takes_the_shared_quotas_and_chunks_within_them() -> None:
    quotas = DrsQuotas(max_servers_per_job=40, max_jobs_in_progress=3)

    assert TerminationLimits().quotas == DrsQuotas()
    assert TerminationLimits().servers_per_job == 100
    assert TerminationLimits(quotas=quotas).servers_per_job == 40
    assert TerminationLimits(quotas=quotas, chunk_size=10).servers_per_job == 10
    with pytest.raises(ValidationError) as caught:
        TerminationLimits(quotas=quotas, chunk_size=41)
    assert caught.value.problems[0]["field"] == "chunk_size"
    assert "(40)" in caught.value.message
    with pytest.raises(ValidationError, match="quotas"):
        TerminationLimits(quotas={"max_servers_per_job": 10})  # type: ignore[arg-type]


def test_the_orchestrator_launches_and_terminates_within_one_quotas_value(
    drs_sim: DrsSimulator, simulated_clients: SimulatedClientFactory, no_wait_retry: RetryPolicy
) -> None:
    orchestrator = Orchestrator(
        MemoryStorage(),
        simulated_clients,
        clock=drs_sim.now,
        sleep=drs_sim.advance,
        retry=no_wait_retry,
        quotas=DrsQuotas(max_servers_per_job=2),
        sync_cache=False,
    )
    servers = [drs_sim.add_source_server(region=REGION, hostname=f"db-{i}") for i in range(5)]
    group = orchestrator.groups.create("db", REGION, server_ids=servers)
    wave = {"name": "w", "protectionGroupIds": [group.group_id]}
    plan = orchestrator.plans.create("p", [wave])
    execution = orchestrator.waves.start(plan.plan_id, drill=True)
    execution = orchestrator.waves.run(execution.execution_id, poll_interval=30)

    report = orchestrator.cache.terminate_execution(execution.execution_id)

    launches = [len(c.params["sourceServers"]) for c in drs_sim.calls.of("StartRecovery")]
    terminations = [
        len(c.params["recoveryInstanceIDs"]) for c in drs_sim.calls.of("TerminateRecoveryInstances")
    ]
    assert sorted(launches) == [1, 2, 2]
    assert sorted(terminations) == [1, 2, 2]
    assert len(report.terminated) == 5


# ---- read from Service Quotas ------------------------------------------------------------


def test_the_account_values_are_read_by_quota_code(
    clients: SimulatedClientFactory, serve: Callable[..., list[str]]
) -> None:
    asked = serve({"L-B827C881": 50.0, "L-D88FAC3A": 8.0, "L-05AFA8C6": 300.0})

    quotas = DrsQuotas.from_service_quotas(clients, REGION, retry=no_wait())

    assert quotas == DrsQuotas(
        max_servers_per_job=50, max_jobs_in_progress=8, max_servers_in_progress=300
    )
    assert asked == ["L-B827C881", "L-D88FAC3A", "L-05AFA8C6"]


def test_a_missing_quota_keeps_its_default_and_one_warning_says_which(
    clients: SimulatedClientFactory,
    serve: Callable[..., list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    serve({"L-D88FAC3A": 12.0})
    caplog.set_level(logging.DEBUG, logger="drs_orchestration.aws.quotas")

    quotas = DrsQuotas.from_service_quotas(clients, REGION, retry=no_wait())
    again = DrsQuotas.from_service_quotas(clients, REGION, retry=no_wait())

    assert quotas == again == DrsQuotas(max_jobs_in_progress=12)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # not one per quota, nor one per call
    message = warnings[0].getMessage()
    assert "max_servers_per_job (no applied value)" in message
    assert "max_servers_in_progress (no applied value)" in message
    assert "max_jobs_in_progress" not in message
    assert warnings[0].defaulted == {  # type: ignore[attr-defined]
        "max_servers_per_job": "no applied value",
        "max_servers_in_progress": "no applied value",
    }


def test_access_denied_keeps_every_default_and_asks_no_more(
    clients: SimulatedClientFactory,
    serve: Callable[..., list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    asked = serve({"L-B827C881": denied(), "L-D88FAC3A": 5.0, "L-05AFA8C6": 200.0})

    with caplog.at_level(logging.WARNING, logger="drs_orchestration.aws.quotas"):
        quotas = DrsQuotas.from_service_quotas(clients, REGION, retry=no_wait())

    assert quotas == DrsQuotas()
    assert asked == ["L-B827C881"]  # denied once: the role lacks the permission for all
    (warning,) = caplog.records
    assert "access denied (AccessDeniedException)" in warning.getMessage()


def test_access_denied_after_a_value_keeps_that_value(
    clients: SimulatedClientFactory, serve: Callable[..., list[str]]
) -> None:
    serve({"L-B827C881": 60.0, "L-D88FAC3A": denied()})

    quotas = DrsQuotas.from_service_quotas(clients, REGION, retry=no_wait())

    assert quotas == DrsQuotas(max_servers_per_job=60)


def test_throttling_is_retried_with_the_library_policy(
    clients: SimulatedClientFactory, serve: Callable[..., list[str]]
) -> None:
    throttled = [2]

    def jobs() -> float:
        if throttled[0]:
            throttled[0] -= 1
            raise JsonRESTError("TooManyRequestsException", "slow down")
        return 7.0

    asked = serve({"L-B827C881": 100.0, "L-D88FAC3A": jobs, "L-05AFA8C6": 500.0})
    sleeps: list[float] = []

    quotas = DrsQuotas.from_service_quotas(
        clients, REGION, retry=RetryPolicy(max_attempts=3, sleep=sleeps.append)
    )

    assert quotas.max_jobs_in_progress == 7
    assert asked.count("L-D88FAC3A") == 3
    assert len(sleeps) == 2  # the policy's waits, through its injected sleep


def test_a_failure_that_outlasts_the_policy_keeps_the_default(
    clients: SimulatedClientFactory, serve: Callable[..., list[str]]
) -> None:
    def always() -> float:
        raise JsonRESTError("TooManyRequestsException", "slow down")

    asked = serve({"L-B827C881": 80.0, "L-D88FAC3A": always, "L-05AFA8C6": 400.0})

    quotas = DrsQuotas.from_service_quotas(clients, REGION, retry=no_wait(max_attempts=2))

    assert quotas == DrsQuotas(max_servers_per_job=80, max_servers_in_progress=400)
    assert asked.count("L-D88FAC3A") == 2


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        # The API takes 200 servers per call whatever the quota says.
        ({"L-B827C881": 250.0, "L-05AFA8C6": 1000.0}, DrsQuotas(200, 20, 1000)),
        # A job larger than the servers allowed in progress could never start.
        ({"L-B827C881": 200.0, "L-05AFA8C6": 150.0}, DrsQuotas(150, 20, 150)),
        # Not a positive whole number: the default stays.
        ({"L-D88FAC3A": 0.0, "L-B827C881": 40.0}, DrsQuotas(40, 20, 500)),
    ],
)
def test_values_the_library_cannot_use_as_they_are_become_usable(
    clients: SimulatedClientFactory,
    serve: Callable[..., list[str]],
    answers: dict[str, Answer],
    expected: DrsQuotas,
) -> None:
    serve(answers)

    assert DrsQuotas.from_service_quotas(clients, REGION, retry=no_wait()) == expected


def test_another_account_is_read_in_that_account(
    clients: SimulatedClientFactory, serve: Callable[..., list[str]]
) -> None:
    serve({"L-D88FAC3A": 3.0}, account="222222222222", region="eu-west-1")
    serve({"L-D88FAC3A": 9.0}, account=CALLER, region="eu-west-1")
    other = AccountContext(account_id="222222222222", role_name="DRSOrchestrationRole")

    theirs = DrsQuotas.from_service_quotas(clients, "eu-west-1", other, retry=no_wait())
    ours = DrsQuotas.from_service_quotas(clients, "eu-west-1", retry=no_wait())

    assert theirs.max_jobs_in_progress == 3
    assert ours.max_jobs_in_progress == 9


def test_unanswered_by_moto_means_every_default(clients: SimulatedClientFactory) -> None:
    # moto itself has no DRS quotas: NoSuchResourceException for each.
    assert DrsQuotas.from_service_quotas(clients, REGION, retry=no_wait()) == DrsQuotas()
