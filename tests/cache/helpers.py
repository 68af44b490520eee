"""Launching drills in the simulator and recording them as executions, as the wave executor does."""

from __future__ import annotations

from collections.abc import Sequence

from drs_orchestration.models import (
    AccountContext,
    Execution,
    ExecutionStatus,
    ExecutionType,
    JobRecord,
    JobStatus,
    ServerLaunchStatus,
    ServerOutcome,
    WaveRun,
    WaveStatus,
    new_execution_id,
    new_plan_id,
)
from drs_orchestration.services.cache import EXECUTION_ID_TAG
from drs_orchestration.storage.base import Storage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory

OTHER_ACCOUNT = AccountContext(account_id="222222222222", role_name="DRSOrchestrationRole")


def add_servers(
    sim: DrsSimulator,
    region: str,
    count: int,
    *,
    account: AccountContext | None = None,
    prefix: str = "host",
    **details: object,
) -> list[str]:
    """Add ``count`` replicating source servers in one account and region."""
    return [
        sim.add_source_server(
            region=region,
            hostname=f"{prefix}-{region}-{index}",
            account_id=account.account_id if account else None,
            **details,  # type: ignore[arg-type]
        )
        for index in range(count)
    ]


def launch(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    region: str,
    server_ids: Sequence[str],
    *,
    account: AccountContext | None = None,
    execution_id: str | None = None,
    is_drill: bool = True,
    tag: bool = True,
    finish: bool = True,
) -> list[str]:
    """Start jobs of at most 100 servers (tagged with the execution) and run them to the end."""
    drs = clients.client("drs", region, account)
    job_ids = []
    for start in range(0, len(server_ids), 100):
        chunk = server_ids[start : start + 100]
        tags = {EXECUTION_ID_TAG: execution_id} if execution_id and tag else {}
        job = drs.start_recovery(
            sourceServers=[{"sourceServerID": sid} for sid in chunk], isDrill=is_drill, tags=tags
        )["job"]
        job_ids.append(job["jobID"])
    if finish:
        sim.advance(3600)
    return job_ids


def record_execution(
    storage: Storage,
    clients: SimulatedClientFactory,
    region: str,
    job_ids: Sequence[str],
    *,
    execution_id: str | None = None,
    account: AccountContext | None = None,
    execution_type: ExecutionType = ExecutionType.DRILL,
    with_outcomes: bool = True,
) -> Execution:
    """Store an execution whose one wave ran ``job_ids``, with each server's outcome."""
    drs = clients.client("drs", region, account)
    jobs = drs.describe_jobs(filters={"jobIDs": list(job_ids)})["items"]
    records = []
    outcomes: dict[str, ServerOutcome] = {}
    for index, job in enumerate(sorted(jobs, key=lambda j: job_ids.index(j["jobID"]))):
        servers = job.get("participatingServers", [])
        records.append(
            JobRecord(
                chunk_index=index,
                idempotency_key=f"key-{job['jobID']}",
                server_ids=[s["sourceServerID"] for s in servers],
                region=region,
                account_id=account.account_id if account else None,
                job_id=job["jobID"],
                status=JobStatus.COMPLETED,
            )
        )
        for server in servers if with_outcomes else []:
            outcomes[server["sourceServerID"]] = ServerOutcome(
                source_server_id=server["sourceServerID"],
                status=ServerLaunchStatus(server["launchStatus"]),
                job_id=job["jobID"],
                recovery_instance_id=server.get("recoveryInstanceID"),
            )
    execution = Execution(
        execution_id=execution_id or new_execution_id(),
        plan_id=new_plan_id(),
        plan_name="drill plan",
        execution_type=execution_type,
        status=ExecutionStatus.COMPLETED,
        waves=[
            WaveRun(
                wave_name="wave-1",
                status=WaveStatus.COMPLETED,
                region=region,
                account=account,
                server_ids=[sid for r in records for sid in r.server_ids],
                jobs=records,
                servers=outcomes,
            )
        ],
    )
    return storage.executions.put(execution)


def drill(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: Storage,
    region: str,
    server_ids: Sequence[str],
    *,
    account: AccountContext | None = None,
    execution_type: ExecutionType = ExecutionType.DRILL,
    tag: bool = True,
) -> Execution:
    """Launch ``server_ids`` as one execution's wave and store the execution."""
    execution_id = new_execution_id()
    job_ids = launch(
        sim,
        clients,
        region,
        server_ids,
        account=account,
        execution_id=execution_id,
        is_drill=execution_type is ExecutionType.DRILL,
        tag=tag,
    )
    return record_execution(
        storage,
        clients,
        region,
        job_ids,
        execution_id=execution_id,
        account=account,
        execution_type=execution_type,
    )
