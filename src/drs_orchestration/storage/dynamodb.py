"""DynamoDB storage: one table per collection, for Lambdas and multi-host use.

Items carry the documents' camelCase attributes natively (numbers as ``N``,
maps as ``M``), so the tables read well in the console and can be queried by
other tools. Versioned writes are conditional on ``version``; batch reads
and writes retry DynamoDB's unprocessed keys with backoff; indexed lookups
use a global secondary index; executions get a numeric TTL attribute.

A document too big for one DynamoDB item (400 KB; an execution of several
hundred servers gets there) is stored gzip-compressed in one binary
attribute, ``compressedDocument``, beside its key, ``version`` and indexed
and TTL attributes, so conditional writes, indexes and TTL work the same.

The table definitions are data (:func:`table_definitions`,
:func:`cloudformation_template`), so they can go into your own
infrastructure code; :meth:`DynamoDBStorage.create_tables` applies the same
definitions directly.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import (
    Clamped,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    Overflow,
    Rounded,
    Underflow,
)
from typing import TYPE_CHECKING, Any, cast

import boto3
import tenacity
from botocore.exceptions import ClientError

from drs_orchestration.aws.clients import default_config
from drs_orchestration.aws.errors import translate_aws_errors
from drs_orchestration.aws.retry import RetryPolicy, is_retryable
from drs_orchestration.errors import AwsResourceNotFoundError, ThrottledError, ValidationError
from drs_orchestration.storage.base import (
    COLLECTIONS,
    BaseStorage,
    CollectionSpec,
    DocumentBackend,
    VersionConflict,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import CreateTableInputTypeDef

__all__ = [
    "DEFAULT_TABLE_PREFIX",
    "DynamoDBStorage",
    "cloudformation_template",
    "table_definitions",
    "ttl_attributes",
]

logger = logging.getLogger(__name__)

DEFAULT_TABLE_PREFIX = "drs-orchestration-"
"""Prefix of the table names when none is given (``drs-orchestration-executions``, ...)."""

TTL_ATTRIBUTE_SUFFIX = "Epoch"
"""A collection's TTL attribute is its timestamp attribute plus this (``expiresAtEpoch``)."""

BATCH_GET_LIMIT = 100
"""Keys per ``BatchGetItem`` call (the DynamoDB maximum)."""
BATCH_WRITE_LIMIT = 25
"""Requests per ``BatchWriteItem`` call (the DynamoDB maximum)."""

COMPRESSED_ATTRIBUTE = "compressedDocument"
"""The binary attribute holding a gzip-compressed document too big for a native item."""
COMPRESS_ABOVE_BYTES = 300_000
"""Documents whose JSON is larger than this are stored compressed (DynamoDB items max 400 KB)."""
_MAX_ITEM_BYTES = 400 * 1024

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"

# DynamoDB numbers: 38 significant digits, magnitude 1E-130 to 1E+126. Any
# conversion that would round or overflow raises instead of storing another number.
_NUMBERS = Context(
    Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
)


def index_name(spec: CollectionSpec) -> str | None:
    """The name of the GSI on ``spec.index`` (``planId-index``), if the collection has one."""
    return None if spec.index is None else f"{spec.index}-index"


def ttl_attribute(spec: CollectionSpec) -> str | None:
    """The numeric TTL attribute derived from ``spec.ttl`` (``expiresAtEpoch``), if any."""
    return None if spec.ttl is None else spec.ttl + TTL_ATTRIBUTE_SUFFIX


