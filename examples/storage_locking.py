"""Optimistic locking: a write based on a stale copy loses, and nothing is overwritten."""

from drs_orchestration import ConcurrentModificationError, ProtectionGroup
from drs_orchestration.storage import SqliteStorage

with SqliteStorage("drs-orchestration.db") as storage:
    groups = storage.protection_groups
    created = groups.put(ProtectionGroup(name="web", region="us-east-1"))  # version 0 -> 1

    mine = groups.get(created.group_id)
    theirs = groups.get(created.group_id)
    groups.put(theirs.model_copy(update={"description": "theirs"}))  # version 1 -> 2

    try:
        groups.put(mine.model_copy(update={"description": "mine"}))  # still says version 1
    except ConcurrentModificationError as error:
        print(error)  # ... expected version 1, found version 2
        fresh = groups.get(created.group_id)  # re-read, re-apply the change, write again
        groups.put(fresh.model_copy(update={"description": "mine"}))  # version 2 -> 3

    assert groups.get(created.group_id).version == 3
