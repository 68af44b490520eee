"""Storage: repository protocols and the memory, SQLite and DynamoDB backends.

Services depend only on the :class:`Storage` protocol. Backends:
:class:`MemoryStorage` (tests, notebooks), :class:`SqliteStorage` (the
embedded default for the CLI and single hosts) and :class:`DynamoDBStorage`
(Lambdas). :func:`table_definitions` and :func:`cloudformation_template`
describe the DynamoDB tables for your own infrastructure code.
"""

from drs_orchestration.storage.base import (
    BaseStorage,
    ExecutionRepository,
    RecoveryInstanceRepository,
    Repository,
    Storage,
)
from drs_orchestration.storage.dynamodb import (
    DynamoDBStorage,
    cloudformation_template,
    table_definitions,
    ttl_attributes,
)
from drs_orchestration.storage.memory import MemoryStorage
from drs_orchestration.storage.sqlite import SqliteStorage, default_sqlite_path

__all__ = [
    "BaseStorage",
    "DynamoDBStorage",
    "ExecutionRepository",
    "MemoryStorage",
    "RecoveryInstanceRepository",
    "Repository",
    "SqliteStorage",
    "Storage",
    "cloudformation_template",
    "default_sqlite_path",
    "table_definitions",
    "ttl_attributes",
]
