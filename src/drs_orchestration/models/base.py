"""The model base class: camelCase on the wire, snake_case in Python, strict input."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Self

import pydantic
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from drs_orchestration.errors import ValidationError

__all__ = [
    "MAX_DURATION_S",
    "DrsModel",
    "Timestamp",
    "VersionedModel",
    "aware",
    "seconds_arg",
    "utc_now",
]


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


MAX_DURATION_S = 7 * 86400
"""The longest wait, lease or timeout the library accepts: one week."""


def seconds_arg(field: str, value: float, *, maximum: float = MAX_DURATION_S) -> float:
    """Check a duration argument in seconds: a finite number above 0, at most ``maximum``.

    Raises:
        ValidationError: naming ``field`` and the bad value.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError.for_field(field, value, "must be a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise ValidationError.for_field(field, value, "must be a finite number of seconds above 0")
    if value > maximum:
        raise ValidationError.for_field(field, value, f"must be at most {maximum:g} seconds")
    return float(value)


def aware(field: str, value: datetime) -> datetime:
    """Check that a datetime (from an injected clock, say) is timezone-aware.

    Raises:
        ValidationError: naming ``field`` when the datetime is naive.
    """
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationError.for_field(
            field, value, "must be a timezone-aware datetime (e.g. datetime.now(UTC))"
        )
    return value
