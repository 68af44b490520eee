"""What runs after each wave: post-wave hooks, and the recovery-instance cache sync.

A hook sees the execution and the finished wave's run (its jobs and server
outcomes) once the wave's outcomes are recorded and before the wave is
marked finished. Hook errors are recorded on the wave
(:attr:`~drs_orchestration.models.WaveRun.hook_errors`) and logged; they
never fail the wave. A hook can run again for the same wave if the process
stops between the hook and the write that finishes the wave, so hooks must
be idempotent (a cache sync is).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

from drs_orchestration.models import AccountContext, Execution, ServerLaunchStatus, WaveRun

__all__ = ["CacheSyncHook", "PostWaveHook", "RecoveryInstanceSync"]

logger = logging.getLogger(__name__)


@runtime_checkable
class PostWaveHook(Protocol):
    """Called after each wave's outcomes are recorded.

    Examples:
        >>> class Notify:
        ...     def after_wave(self, execution: Execution, wave_run: WaveRun) -> None:
        ...         post_to_chat(f"{wave_run.wave_name}: {wave_run.status}")
        >>> executor = WaveExecutor(storage, clients, hooks=[Notify()])
    """

    def after_wave(self, execution: Execution, wave_run: WaveRun) -> None:
        """React to a finished wave; raising records the error on the wave."""
        ...


@runtime_checkable
class RecoveryInstanceSync(Protocol):
    """The part of a recovery-instance cache the executor needs: a narrow sync."""

    def sync_servers(
        self,
        region: str,
        source_server_ids: list[str],
        account: AccountContext | None = None,
    ) -> Any:
        """Refresh the cached recovery instances of these source servers."""
        ...


class CacheSyncHook:
    """A :class:`PostWaveHook` that syncs the cache for a wave's launched servers.

    The servers synced are those with a recovery instance (launched, or
    failed after DRS created one), in the wave's own region and account.

    Args:
        cache: The recovery-instance cache (anything with ``sync_servers``).
    """

    def __init__(self, cache: RecoveryInstanceSync) -> None:
        self.cache = cache

    def after_wave(self, execution: Execution, wave_run: WaveRun) -> None:
        """Sync the wave's servers that have recovery instances."""
        servers = sorted(
            sid
            for sid, outcome in wave_run.servers.items()
            if outcome.recovery_instance_id is not None
            or outcome.status is ServerLaunchStatus.LAUNCHED
        )
        if not servers:
            return
        logger.debug(
            "syncing recovery instances after a wave",
            extra={
                "executionId": execution.execution_id,
                "wave": wave_run.wave_name,
                "servers": len(servers),
            },
        )
        self.cache.sync_servers(wave_run.region, servers, account=wave_run.account)
