"""The DynamoDB tables of :class:`~drs_orchestration.storage.DynamoDBStorage`, as data.

One table per collection, partition key the collection's key attribute, a
global secondary index where a collection is queried by an attribute, and a
numeric TTL attribute where it expires. The same definitions serve
``create_tables()``, ``CreateTable`` calls of your own and CloudFormation.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from drs_orchestration.errors import ValidationError
from drs_orchestration.storage.backend import COLLECTIONS, CollectionSpec

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import CreateTableInputTypeDef

__all__ = [
    "DEFAULT_TABLE_PREFIX",
    "TTL_ATTRIBUTE_SUFFIX",
    "check_prefix",
    "cloudformation_template",
    "index_name",
    "table_definitions",
    "ttl_attribute",
    "ttl_attributes",
]

DEFAULT_TABLE_PREFIX = "drs-orchestration-"
"""Prefix of the table names when none is given (``drs-orchestration-executions``, ...)."""

TTL_ATTRIBUTE_SUFFIX = "Epoch"
"""A collection's TTL attribute is its timestamp attribute plus this (``expiresAtEpoch``)."""

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


def index_name(spec: CollectionSpec) -> str | None:
    """The name of the GSI on ``spec.index`` (``planId-index``), if the collection has one."""
    return None if spec.index is None else f"{spec.index}-index"


def ttl_attribute(spec: CollectionSpec) -> str | None:
    """The numeric TTL attribute derived from ``spec.ttl`` (``expiresAtEpoch``), if any."""
    return None if spec.ttl is None else spec.ttl + TTL_ATTRIBUTE_SUFFIX


def check_prefix(prefix: str) -> None:
    """Raise ValidationError naming ``table_prefix`` if it makes an invalid table name."""
    for spec in COLLECTIONS:
        if not _TABLE_NAME.fullmatch(prefix + spec.name):
            raise ValidationError.for_field(
                "table_prefix",
                prefix,
                f"makes the invalid table name {prefix + spec.name!r}: table names are 3-255 "
                "characters of letters, digits, '_', '-' and '.'",
            )


def table_definitions(prefix: str = DEFAULT_TABLE_PREFIX) -> list[CreateTableInputTypeDef]:
    """The tables :class:`DynamoDBStorage` needs, as ``CreateTable`` keyword arguments.

    One table per collection, partition key the collection's key attribute
    (a string), on-demand billing, and a GSI ``{attribute}-index``
    (projection ``ALL``) where the collection is queried by an attribute.
    TTL is not part of ``CreateTable``; see :func:`ttl_attributes`.

    Examples:
        >>> for definition in table_definitions("drs-orch-"):
        ...     client.create_table(**definition)
    """
    check_prefix(prefix)
    definitions: list[CreateTableInputTypeDef] = []
    for spec in COLLECTIONS:
        definition: CreateTableInputTypeDef = {
            "TableName": prefix + spec.name,
            "AttributeDefinitions": [{"AttributeName": spec.key, "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": spec.key, "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
        gsi = index_name(spec)
        if spec.index is not None and gsi is not None:
            definition["AttributeDefinitions"] = [
                {"AttributeName": spec.key, "AttributeType": "S"},
                {"AttributeName": spec.index, "AttributeType": "S"},
            ]
            definition["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": gsi,
                    "KeySchema": [{"AttributeName": spec.index, "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ]
        definitions.append(definition)
    return definitions


def ttl_attributes(prefix: str = DEFAULT_TABLE_PREFIX) -> dict[str, str]:
    """The tables that expire items, mapped to their numeric TTL attribute.

    Examples:
        >>> ttl_attributes("drs-orch-")["drs-orch-executions"]
        'expiresAtEpoch'
    """
    check_prefix(prefix)
    return {
        prefix + spec.name: attribute
        for spec in COLLECTIONS
        if (attribute := ttl_attribute(spec)) is not None
    }


def cloudformation_template(prefix: str = DEFAULT_TABLE_PREFIX) -> dict[str, Any]:
    """A CloudFormation template with every table (TTL included), as a JSON-ready dict.

    The properties are :func:`table_definitions` plus ``TimeToLiveSpecification``;
    the logical IDs are the collection names in PascalCase plus ``Table``.

    Examples:
        >>> print(json.dumps(cloudformation_template("drs-orch-"), indent=2))
    """
    ttl = ttl_attributes(prefix)
    resources: dict[str, Any] = {}
    for spec, definition in zip(COLLECTIONS, table_definitions(prefix), strict=True):
        properties: dict[str, Any] = dict(definition)
        attribute = ttl.get(definition["TableName"])
        if attribute is not None:
            properties["TimeToLiveSpecification"] = {"AttributeName": attribute, "Enabled": True}
        logical_id = "".join(part.capitalize() for part in spec.name.split("-")) + "Table"
        resources[logical_id] = {"Type": "AWS::DynamoDB::Table", "Properties": properties}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "drs-orchestration storage tables",
        "Resources": resources,
    }
