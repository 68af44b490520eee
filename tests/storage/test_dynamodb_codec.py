"""The DynamoDB item codec: boto3's TypeSerializer/TypeDeserializer with the library's guarantees.

The guarantees are checked on the codec alone, for values no model makes
(sets, floats at the edges of DynamoDB's range); ``test_dynamodb.py`` checks
them through the storage on moto.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drs_orchestration.errors import ValidationError
from drs_orchestration.storage.backend import EXECUTION_SERVERS, PROTECTION_GROUPS, SYNC_STATUS
from drs_orchestration.storage.dynamodb.codec import (
    COMPRESS_ABOVE_BYTES,
    COMPRESSED_ATTRIBUTE,
    from_item,
    raw_record,
    to_item,
)

SPEC = SYNC_STATUS


def _in_range(value: float) -> bool:
    return value == 0 or 1e-130 <= abs(value) < 1e126


@given(value=st.floats(allow_nan=False, allow_infinity=False).filter(_in_range))
def test_every_float_dynamodb_can_hold_reads_back_as_the_same_float(value: float) -> None:
    item = to_item(SPEC, {"statusId": "latest", "ratio": value, "nested": {"list": [value]}})

    document = from_item(SPEC, item)

    assert document["ratio"] == value
    assert document["nested"]["list"] == [value]
    assert float(Decimal(item["ratio"]["N"])) == value  # exact on the wire, not rounded


@given(value=st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1))
def test_whole_numbers_of_up_to_38_digits_read_back_as_ints(value: int) -> None:
    item = to_item(SPEC, {"statusId": "latest", "count": value})

    document = from_item(SPEC, item)

    assert document["count"] == value
    assert type(document["count"]) is int


@pytest.mark.parametrize(
    "value", [1e200, -1e-200, 10**38 + 1, 2**200, math.inf, -math.inf, math.nan]
)
def test_numbers_dynamodb_cannot_hold_exactly_are_refused_naming_the_field(value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        to_item(SPEC, {"statusId": "latest", "targets": [{"lagS": value}]})

    assert caught.value.problems[0]["field"] == "targets.0.lagS"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ({"a", "b"}, "set"),
        (frozenset({1}), "frozenset"),
        (b"raw", "bytes"),
        (Decimal(1), "Decimal"),
    ],
)
def test_values_json_has_not_are_never_written(value: Any, kind: str) -> None:
    with pytest.raises(ValidationError, match=f"{kind} is not a JSON value") as caught:
        to_item(SPEC, {"statusId": "latest", "details": {"tags": value}})

    assert caught.value.problems[0]["field"] == "details.tags"


def test_empty_map_keys_are_refused_naming_the_map() -> None:
    with pytest.raises(ValidationError, match="map keys must not be empty") as caught:
        to_item(SPEC, {"statusId": "latest", "details": {"ok": {"": 1}}})

    assert caught.value.problems[0]["field"] == "details.ok"


def test_items_are_the_attribute_values_dynamodb_takes() -> None:
    item = to_item(
        SPEC,
        {"statusId": "latest", "n": None, "ok": True, "list": ["a", 1, 2.5], "map": {"k": "v"}},
    )

    assert item == {
        "statusId": {"S": "latest"},
        "n": {"NULL": True},
        "ok": {"BOOL": True},
        "list": {"L": [{"S": "a"}, {"N": "1"}, {"N": "2.5"}]},
        "map": {"M": {"k": {"S": "v"}}},
    }


@pytest.mark.parametrize(
    "attribute",
    [{"SS": ["a", "b"]}, {"NS": ["1"]}, {"BS": [b"x"]}, {"B": b"x"}, {"N": "1" * 40}],
)
def test_an_item_this_library_did_not_write_is_reported_not_raised(
    attribute: dict[str, Any],
) -> None:
    record = raw_record(PROTECTION_GROUPS, {"groupId": {"S": "pg-1"}, "tags": attribute})

    assert record.key == "pg-1"
    assert record.body is None
    assert record.problem is not None
    assert record.problem.startswith("cannot be decoded")


def test_a_document_too_big_for_an_item_is_compressed_beside_its_key_and_version() -> None:
    document = {"statusId": "latest", "version": 3, "blob": "x" * 400_000}

    item = to_item(SPEC, document)

    assert set(item) == {"statusId", "version", COMPRESSED_ATTRIBUTE}
    assert item["version"] == {"N": "3"}
    assert from_item(SPEC, item) == document


@pytest.mark.parametrize("over", [0, 1])
@pytest.mark.parametrize("text", ["x", "\u00e9"], ids=["ascii", "escaped"])
def test_a_document_is_compressed_when_its_json_is_over_the_limit_packed_attributes_included(
    over: int, text: str
) -> None:
    # "servers" is packed (one JSON string attribute): its size must count as printed.
    document: dict[str, Any] = {
        "recordId": "ex-1:w0000:s0000",
        "version": 2,
        "servers": [{"note": ""}],
    }
    size = len(json.dumps(document, separators=(",", ":")))
    unit = len(json.dumps(text)) - 2
    padding, rest = divmod(COMPRESS_ABOVE_BYTES + over - size, unit)
    document["servers"][0]["note"] = text * padding + "y" * rest
    assert len(json.dumps(document, separators=(",", ":"))) == COMPRESS_ABOVE_BYTES + over

    item = to_item(EXECUTION_SERVERS, document)

    assert (COMPRESSED_ATTRIBUTE in item) is bool(over)
    assert from_item(EXECUTION_SERVERS, item) == document


def test_the_package_keeps_the_names_importable_where_they_were() -> None:
    from drs_orchestration import storage
    from drs_orchestration.storage import dynamodb

    assert storage.DynamoDBStorage is dynamodb.DynamoDBStorage
    assert dynamodb.COMPRESSED_ATTRIBUTE == COMPRESSED_ATTRIBUTE == "compressedDocument"
    assert dynamodb.DEFAULT_TABLE_PREFIX == "drs-orchestration-"
    assert dynamodb.index_name(PROTECTION_GROUPS) is None
    assert dynamodb.ttl_attribute(SPEC) is None
    assert dynamodb.table_definitions is storage.table_definitions
    assert dynamodb.ttl_attributes is storage.ttl_attributes
    assert dynamodb.cloudformation_template is storage.cloudformation_template
    assert dynamodb.COMPRESS_ABOVE_BYTES == 300_000
