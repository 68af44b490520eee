"""Facts about the DRS service the simulator shares: its botocore model, ARNs, IDs and time formats.

botocore's service model is the source of truth for every shape, field name,
enum and pattern; the simulator reads it here once.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, StructureShape

from drs_orchestration.testing.errors import FieldProblem, validation_failed

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "IdFactory",
    "arn",
    "date_window",
    "format_datetime",
    "format_duration",
    "has_member",
    "operation_model",
    "parse_datetime",
    "parse_duration",
    "partition_for",
    "service_model",
    "stable_id",
]

DEFAULT_ACCOUNT_ID = "123456789012"
"""The account callers land in when their access key names no other (moto's default too)."""

_HEX = "0123456789abcdef"


@functools.cache
def service_model() -> ServiceModel:
    """The installed botocore's DRS service model (loaded once)."""
    return botocore.session.get_session().get_service_model("drs")


def operation_model(name: str) -> OperationModel:
    """The model of one DRS operation, e.g. ``"StartRecovery"``."""
    return service_model().operation_model(name)


@functools.cache
def has_member(shape_name: str, member: str) -> bool:
    """Whether the installed model's structure ``shape_name`` has ``member``.

    Some members (``recoveryMode``, ``agentVersion``...) exist only in newer
    botocore models; the simulator never sends a field the installed model lacks.
    """
    shape = service_model().shape_for(shape_name)
    return isinstance(shape, StructureShape) and member in shape.members


def partition_for(region: str) -> str:
    """The ARN partition of ``region`` (``aws``, ``aws-cn`` or ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def arn(kind: str, region: str, account_id: str, resource_id: str) -> str:
    """The ARN of a DRS resource, e.g. ``arn:aws:drs:us-east-1:123456789012:job/drsjob-…``."""
    return f"arn:{partition_for(region)}:drs:{region}:{account_id}:{kind}/{resource_id}"


def format_datetime(moment: datetime) -> str:
    """Format a time the way the model's ``ISO8601DatetimeString`` pattern wants (UTC, ``Z``)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(text: str) -> datetime:
    """Parse an ``ISO8601DatetimeString`` (as sent in filters) into an aware UTC datetime."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def date_window(
    filters: dict[str, Any], low_name: str, high_name: str
) -> tuple[datetime | None, datetime | None]:
    """The ``[low, high]`` time window a request's ``filters`` ask for (either end optional).

    The model's date pattern lets impossible dates through (``2026-02-30``), so
    each value is parsed here and a bad one is answered, like a window whose
    start is after its end, with a ``ValidationException`` naming the field —
    never a Python error. (DRS documents neither refusal; answering them as
    validation errors is the simulator's assumption.)

    Raises:
        DrsServiceError: ``ValidationException`` naming ``filters.<field>``.
    """
    bounds: list[datetime | None] = []
    for name in (low_name, high_name):
        text = filters.get(name)
        if not text:
            bounds.append(None)
            continue
        try:
            bounds.append(parse_datetime(str(text)))
        except ValueError as exc:
            raise validation_failed(
                [FieldProblem(f"filters.{name}", f"Member must be a valid date-time ({exc})", text)]
            ) from exc
    low, high = bounds
    if low is not None and high is not None and low > high:
        raise validation_failed(
            [
                FieldProblem(
                    f"filters.{low_name}",
                    f"Member must not be later than filters.{high_name} ({filters[high_name]})",
                    filters[low_name],
                )
            ]
        )
    return low, high


def format_duration(seconds: float | timedelta) -> str:
    """Format a duration as ISO 8601 (``PT5S``, ``PT1H2M``, ``P2DT3H``), whole seconds."""
    total = int(seconds.total_seconds() if isinstance(seconds, timedelta) else seconds)
    total = max(total, 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time_part = "".join(
        f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if value
    )
    if days:
        return f"P{days}D" + (f"T{time_part}" if time_part else "")
    return f"PT{time_part or '0S'}"


_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> float:
    """Seconds in an ISO 8601 duration of days, hours, minutes and seconds (``PT1M30S`` → 90)."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def stable_id(prefix: str, *parts: str, length: int = 17, alphabet: str = _HEX) -> str:
    """An ID derived from ``parts`` (same parts, same ID), e.g. a snapshot's ``pit-…``."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    chars = "".join(alphabet[b % len(alphabet)] for b in digest)
    while len(chars) < length:
        digest = hashlib.sha256(digest).digest()
        chars += "".join(alphabet[b % len(alphabet)] for b in digest)
    return prefix + chars[:length]


class IdFactory:
    """Fresh resource IDs in DRS's and EC2's formats, from a seeded RNG (reproducible runs)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._issued: set[str] = set()

    def _fresh(self, prefix: str, length: int, alphabet: str) -> str:
        while True:
            value = prefix + "".join(self._rng.choice(alphabet) for _ in range(length))
            if value not in self._issued:
                self._issued.add(value)
                return value

    def source_server(self) -> str:
        """``s-`` and 17 hex digits."""
        return self._fresh("s-", 17, _HEX)

    def job(self) -> str:
        """``drsjob-`` and 17 hex digits."""
        return self._fresh("drsjob-", 17, _HEX)

    def instance(self) -> str:
        """``i-`` and 17 hex digits (recovery, conversion and synthetic EC2 instances)."""
        return self._fresh("i-", 17, _HEX)

    def snapshot(self) -> str:
        """``pit-`` and 17 hex digits (a recovery snapshot)."""
        return self._fresh("pit-", 17, _HEX)

    def ec2(self, prefix: str) -> str:
        """An EC2-style ID such as ``lt-…`` or ``subnet-…`` (17 hex digits)."""
        return self._fresh(f"{prefix}-", 17, _HEX)

    def access_key(self) -> str:
        """A temporary access key ID, ``ASIASIM`` and 13 base-32 characters."""
        return self._fresh("ASIASIM", 13, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    def mac(self) -> str:
        """A locally administered MAC address."""
        octets = [0x02] + [self._rng.randrange(256) for _ in range(5)]
        return ":".join(f"{o:02x}" for o in octets)
