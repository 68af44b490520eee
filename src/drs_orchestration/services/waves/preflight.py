"""Preflight: is every server of a wave in a replication state DRS will recover from?

AWS documents no list of replication states that block recovery; its
guidance is to launch healthy servers. So readiness fails closed: a server
is ready only if its ``dataReplicationInfo.dataReplicationState`` is in a
configurable set (default ``{"CONTINUOUS"}``) and it is not archived. A
server DRS did not return is not ready (``NOT_FOUND``). The check runs in
the wave's own region and account.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drs_orchestration.aws.drs import DrsGateway

if TYPE_CHECKING:
    from mypy_boto3_drs.type_defs import SourceServerTypeDef

__all__ = [
    "ARCHIVED",
    "DEFAULT_READY_STATES",
    "NOT_FOUND",
    "PreflightResult",
    "check_replication",
    "replication_state",
]

DEFAULT_READY_STATES: frozenset[str] = frozenset({"CONTINUOUS"})
"""Replication states a wave launches from unless configured otherwise."""
NOT_FOUND = "NOT_FOUND"
"""The state reported for a server DRS did not return."""
ARCHIVED = "ARCHIVED"
"""The state reported for an archived source server (DRS cannot recover it)."""
UNKNOWN = "UNKNOWN"
"""The state reported for a server without replication information."""


@dataclass(frozen=True)
class PreflightResult:
    """The readiness of a wave's servers.

    Attributes:
        ready: Ready servers, in the wave's order.
        not_ready: Each server that is not ready and its state (``NOT_FOUND``
            when DRS did not return it).
    """

    ready: list[str] = field(default_factory=list)
    not_ready: dict[str, str] = field(default_factory=dict)

    @property
    def all_ready(self) -> bool:
        """Whether every server is ready."""
        return not self.not_ready


def replication_state(server: SourceServerTypeDef | Mapping[str, Any]) -> str:
    """A source server's replication state as preflight sees it (``ARCHIVED`` first)."""
    if server.get("isArchived"):
        return ARCHIVED
    info: Mapping[str, Any] = server.get("dataReplicationInfo") or {}
    return str(info.get("dataReplicationState") or UNKNOWN)


def check_replication(
    drs: DrsGateway,
    server_ids: Sequence[str],
    ready_states: Collection[str] = DEFAULT_READY_STATES,
) -> PreflightResult:
    """Read the servers from DRS and split them into ready and not ready.

    Raises:
        AwsApiError: if DRS cannot be read (after the gateway's retries).
    """
    found = {
        s["sourceServerID"]: s for s in drs.describe_source_servers(source_server_ids=server_ids)
    }
    ready: list[str] = []
    not_ready: dict[str, str] = {}
    for sid in server_ids:
        server = found.get(sid)
        state = NOT_FOUND if server is None else replication_state(server)
        if state in ready_states:
            ready.append(sid)
        else:
            not_ready[sid] = state
    return PreflightResult(ready=ready, not_ready=not_ready)
