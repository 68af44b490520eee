"""Claims and transactions: only one running execution per plan, whoever starts it."""

from drs_orchestration import ConcurrentModificationError, Execution
from drs_orchestration.storage import (
    Check,
    ClaimRecord,
    MemoryStorage,
    Put,
    claim_id,
    update_item,
)

storage = MemoryStorage()
plan_id = "rp-" + "0" * 20
running = claim_id("plan", plan_id)  # "plan:rp-000..."


def start(name: str) -> Execution:
    """Store an execution and claim its plan in one atomic write."""
    execution = Execution(plan_id=plan_id, plan_name=name)
    claim = ClaimRecord(claim_id=running, owner_id=execution.execution_id, kind="running")
    stored, _ = storage.transact(
        [Put(execution, expected_version=0), Put(claim, expected_version=0)]
    )
    assert isinstance(stored, Execution)
    return stored


first = start("drill")
try:
    start("second drill")  # the claim exists: nothing of this second start is written
except ConcurrentModificationError as error:
    holder = storage.claims.get(running)
    print(f"{error.key} is held by {holder.owner_id}")

# Read-modify-write that never loses a concurrent change: the change is re-applied
# to a fresh copy after a conflict.
finished = update_item(
    storage.executions,
    first.execution_id,
    lambda e: e.model_copy(update={"started_by": "ops"}),
)

# Ending the execution releases the claim, conditional on the version read; the
# execution itself is written by its executor (a step at a time), so the claim
# goes in a transaction of its own that checks the execution is the one ended.
# A released claim is kept (never deleted), so its version never repeats.
claim = storage.claims.get(running)
storage.transact(
    [
        Check(Execution, finished.execution_id, finished.version),
        Put(claim.released(), expected_version=claim.version),
    ]
)
assert not storage.claims.get(running).held
assert len(storage.executions.list_for_plan(plan_id)) == 1