def _check_prefix(prefix: str) -> None:
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
    _check_prefix(prefix)
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
        >>> ttl_attributes("drs-orch-")
        {'drs-orch-executions': 'expiresAtEpoch'}
    """
    _check_prefix(prefix)
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


def _unstorable(path: str, value: Any, reason: str) -> ValidationError:
    return ValidationError.for_field(path, value, f"cannot be stored in DynamoDB: {reason}")


def _number(value: int | float, path: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise _unstorable(path, value, "numbers must be finite")
    try:
        # repr() is the shortest text that reads back as the same float.
        return str(_NUMBERS.create_decimal(repr(value) if isinstance(value, float) else value))
    except DecimalException:
        raise _unstorable(
            path, value, "numbers have at most 38 digits and a magnitude of 1E-130 to 1E+126"
        ) from None


def _to_attribute(value: Any, path: str) -> dict[str, Any]:
    """A JSON-compatible value as a DynamoDB ``AttributeValue``; ``path`` names it in errors."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, float)):
        return {"N": _number(value, path)}
    if isinstance(value, (list, tuple)):
        return {"L": [_to_attribute(v, f"{path}.{i}") for i, v in enumerate(value)]}
    if isinstance(value, Mapping):
        if "" in value:
            raise _unstorable(path, dict(value), "map keys must not be empty")
        return {"M": {str(k): _to_attribute(v, f"{path}.{k}") for k, v in value.items()}}
    raise _unstorable(path, value, f"{type(value).__name__} is not a JSON value")


def _from_attribute(attribute: Mapping[str, Any]) -> Any:
    (kind, value), *_ = attribute.items()
    if kind == "S":
        return value
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "L":
        return [_from_attribute(v) for v in value]
    if kind == "M":
        return {k: _from_attribute(v) for k, v in value.items()}
    raise ValueError(f"unexpected DynamoDB attribute type {kind!r} (this library writes no sets)")


def _to_item(spec: CollectionSpec, document: Mapping[str, Any]) -> dict[str, Any]:
    item = {name: _to_attribute(value, name) for name, value in document.items()}
    encoded = json.dumps(document, separators=(",", ":")).encode()
    if len(encoded) > COMPRESS_ABOVE_BYTES:
        item = _compressed_item(spec, document, item, encoded)
    attribute = ttl_attribute(spec)
    if attribute is not None and spec.ttl is not None and spec.ttl in document:
        expires = datetime.fromisoformat(str(document[spec.ttl]))
        item[attribute] = {"N": str(math.floor(expires.timestamp()))}
    return item


def _compressed_item(
    spec: CollectionSpec,
    document: Mapping[str, Any],
    native: Mapping[str, Any],
    encoded: bytes,
) -> dict[str, Any]:
    # The key, version and indexed attribute stay native: conditions, GSIs and the
    # console still see them.
    kept = [spec.key, "version", *([spec.index] if spec.index else [])]
    item = {name: native[name] for name in kept if name in native}
    item[COMPRESSED_ATTRIBUTE] = {"B": gzip.compress(encoded, mtime=0)}
    if len(item[COMPRESSED_ATTRIBUTE]["B"]) > _MAX_ITEM_BYTES - 10_000:
        raise _unstorable(
            spec.key,
            document.get(spec.key),
            f"the {spec.kind} is {len(encoded):,} bytes of JSON, too big for one DynamoDB "
            "item even compressed; use SqliteStorage or split the plan into smaller ones",
        )
    return item


def _from_item(spec: CollectionSpec, item: Mapping[str, Any]) -> dict[str, Any]:
    compressed = item.get(COMPRESSED_ATTRIBUTE)
    if compressed is not None:
        document: dict[str, Any] = json.loads(gzip.decompress(compressed["B"]))
        return document
    attribute = ttl_attribute(spec)
    return {name: _from_attribute(value) for name, value in item.items() if name != attribute}


