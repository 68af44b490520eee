"""The DynamoDB backend: one table per collection, for Lambdas and multi-host use.

Items carry the documents' camelCase attributes natively, so the tables read
well in the console and can be queried by other tools
(:mod:`~drs_orchestration.storage.dynamodb.codec`). Versioned writes are
conditional on ``version``; several items change together in one
``TransactWriteItems``; batch reads and writes retry DynamoDB's unprocessed
keys with backoff; indexed lookups use a global secondary index; executions
get a numeric TTL attribute.

Every call goes through :meth:`_DynamoDBBackend._call`, the one place this
backend retries (with its :class:`~drs_orchestration.aws.RetryPolicy`) and
translates errors: AWS errors become the library's ``AwsApiError`` family,
and transient ones that outlast the policy become
:class:`~drs_orchestration.errors.StorageUnavailableError`.

The table definitions are data (:mod:`~drs_orchestration.storage.dynamodb.tables`:
:func:`table_definitions`, :func:`cloudformation_template`), so they can go
into your own infrastructure code; :meth:`DynamoDBStorage.create_tables`
applies the same definitions directly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

import boto3
import tenacity
from botocore.exceptions import ClientError

from drs_orchestration.aws.clients import ClientFactory, SessionClientFactory
from drs_orchestration.aws.errors import translate_aws_errors
from drs_orchestration.aws.retry import RetryPolicy, is_retryable
from drs_orchestration.errors import (
    AwsApiError,
    AwsResourceNotFoundError,
    StorageUnavailableError,
    ThrottledError,
    ValidationError,
)
from drs_orchestration.storage.backend import (
    CollectionSpec,
    DocumentBackend,
    RawRecord,
    Row,
    TransactionConflict,
    VersionConflict,
    WriteOp,
)
from drs_orchestration.storage.base import BaseStorage
from drs_orchestration.storage.dynamodb.codec import (
    raw_record,
    stored_version,
    to_item,
)
from drs_orchestration.storage.dynamodb.tables import (
    DEFAULT_TABLE_PREFIX,
    check_prefix,
    index_name,
    table_definitions,
    ttl_attributes,
)
from drs_orchestration.storage.transactions import MAX_TRANSACTION_ITEMS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from drs_orchestration.models.account import AccountContext

__all__ = ["DynamoDBStorage"]

logger = logging.getLogger(__name__)

BATCH_GET_LIMIT = 100
"""Keys per ``BatchGetItem`` call (the DynamoDB maximum)."""
BATCH_WRITE_LIMIT = 25
"""Requests per ``BatchWriteItem`` call (the DynamoDB maximum)."""

_CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
_CONDITIONAL_CHECK_FAILED_REASON = "ConditionalCheckFailed"
_TRANSACTION_CANCELED = "TransactionCanceledException"
# Cancellation reasons that say "another request was in the way", not "your request is wrong".
_CONTENTION_CODES = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)

T = TypeVar("T")


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _contended(error: BaseException | None) -> bool:
    """Whether a cancelled transaction lost only to contention or throttling (worth retrying)."""
    if not isinstance(error, ClientError):
        return False
    reasons = cast(dict[str, Any], error.response).get("CancellationReasons") or []
    codes = {str(reason.get("Code")) for reason in reasons}
    return bool(codes & _CONTENTION_CODES) and not codes - _CONTENTION_CODES - {"None"}


def _transient(error: BaseException) -> bool:
    """Whether a failed DynamoDB call is worth making again."""
    flag = getattr(error, "retryable", None)
    if isinstance(flag, bool) and flag:
        return True
    cause = error.__cause__
    if isinstance(error, AwsApiError) and error.aws_code == _TRANSACTION_CANCELED:
        return _contended(cause)
    return is_retryable(error) or (cause is not None and is_retryable(cause))


class _DynamoDBBackend(DocumentBackend):
    max_transaction_items = MAX_TRANSACTION_ITEMS

    def __init__(
        self, client: DynamoDBClient, prefix: str, retry: RetryPolicy, *, owns_client: bool
    ) -> None:
        self.client = client
        self.prefix = prefix
        self._retry = retry
        self._owns_client = owns_client
        self._region: str = client.meta.region_name

    @property
    def location(self) -> str:
        return f"DynamoDB tables {self.prefix}* in {self._region}"

    def table(self, spec: CollectionSpec) -> str:
        return self.prefix + spec.name

    def _key(self, spec: CollectionSpec, key: str) -> dict[str, Any]:
        return {spec.key: {"S": key}}

    # ---- errors and retries: the one place this backend translates ---------------------

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

    def _retrying(
        self, operation: str, table: str, *, unprocessed: bool = False
    ) -> tenacity.Retrying:
        def log_retry(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            logger.warning(
                "retrying DynamoDB %s on %s: %s",
                operation,
                table,
                "items left unprocessed" if error is None else error,
                extra={
                    "service": "dynamodb",
                    "operation": operation,
                    "table": table,
                    "attempt": state.attempt_number,
                    "sleepSeconds": round(state.upcoming_sleep, 3),
                },
            )

        retry: tenacity.retry_base = tenacity.retry_if_exception(_transient)
        if unprocessed:
            retry = tenacity.retry_if_result(bool) | retry
        # The library's retry policy (backoff, bounds, sleep) with this backend's
        # notion of transient, so single-item, batch and transaction calls agree.
        return self._retry.retrying().copy(retry=retry, before_sleep=log_retry)

    def _unavailable(
        self, operation: str, table: str, error: AwsApiError
    ) -> StorageUnavailableError:
        return StorageUnavailableError(
            f"DynamoDB {operation} on {table} still failing after the retry policy gave up "
            f"({self._retry.max_attempts} attempts at most): {error.message}",
            location=table,
            details={"operation": operation, "awsCode": error.aws_code},
        )

    def _call(
        self, operation: str, table: str, send: Callable[[], T], keys: Sequence[str] = ()
    ) -> T:
        """``send()`` with transient errors retried, translated into library errors."""

        def attempt() -> T:
            with self._aws(operation, table, keys):
                return send()

        try:
            return self._retrying(operation, table)(attempt)
        except AwsApiError as error:
            if _transient(error):
                raise self._unavailable(operation, table, error) from error
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

    def _conditional(self, spec: CollectionSpec, expected_version: int | None) -> dict[str, Any]:
        if expected_version is None:
            return {}
        return self._condition(spec, expected_version) | {
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"
        }

    # ---- reads ------------------------------------------------------------------------

    def read(self, spec: CollectionSpec, key: str) -> RawRecord | None:
        table = self.table(spec)
        response = self._call(
            "GetItem",
            table,
            lambda: self.client.get_item(
                TableName=table, Key=self._key(spec, key), ConsistentRead=True
            ),
            [key],
        )
        item = response.get("Item")
        return None if item is None else raw_record(spec, item)

    def get_version(self, spec: CollectionSpec, key: str) -> int | None:
        table = self.table(spec)
        response = self._call(
            "GetItem",
            table,
            lambda: self.client.get_item(
                TableName=table,
                Key=self._key(spec, key),
                ConsistentRead=True,
                ProjectionExpression="#key, #version",
                ExpressionAttributeNames={"#key": spec.key, "#version": "version"},
            ),
            [key],
        )
        return stored_version(response.get("Item"))

    def _pages(
        self, operation: str, table: str, request: dict[str, Any], keys: Sequence[str] = ()
    ) -> Iterator[dict[str, Any]]:
        # Pages are fetched one call at a time (not with a botocore paginator) so
        # each page is retried on its own.
        send = self.client.scan if operation == "Scan" else self.client.query
        start: dict[str, Any] | None = None
        while True:
            page_request = request if start is None else {**request, "ExclusiveStartKey": start}
            page = cast(
                dict[str, Any],
                self._call(operation, table, lambda r=page_request: send(**r), keys),  # type: ignore[misc]
            )
            yield page
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def scan(self, spec: CollectionSpec) -> Iterator[RawRecord]:
        table = self.table(spec)
        for page in self._pages("Scan", table, {"TableName": table, "ConsistentRead": True}):
            for item in page.get("Items", []):
                yield raw_record(spec, item)

    def query(self, spec: CollectionSpec, value: str) -> list[RawRecord]:
        gsi = index_name(spec)
        if spec.index is None or gsi is None:
            raise ValueError(f"collection {spec.name} has no index")
        table = self.table(spec)
        request = {
            "TableName": table,
            "IndexName": gsi,
            "KeyConditionExpression": "#index = :value",
            "ExpressionAttributeNames": {"#index": spec.index},
            "ExpressionAttributeValues": {":value": {"S": value}},
        }
        return [
            raw_record(spec, item)
            for page in self._pages("Query", table, request, [value])
            for item in page.get("Items", [])
        ]

    # ---- conditional writes -------------------------------------------------------------

    def write(self, spec: CollectionSpec, row: Row, *, expected_version: int | None) -> None:
        table = self.table(spec)
        request: dict[str, Any] = {"TableName": table, "Item": to_item(spec, _document(row))}
        request |= self._conditional(spec, expected_version)

        def send() -> None:
            try:
                self.client.put_item(**request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == _CONDITIONAL_CHECK_FAILED:
                    old = cast(dict[str, Any], exc.response).get("Item")
                    raise VersionConflict(stored_version(old)) from None
                raise

        self._call("PutItem", table, send, [row.key])

    def delete(self, spec: CollectionSpec, key: str, *, expected_version: int | None) -> bool:
        table = self.table(spec)
        request: dict[str, Any] = {
            "TableName": table,
            "Key": self._key(spec, key),
            "ReturnValues": "ALL_OLD",
        }
        request |= self._conditional(spec, expected_version)

        def send() -> bool:
            try:
                response = self.client.delete_item(**request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != _CONDITIONAL_CHECK_FAILED:
                    raise
                old = cast(dict[str, Any], exc.response).get("Item")
                if not old:
                    return False  # absent: the caller reports "not found"
                raise VersionConflict(stored_version(old)) from None
            return bool(response.get("Attributes"))

        return self._call("DeleteItem", table, send, [key])

    def transact(self, operations: Sequence[WriteOp]) -> None:
        items = [self._transact_item(op) for op in operations]
        tables = sorted({self.table(op.spec) for op in operations})

        def send() -> None:
            try:
                self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != _TRANSACTION_CANCELED:
                    raise
                reasons = cast(dict[str, Any], exc.response).get("CancellationReasons") or []
                for index, reason in enumerate(reasons):
                    if reason.get("Code") == _CONDITIONAL_CHECK_FAILED_REASON:
                        actual = stored_version(reason.get("Item"))
                        raise TransactionConflict(index, actual) from None
                raise

        self._call(
            "TransactWriteItems",
            ", ".join(tables),
            send,
            [f"{op.spec.kind} {op.key}" for op in operations],
        )

    def _transact_item(self, op: WriteOp) -> dict[str, Any]:
        table = self.table(op.spec)
        if op.action == "put" and op.row is not None:
            item = to_item(op.spec, _document(op.row))
            return {
                "Put": {"TableName": table, "Item": item}
                | self._conditional(op.spec, op.expected_version)
            }
        key = self._key(op.spec, op.key)
        if op.action == "delete":
            return {
                "Delete": {"TableName": table, "Key": key}
                | self._conditional(op.spec, op.expected_version)
            }
        condition = self._conditional(op.spec, op.expected_version or 0)
        return {"ConditionCheck": {"TableName": table, "Key": key} | condition}

    # ---- batches ------------------------------------------------------------------------

    def _until_processed(
        self,
        operation: str,
        table: str,
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
            with self._aws(operation, table):
                pending = send(pending)
            return pending

        try:
            self._retrying(operation, table, unprocessed=True)(attempt)
        except tenacity.RetryError:
            return pending
        except AwsApiError as error:
            if _transient(error):
                raise self._unavailable(operation, table, error) from error
            raise
        return {}

    def _unprocessed(
        self, spec: CollectionSpec, operation: str, keys: Sequence[str], verb: str
    ) -> StorageUnavailableError:
        shown = ", ".join(keys[:10]) + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")
        throttled = ThrottledError(
            f"dynamodb {operation}: {len(keys)} item(s) of table {self.table(spec)} were not "
            f"{verb} after {self._retry.max_attempts} attempts (DynamoDB kept returning them "
            f"unprocessed): {shown}",
            aws_code="UnprocessedKeys" if operation == "BatchGetItem" else "UnprocessedItems",
            operation=operation,
            service="dynamodb",
            region=self._region,
            resource_ids=keys,
        )
        unavailable = self._unavailable(operation, self.table(spec), throttled)
        unavailable.details["resourceIds"] = list(keys)
        unavailable.__cause__ = throttled  # raised by the caller, keeping this cause
        return unavailable

    def read_many(self, spec: CollectionSpec, keys: Sequence[str]) -> list[RawRecord]:
        return self._batch_get([(spec, keys)])[spec.name]

    def read_many_across(
        self, wanted: Sequence[tuple[CollectionSpec, Sequence[str]]]
    ) -> dict[str, list[RawRecord]]:
        return self._batch_get(wanted)

    def _batch_get(
        self, wanted: Sequence[tuple[CollectionSpec, Sequence[str]]]
    ) -> dict[str, list[RawRecord]]:
        """``BatchGetItem`` of up to 100 keys a request, any tables, unprocessed keys retried."""
        specs = {self.table(spec): spec for spec, _ in wanted}
        found: dict[str, list[RawRecord]] = {spec.name: [] for spec, _ in wanted}
        pairs = [
            (spec, key)
            for spec, keys in wanted
            for key in dict.fromkeys(keys)  # BatchGetItem rejects duplicate keys
        ]

        def send(request: dict[str, Any]) -> dict[str, Any]:
            # Unprocessed keys come back without our read options; ask for them again.
            request = {t: {**keys, "ConsistentRead": True} for t, keys in request.items()}
            response = self.client.batch_get_item(RequestItems=request)
            for table, items in response["Responses"].items():
                spec = specs[table]
                found[spec.name].extend(raw_record(spec, item) for item in items)
            return dict(response.get("UnprocessedKeys") or {})

        for chunk in _chunks(pairs, BATCH_GET_LIMIT):
            request: dict[str, Any] = {}
            for spec, key in chunk:
                table = self.table(spec)
                request.setdefault(table, {"Keys": [], "ConsistentRead": True})
                request[table]["Keys"].append(self._key(spec, key))
            tables = ", ".join(request)
            left = self._until_processed("BatchGetItem", tables, request, send)
            for table, keys in left.items():
                spec = specs[table]
                missing = [k[spec.key]["S"] for k in keys["Keys"]]
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
            left = self._until_processed(
                "BatchWriteItem", table, {table: [request for _, request in chunk]}, send
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

    def write_many(self, spec: CollectionSpec, rows: Sequence[Row]) -> None:
        # BatchWriteItem rejects two requests for one key; the last document wins.
        latest = {row.key: row for row in rows}
        requests = [
            (k, {"PutRequest": {"Item": to_item(spec, _document(row))}})
            for k, row in latest.items()
        ]
        self._batch_write(spec, requests, "written")

    def delete_many(self, spec: CollectionSpec, keys: Sequence[str]) -> None:
        requests = [
            (k, {"DeleteRequest": {"Key": self._key(spec, k)}}) for k in dict.fromkeys(keys)
        ]
        self._batch_write(spec, requests, "deleted")

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


def _document(row: Row) -> dict[str, Any]:
    if isinstance(row.body, dict):
        return row.body
    document: dict[str, Any] = json.loads(row.body)
    return document


def _default_region(clients: ClientFactory | None) -> str:
    session = getattr(clients, "session", None)
    if not isinstance(session, boto3.Session):
        session = boto3.Session()
    region = session.region_name
    if not region:
        raise ValidationError.for_field(
            "region",
            None,
            "no AWS region given and none configured: pass region=... (or a client), "
            "or set AWS_DEFAULT_REGION",
        )
    return region


class DynamoDBStorage(BaseStorage):
    """Storage in DynamoDB: one table per collection, named ``{table_prefix}{collection}``.

    Reads are strongly consistent except the indexed lookups
    (``executions.list_for_plan``, ``recovery_instances.for_execution``), which
    read a GSI and may miss a write made a moment before.

    Args:
        table_prefix: Prefix of every table name.
        clients: Where the DynamoDB client comes from (default: a
            :class:`~drs_orchestration.aws.SessionClientFactory` of its own,
            the default credential chain); the client is made when the
            storage is constructed.
        region: The tables' region (default: the factory session's region,
            else the configured default region).
        account: The account of the tables, for a factory that reaches other
            accounts (default: the factory's own).
        client: A boto3 DynamoDB client to use instead of one from a factory
            (its region and credentials apply; the storage never closes it).
        retry: Backoff for transient errors (throttling, 5xx, connection
            errors, transactions cancelled by contention) of every call, and
            for unprocessed batch items (default:
            :class:`~drs_orchestration.aws.RetryPolicy`). When it gives up,
            the call raises
            :class:`~drs_orchestration.errors.StorageUnavailableError` with the
            last AWS error as its cause.

    Raises:
        ValidationError: the prefix makes an invalid table name, no region is
            given or configured, ``region`` contradicts the given client's
            region, or ``client`` comes with ``clients`` or ``account``.

    Examples:
        >>> storage = DynamoDBStorage("drs-orch-", clients=clients, region="eu-west-1")
        >>> storage.create_tables()  # once, or deploy cloudformation_template() instead
        >>> plan = storage.recovery_plans.put(plan)
    """

    def __init__(
        self,
        table_prefix: str = DEFAULT_TABLE_PREFIX,
        *,
        clients: ClientFactory | None = None,
        region: str | None = None,
        account: AccountContext | None = None,
        client: DynamoDBClient | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        check_prefix(table_prefix)
        # A client from the caller's factory may serve others, and a client passed in
        # is the caller's: only one from a factory made here is this storage's to close.
        owns_client = client is None and clients is None
        if client is not None:
            for name, value in (("clients", clients), ("account", account)):
                if value is not None:
                    raise ValidationError.for_field(
                        name, value, "cannot be combined with client=: the client is already made"
                    )
            if region is not None and region != client.meta.region_name:
                raise ValidationError.for_field(
                    "region", region, f"contradicts the client's region {client.meta.region_name}"
                )
        else:
            factory = clients if clients is not None else SessionClientFactory()
            client = factory.client("dynamodb", region or _default_region(factory), account)
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
