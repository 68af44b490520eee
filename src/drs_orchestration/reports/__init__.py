"""Reports for people: drill evidence, notebook tables and DataFrames.

- :func:`evidence` turns an execution into an :class:`EvidenceReport`
  (HTML with a timeline chart, Markdown, JSON) for auditors.
- :mod:`drs_orchestration.reports.html` renders the library's objects as
  compact HTML tables; the models' ``_repr_html_`` methods delegate to it.
- :mod:`drs_orchestration.reports.frames` builds pandas DataFrames.

Optional dependencies, imported only when used: matplotlib for the chart
(``pip install "drs-orchestration[report]"``), pandas and matplotlib for
notebooks (``pip install "drs-orchestration[notebook]"``). Without them
the reports still render; the chart's place says what to install.
"""

from drs_orchestration.reports._format import MissingExtraError
from drs_orchestration.reports.evidence import (
    EvidenceReport,
    FailureEvidence,
    PhaseEvidence,
    ReportFormat,
    ServerEvidence,
    WaveEvidence,
    evidence,
)

__all__ = [
    "EvidenceReport",
    "FailureEvidence",
    "MissingExtraError",
    "PhaseEvidence",
    "ReportFormat",
    "ServerEvidence",
    "WaveEvidence",
    "evidence",
]
