"""Failback: fail over with identity kept, then come home (in AWS or on premises).

:class:`FailbackCoordinator` checks a failed-over execution's servers,
replicates them back (``ReverseReplication`` in AWS, the Failback Client on
premises), waits until they have caught up, launches them back through the
wave executor (optionally into their original instances), and re-protects
and cleans up on request. :mod:`~drs_orchestration.services.failback.identity`
is what the wave executor calls to capture and verify that a launch into a
paired instance kept that instance and its private IP.
"""

from drs_orchestration.services.failback.coordinator import (
    FailbackCoordinator,
    FailbackOptions,
    FailbackStepResult,
)
from drs_orchestration.services.failback.identity import (
    capture_identities,
    verify_identities,
)
from drs_orchestration.services.failback.installer import (
    AgentInstaller,
    AgentInstallRequest,
    run_installer,
)

__all__ = [
    "AgentInstallRequest",
    "AgentInstaller",
    "FailbackCoordinator",
    "FailbackOptions",
    "FailbackStepResult",
    "capture_identities",
    "run_installer",
    "verify_identities",
]
