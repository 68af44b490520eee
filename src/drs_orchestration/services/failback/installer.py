"""The agent-installation hook: the library never installs anything itself.

DRS has no operation that installs the replication agent or the Failback
Client, so a failback that needs one (every on-premises failback; an in-AWS
one whose recovery instances lack the agent) calls the user's hook — a
Lambda of the team that owns the machines, an SSM document, a ticket — and
waits for it, bounded by a timeout. The hook is called again for a server
whose installation did not finish (a crash, a timeout), so it must be
idempotent.

Examples:
    >>> def install(request: AgentInstallRequest) -> None:
    ...     lambda_client.invoke(FunctionName="their-agent-deployer",
    ...                          Payload=json.dumps(request.to_dict()))
    >>> coordinator = FailbackCoordinator(storage, clients, install_agent=install)
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from drs_orchestration.errors import AgentInstallationError, DrsOrchestrationError

__all__ = ["AgentInstallRequest", "AgentInstaller", "run_installer"]

InstallKind = Literal["replication-agent", "failback-client"]


@dataclass(frozen=True)
class AgentInstallRequest:
    """What the hook is asked to install, and where.

    Attributes:
        kind: ``replication-agent`` on a recovery instance in AWS (before
            reverse replication), or ``failback-client`` on the machine an
            on-premises server fails back to.
        execution_id: The execution being failed back.
        source_server_id: The source server.
        recovery_instance_id: The recovery instance replicating back.
        ec2_instance_id: Its EC2 instance.
        region: Where the recovery instance runs.
        account_id: Its account (``None``: the client factory's own).
        timeout_s: How long the coordinator waits for the hook.
    """

    kind: InstallKind
    execution_id: str
    source_server_id: str
    recovery_instance_id: str
    ec2_instance_id: str | None
    region: str
    account_id: str | None
    timeout_s: float

    def to_dict(self) -> dict[str, Any]:
        """The request as camelCase JSON (for a Lambda payload)."""
        return {_camel(k): v for k, v in asdict(self).items()}


AgentInstaller = Callable[[AgentInstallRequest], None]
"""The hook: installs what the request names and returns, or raises why it could not."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_REMEDIATION = {
    "replication-agent": (
        "check that the instance can reach the DRS endpoint and the origin's replication "
        "servers (TCP 443 and 1500), has an instance profile allowing DRS, and reaches the "
        "hook's installer; then step the failback again"
    ),
    "failback-client": (
        "boot the machine from the Failback Client ISO with network access to the DRS "
        "endpoint and the recovery instance (TCP 443 and 1500) and credentials for "
        "drs:*Failback*; then step the failback again"
    ),
}


def run_installer(installer: AgentInstaller, request: AgentInstallRequest) -> None:
    """Call ``installer`` and wait at most ``request.timeout_s`` for it.

    A hook still running after the timeout is left to finish on its own
    thread (threads cannot be stopped); honour ``request.timeout_s`` in it.

    Raises:
        AgentInstallationError: the hook raised (its error is the cause) or
            did not return in time; with a remediation naming what to check.
    """
    details = {
        "kind": request.kind,
        "sourceServerId": request.source_server_id,
        "recoveryInstanceId": request.recovery_instance_id,
        "timeoutS": request.timeout_s,
    }
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="drs-install")
    try:
        future = pool.submit(installer, request)
        try:
            future.result(timeout=request.timeout_s)
        except concurrent.futures.TimeoutError as exc:
            raise AgentInstallationError(
                f"installing the {request.kind} for recovery instance "
                f"{request.recovery_instance_id} (source server {request.source_server_id}) "
                f"did not finish within {request.timeout_s:g} s",
                remediation=_REMEDIATION[request.kind],
                details=details,
            ) from exc
        except Exception as exc:
            reason = exc.message if isinstance(exc, DrsOrchestrationError) else str(exc)
            raise AgentInstallationError(
                f"installing the {request.kind} for recovery instance "
                f"{request.recovery_instance_id} (source server {request.source_server_id}) "
                f"failed: {type(exc).__name__}: {reason or 'no message'}",
                remediation=_REMEDIATION[request.kind],
                details=details,
            ) from exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
