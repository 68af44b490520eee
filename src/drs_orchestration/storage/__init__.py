"""Storage: repository protocols and the memory, SQLite and DynamoDB backends.

Services depend only on the :class:`Storage` protocol. Backends:
:class:`MemoryStorage` (tests, notebooks), :class:`SqliteStorage` (the
embedded default for the CLI and single hosts) and :class:`DynamoDBStorage`
(Lambdas).
"""

from drs_orchestration.storage.base import (
    BaseStorage,
    ExecutionRepository,
    RecoveryInstanceRepository,
    Repository,
    Storage,
)
from drs_orchestration.storage.memory import MemoryStorage

__all__ = [
    "BaseStorage",
    "ExecutionRepository",
    "MemoryStorage",
    "RecoveryInstanceRepository",
    "Repository",
    "Storage",
]