def _stored_version(item: Mapping[str, Any] | None) -> int | None:
    if not item:
        return None
    return int(item["version"]["N"]) if "version" in item else 0


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _DynamoDBBackend(DocumentBackend):
    def __init__(
        self, client: DynamoDBClient, prefix: str, retry: RetryPolicy, *, owns_client: bool
    ) -> None:
        self.client = client
        self.prefix = prefix
        self._retry = retry
        self._owns_client = owns_client
        self._region: str = client.meta.region_name

    def table(self, spec: CollectionSpec) -> str:
        return self.prefix + spec.name

    def _key(self, spec: CollectionSpec, key: str) -> dict[str, Any]:
        return {spec.key: {"S": key}}

    @contextmanager
    def _aws(self, operation: str, table: str, keys: Sequence[str] = ()) -> Iterator[None]:
        try:
            with translate_aws_errors(
                "dynamodb", operation, region=self._region, resource_ids=[table, *keys]
            ):
                yield
        except AwsResourceNotFoundError as error:
            error.add_note(
                f"Does table {table} exist? Create the tables with "
                "DynamoDBStorage.create_tables() or from table_definitions()."
            )
            raise

    @staticmethod
    def _condition(spec: CollectionSpec, expected_version: int) -> dict[str, Any]:
        if expected_version == 0:
            return {
                "ConditionExpression": "attribute_not_exists(#key)",
                "ExpressionAttributeNames": {"#key": spec.key},
            }
        return {
            "ConditionExpression": "#version = :expected",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
        }

    def get(self, spec: CollectionSpec, key: str) -> dict[str, Any] | None:
        with self._aws("GetItem", self.table(spec), [key]):
            response = self.client.get_item(
                TableName=self.table(spec), Key=self._key(spec, key), ConsistentRead=True
            )
        item = response.get("Item")
        return None if item is None else _from_item(spec, item)

    def get_version(self, spec: CollectionSpec, key: str) -> int | None:
        with self._aws("GetItem", self.table(spec), [key]):
            response = self.client.get_item(
                TableName=self.table(spec),
                Key=self._key(spec, key),
                ConsistentRead=True,
                ProjectionExpression="#key, #version",
                ExpressionAttributeNames={"#key": spec.key, "#version": "version"},
            )
        return _stored_version(response.get("Item"))

    def put(
        self,
        spec: CollectionSpec,
        key: str,
        document: dict[str, Any],
        *,
        expected_version: int | None,
    ) -> None:
        request: dict[str, Any] = {"TableName": self.table(spec), "Item": _to_item(spec, document)}
        if expected_version is not None:
            request |= self._condition(spec, expected_version)
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        with self._aws("PutItem", self.table(spec), [key]):
            try:
                self.client.put_item(**request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == _CONDITIONAL_CHECK_FAILED:
                    old = cast(dict[str, Any], exc.response).get("Item")
                    raise VersionConflict(_stored_version(old)) from None
                raise

    def delete(self, spec: CollectionSpec, key: str, *, expected_version: int | None) -> bool:
        request: dict[str, Any] = {
            "TableName": self.table(spec),
            "Key": self._key(spec, key),
            "ReturnValues": "ALL_OLD",
        }
        if expected_version is not None:
            request |= self._condition(spec, expected_version)
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        with self._aws("DeleteItem", self.table(spec), [key]):
            try:
                response = self.client.delete_item(**request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != _CONDITIONAL_CHECK_FAILED:
                    raise
                old = cast(dict[str, Any], exc.response).get("Item")
                if not old:
                    return False  # absent: the caller reports "not found"
                raise VersionConflict(_stored_version(old)) from None
        return bool(response.get("Attributes"))

    def _until_processed(
        self,
        operation: str,
        request: dict[str, Any],
        send: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        """Send ``request`` and then what DynamoDB left unprocessed, with backoff.

        Returns what is still unprocessed when the retry policy gives up
        (empty when everything went through). Transient errors are retried too.
        """
        pending = request

        def attempt() -> dict[str, Any]:
            nonlocal pending
            pending = send(pending)
            return pending

        def log_retry(state: tenacity.RetryCallState) -> None:
            logger.warning(
                "retrying unprocessed DynamoDB batch items",
                extra={
                    "operation": operation,
                    "attempt": state.attempt_number,
                    "sleepSeconds": round(state.upcoming_sleep, 3),
                },
            )

        # The library's retry policy (backoff, bounds, sleep), also retrying while
        # DynamoDB leaves items unprocessed.
        retrying = self._retry.retrying().copy(
            retry=tenacity.retry_if_result(bool) | tenacity.retry_if_exception(is_retryable),
            before_sleep=log_retry,
        )
        try:
            retrying(attempt)
        except tenacity.RetryError:
            return pending
        return {}

    def _unprocessed(
        self, spec: CollectionSpec, operation: str, keys: Sequence[str], verb: str
    ) -> ThrottledError:
        shown = ", ".join(keys[:10]) + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")
        return ThrottledError(
            f"dynamodb {operation}: {len(keys)} item(s) of table {self.table(spec)} were not "
            f"{verb} after {self._retry.max_attempts} attempts (DynamoDB kept returning them "
            f"unprocessed): {shown}",
            aws_code="UnprocessedKeys" if operation == "BatchGetItem" else "UnprocessedItems",
            operation=operation,
            service="dynamodb",
            region=self._region,
            resource_ids=keys,
        )

    def batch_get(self, spec: CollectionSpec, keys: Sequence[str]) -> list[dict[str, Any]]:
        table = self.table(spec)
        unique = list(dict.fromkeys(keys))  # BatchGetItem rejects duplicate keys
        found: list[dict[str, Any]] = []

        def send(request: dict[str, Any]) -> dict[str, Any]:
            # Unprocessed keys come back without our read options; ask for them again.
            request = {t: {**keys, "ConsistentRead": True} for t, keys in request.items()}
            response = self.client.batch_get_item(RequestItems=request)
            found.extend(_from_item(spec, item) for item in response["Responses"].get(table, []))
            return dict(response.get("UnprocessedKeys") or {})

        for chunk in _chunks(unique, BATCH_GET_LIMIT):
            request = {table: {"Keys": [self._key(spec, k) for k in chunk], "ConsistentRead": True}}
            with self._aws("BatchGetItem", table):
                left = self._until_processed("BatchGetItem", request, send)
            if left:
                missing = [k[spec.key]["S"] for k in left[table]["Keys"]]
                raise self._unprocessed(spec, "BatchGetItem", missing, "read")
        return found

    def _batch_write(
        self, spec: CollectionSpec, requests: list[tuple[str, dict[str, Any]]], verb: str
    ) -> None:
        table = self.table(spec)

        def send(request: dict[str, Any]) -> dict[str, Any]:
            response = self.client.batch_write_item(RequestItems=request)
            return dict(response.get("UnprocessedItems") or {})

        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            chunk = requests[start : start + BATCH_WRITE_LIMIT]
            with self._aws("BatchWriteItem", table):
                left = self._until_processed(
                    "BatchWriteItem", {table: [request for _, request in chunk]}, send
                )
            if left:
                # Name every item not written: the leftovers and the chunks never sent.
                done = {key for key, _ in chunk} - {self._request_key(spec, r) for r in left[table]}
                missing = [key for key, _ in requests[start:] if key not in done]
                raise self._unprocessed(spec, "BatchWriteItem", missing, verb)

    @staticmethod
    def _request_key(spec: CollectionSpec, request: Mapping[str, Any]) -> str:
        if "PutRequest" in request:
            return str(request["PutRequest"]["Item"][spec.key]["S"])
        return str(request["DeleteRequest"]["Key"][spec.key]["S"])

    def batch_put(self, spec: CollectionSpec, documents: Sequence[dict[str, Any]]) -> None:
        # BatchWriteItem rejects two requests for one key; the last document wins.
        latest = {str(d[spec.key]): d for d in documents}
        requests = [(k, {"PutRequest": {"Item": _to_item(spec, d)}}) for k, d in latest.items()]
        self._batch_write(spec, requests, "written")

    def batch_delete(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        requests = [
            (k, {"DeleteRequest": {"Key": self._key(spec, k)}}) for k in dict.fromkeys(keys)
        ]
        self._batch_write(spec, requests, "deleted")

    def scan(self, spec: CollectionSpec) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("scan")
        with self._aws("Scan", self.table(spec)):
            for page in paginator.paginate(TableName=self.table(spec), ConsistentRead=True):
                for item in page.get("Items", []):
                    yield _from_item(spec, item)

    def query(self, spec: CollectionSpec, value: str) -> list[dict[str, Any]]:
        gsi = index_name(spec)
        if spec.index is None or gsi is None:
            raise ValueError(f"collection {spec.name} has no index")
        paginator = self.client.get_paginator("query")
        found: list[dict[str, Any]] = []
        with self._aws("Query", self.table(spec), [value]):
            for page in paginator.paginate(
                TableName=self.table(spec),
                IndexName=gsi,
                KeyConditionExpression="#index = :value",
                ExpressionAttributeNames={"#index": spec.index},
                ExpressionAttributeValues={":value": {"S": value}},
            ):
                found.extend(_from_item(spec, item) for item in page.get("Items", []))
        return found

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


class DynamoDBStorage(BaseStorage):
    """Storage in DynamoDB: one table per collection, named ``{table_prefix}{collection}``.

    Reads are strongly consistent except the indexed lookups
    (``executions.list_for_plan``, ``recovery_instances.for_execution``), which
    read a GSI and may miss a write made a moment before.

    Args:
        table_prefix: Prefix of every table name.
        client: A boto3 DynamoDB client to use (its region and credentials
            apply); by default one is created from the default credential
            chain when the storage is constructed.
        region: Region for the client created by default.
        retry: Backoff for unprocessed batch items and transient errors in
            batch calls (default: :class:`~drs_orchestration.aws.RetryPolicy`).

    Raises:
        ValidationError: the prefix makes an invalid table name, or
            ``region`` contradicts the given client's region.

    Examples:
        >>> storage = DynamoDBStorage(table_prefix="drs-orch-", region="eu-west-1")
        >>> storage.create_tables()  # once, or deploy cloudformation_template() instead
        >>> plan = storage.recovery_plans.put(plan)
    """

    def __init__(
        self,
        table_prefix: str = DEFAULT_TABLE_PREFIX,
        *,
        client: DynamoDBClient | None = None,
        region: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        _check_prefix(table_prefix)
        owns_client = client is None
        if client is None:
            # A session of our own: creating clients from boto3's shared default
            # session is not thread-safe.
            client = boto3.session.Session().client(
                "dynamodb", region_name=region, config=default_config()
            )
        elif region is not None and region != client.meta.region_name:
            raise ValidationError.for_field(
                "region", region, f"contradicts the client's region {client.meta.region_name}"
            )
        self._dynamodb = _DynamoDBBackend(
            client, table_prefix, retry or RetryPolicy(), owns_client=owns_client
        )
        super().__init__(self._dynamodb)

    @property
    def client(self) -> DynamoDBClient:
        """The DynamoDB client in use."""
        return self._dynamodb.client

    @property
    def table_prefix(self) -> str:
        """The prefix of every table name."""
        return self._dynamodb.prefix

    def table_name(self, spec: CollectionSpec) -> str:
        """The table holding a collection."""
        return self._dynamodb.table(spec)

    def create_tables(self, *, wait: bool = True) -> list[str]:
        """Create the tables that do not exist yet and enable TTL where needed.

        Idempotent: existing tables are left as they are (they are assumed to
        follow :func:`table_definitions`). Tables with TTL are always waited
        for, because DynamoDB enables TTL only on an active table.

        Args:
            wait: Wait until every table is active.

        Returns:
            The names of the tables created by this call.
        """
        client = self._dynamodb.client
        created: list[str] = []
        for definition in table_definitions(self.table_prefix):
            name = definition["TableName"]
            if self._table_exists(name):
                continue
            with self._dynamodb._aws("CreateTable", name):
                try:
                    client.create_table(**definition)
                    created.append(name)
                except ClientError as exc:
                    # Another process created it between our check and our call.
                    if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                        raise
        ttl = ttl_attributes(self.table_prefix)
        for definition in table_definitions(self.table_prefix):
            name = definition["TableName"]
            if wait or name in ttl:
                with self._dynamodb._aws("DescribeTable", name):
                    client.get_waiter("table_exists").wait(
                        TableName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
                    )
        for name, attribute in ttl.items():
            self._enable_ttl(name, attribute)
        return created

    def _table_exists(self, name: str) -> bool:
        try:
            with self._dynamodb._aws("DescribeTable", name):
                self._dynamodb.client.describe_table(TableName=name)
        except AwsResourceNotFoundError:
            return False
        return True

    def _enable_ttl(self, name: str, attribute: str) -> None:
        client = self._dynamodb.client
        with self._dynamodb._aws("DescribeTimeToLive", name):
            current = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("AttributeName") == attribute and current.get("TimeToLiveStatus") in (
            "ENABLED",
            "ENABLING",
        ):
            return
        with self._dynamodb._aws("UpdateTimeToLive", name):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": attribute, "Enabled": True},
            )

    def __repr__(self) -> str:
        return f"DynamoDBStorage(table_prefix={self.table_prefix!r})"
