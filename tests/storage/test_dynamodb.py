"""DynamoDB specifics: batching, unprocessed-key retries, the GSI, TTL and table definitions.

Everything runs against a real boto3 client served by moto. Faults are
injected below the client: at the HTTP seam (``MotoSeam`` answers a request
with a prepared HTTP response instead of moto) or in ``after-call`` (editing
what DynamoDB answered), so the client still serialises, validates and
parses every call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ClientError

from drs_orchestration.aws import RetryPolicy
from drs_orchestration.errors import (
    AwsResourceNotFoundError,
    ConcurrentModificationError,
    CorruptRecordError,
    StorageUnavailableError,
    ThrottledError,
    ValidationError,
)
from drs_orchestration.models import (
    AccountContext,
    ErrorRecord,
    Execution,
    ProtectionGroup,
    RecoveryInstanceRecord,
    ServerOutcome,
    SyncStatus,
    SyncTargetResult,
    WaveRun,
)
from drs_orchestration.storage import (
    Check,
    DynamoDBStorage,
    Put,
    cloudformation_template,
    table_definitions,
    ttl_attributes,
)
from drs_orchestration.storage.backend import EXECUTION_SERVERS, EXECUTION_WAVES, EXECUTIONS
from drs_orchestration.storage.base import COLLECTIONS
from drs_orchestration.storage.dynamodb.codec import to_item
from drs_orchestration.testing import SimulatedClientFactory
from tests.storage.conftest import REGION, MotoSeam

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
EXECUTION_ID = "ex-" + "e" * 20


def _record(
    n: int, execution_id: str | None = EXECUTION_ID, **extra: Any
) -> RecoveryInstanceRecord:
    return RecoveryInstanceRecord(
        source_server_id=f"s-{n:017d}",
        recovery_instance_id=f"i-{n:017x}",
        region=REGION,
        source_execution_id=execution_id,
        last_synced=T0,
        **extra,
    )


def _calls(client: DynamoDBClient, operation: str) -> list[dict[str, Any]]:
    """Record the parameters of every ``operation`` call the client makes."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", record)
    return calls


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _answer(request: AWSPreparedRequest, body: dict[str, Any]) -> AWSResponse:
    return AWSResponse(request.url, 200, {}, _Body(json.dumps(body).encode()))


def _nothing_processed(seam: MotoSeam, operation: str, *, times: int, after: int = 0) -> list[int]:
    """Answer some calls of a batch operation with "nothing processed".

    DynamoDB answers so when it throttles a whole batch. Calls number
    ``after + 1`` to ``after + times`` are answered here, the others by moto.
    Returns a one-item list counting every call.
    """
    calls = [0]

    def fault(called: str, request: AWSPreparedRequest) -> AWSResponse | None:
        if called != operation:
            return None
        calls[0] += 1
        if not after < calls[0] <= after + times:
            return None
        sent = json.loads(request.body or b"{}")["RequestItems"]
        if operation == "BatchGetItem":
            return _answer(request, {"Responses": {}, "UnprocessedKeys": sent})
        return _answer(request, {"UnprocessedItems": sent})

    seam.faults.append(fault)
    return calls


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def storage(
    dynamodb_client: DynamoDBClient, table_prefix: str, sleeps: list[float]
) -> Iterator[DynamoDBStorage]:
    storage = DynamoDBStorage(
        table_prefix=table_prefix,
        client=dynamodb_client,
        retry=RetryPolicy(max_attempts=4, sleep=sleeps.append),
    )
    storage.create_tables()
    yield storage
    storage.close()


# --- batching ------------------------------------------------------------------


