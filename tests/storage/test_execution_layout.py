"""Executions as a header and per-wave records: the same execution as the single document was.

Older versions stored an execution as one document. The records must
assemble into exactly the execution that document held, and a document of an
older version must keep working: read as it is, rewritten in records the next
time it is stored.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given

from drs_orchestration.models import Execution, WaveSummary
from drs_orchestration.storage import BaseStorage
from drs_orchestration.storage.backend import EXECUTION_SERVERS, EXECUTION_WAVES, EXECUTIONS, Row
from drs_orchestration.storage.repositories import encode_json, to_document
from tests.strategies import executions

_ids = itertools.count()


def _without_summaries(execution: Execution) -> Execution:
    return execution.model_copy(
        update={"waves": [w.model_copy(update={"summary": WaveSummary()}) for w in execution.waves]}
    )


def _fresh(execution: Execution) -> Execution:
    """The same execution under an ID no other example used (the store is shared)."""
    return execution.model_copy(update={"execution_id": f"ex-{next(_ids):020d}", "version": 0})


def _store_as_one_document(storage: BaseStorage, execution: Execution, version: int) -> None:
    """Write ``execution`` the way older versions did: the whole execution in one document."""
    document = to_document(execution.model_copy(update={"version": version}))
    for wave in document["waves"]:
        del wave["summary"]  # older versions' waves had none
    body: Any = encode_json(document) if storage.backend.keeps_text else document
    row = Row(execution.execution_id, version, execution.plan_id, body)
    storage.backend.write(EXECUTIONS, row, expected_version=None)


@given(execution=executions())
def test_records_assemble_into_the_execution_the_single_document_held(
    storage: BaseStorage, execution: Execution
) -> None:
    as_records = storage.executions.put(_fresh(execution))
    as_document = _fresh(execution)
    _store_as_one_document(storage, as_document, version=1)

    from_records = storage.executions.get(as_records.execution_id)
    from_document = storage.executions.get(as_document.execution_id)

    assert from_records == as_records
    assert _without_summaries(from_records).model_copy(
        update={"execution_id": as_document.execution_id}
    ) == _without_summaries(from_document)


@given(execution=executions())
def test_a_single_document_of_an_older_version_is_rewritten_in_records_when_stored(
    storage: BaseStorage, execution: Execution
) -> None:
    legacy = _fresh(execution)
    _store_as_one_document(storage, legacy, version=3)

    loaded = storage.executions.load(legacy.execution_id)
    assert loaded.legacy == bool(legacy.waves)  # with no waves the two layouts are one
    stored = storage.executions.save(loaded, loaded.execution)

    assert stored.version == 4
    header = storage.backend.read(EXECUTIONS, legacy.execution_id)
    assert header is not None
    assert '"servers":{"' not in str(header.body).replace(" ", "")
    again = storage.executions.load(legacy.execution_id)
    assert not again.legacy
    assert _without_summaries(storage.executions.get(legacy.execution_id)) == _without_summaries(
        legacy.model_copy(update={"version": 4})
    )
    waves = storage.backend.read_many(
        EXECUTION_WAVES, [f"{legacy.execution_id}:w{i:04d}" for i in range(len(legacy.waves))]
    )
    assert len(waves) == len(legacy.waves)
    outcomes = sum(len(w.servers) for w in legacy.waves)
    if outcomes:
        parts = storage.backend.read_many(
            EXECUTION_SERVERS,
            [
                f"{legacy.execution_id}:w{i:04d}:s{k:04d}"
                for i, w in enumerate(legacy.waves)
                for k in range(-(-len(w.servers) // 100))
            ],
        )
        assert parts
