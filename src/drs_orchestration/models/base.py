"""The model base class: camelCase on the wire, snake_case in Python, strict input."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Self

import pydantic
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from drs_orchestration.errors import ValidationError

__all__ = [
    "MAX_TIMEOUT_S",
    "Clock",
    "DrsModel",
    "Timestamp",
    "VersionedModel",
    "aware_clock",
    "aware_now",
    "check_aware",
    "check_duration",
    "utc_now",
]

MAX_TIMEOUT_S = 7 * 24 * 3600
"""The longest timeout the library accepts, in seconds (one week).

A longer one is a mistake (``10**12`` overflows every date it is added to),
and nothing in a recovery waits that long.
"""

Clock = Callable[[], datetime]
"""Where a service reads the current time: :func:`utc_now`, or the simulator's clock in tests."""


def _in_utc(value: datetime) -> datetime:
    if not value.utcoffset():
        return value  # already UTC (most are: every stored timestamp is), nothing to convert
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range once converted to UTC") from None


Timestamp = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""A timezone-aware datetime, converted to UTC.

Naive datetimes are rejected so no time is ambiguous. Converting to UTC keeps
the stored form exact: an ISO 8601 offset cannot carry seconds, so a zone
such as a historical local mean time would not survive a round trip.
"""


def utc_now() -> datetime:
    """Return the current time in UTC, truncated to milliseconds (what every backend stores)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def check_aware(value: object, field: str) -> datetime:
    """Return ``value`` if it is a timezone-aware datetime.

    Every time the library stores or compares must say which zone it is in;
    a naive datetime would be read as local time on one host and UTC on another.

    Raises:
        ValidationError: naming ``field`` and the value when it is not a
            datetime or has no timezone.
    """
    if not isinstance(value, datetime):
        raise ValidationError.for_field(field, value, "must be a timezone-aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError.for_field(
            field,
            value,
            "must be timezone-aware (a naive datetime has no zone; use datetime.now(UTC))",
        )
    return value


def aware_now(clock: Clock, field: str = "clock") -> datetime:
    """Read ``clock`` and check that it answered a timezone-aware datetime.

    Raises:
        ValidationError: naming ``field`` (the injected clock) and what it returned.
    """
    return check_aware(clock(), field)


def aware_clock(clock: Clock, field: str = "clock") -> Clock:
    """Wrap ``clock`` so every reading is checked with :func:`aware_now`."""

    def read() -> datetime:
        return aware_now(clock, field)

    return read


def check_duration(
    value: object,
    field: str,
    *,
    maximum: float = MAX_TIMEOUT_S,
    allow_zero: bool = False,
) -> float:
    """Return ``value`` if it is a finite number of seconds in ``(0, maximum]``.

    Timeouts, poll intervals and leases go through this, so a negative,
    NaN, infinite or absurdly large one is refused where it is given
    rather than failing later inside date arithmetic.

    Args:
        value: The number of seconds given.
        field: Its name, for the error.
        maximum: The largest accepted value.
        allow_zero: Whether ``0`` is accepted (e.g. "do not wait").

    Raises:
        ValidationError: naming ``field`` and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError.for_field(field, value, "must be a number of seconds")
    if not math.isfinite(value):
        raise ValidationError.for_field(field, value, "must be a finite number of seconds")
    if value < 0 or (value == 0 and not allow_zero):
        lowest = "zero or more" if allow_zero else "more than zero"
        raise ValidationError.for_field(field, value, f"must be {lowest} seconds")
    if value > maximum:
        raise ValidationError.for_field(field, value, f"must be at most {maximum:g} seconds")
    return float(value)


class DrsModel(BaseModel):
    """Base for every model: camelCase aliases, populate by either name, unknown fields rejected.

    ``model_dump(by_alias=True, mode="json")`` gives the wire/storage form;
    :meth:`parse` validates wire or Python input and raises the library's
    :class:`~drs_orchestration.errors.ValidationError` naming each bad field.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        validate_assignment=True,
        str_strip_whitespace=False,
        use_enum_values=False,
        # Infinity and NaN have no JSON form and DynamoDB cannot store them.
        allow_inf_nan=False,
    )

    @classmethod
    def parse(cls, data: Any) -> Self:
        """Validate ``data`` (a dict in camelCase or snake_case, or a model).

        Raises:
            ValidationError: naming the field path and bad value of every problem.
        """
        try:
            return cls.model_validate(data)
        except pydantic.ValidationError as exc:
            raise ValidationError.from_pydantic(exc) from exc

    def to_wire(self) -> dict[str, Any]:
        """Return the camelCase JSON-compatible form (what storage and adapters write)."""
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


class VersionedModel(DrsModel):
    """A model stored with optimistic locking: ``version`` counts successful writes.

    Storage sets ``version``; a write states the version it read, and loses
    with :class:`~drs_orchestration.errors.ConcurrentModificationError` if
    someone else wrote in between.
    """

    version: Annotated[int, Field(ge=0)] = 0
