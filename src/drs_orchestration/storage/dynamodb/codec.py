"""DynamoDB items: documents as native attributes, compressed when too big for one item.

Items carry the documents' camelCase attributes natively (numbers as ``N``,
maps as ``M``), written and read by boto3's ``TypeSerializer`` and
``TypeDeserializer``. What boto3 leaves to the caller is decided here,
before a byte is sent:

- a number DynamoDB cannot hold exactly (more than 38 significant digits, a
  magnitude outside 1E-130 to 1E+126, not finite) is refused with a
  :class:`~drs_orchestration.errors.ValidationError` naming its field,
  never rounded;
- a float is written as the shortest decimal that reads back as the same
  float (a whole float below 1E+38 as its exact whole value) and read back
  equal to it (whole numbers of up to 38 digits read back as ints);
- an empty map key is refused naming its field; a set is never written
  (documents are JSON, which has none), and an item holding one is not a
  document of this library.

The attributes a collection marks as packed (``CollectionSpec.packed``: an
execution's waves and what its ended waves add up to, a wave's jobs, server
outcomes) are each held as one
string of compact JSON: a native map costs botocore and DynamoDB work per
field on every read and write, and nothing queries inside these lists. An
item written with such an attribute native is still read.

A document too big for one item (400 KB) is stored gzip-compressed in one
binary attribute, :data:`COMPRESSED_ATTRIBUTE`, beside its key, ``version``
and indexed and TTL attributes, so conditional writes, indexes and TTL work
the same. Decoding never raises: an item that cannot be decoded becomes a
:class:`~drs_orchestration.storage.backend.RawRecord` that says why.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections.abc import Mapping
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
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from drs_orchestration.errors import ValidationError
from drs_orchestration.storage.backend import CollectionSpec, RawRecord
from drs_orchestration.storage.dynamodb.tables import ttl_attribute

__all__ = [
    "COMPRESSED_ATTRIBUTE",
    "COMPRESS_ABOVE_BYTES",
    "from_item",
    "raw_record",
    "stored_version",
    "to_item",
]

COMPRESSED_ATTRIBUTE = "compressedDocument"
"""The binary attribute holding a gzip-compressed document too big for a native item."""
COMPRESS_ABOVE_BYTES = 300_000
"""Documents whose JSON is larger than this are stored compressed (DynamoDB items max 400 KB)."""
_MAX_ITEM_BYTES = 400 * 1024

# DynamoDB numbers: 38 significant digits, magnitude 1E-130 to 1E+126. Any
# conversion that would round or overflow raises instead of storing another number.
_NUMBERS = Context(
    Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
)

_WHOLE_DIGITS = 38
_WHOLE_LIMIT = 10.0**_WHOLE_DIGITS

_serializer = TypeSerializer()


def _unstorable(path: str, value: Any, reason: str) -> ValidationError:
    return ValidationError.for_field(path, value, f"cannot be stored in DynamoDB: {reason}")


def _number(value: int | float, path: str) -> Decimal:
    if isinstance(value, float) and not math.isfinite(value):
        raise _unstorable(path, value, "numbers must be finite")
    if isinstance(value, float) and value.is_integer() and abs(value) < _WHOLE_LIMIT:
        # Written as its exact whole value (at most 38 digits here), it reads back as
        # an int equal to the float; its shortest text (5.038731349256813e+16) would
        # read back as another int (50387313492568130).
        value = int(value)
    try:
        # repr() is the shortest text that reads back as the same float.
        return _NUMBERS.create_decimal(repr(value) if isinstance(value, float) else value)
    except DecimalException:
        raise _unstorable(
            path, value, "numbers have at most 38 digits and a magnitude of 1E-130 to 1E+126"
        ) from None


def _storable(value: Any, path: str) -> Any:
    """``value`` in the types ``TypeSerializer`` writes as JSON would: numbers as ``Decimal``.

    ``path`` names the field in errors.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return _number(value, path)
    if isinstance(value, (list, tuple)):
        return [_storable(v, f"{path}.{i}") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if "" in value:
            raise _unstorable(path, dict(value), "map keys must not be empty")
        return {str(k): _storable(v, f"{path}.{k}") for k, v in value.items()}
    # Sets included: TypeSerializer would write them as SS/NS/BS, which JSON cannot read back.
    raise _unstorable(path, value, f"{type(value).__name__} is not a JSON value")


class _DocumentDeserializer(TypeDeserializer):
    """boto3's deserializer, reading numbers back as JSON numbers and refusing what JSON has not."""

    def _deserialize_n(self, value: str) -> int | float:
        number = _NUMBERS.create_decimal(value)
        # A whole number of more than 38 digits cannot have been written from an int
        # (ints are written exactly, and DynamoDB holds 38 digits): it is a float.
        if number == number.to_integral_value() and number.adjusted() < _WHOLE_DIGITS:
            return int(number)
        return float(number)

    def _not_json(self, value: Any) -> Any:
        raise ValueError(
            "unexpected DynamoDB set or binary attribute (this library writes no sets and no "
            "binary attributes besides its compressed documents)"
        )

    _deserialize_b = _deserialize_ns = _deserialize_ss = _deserialize_bs = _not_json


_deserializer = _DocumentDeserializer()


def to_item(spec: CollectionSpec, document: Mapping[str, Any]) -> dict[str, Any]:
    """The DynamoDB item storing ``document`` (compressed if too big, with its TTL attribute).

    Raises:
        ValidationError: a value DynamoDB cannot hold, naming its field.
    """
    packed = {name: _packed(document[name], name) for name in spec.packed if name in document}
    item = {
        name: {"S": packed[name]}
        if name in packed
        else _serializer.serialize(_storable(value, name))
        for name, value in document.items()
    }
    if _json_size(document, packed) > COMPRESS_ABOVE_BYTES:
        encoded = json.dumps(document, separators=(",", ":")).encode()
        item = _compressed_item(spec, document, item, encoded)
    attribute = ttl_attribute(spec)
    if attribute is not None and spec.ttl is not None and spec.ttl in document:
        expires = datetime.fromisoformat(str(document[spec.ttl]))
        item[attribute] = {"N": str(math.floor(expires.timestamp()))}
    return item


def _json_size(document: Mapping[str, Any], packed: Mapping[str, str]) -> int:
    """The length of ``document``'s compact JSON, its ``packed`` attributes printed already.

    Packed attributes are printed as compact ASCII JSON, as the whole document
    would be: only the rest is printed again (a packed list of outcomes is most
    of an item, and printing it twice would double the cost of a write).
    """
    rest = {name: value for name, value in document.items() if name not in packed}
    size = len(json.dumps(rest, separators=(",", ":")))
    for name, text in packed.items():
        # '"name":' and the text, and the comma before it ("{}" has none to drop).
        size += len(json.dumps(name)) + 1 + len(text) + 1
    return size - 1 if packed and not rest else size


def _packed(value: Any, path: str) -> str:
    try:
        # ASCII: a lone surrogate stays storable as an escape (DynamoDB strings are UTF-8).
        return json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except ValueError:
        raise _unstorable(path, value, "numbers must be finite") from None


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


def from_item(spec: CollectionSpec, item: Mapping[str, Any]) -> Any:
    """The document an item stores (raises on items this module did not write)."""
    compressed = item.get(COMPRESSED_ATTRIBUTE)
    if compressed is not None:
        return json.loads(gzip.decompress(compressed["B"]))
    attribute = ttl_attribute(spec)
    return {
        name: (
            json.loads(value["S"])
            if name in spec.packed and "S" in value
            else _deserializer.deserialize(value)
        )
        for name, value in item.items()
        if name != attribute
    }


def stored_version(item: Mapping[str, Any] | None) -> int | None:
    """The ``version`` of an item (``0`` if it has none), ``None`` for no item."""
    if not item:
        return None
    return int(item["version"]["N"]) if "version" in item else 0


def raw_record(spec: CollectionSpec, item: Mapping[str, Any]) -> RawRecord:
    """An item as a raw record; an item this module cannot decode is reported, not raised."""
    key_attribute = item.get(spec.key) or {}
    key = str(key_attribute.get("S", key_attribute)) if isinstance(key_attribute, dict) else "?"
    try:
        document = from_item(spec, item)
    except (
        ValueError,
        TypeError,
        KeyError,
        EOFError,
        OSError,
        zlib.error,
        DecimalException,
    ) as exc:
        return RawRecord(key, None, f"cannot be decoded ({type(exc).__name__}: {exc})")
    if not isinstance(document, dict):
        return RawRecord(key, None, f"not a JSON object but {type(document).__name__}")
    return RawRecord(key, document)
