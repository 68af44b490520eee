"""Storage: repository protocols and the memory, SQLite and DynamoDB backends.

Services depend only on the :class:`Storage` protocol. Backends:
:class:`MemoryStorage` (tests, notebooks), :class:`SqliteStorage` (the
embedded default for the CLI and single hosts) and :class:`DynamoDBStorage`
(Lambdas). :func:`table_definitions` and :func:`cloudformation_template`
describe the DynamoDB tables for your own infrastructure code.

Several items change atomically with ``storage.transact([...])`` of
:class:`Put`, :class:`Delete` and :class:`Check` operations; ``storage.claims``
holds :class:`ClaimRecord` claims ("one running execution per plan", "one
group per server"); :func:`update_item` is the read-modify-write loop that
never loses an update.
"""

from drs_orchestration.storage.base import (
    BaseStorage,
    ExecutionRepository,
    RecoveryInstanceRepository,
    Repository,
    Storage,
)
from drs_orchestration.storage.claims import ClaimRecord, ClaimRepository, claim_id
from drs_orchestration.storage.dynamodb import (
    DynamoDBStorage,
    cloudformation_template,
    table_definitions,
    ttl_attributes,
)
from drs_orchestration.storage.memory import MemoryStorage
from drs_orchestration.storage.sqlite import SqliteStorage, default_sqlite_path
from drs_orchestration.storage.transactions import (
    MAX_TRANSACTION_ITEMS,
    Check,
    Delete,
    Operation,
    Put,
    retry_conflicts,
    update_item,
)

__all__ = [
    "MAX_TRANSACTION_ITEMS",
    "BaseStorage",
    "Check",
    "ClaimRecord",
    "ClaimRepository",
    "Delete",
    "DynamoDBStorage",
    "ExecutionRepository",
    "MemoryStorage",
    "Operation",
    "Put",
    "RecoveryInstanceRepository",
    "Repository",
    "SqliteStorage",
    "Storage",
    "claim_id",
    "cloudformation_template",
    "default_sqlite_path",
    "retry_conflicts",
    "table_definitions",
    "ttl_attributes",
    "update_item",
]
