"""DynamoDB storage as a small package: the tables, the item codec and the backend.

:class:`DynamoDBStorage` keeps one table per collection; its client comes
from the library's :class:`~drs_orchestration.aws.ClientFactory`.
:func:`table_definitions`, :func:`ttl_attributes` and
:func:`cloudformation_template` describe the same tables for your own
infrastructure code. The modules: :mod:`~drs_orchestration.storage.dynamodb.tables`
(the tables as data), :mod:`~drs_orchestration.storage.dynamodb.codec` (documents
as items) and :mod:`~drs_orchestration.storage.dynamodb.backend` (the calls).
"""

from drs_orchestration.storage.dynamodb.backend import DynamoDBStorage
from drs_orchestration.storage.dynamodb.codec import COMPRESS_ABOVE_BYTES, COMPRESSED_ATTRIBUTE
from drs_orchestration.storage.dynamodb.tables import (
    DEFAULT_TABLE_PREFIX,
    TTL_ATTRIBUTE_SUFFIX,
    cloudformation_template,
    index_name,
    table_definitions,
    ttl_attribute,
    ttl_attributes,
)

__all__ = [
    "COMPRESSED_ATTRIBUTE",
    "COMPRESS_ABOVE_BYTES",
    "DEFAULT_TABLE_PREFIX",
    "TTL_ATTRIBUTE_SUFFIX",
    "DynamoDBStorage",
    "cloudformation_template",
    "index_name",
    "table_definitions",
    "ttl_attribute",
    "ttl_attributes",
]
