"""Claims: small versioned records that make "only one" atomic.

A claim says "this thing is taken by that owner": ``plan:rp-…`` held by the
running execution, ``server:s-…`` held by the protection group it belongs
to, a chunk's start held by the process starting it. Taking one is a
conditional insert (version ``0``: it must not exist), so of any number of
concurrent claimants exactly one wins on every backend; a claim is released
by a put of the claim marked released (``released_at``) conditional on the
version its holder read, and handed over by a put conditional on it.
Combined with other writes in one
:meth:`~drs_orchestration.storage.BaseStorage.transact`, a claim and the
record it protects change together or not at all.

A claim is never deleted: its version then never repeats, so a put
conditional on the version read cannot hit a claim someone took after it was
released. (Were released claims deleted, the next claimant would insert the
claim at version 1 again, and a slower hand-over that read version 1 would
overwrite it.) A released claim is free: taking it is a put conditional on
its version.

Claims are independent of the layout of the records they protect, which is
why they carry over when a record is split into smaller ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from drs_orchestration.errors import ConcurrentModificationError, ConflictError
from drs_orchestration.models.base import Timestamp, VersionedModel, utc_now
from drs_orchestration.storage.repositories import VersionedRepository

__all__ = ["CLAIM_ID_PATTERN", "ClaimRecord", "ClaimRepository", "claim_id", "held_by"]

CLAIM_ID_PATTERN = r"^[a-z][a-z0-9-]{0,31}:[A-Za-z0-9._:/@+=-]{1,200}$"
"""A claim ID: a namespace (``plan``, ``server``, ``chunk``...), ``:``, and what is claimed."""

ClaimId = Annotated[str, StringConstraints(pattern=CLAIM_ID_PATTERN)]
OwnerId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
ClaimKind = Annotated[str, StringConstraints(min_length=1, max_length=64)]

_ACQUIRE_ATTEMPTS = 5


def claim_id(namespace: str, key: str) -> str:
    """The ID of the claim on ``key`` in ``namespace``.

    Examples:
        >>> claim_id("server", "s-1234567890abcdef0")
        'server:s-1234567890abcdef0'
    """
    return f"{namespace}:{key}"


class ClaimRecord(VersionedModel):
    """Who holds a claim.

    Attributes:
        claim_id: What is claimed, ``namespace:key`` (``plan:rp-…``, ``server:s-…``).
        owner_id: Who holds it (an execution ID, a protection group ID, ...).
        kind: Why, in a word (``running-execution``, ``group-membership``, ...).
        claimed_at: When the holder took it.
        expires_at: A lease, for claims whose holder must renew them; storage
            never expires a claim by itself, the claimants' rules read this.
        details: Small extra context for people reading the claim.
        released_at: When its holder let go of it (``None``: held). A released
            claim is free; it is kept so that its version never repeats.
    """

    claim_id: ClaimId
    owner_id: OwnerId
    kind: ClaimKind
    claimed_at: Timestamp = Field(default_factory=utc_now)
    expires_at: Timestamp | None = None
    details: dict[str, str] = Field(default_factory=dict)
    released_at: Timestamp | None = None

    @property
    def held(self) -> bool:
        """Whether ``owner_id`` holds the claim (it is not released)."""
        return self.released_at is None

    def released(self, at: datetime | None = None) -> ClaimRecord:
        """This claim, let go of by its holder at ``at`` (default: now)."""
        return self.model_copy(update={"released_at": at or utc_now()})


class ClaimRepository(VersionedRepository[ClaimRecord]):
    """The ``claims`` collection, with the conditional operations claims are made of.

    Examples:
        >>> held = storage.claims.acquire("plan:" + plan_id, execution_id, kind="running-execution")
        >>> storage.claims.release("plan:" + plan_id, execution_id)
        True
    """

    def acquire(
        self,
        claim: str,
        owner_id: str,
        *,
        kind: str,
        details: Mapping[str, str] | None = None,
        expires_at: datetime | None = None,
        at: datetime | None = None,
    ) -> ClaimRecord:
        """Take ``claim`` for ``owner_id`` if nobody holds it.

        A conditional insert, or a put conditional on the version of a released
        claim. Taking a claim its owner already holds returns the stored claim
        unchanged.

        Raises:
            ConflictError: someone else holds it; ``details`` names the holder
                (``ownerId``), its ``kind`` and ``claimedAt``.
        """
        record = ClaimRecord(
            claim_id=claim,
            owner_id=owner_id,
            kind=kind,
            claimed_at=at or utc_now(),
            expires_at=expires_at,
            details=dict(details or {}),
        )
        expected = 0
        for _ in range(_ACQUIRE_ATTEMPTS):
            try:
                return self.put(record, expected_version=expected)
            except ConcurrentModificationError:
                holder = self.find(claim)
            if holder is None:
                expected = 0  # removed by hand between our put and our read: try again
                continue
            if not holder.held:
                expected = holder.version
                continue
            if holder.owner_id == owner_id:
                return holder
            raise held_by(holder)
        raise ConcurrentModificationError(
            "claim", claim, expected_version=0, actual_version=None, attempts=_ACQUIRE_ATTEMPTS
        )

    def release(self, claim: str, owner_id: str) -> bool:
        """Mark ``claim`` released if ``owner_id`` holds it; return whether it was released.

        A claim held by someone else (or by nobody) is left alone.
        """
        for _ in range(_ACQUIRE_ATTEMPTS):
            holder = self.find(claim)
            if holder is None or not holder.held or holder.owner_id != owner_id:
                return False
            try:
                self.put(holder.released(), expected_version=holder.version)
            except ConcurrentModificationError:
                continue
            return True
        raise ConcurrentModificationError(
            "claim", claim, expected_version=None, actual_version=None, attempts=_ACQUIRE_ATTEMPTS
        )


def held_by(holder: ClaimRecord) -> ConflictError:
    """The error telling a claimant who holds the claim it wanted."""
    return ConflictError(
        f"{holder.claim_id} is held by {holder.owner_id} ({holder.kind}, since "
        f"{holder.claimed_at.isoformat()})",
        details={
            "claimId": holder.claim_id,
            "ownerId": holder.owner_id,
            "kind": holder.kind,
            "claimedAt": holder.claimed_at,
            "version": holder.version,
        },
    )
