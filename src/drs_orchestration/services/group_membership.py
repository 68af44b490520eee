"""One protection group per source server, made atomic with claims.

Each server a group lists is claimed for it: a claim ``server:<source server
ID>`` (kind ``group-membership``) whose owner is the group ID. Writing the
claims and the group is where the races are; this module is the only code
that does it.

Protocol
--------
A write of group G (create, update or delete) from the version ``v`` it read
(``0``: G does not exist yet) to a server list ``S`` reads G first, then the
claims of ``S`` and of the servers G lists now, and sorts each server into:

- *held* — its claim is owned by G and G at ``v`` lists it: nothing to do;
- *left over* — its claim is owned by G but G at ``v`` does not list it (a
  write of G that has not released it yet, or crashed before): G puts the
  claim again, conditional on the claim's version, so a release racing
  with this write conflicts with it instead of deleting the claim under it;
- *free* — no claim, or a released one: G puts one, conditional on
  "absent" or on the released claim's version;
- *stale* — owned by a group H that no longer lists it (or no longer
  exists): G takes it over with a put conditional on the claim's version,
  in the same transaction as a write of H conditional on the version of H
  that G read (an unchanged copy of H, whose version therefore moves on) —
  or, when H is gone, a check that H is still absent;
- *live* — owned by a group H that lists it: G loses; the write raises
  :class:`~drs_orchestration.errors.ConflictError` naming H.

Servers G stops listing are released: each claim is marked released
(:attr:`~drs_orchestration.storage.ClaimRecord.released_at`), conditional on
the version this write read or put (never on one read again later: a racing
write that lists the server again has put the claim anew), in a transaction
that also writes or checks G at the version that no longer lists them.

Claims are never deleted, so a claim's version never repeats and a
condition on it pins the very claim that was read. Were a released claim
deleted, another group could insert it anew at the version a slower write
had read (an ABA): that write's take-over would then overwrite the new
owner's claim.

When the claim operations, the owners' operations and G's own write fit in
one transaction (:data:`~drs_orchestration.storage.MAX_TRANSACTION_ITEMS`,
DynamoDB's limit) they all go in one, and nothing is ever half done. A group
of hundreds of servers does not fit: then a new G is first stored with no
servers (so it exists while it acquires), the claims are acquired in
transactions of up to the limit each, in server order, and G's write —
conditional on ``v`` — commits them; released claims go last. If any
transaction conflicts, the claims this write acquired are released again
(and a new, still empty G is deleted) and the caller re-reads and retries.

Why no server can end up in two groups
--------------------------------------
Invariant I: *for every stored group G and every server s that G lists, the
claim of s is held by G* (owner G, not released). Claims have one owner, so I
implies that no server is listed by two groups. I holds initially (no groups, no
claims). Every change of state keeps it:

1. Putting a claim for G over no claim or a released one: no group listed
   that server (by I it would hold the claim), and G does not list it yet.
2. Taking a claim over from H: the same transaction requires H to be
   absent or at a version that does not list the server, so afterwards H
   still does not list it.
3. Releasing a claim of G: the same transaction requires G at a version that
   does not list the server (or G absent), and the claim at the version the
   releasing write read or put.
4. Deleting G: nothing is listed afterwards.
5. Writing G from version ``v`` to a version that lists S: this write
   requires G to be at ``v``, and every claim of S was seen owned by G with
   G at ``v`` listing its server, or written for G (left-over claims
   included), *after* G was read at ``v``. A claim of a server G lists at
   ``v`` cannot be released by (3) while G is at ``v``; a claim written by
   this write can only be released by a transaction conditional on its new
   version, which only this write knows. Could a claim of s in S have
   left G between then and the write? Only through (2) or (3) by someone
   else. (2) needs G absent — impossible, G exists at ``v`` before and at
   the write (a new G is stored empty before any claim is acquired, and a
   deleted group's ID is never reused) — or G at a version not listing s
   *and* moves G on to a later version: then G is no longer at ``v`` and
   this write fails. (3) needs G at a version not listing s, and is made by
   a write of G that committed that version: versions only grow, so either
   it committed before G was read at ``v`` (then the release checks a version
   that is not ``v`` and G is still at ``v`` — it fails), or after (then
   this write fails). In the one-transaction case the claims and G change
   together, conditional on what was read, so the same holds trivially.

Groups stored before claims existed own none: I does not hold for them.
Before inserting a claim, G therefore also scans the groups and refuses a
server another group lists (the check this library always made).

Liveness: a write that crashes between its steps leaves claims owned by a
group that does not list them (stale, taken over by the next group that
wants them) and, at worst, a new group with no servers.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from drs_orchestration.errors import ConcurrentModificationError, ConflictError, ValidationError
from drs_orchestration.models import ProtectionGroup, VersionedModel
from drs_orchestration.storage import (
    MAX_TRANSACTION_ITEMS,
    Check,
    ClaimRecord,
    Delete,
    Operation,
    Put,
    Storage,
    claim_id,
)

__all__ = ["MEMBERSHIP_KIND", "GroupMembership", "holder_of", "server_claim"]

logger = logging.getLogger(__name__)

MEMBERSHIP_KIND = "group-membership"
"""The ``kind`` of the claims that make a server a member of one group."""
_NAMESPACE = "server"
_RELEASE_ATTEMPTS = 3


def server_claim(source_server_id: str) -> str:
    """The claim ID that makes ``source_server_id`` a member of one group (``server:s-…``)."""
    return claim_id(_NAMESPACE, source_server_id)


def holder_of(claim: ClaimRecord | None) -> str | None:
    """The group ``claim`` makes its server a member of; ``None`` if free or released."""
    return claim.owner_id if claim is not None and claim.held else None


def _server_of(claim: ClaimRecord) -> str:
    return claim.claim_id.removeprefix(_NAMESPACE + ":")


@dataclass(frozen=True)
class _Acquisition:
    server: str
    claim: ClaimRecord | None
    """The claim put over (``None``: there was none); it is held if stale or left over."""

    @property
    def stale(self) -> ClaimRecord | None:
        """The claim taken over from a holder (this group, or one that does not list it)."""
        return self.claim if holder_of(self.claim) is not None else None


def _chunks(values: Sequence[_Acquisition], size: int) -> Iterable[Sequence[_Acquisition]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class GroupMembership:
    """Writes protection groups together with the claims of their servers.

    Args:
        storage: Where groups and claims are kept.
        clock: Source of claim timestamps.
        transaction_items: The most operations per transaction (tests lower
            it to exercise the multi-transaction path on small groups).
    """

    def __init__(
        self,
        storage: Storage,
        *,
        clock: Callable[[], datetime],
        transaction_items: int = MAX_TRANSACTION_ITEMS,
    ) -> None:
        if transaction_items < 2:
            raise ValidationError.for_field(
                "transaction_items", transaction_items, "must be at least 2"
            )
        self._storage = storage
        self._clock = clock
        self._limit = transaction_items

    # ---- writes -------------------------------------------------------------------------

    def save(self, group: ProtectionGroup, current: ProtectionGroup | None) -> ProtectionGroup:
        """Store ``group`` over ``current`` (``None``: create it) and move its servers' claims.

        ``current`` must have been read before this call: the claims are read
        after it (see the module docstring).

        Returns:
            The stored group.

        Raises:
            ConflictError: a server belongs to another group (named).
            ConcurrentModificationError: a group or claim changed meanwhile;
                nothing of this write remains — re-read and retry.
        """
        gid = group.group_id
        version = 0 if current is None else current.version
        servers = list(dict.fromkeys(group.source_server_ids))
        before = [] if current is None else list(current.source_server_ids)
        claims = self._storage.claims.get_many(server_claim(s) for s in {*servers, *before})
        acquisitions, owners = self._classify(gid, servers, claims, set(before))
        kept = set(servers)
        releases = [
            claim
            for s in before
            if s not in kept and holder_of(claim := claims.get(server_claim(s))) == gid
            if claim is not None
        ]
        acquire_ops = self._acquire_ops(gid, acquisitions, owners)
        if len(acquire_ops) + 1 + len(releases) <= self._limit:
            operations: list[Operation] = [
                *acquire_ops,
                Put(group, expected_version=version),
                *self._release_ops(releases),
            ]
            return self._stored_group(self._storage.transact(operations), gid)
        stored = self._save_in_steps(group, current, acquisitions, owners)
        self._release(gid, releases)
        return stored

    def delete(self, current: ProtectionGroup) -> None:
        """Delete ``current`` (at its version) and release its servers' claims.

        Raises:
            ConcurrentModificationError: the group changed since it was read.
        """
        gid = current.group_id
        claims = self._storage.claims.get_many(server_claim(s) for s in current.source_server_ids)
        mine = [c for c in claims.values() if holder_of(c) == gid]
        if len(mine) + 1 <= self._limit:
            self._storage.transact(
                [Delete(ProtectionGroup, gid, current.version), *self._release_ops(mine)]
            )
            return
        self._storage.protection_groups.delete(gid, expected_version=current.version)
        self._release(gid, mine)

    # ---- the steps ----------------------------------------------------------------------

    def _classify(
        self,
        gid: str,
        servers: Sequence[str],
        claims: dict[str, ClaimRecord],
        listed: set[str],
    ) -> tuple[list[_Acquisition], dict[str, ProtectionGroup | None]]:
        """Sort the servers (see the module docstring); also return the stale claims' owners.

        A stale claim is taken over on the condition that its owner is still at
        the version read here (or still absent): the version whose server list
        made the claim stale.
        """
        owner_ids = {
            holder
            for s in servers
            if (holder := holder_of(claims.get(server_claim(s)))) not in (None, gid)
        }
        owners = self._storage.protection_groups.get_many(owner_ids)
        gone: dict[str, ProtectionGroup | None] = {}
        acquisitions: list[_Acquisition] = []
        live: dict[str, list[str]] = defaultdict(list)
        for server in servers:
            claim = claims.get(server_claim(server))
            holder = holder_of(claim)
            if holder is None:
                acquisitions.append(_Acquisition(server, claim))
            elif holder == gid:
                if server not in listed:
                    # Left over: a release checking the version read may release it.
                    acquisitions.append(_Acquisition(server, claim))
            elif holder in owners:
                if server in owners[holder].source_server_ids:
                    live[holder].append(server)
                else:
                    acquisitions.append(_Acquisition(server, claim))
            elif self._storage.protection_groups.version_of(holder) is not None:
                # The owner exists but its record cannot be read: it may list the server.
                live[holder].append(server)
            else:
                gone[holder] = None
                acquisitions.append(_Acquisition(server, claim))
        if live:
            raise _conflict(gid, live, owners)
        free = {a.server for a in acquisitions if a.stale is None}
        if free:
            self._refuse_unclaimed_members(gid, free)
        stale_owners = {a.stale.owner_id for a in acquisitions if a.stale is not None}
        return acquisitions, {**{o: owners[o] for o in stale_owners if o in owners}, **gone}

    def _refuse_unclaimed_members(self, gid: str, servers: set[str]) -> None:
        # Groups stored before claims existed list servers without claiming them.
        live: dict[str, list[str]] = defaultdict(list)
        others: dict[str, ProtectionGroup] = {}
        for other in self._storage.protection_groups.list():
            shared = sorted(servers & set(other.source_server_ids))
            if other.group_id != gid and shared:
                live[other.group_id].extend(shared)
                others[other.group_id] = other
        if live:
            raise _conflict(gid, live, others)

    def _acquire_ops(
        self,
        gid: str,
        acquisitions: Sequence[_Acquisition],
        owners: dict[str, ProtectionGroup | None],
    ) -> list[Operation]:
        now = self._clock()
        operations: list[Operation] = []
        touched: set[str] = set()
        for acquisition in acquisitions:
            record = ClaimRecord(
                claim_id=server_claim(acquisition.server),
                owner_id=gid,
                kind=MEMBERSHIP_KIND,
                claimed_at=now,
            )
            stale = acquisition.stale
            claim = acquisition.claim
            operations.append(Put(record, expected_version=0 if claim is None else claim.version))
            # G's own claims need no owner condition: G's write at ``v`` is that condition.
            if stale is not None and stale.owner_id != gid and stale.owner_id not in touched:
                touched.add(stale.owner_id)
                operations.append(_owner_condition(stale.owner_id, owners[stale.owner_id]))
        return operations

    def _save_in_steps(
        self,
        group: ProtectionGroup,
        current: ProtectionGroup | None,
        acquisitions: Sequence[_Acquisition],
        owners: dict[str, ProtectionGroup | None],
    ) -> ProtectionGroup:
        gid = group.group_id
        created = False
        if current is None:
            # The group exists (with no servers) before it claims any: a claim whose
            # owner is absent may be taken over, and this group's must not be.
            current = self._storage.protection_groups.put(
                group.model_copy(update={"source_server_ids": [], "server_overrides": {}}),
                expected_version=0,
            )
            created = True
        acquired: list[ClaimRecord] = []
        try:
            # In server order; each transaction holds at most one operation per claim and
            # one per owner, and an owner moved on by one chunk is expected at its new
            # version by the next.
            ordered = sorted(acquisitions, key=lambda a: a.server)
            for chunk in _chunks(ordered, self._limit // 2):
                operations = self._acquire_ops(gid, chunk, owners)
                stored = self._storage.transact(operations)
                for item in stored:
                    if isinstance(item, ClaimRecord):
                        acquired.append(item)
                    elif isinstance(item, ProtectionGroup):
                        owners[item.group_id] = item
            return self._storage.protection_groups.put(group, expected_version=current.version)
        except ConcurrentModificationError:
            self._roll_back(gid, acquired, created)
            raise

    def _roll_back(self, gid: str, acquired: list[ClaimRecord], created: bool) -> None:
        if created:
            for _ in range(_RELEASE_ATTEMPTS):
                version = self._storage.protection_groups.version_of(gid)
                if version is None:
                    break
                try:
                    self._storage.protection_groups.delete(gid, expected_version=version)
                    break
                except ConcurrentModificationError:
                    continue
        self._release(gid, acquired)

    def _release(self, gid: str, claims: Sequence[ClaimRecord]) -> None:
        """Release claims of ``gid`` for servers it does not list (each checked against it).

        Each claim is released only at the version given: a write of ``gid`` that
        lists the server again puts its claim again first (a *left-over* claim),
        and a release that re-read the claim would release it under that write.
        """
        released = {c.claim_id: c.version for c in claims}
        pending = set(released)
        for _ in range(_RELEASE_ATTEMPTS):
            if not pending:
                return
            group = self._storage.protection_groups.find(gid)
            listed = set() if group is None else set(group.source_server_ids)
            current = self._storage.claims.get_many(sorted(pending))
            mine = [
                c
                for c in current.values()
                if holder_of(c) == gid
                and c.version == released[c.claim_id]
                and _server_of(c) not in listed
            ]
            pending = {c.claim_id for c in mine}
            condition = Check(ProtectionGroup, gid, None if group is None else group.version)
            for start in range(0, len(mine), self._limit - 1):
                chunk = mine[start : start + self._limit - 1]
                try:
                    self._storage.transact([condition, *self._release_ops(chunk)])
                except ConcurrentModificationError:
                    break  # something moved: read again
                pending -= {c.claim_id for c in chunk}
        if pending:
            # Harmless: a claim whose owner does not list its server is taken over by
            # the next group that wants the server.
            logger.info(
                "left stale membership claims",
                extra={"groupId": gid, "claims": sorted(pending)},
            )

    def _release_ops(self, claims: Iterable[ClaimRecord]) -> list[Operation]:
        """Puts that mark each claim released, at its version."""
        now = self._clock()
        return [Put(c.released(now), expected_version=c.version) for c in claims]

    @staticmethod
    def _stored_group(stored: Sequence[VersionedModel], gid: str) -> ProtectionGroup:
        for item in stored:
            if isinstance(item, ProtectionGroup) and item.group_id == gid:
                return item
        raise AssertionError(f"the transaction did not store group {gid}")  # pragma: no cover


def _owner_condition(owner_id: str, owner: ProtectionGroup | None) -> Operation:
    """What takes a stale claim from ``owner``: it stays absent, or it moves to a new version."""
    if owner is None:
        return Check(ProtectionGroup, owner_id, None)
    return Put(owner, expected_version=owner.version)


def _conflict(
    gid: str, live: dict[str, list[str]], owners: dict[str, ProtectionGroup]
) -> ConflictError:
    first, servers = next(iter(live.items()))
    owner = owners.get(first)
    named = f"protection group {owner.name!r} ({first})" if owner else f"protection group {first}"
    others = len(live) - 1
    more = f" (and servers of {others} other group(s))" if others else ""
    return ConflictError(
        f"source server(s) {', '.join(sorted(servers))} already belong to {named}; "
        f"a server can be in one group only{more}",
        details={
            "groupId": gid,
            "otherGroupId": first,
            "servers": sorted(servers),
            "otherGroups": {owner_id: sorted(s) for owner_id, s in live.items()},
        },
    )