def test_batch_get_of_250_keys_makes_three_calls_of_at_most_100(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    records = [_record(n) for n in range(250)]
    storage.recovery_instances.put_many(records)
    calls: list[dict[str, Any]] = []
    dynamodb_client.meta.events.register(
        "before-call.dynamodb.BatchGetItem", lambda **kwargs: calls.append(kwargs)
    )
    requests = _calls(dynamodb_client, "BatchGetItem")

    found = storage.recovery_instances.get_many([r.source_server_id for r in records])

    assert len(calls) == 3
    table = storage.table_name(COLLECTIONS[3])
    assert [len(r["RequestItems"][table]["Keys"]) for r in requests] == [100, 100, 50]
    assert all(r["RequestItems"][table]["ConsistentRead"] for r in requests)
    assert found == {r.source_server_id: r for r in records}


def test_a_steps_read_of_a_wave_and_its_outcomes_is_one_batch_get_across_two_tables(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    servers = [f"s-{n:017d}" for n in range(150)]
    execution = Execution(
        plan_id="rp-" + "0" * 20,
        plan_name="one read",
        waves=[
            WaveRun(
                wave_name="db",
                region=REGION,
                status="MONITORING",
                server_ids=servers,
                servers={sid: ServerOutcome(source_server_id=sid) for sid in servers},
            )
        ],
    )
    stored = storage.executions.put(execution)
    loaded = storage.executions.load(stored.execution_id)
    requests = _calls(dynamodb_client, "BatchGetItem")

    storage.executions.load_waves(loaded, [0])

    assert len(requests) == 1
    tables = requests[0]["RequestItems"]
    assert {t: len(r["Keys"]) for t, r in tables.items()} == {
        storage.table_name(EXECUTION_WAVES): 1,
        storage.table_name(EXECUTION_SERVERS): 2,
    }
    assert all(r["ConsistentRead"] for r in tables.values())
    assert loaded.execution == stored


def test_reads_across_tables_are_chunked_by_100_and_retry_unprocessed_keys(
    storage: DynamoDBStorage,
    dynamodb_client: DynamoDBClient,
    moto_seam: MotoSeam,
    sleeps: list[float],
) -> None:
    records = [_record(n) for n in range(150)]
    storage.recovery_instances.put_many(records)
    groups = [
        storage.protection_groups.put(ProtectionGroup(name=f"g{n}", region=REGION))
        for n in range(60)
    ]
    requests = _calls(dynamodb_client, "BatchGetItem")
    attempts = _nothing_processed(moto_seam, "BatchGetItem", times=1)
    instances, protection_groups = COLLECTIONS[3], COLLECTIONS[0]

    found = storage.backend.read_many_across(
        [
            (instances, [r.source_server_id for r in records] + ["s-" + "9" * 17]),
            (protection_groups, [g.group_id for g in groups]),
        ]
    )

    assert sorted(r.key for r in found[instances.name]) == [r.source_server_id for r in records]
    assert sorted(r.key for r in found[protection_groups.name]) == sorted(
        g.group_id for g in groups
    )
    # 211 keys: three requests of at most 100, the first answered "nothing processed" once.
    assert attempts[0] == 4
    assert [sum(len(t["Keys"]) for t in r["RequestItems"].values()) for r in requests] == [
        100,
        100,
        100,
        11,
    ]
    assert len(sleeps) == 1


def test_batch_put_of_250_records_makes_ten_calls_of_25(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    requests = _calls(dynamodb_client, "BatchWriteItem")

    storage.recovery_instances.put_many([_record(n) for n in range(250)])

    table = storage.table_name(COLLECTIONS[3])
    assert [len(r["RequestItems"][table]) for r in requests] == [25] * 10
    assert len(storage.recovery_instances.list()) == 250


def test_batch_delete_is_chunked_and_deletes(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    storage.recovery_instances.put_many([_record(n) for n in range(60)])
    requests = _calls(dynamodb_client, "BatchWriteItem")

    storage.recovery_instances.delete_many([f"s-{n:017d}" for n in range(60)])

    table = storage.table_name(COLLECTIONS[3])
    assert [len(r["RequestItems"][table]) for r in requests] == [25, 25, 10]
    assert storage.recovery_instances.list() == []


# --- unprocessed keys and items --------------------------------------------------


def test_unprocessed_keys_are_retried_after_a_backoff(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient, sleeps: list[float]
) -> None:
    records = [_record(n) for n in range(250)]
    storage.recovery_instances.put_many(records)
    table = storage.table_name(COLLECTIONS[3])
    answered = [0]

    def hold_back_half(parsed: dict[str, Any], **_: Any) -> None:
        # DynamoDB processed only part of the first batch (as it does near its limits).
        answered[0] += 1
        if answered[0] == 1:
            items = parsed["Responses"][table]
            kept, held = items[:50], items[50:]
            parsed["Responses"][table] = kept
            parsed["UnprocessedKeys"] = {
                table: {"Keys": [{"sourceServerId": i["sourceServerId"]} for i in held]}
            }

    dynamodb_client.meta.events.register("after-call.dynamodb.BatchGetItem", hold_back_half)
    requests = _calls(dynamodb_client, "BatchGetItem")

    found = storage.recovery_instances.get_many([r.source_server_id for r in records])

    assert found == {r.source_server_id: r for r in records}
    assert [len(r["RequestItems"][table]["Keys"]) for r in requests] == [100, 50, 100, 50]
    assert all(r["RequestItems"][table]["ConsistentRead"] for r in requests)
    assert len(sleeps) == 1
    assert sleeps[0] > 0


def test_unprocessed_items_are_retried_until_written(
    storage: DynamoDBStorage, moto_seam: MotoSeam, sleeps: list[float]
) -> None:
    attempts = _nothing_processed(moto_seam, "BatchWriteItem", times=2)
    records = [_record(n) for n in range(30)]

    storage.recovery_instances.put_many(records)

    assert attempts == [4]  # chunk 1 three times (two refused), chunk 2 once
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0] / 2  # backoff grows (up to its random part)
    assert storage.recovery_instances.list() == records


def test_items_still_unprocessed_raise_naming_every_item_not_written(
    storage: DynamoDBStorage, moto_seam: MotoSeam
) -> None:
    # The first chunk goes through, then DynamoDB refuses everything.
    attempts = _nothing_processed(moto_seam, "BatchWriteItem", times=100, after=1)
    records = [_record(n) for n in range(80)]

    with pytest.raises(StorageUnavailableError) as caught:
        storage.recovery_instances.put_many(records)

    assert isinstance(caught.value.__cause__, ThrottledError)
    error = caught.value.__cause__
    assert attempts == [1 + 4]  # chunk 1, then chunk 2 until the policy gave up
    assert error.aws_code == "UnprocessedItems"
    assert error.operation == "BatchWriteItem"
    assert storage.table_name(COLLECTIONS[3]) in error.message
    assert "55 item(s)" in error.message
    written = storage.recovery_instances.list()
    assert written == records[:25]
    # Nothing is lost silently: what was not written is named in the error.
    assert sorted(error.resource_ids) == sorted(r.source_server_id for r in records[25:])


@pytest.mark.parametrize("across_tables", [False, True])
def test_keys_still_unprocessed_raise_naming_them(
    storage: DynamoDBStorage, moto_seam: MotoSeam, across_tables: bool
) -> None:
    storage.recovery_instances.put_many([_record(n) for n in range(10)])
    _nothing_processed(moto_seam, "BatchGetItem", times=100)
    keys = [f"s-{n:017d}" for n in range(10)]

    def read() -> object:
        if across_tables:
            return storage.backend.read_many_across([(COLLECTIONS[3], keys)])
        return storage.recovery_instances.get_many(keys)

    with pytest.raises(StorageUnavailableError) as caught:
        read()

    throttled = caught.value.__cause__
    assert isinstance(throttled, ThrottledError)
    assert throttled.aws_code == "UnprocessedKeys"
    assert sorted(throttled.resource_ids) == keys
    assert caught.value.details["resourceIds"] == keys
    assert "not read after 4 attempts" in caught.value.message


# --- conditional writes ----------------------------------------------------------


def test_a_conflict_reads_the_stored_version_from_the_failed_write(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    group = ProtectionGroup(name="web", region=REGION)
    stored = storage.protection_groups.put(storage.protection_groups.put(group))
    puts = _calls(dynamodb_client, "PutItem")
    gets = _calls(dynamodb_client, "GetItem")

    with pytest.raises(ConcurrentModificationError) as caught:
        storage.protection_groups.put(group.model_copy(update={"version": 1}))

    assert caught.value.actual_version == stored.version == 2
    assert gets == []  # ReturnValuesOnConditionCheckFailure=ALL_OLD, no second read
    assert puts[0]["ConditionExpression"] == "#version = :expected"
    assert puts[0]["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"


def test_creation_is_conditional_on_the_key_not_existing(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    puts = _calls(dynamodb_client, "PutItem")

    storage.protection_groups.put(ProtectionGroup(name="web", region=REGION))

    assert puts[0]["ConditionExpression"] == "attribute_not_exists(#key)"
    assert puts[0]["ExpressionAttributeNames"] == {"#key": "groupId"}


# --- indexes, pagination, TTL, item shape ------------------------------------------


def test_indexed_lookups_query_the_gsi_and_never_scan(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    storage.recovery_instances.put_many([_record(n) for n in range(5)])
    storage.executions.put(Execution(plan_id="rp-" + "p" * 20, plan_name="drill"))
    queries = _calls(dynamodb_client, "Query")
    scans = _calls(dynamodb_client, "Scan")

    assert len(storage.recovery_instances.for_execution(EXECUTION_ID)) == 5
    assert len(storage.executions.list_for_plan("rp-" + "p" * 20)) == 1

    assert scans == []
    assert [q["IndexName"] for q in queries] == ["sourceExecutionId-index", "planId-index"]


def test_a_version_lookup_reads_the_version_alone(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    stored = storage.executions.put(Execution(plan_id="rp-" + "p" * 20, plan_name="drill"))
    reads = _calls(dynamodb_client, "GetItem")

    assert storage.executions.version_of(stored.execution_id) == 1

    assert len(reads) == 1
    assert reads[0]["ConsistentRead"] is True
    projected = reads[0]["ProjectionExpression"].split(", ")
    assert {reads[0]["ExpressionAttributeNames"][name] for name in projected} == {
        "executionId",
        "version",
    }


def test_queries_and_scans_follow_every_page(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    # 12 items of ~200 KB: more than DynamoDB's 1 MB per page.
    records = [_record(n, name_tag=f"{n}" * 200_000) for n in range(12)]
    storage.recovery_instances.put_many(records)
    pages: list[int] = []
    dynamodb_client.meta.events.register(
        "after-call.dynamodb.Query", lambda parsed, **_: pages.append(len(parsed["Items"]))
    )

    assert storage.recovery_instances.for_execution(EXECUTION_ID) == records
    assert storage.recovery_instances.list() == records
    assert len(pages) >= 3
    assert sum(pages) == 12


def test_executions_carry_a_numeric_ttl_attribute(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    expires = datetime(2027, 2, 21, 10, 0, 0, 750000, tzinfo=UTC)
    stored = storage.executions.put(
        Execution(plan_id="rp-" + "p" * 20, plan_name="drill", expires_at=expires)
    )
    table = storage.table_name(COLLECTIONS[2])

    item = dynamodb_client.get_item(
        TableName=table, Key={"executionId": {"S": stored.execution_id}}
    )["Item"]
    ttl = dynamodb_client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]

    assert item["expiresAtEpoch"] == {"N": str(math.floor(expires.timestamp()))}
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAtEpoch"}
    assert storage.executions.get(stored.execution_id) == stored  # stripped on read
    assert storage.executions.list_for_plan("rp-" + "p" * 20) == [stored]


def test_items_are_native_camel_case_attributes(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    status = SyncStatus(
        started_at=T0,
        duration_s=12.5,
        targets=[
            SyncTargetResult(
                region=REGION,
                instances=3,
                error=ErrorRecord(
                    code="X", message="m", details={"big": 10**20, "ok": True}, at=T0
                ),
            )
        ],
    )

    storage.recovery_instances.put_sync_status(status)

    item = dynamodb_client.get_item(
        TableName=storage.table_name(COLLECTIONS[4]), Key={"statusId": {"S": "latest"}}
    )["Item"]
    assert item["version"] == {"N": "1"}
    assert item["durationS"] == {"N": "12.5"}
    assert item["startedAt"] == {"S": "2026-11-23T10:00:00Z"}
    target = item["targets"]["L"][0]["M"]
    assert target["instances"] == {"N": "3"}
    assert target["error"]["M"]["details"]["M"] == {
        "big": {"N": "100000000000000000000"},
        "ok": {"BOOL": True},
    }
    assert storage.recovery_instances.get_sync_status() == status.model_copy(update={"version": 1})


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (1e200, "error.details.ratio"),
        (10**40, "error.details.ratio"),
        (-1e-200, "error.details.ratio"),
    ],
)
def test_numbers_dynamodb_cannot_hold_are_refused_naming_the_field(
    storage: DynamoDBStorage, value: float, field: str
) -> None:
    execution = Execution(
        plan_id="rp-" + "p" * 20,
        plan_name="drill",
        error=ErrorRecord(code="X", message="m", details={"ratio": value}),
    )

    with pytest.raises(ValidationError) as caught:
        storage.executions.put(execution)

    assert caught.value.problems[0]["field"] == field
    assert caught.value.problems[0]["value"] == value
    assert storage.executions.find(execution.execution_id) is None


def test_empty_map_keys_are_refused_naming_the_field(storage: DynamoDBStorage) -> None:
    execution = Execution(
        plan_id="rp-" + "p" * 20,
        plan_name="drill",
        error=ErrorRecord(code="X", message="m", details={"": 1}),
    )

    with pytest.raises(ValidationError, match="map keys must not be empty") as caught:
        storage.executions.put(execution)

    assert caught.value.problems[0]["field"] == "error.details"


# --- tables ------------------------------------------------------------------------


def test_table_definitions_are_complete_create_table_inputs() -> None:
    definitions = {d["TableName"]: d for d in table_definitions("app-")}

    assert sorted(definitions) == sorted(f"app-{spec.name}" for spec in COLLECTIONS)
    for spec in COLLECTIONS:
        definition = definitions[f"app-{spec.name}"]
        assert definition["BillingMode"] == "PAY_PER_REQUEST"
        assert definition["KeySchema"] == [{"AttributeName": spec.key, "KeyType": "HASH"}]
        indexes = definition.get("GlobalSecondaryIndexes", [])
        if spec.index is None:
            assert indexes == []
        else:
            assert indexes == [
                {
                    "IndexName": f"{spec.index}-index",
                    "KeySchema": [{"AttributeName": spec.index, "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ]
    assert ttl_attributes("app-") == {
        "app-executions": "expiresAtEpoch",
        "app-execution-waves": "expiresAtEpoch",
        "app-execution-servers": "expiresAtEpoch",
    }


def test_table_definitions_create_the_tables_a_storage_works_on(
    dynamodb_client: DynamoDBClient, table_prefix: str
) -> None:
    for definition in table_definitions(table_prefix):
        dynamodb_client.create_table(**definition)
    storage = DynamoDBStorage(table_prefix=table_prefix, client=dynamodb_client)

    assert storage.create_tables() == []  # all there; only TTL is switched on

    described = dynamodb_client.describe_table(TableName=f"{table_prefix}recovery-instances")
    assert described["Table"]["GlobalSecondaryIndexes"][0]["IndexName"] == (
        "sourceExecutionId-index"
    )
    storage.recovery_instances.put_many([_record(1)])
    assert storage.recovery_instances.for_execution(EXECUTION_ID) == [_record(1)]
    ttl = dynamodb_client.describe_time_to_live(TableName=f"{table_prefix}executions")
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"


def test_create_tables_is_idempotent(dynamodb_client: DynamoDBClient, table_prefix: str) -> None:
    storage = DynamoDBStorage(table_prefix=table_prefix, client=dynamodb_client)

    first = storage.create_tables()
    second = storage.create_tables(wait=False)

    assert sorted(first) == sorted(f"{table_prefix}{spec.name}" for spec in COLLECTIONS)
    assert second == []


def test_cloudformation_template_declares_the_same_tables_with_ttl() -> None:
    template = cloudformation_template("app-")

    resources = template["Resources"]
    json.dumps(template)  # plain JSON, ready for a template file
    assert all(r["Type"] == "AWS::DynamoDB::Table" for r in resources.values())
    properties = {r["Properties"]["TableName"]: r["Properties"] for r in resources.values()}
    for definition in table_definitions("app-"):
        declared = dict(properties[definition["TableName"]])
        ttl = declared.pop("TimeToLiveSpecification", None)
        assert declared == definition
        if definition["TableName"] in (
            "app-executions",
            "app-execution-waves",
            "app-execution-servers",
        ):
            assert ttl == {"AttributeName": "expiresAtEpoch", "Enabled": True}
        else:
            assert ttl is None
    assert "ExecutionsTable" in resources
    claims = resources["ClaimsTable"]["Properties"]
    assert claims["TableName"] == "app-claims"
    assert claims["KeySchema"] == [{"AttributeName": "claimId", "KeyType": "HASH"}]


# --- construction and errors --------------------------------------------------------


def test_a_missing_table_is_an_aws_error_naming_it(
    dynamodb_client: DynamoDBClient, table_prefix: str
) -> None:
    storage = DynamoDBStorage(table_prefix=table_prefix, client=dynamodb_client)

    with pytest.raises(AwsResourceNotFoundError) as caught:
        storage.protection_groups.get("pg-" + "a" * 20)

    assert caught.value.operation == "GetItem"
    assert caught.value.region == REGION
    assert f"{table_prefix}protection-groups" in caught.value.resource_ids
    assert any("create_tables()" in note for note in caught.value.__notes__)


@pytest.mark.parametrize("prefix", ["bad prefix ", "ü-", "x" * 250])
def test_an_invalid_table_prefix_is_refused_naming_it(prefix: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DynamoDBStorage(table_prefix=prefix, client=boto3.client("dynamodb", region_name=REGION))

    assert caught.value.problems[0]["field"] == "table_prefix"
    assert caught.value.problems[0]["value"] == prefix


def test_a_region_contradicting_the_client_is_refused(dynamodb_client: DynamoDBClient) -> None:
    with pytest.raises(ValidationError, match="region"):
        DynamoDBStorage(client=dynamodb_client, region="eu-west-1")


@pytest.mark.usefixtures("_moto")
def test_without_a_client_one_is_made_for_the_region(table_prefix: str) -> None:
    storage = DynamoDBStorage(table_prefix=table_prefix, region="eu-west-1")

    assert storage.client.meta.region_name == "eu-west-1"
    assert storage.create_tables()
    assert storage.protection_groups.put(ProtectionGroup(name="a", region=REGION)).version == 1
    storage.close()


@pytest.mark.usefixtures("_moto")
def test_the_client_comes_from_the_library_client_factory(table_prefix: str) -> None:
    clients = SimulatedClientFactory()
    storage = DynamoDBStorage(table_prefix, clients=clients, region="eu-west-1")

    assert storage.client is clients.client("dynamodb", "eu-west-1")
    assert storage.create_tables()
    assert storage.protection_groups.put(ProtectionGroup(name="a", region=REGION)).version == 1
    storage.close()
    # The factory's client may serve others: closing the storage leaves it open.
    assert clients.client("dynamodb", "eu-west-1").list_tables()["TableNames"]


@pytest.mark.usefixtures("_moto")
def test_another_account_gets_its_own_tables(table_prefix: str) -> None:
    clients = SimulatedClientFactory()
    other = AccountContext(account_id="222222222222", role_name="DRSOrchestrationRole")
    theirs = DynamoDBStorage(table_prefix, clients=clients, region=REGION, account=other)
    ours = DynamoDBStorage(table_prefix, clients=clients, region=REGION)

    theirs.create_tables()
    group = theirs.protection_groups.put(ProtectionGroup(name="a", region=REGION))

    assert theirs.protection_groups.get(group.group_id) == group
    with pytest.raises(AwsResourceNotFoundError):
        ours.protection_groups.find(group.group_id)  # no tables in the caller's account


@pytest.mark.usefixtures("_moto")
def test_without_a_region_the_factory_uses_the_configured_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")

    storage = DynamoDBStorage(clients=SimulatedClientFactory())

    assert storage.client.meta.region_name == "ap-southeast-2"


@pytest.mark.parametrize("extra", ["clients", "account"])
def test_a_client_with_a_factory_or_account_is_refused(
    dynamodb_client: DynamoDBClient, extra: str
) -> None:
    value: Any = (
        SimulatedClientFactory() if extra == "clients" else AccountContext(account_id="1" * 12)
    )
    with pytest.raises(ValidationError) as caught:
        DynamoDBStorage(client=dynamodb_client, **{extra: value})

    assert caught.value.problems[0]["field"] == extra


def test_default_table_names(dynamodb_client: DynamoDBClient) -> None:
    storage = DynamoDBStorage(client=dynamodb_client)

    assert storage.table_prefix == "drs-orchestration-"
    assert storage.table_name(COLLECTIONS[0]) == "drs-orchestration-protection-groups"


def _big_execution(servers: int) -> Execution:
    from drs_orchestration.models import PhaseTimes, ServerLaunchStatus, ServerOutcome, WaveRun

    outcomes = {
        f"s-{i:017d}": ServerOutcome(
            source_server_id=f"s-{i:017d}",
            status=ServerLaunchStatus.LAUNCHED,
            job_id=f"drsjob-{i // 100:017d}",
            recovery_instance_id=f"i-{i:017x}",
            ec2_instance_id=f"i-{i:017x}",
            phases=PhaseTimes(job_start=T0, snapshot_start=T0, snapshot_end=T0, launch_end=T0),
        )
        for i in range(servers)
    }
    wave = WaveRun(wave_name="all", region=REGION, server_ids=list(outcomes), servers=outcomes)
    return Execution(plan_id="rp-" + "p" * 20, plan_name="big", waves=[wave])


def test_an_execution_of_a_thousand_servers_is_stored_as_small_native_items(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    execution = _big_execution(1200)
    assert len(json.dumps(execution.to_wire())) > 400 * 1024, "bigger than a DynamoDB item"

    stored = storage.executions.put(execution)
    updated = storage.executions.put(stored.model_copy(update={"plan_name": "bigger"}))

    header = dynamodb_client.get_item(
        TableName=storage.table_name(EXECUTIONS), Key={"executionId": {"S": stored.execution_id}}
    )["Item"]
    assert "compressedDocument" not in header
    assert header["version"] == {"N": "2"}
    assert header["planName"] == {"S": "bigger"}
    outcomes = dynamodb_client.scan(TableName=storage.table_name(EXECUTION_SERVERS))["Items"]
    mine = [i for i in outcomes if i["executionId"]["S"] == stored.execution_id]
    assert len(mine) == 12  # 1200 outcomes in records of 100
    assert all("compressedDocument" not in item for item in mine)
    assert storage.executions.get(stored.execution_id) == updated
    assert storage.executions.list_for_plan("rp-" + "p" * 20) == [updated]
    with pytest.raises(ConcurrentModificationError):
        storage.executions.put(stored)


def test_small_documents_stay_native(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    stored = storage.executions.put(_big_execution(10))
    item = dynamodb_client.get_item(
        TableName=storage.table_name(COLLECTIONS[2]),
        Key={"executionId": {"S": stored.execution_id}},
    )["Item"]
    assert "compressedDocument" not in item
    assert "waves" in item


def test_lists_of_records_are_packed_as_one_json_string_each(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    stored = storage.executions.put(_big_execution(150))

    header = dynamodb_client.get_item(
        TableName=storage.table_name(EXECUTIONS), Key={"executionId": {"S": stored.execution_id}}
    )["Item"]
    waves = json.loads(header["waves"]["S"])
    assert [w["waveName"] for w in waves] == ["all"]
    assert header["planName"] == {"S": "big"}  # the rest stays native
    record = dynamodb_client.get_item(
        TableName=storage.table_name(EXECUTION_SERVERS),
        Key={"recordId": {"S": f"{stored.execution_id}:w0000:s0001"}},
    )["Item"]
    servers = json.loads(record["servers"]["S"])
    assert [s["sourceServerId"] for s in servers] == [f"s-{i:017d}" for i in range(100, 150)]
    # What the ended waves add up to grows with them (a job ID per chunk): packed too.
    assert "jobIds" in json.loads(header["endedWaves"]["S"])
    assert storage.executions.get(stored.execution_id) == stored


def test_packed_attributes_written_native_by_an_older_version_are_read(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    stored = storage.executions.put(_big_execution(3))
    key = {"recordId": {"S": f"{stored.execution_id}:w0000:s0000"}}
    table = storage.table_name(EXECUTION_SERVERS)
    item = dynamodb_client.get_item(TableName=table, Key=key)["Item"]
    item["servers"] = TypeSerializer().serialize(json.loads(item["servers"]["S"]))
    dynamodb_client.put_item(TableName=table, Item=item)

    assert "L" in dynamodb_client.get_item(TableName=table, Key=key)["Item"]["servers"]
    headers = storage.table_name(EXECUTIONS)
    header_key = {"executionId": {"S": stored.execution_id}}
    header = dynamodb_client.get_item(TableName=headers, Key=header_key)["Item"]
    header["endedWaves"] = TypeSerializer().serialize(json.loads(header["endedWaves"]["S"]))
    dynamodb_client.put_item(TableName=headers, Item=header)
    assert "M" in dynamodb_client.get_item(TableName=headers, Key=header_key)["Item"]["endedWaves"]
    assert storage.executions.get(stored.execution_id) == stored


def test_a_packed_value_json_cannot_hold_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="numbers must be finite") as caught:
        to_item(EXECUTION_SERVERS, {"recordId": "r", "servers": [{"achievedRpoS": math.nan}]})

    assert caught.value.problems[0]["field"] == "servers"


# --- retries of single-item calls and transactions -------------------------------------


def _error(request: AWSPreparedRequest, code: str, **extra: Any) -> AWSResponse:
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code, **extra}
    return AWSResponse(request.url, 400, {}, _Body(json.dumps(body).encode()))


def _failing(seam: MotoSeam, operation: str, answer: Any, *, times: int) -> list[int]:
    """Answer the first ``times`` calls of ``operation`` with ``answer(request)``; count all."""
    calls = [0]

    def fault(called: str, request: AWSPreparedRequest) -> AWSResponse | None:
        if called != operation:
            return None
        calls[0] += 1
        return answer(request) if calls[0] <= times else None

    seam.faults.append(fault)
    return calls


@pytest.fixture
def single_try_seam(_moto: None) -> MotoSeam:
    """A seam under a client with botocore's own retries off, so every HTTP request counts."""
    from botocore.config import Config

    return MotoSeam(
        boto3.client(
            "dynamodb", region_name=REGION, config=Config(retries={"total_max_attempts": 1})
        )
    )


@pytest.fixture
def single_try(
    single_try_seam: MotoSeam, table_prefix: str, sleeps: list[float]
) -> Iterator[DynamoDBStorage]:
    storage = DynamoDBStorage(
        table_prefix=table_prefix,
        client=single_try_seam.client,
        retry=RetryPolicy(max_attempts=4, sleep=sleeps.append),
    )
    storage.create_tables()
    yield storage
    storage.close()


def test_a_throttled_get_is_retried_with_the_policy(
    single_try: DynamoDBStorage, single_try_seam: MotoSeam, sleeps: list[float]
) -> None:
    stored = single_try.protection_groups.put(ProtectionGroup(name="web", region=REGION))
    calls = _failing(
        single_try_seam,
        "GetItem",
        lambda r: _error(r, "ProvisionedThroughputExceededException"),
        times=2,
    )

    assert single_try.protection_groups.get(stored.group_id) == stored

    assert calls == [3]
    assert len(sleeps) == 2


def test_a_put_throttled_past_the_policy_is_storage_unavailable(
    single_try: DynamoDBStorage, single_try_seam: MotoSeam
) -> None:
    calls = _failing(
        single_try_seam, "PutItem", lambda r: _error(r, "ThrottlingException"), times=99
    )
    group = ProtectionGroup(name="web", region=REGION)

    with pytest.raises(StorageUnavailableError) as caught:
        single_try.protection_groups.put(group)

    assert calls == [4]
    assert caught.value.http_status == 503
    assert "PutItem" in caught.value.message
    throttled = caught.value.__cause__
    assert isinstance(throttled, ThrottledError)
    assert isinstance(throttled.__cause__, ClientError)
    single_try_seam.faults.clear()
    assert single_try.protection_groups.find(group.group_id) is None


def test_a_scan_retries_the_page_that_failed(
    single_try: DynamoDBStorage, single_try_seam: MotoSeam
) -> None:
    # 6 items of ~200 KB: two pages of at most 1 MB.
    records = [_record(n, name_tag=f"{n}" * 200_000) for n in range(6)]
    single_try.recovery_instances.put_many(records)
    pages: list[dict[str, Any]] = []
    single_try.client.meta.events.register(
        "before-parameter-build.dynamodb.Scan", lambda params, **_: pages.append(dict(params))
    )
    seen = [0]

    def second_page_throttled_once(called: str, request: AWSPreparedRequest) -> AWSResponse | None:
        if called != "Scan" or "ExclusiveStartKey" not in json.loads(request.body or b"{}"):
            return None
        seen[0] += 1
        return _error(request, "ThrottlingException") if seen[0] == 1 else None

    single_try_seam.faults.append(second_page_throttled_once)

    assert single_try.recovery_instances.list() == records
    starts = ["ExclusiveStartKey" in p for p in pages]
    assert starts == [False, True, True]  # the first page once, the second twice


def test_a_transaction_cancelled_by_contention_is_retried(
    single_try: DynamoDBStorage, single_try_seam: MotoSeam, sleeps: list[float]
) -> None:
    reasons = [{"Code": "TransactionConflict", "Message": "busy"}, {"Code": "None"}]
    calls = _failing(
        single_try_seam,
        "TransactWriteItems",
        lambda r: _error(r, "TransactionCanceledException", CancellationReasons=reasons),
        times=2,
    )
    groups = [ProtectionGroup(name=n, region=REGION) for n in ("a", "b")]

    stored = single_try.transact([Put(g, 0) for g in groups])

    assert calls == [3]
    assert len(sleeps) == 2
    assert [single_try.protection_groups.get(g.group_id) for g in groups] == stored


def test_a_transaction_conflict_names_the_item_from_the_cancellation_reasons(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    existing = storage.protection_groups.put(
        storage.protection_groups.put(ProtectionGroup(name="web", region=REGION))
    )
    fresh = ProtectionGroup(name="new", region=REGION)
    requests = _calls(dynamodb_client, "TransactWriteItems")
    reads = _calls(dynamodb_client, "GetItem")

    with pytest.raises(ConcurrentModificationError) as caught:
        storage.transact([Put(fresh, 0), Check(ProtectionGroup, existing.group_id, 1)])

    assert (caught.value.key, caught.value.actual_version) == (existing.group_id, 2)
    assert reads == []  # the version came with the cancellation reason
    items = requests[0]["TransactItems"]
    assert items[1]["ConditionCheck"]["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    assert storage.protection_groups.find(fresh.group_id) is None


def test_no_region_anywhere_is_a_validation_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    with pytest.raises(ValidationError) as caught:
        DynamoDBStorage()

    assert caught.value.problems[0]["field"] == "region"
    assert "AWS_DEFAULT_REGION" in caught.value.message


def test_an_item_this_library_cannot_decode_is_a_corrupt_record(
    storage: DynamoDBStorage, dynamodb_client: DynamoDBClient
) -> None:
    table = storage.table_name(COLLECTIONS[0])
    key = "pg-" + "s" * 20
    dynamodb_client.put_item(
        TableName=table, Item={"groupId": {"S": key}, "tags": {"SS": ["a", "b"]}}
    )

    with pytest.raises(CorruptRecordError, match="cannot be decoded") as caught:
        storage.protection_groups.get(key)

    assert caught.value.key == key
    assert storage.protection_groups.list() == []
