"""pandas DataFrames of executions and cached recovery instances (the ``notebook`` extra).

pandas is imported when a frame is asked for; without it the call raises an
``ImportError`` naming the extra to install.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from drs_orchestration.reports._format import require_extra

if TYPE_CHECKING:
    import pandas as pd

    from drs_orchestration.models import Execution, RecoveryInstanceRecord

__all__ = ["EXECUTION_COLUMNS", "cache_frame", "execution_frame"]

EXECUTION_COLUMNS: tuple[str, ...] = (
    "wave",
    "chunk",
    "job_id",
    "adopted_job",
    "source_server_id",
    "hostname",
    "status",
    "readiness_state",
    "ready_at_start",
    "lag_s",
    "snapshot_start",
    "snapshot_end",
    "snapshot_s",
    "conversion_start",
    "conversion_end",
    "conversion_s",
    "launch_start",
    "launch_end",
    "launch_s",
    "launch_failed",
    "rto_s",
    "recovery_point",
    "rpo_s",
    "recovery_instance_id",
    "ec2_instance_id",
    "error_code",
    "error",
    "skipped_reason",
)
"""Columns of :func:`execution_frame`, in order (times are UTC, durations seconds)."""


def _pandas(purpose: str) -> Any:
    return require_extra("pandas", "notebook", purpose=purpose)


def execution_frame(execution: Execution) -> pd.DataFrame:
    """One row per server of an execution: wave, chunk, job, phase times, RTO, RPO, instance.

    ``rto_s`` is the server's time from the execution's start to launched;
    ``rpo_s`` its achieved RPO. The numbers are the evidence report's
    (:func:`drs_orchestration.reports.evidence`), so a frame and a report
    never disagree.

    Raises:
        MissingExtraError: pandas is not installed (names the ``notebook`` extra).
    """
    pandas = _pandas("Execution.to_dataframe()")
    from drs_orchestration.reports.evidence import evidence

    rows = []
    for s in evidence(execution).servers():
        readiness = s.readiness
        rows.append(
            {
                "wave": s.wave_name,
                "chunk": s.chunk_index,
                "job_id": s.job_id,
                "adopted_job": s.adopted_job,
                "source_server_id": s.source_server_id,
                "hostname": s.hostname,
                "status": s.status.value,
                "readiness_state": readiness.state if readiness else None,
                "ready_at_start": readiness.ready if readiness else None,
                "lag_s": readiness.lag_s if readiness else None,
                "snapshot_start": s.snapshot.start,
                "snapshot_end": s.snapshot.end,
                "snapshot_s": s.snapshot.seconds,
                "conversion_start": s.conversion.start,
                "conversion_end": s.conversion.end,
                "conversion_s": s.conversion.seconds,
                "launch_start": s.launch.start,
                "launch_end": None if s.launch.failed else s.launch.end,
                "launch_s": s.launch.seconds,
                "launch_failed": s.launch.end if s.launch.failed else None,
                "rto_s": s.ready_after_s,
                "recovery_point": s.recovery_point,
                "rpo_s": s.achieved_rpo_s,
                "recovery_instance_id": s.recovery_instance_id,
                "ec2_instance_id": s.ec2_instance_id,
                "error_code": s.error.code if s.error else None,
                "error": s.error.message if s.error else None,
                "skipped_reason": s.skipped_reason,
            }
        )
    frame = pandas.DataFrame(rows, columns=list(EXECUTION_COLUMNS))
    return _typed(pandas, frame, times=list(_TIME_COLUMNS))


_TIME_COLUMNS = (
    "snapshot_start",
    "snapshot_end",
    "conversion_start",
    "conversion_end",
    "launch_start",
    "launch_end",
    "launch_failed",
    "recovery_point",
)


def _typed(pandas: Any, frame: pd.DataFrame, *, times: list[str]) -> pd.DataFrame:
    for column in times:
        frame[column] = pandas.to_datetime(frame[column], utc=True)
    return frame


def cache_frame(records: Iterable[RecoveryInstanceRecord]) -> pd.DataFrame:
    """One row per cached recovery instance, a column per record field (snake_case).

    Raises:
        MissingExtraError: pandas is not installed (names the ``notebook`` extra).
    """
    pandas = _pandas("RecoveryInstanceCache.to_dataframe()")
    from drs_orchestration.models import RecoveryInstanceRecord

    columns = list(RecoveryInstanceRecord.model_fields)
    rows = [record.model_dump(mode="python") for record in records]
    frame = pandas.DataFrame(rows, columns=columns)
    return _typed(pandas, frame, times=["launch_time", "last_synced"])
