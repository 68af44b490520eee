"""Executions as a header and per-wave records: the same execution as the single document was.

Older versions stored an execution as one document. The records must
assemble into exactly the execution that document held, and a document of an
older version must keep working: read as it is, rewritten in records the next
time it is stored.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given

from drs_orchestration.errors import CorruptRecordError, ValidationError
from drs_orchestration.models import ErrorRecord, Execution, WaveRun, WaveStatus
from drs_orchestration.storage import BaseStorage
from drs_orchestration.storage.backend import EXECUTION_SERVERS, EXECUTION_WAVES, EXECUTIONS, Row
from drs_orchestration.storage.repositories import encode_json, to_document
from tests.strategies import executions, without_derived

_ids = itertools.count()


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
    assert without_derived(from_records).model_copy(
        update={"execution_id": as_document.execution_id}
    ) == without_derived(from_document)


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
    assert without_derived(storage.executions.get(legacy.execution_id)) == without_derived(
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


_BRIEF = ("wave_name", "status", "region", "account", "depends_on", "pause_before")
_BRIEF_ENDED = ("wave_name", "status", "region")


def _store_with_settings_in_header(storage: BaseStorage, execution: Execution) -> Execution:
    """Store ``execution`` the way the previous layout did: the waves' settings in the header.

    Its wave and outcome records are this layout's, less their ``state``; the
    header holds every wave's fields but the detail, defaults included.
    """
    stored = storage.executions.put(_fresh(execution))
    document = to_document(stored)
    for wave in document["waves"]:
        for name in ("serverIds", "servers", "jobs", "appliedServers", "launchInto", "hookErrors"):
            wave[name] = [] if name not in ("servers", "launchInto") else {}
        wave.setdefault("timeoutS", 3600)
    body: Any = encode_json(document) if storage.backend.keeps_text else document
    header = Row(stored.execution_id, stored.version, stored.plan_id, body)
    storage.backend.write(EXECUTIONS, header, expected_version=stored.version)
    keys = [f"{stored.execution_id}:w{i:04d}" for i in range(len(stored.waves))]
    for raw in storage.backend.read_many(EXECUTION_WAVES, keys):
        record = dict(raw.body) if isinstance(raw.body, dict) else json.loads(raw.body)
        del record["state"]
        rewritten: Any = encode_json(record) if storage.backend.keeps_text else record
        storage.backend.write(
            EXECUTION_WAVES,
            Row(raw.key, record["version"], None, rewritten),
            expected_version=record["version"],
        )
    return stored


@given(execution=executions())
def test_the_header_holds_what_deciding_a_step_needs_and_no_wave_settings(
    storage: BaseStorage, execution: Execution
) -> None:
    stored = storage.executions.put(_fresh(execution))

    header = storage.backend.read(EXECUTIONS, stored.execution_id)
    assert header is not None
    document = header.body if isinstance(header.body, dict) else json.loads(header.body)
    state = {WaveRun.model_fields[name].alias or name for name in WaveRun.STATE}
    assert all(state.isdisjoint(wave) for wave in document["waves"])
    for wave, run in zip(document["waves"], stored.waves, strict=True):
        if run.status.is_terminal:
            assert set(wave) <= {"waveName", "status", "region"}
    loaded = storage.executions.load(stored.execution_id)
    defaults = WaveRun(wave_name="w", region="us-east-1")
    for brief, whole in zip(loaded.execution.waves, stored.waves, strict=True):
        kept = _BRIEF_ENDED if whole.status.is_terminal else _BRIEF
        assert [getattr(brief, f) for f in kept] == [getattr(whole, f) for f in kept]
        in_record = WaveRun.STATE | (WaveRun.ENDED_IN_RECORD if whole.status.is_terminal else set())
        assert all(getattr(brief, f) == getattr(defaults, f) for f in in_record)
        if not whole.status.is_terminal:
            assert brief.summary == whole.summary
    assert loaded.execution.ended_waves == stored.ended_waves
    assert loaded.execution.recovery_time == stored.recovery_time
    assert loaded.execution.worst_rpo == stored.worst_rpo
    storage.executions.load_waves(loaded, range(len(stored.waves)))
    assert loaded.execution == stored


@given(execution=executions())
def test_a_header_holding_the_waves_settings_is_rewritten_without_them_when_stored(
    storage: BaseStorage, execution: Execution
) -> None:
    stored = _store_with_settings_in_header(storage, execution)

    loaded = storage.executions.load(stored.execution_id)
    assert loaded.legacy == bool(stored.waves)
    assert storage.executions.get(stored.execution_id) == stored
    saved = storage.executions.save(loaded, loaded.execution)

    header = storage.backend.read(EXECUTIONS, stored.execution_id)
    assert header is not None
    assert "timeoutS" not in str(header.body)
    again = storage.executions.load(stored.execution_id)
    assert not again.legacy
    assert storage.executions.get(stored.execution_id) == saved
    assert saved.model_copy(update={"version": stored.version}) == stored


def _one_wave_stored(storage: BaseStorage, **wave: Any) -> Execution:
    execution = Execution(
        plan_id="rp-" + "0" * 20,
        plan_name="layout",
        waves=[WaveRun(wave_name="db", region="us-east-1", **wave)],
    )
    return storage.executions.put(_fresh(execution))


def test_a_wave_changed_without_its_record_loaded_is_refused_not_lost(
    storage: BaseStorage,
) -> None:
    stored = _one_wave_stored(storage, timeout_s=600)
    loaded = storage.executions.load(stored.execution_id)
    loaded.execution.waves[0].timeout_s = 900

    with pytest.raises(ValidationError, match="without its record loaded") as caught:
        storage.executions.save(loaded, loaded.execution)
    assert caught.value.problems[0]["field"] == "waves.0.timeout_s"
    assert caught.value.problems[0]["value"] == 900
    assert storage.executions.get(stored.execution_id).waves[0].timeout_s == 600
    storage.executions.load_waves(loaded, [0])
    assert loaded.execution.waves[0].timeout_s == 600


def test_an_ended_wave_changed_without_its_record_loaded_is_refused_not_lost(
    storage: BaseStorage,
) -> None:
    # Once ended, a wave's dependencies are kept by its record only.
    stored = _one_wave_stored(storage, status=WaveStatus.COMPLETED, depends_on=["web"])
    loaded = storage.executions.load(stored.execution_id)
    loaded.execution.waves[0].depends_on = ["app"]

    with pytest.raises(ValidationError, match="without its record loaded") as caught:
        storage.executions.save(loaded, loaded.execution)
    assert caught.value.problems[0]["field"] == "waves.0.depends_on"
    assert storage.executions.get(stored.execution_id).waves[0].depends_on == ["web"]


def test_a_wave_record_with_invalid_settings_is_a_corrupt_record_naming_it(
    storage: BaseStorage,
) -> None:
    stored = _one_wave_stored(storage)
    key = f"{stored.execution_id}:w0000"
    (raw,) = storage.backend.read_many(EXECUTION_WAVES, [key])
    record = dict(raw.body) if isinstance(raw.body, dict) else json.loads(raw.body)
    record["state"] = {"timeoutS": -1}
    body: Any = encode_json(record) if storage.backend.keeps_text else record
    storage.backend.write(
        EXECUTION_WAVES, Row(key, record["version"], None, body), expected_version=None
    )

    with pytest.raises(CorruptRecordError, match="timeoutS") as caught:
        storage.executions.get(stored.execution_id)
    assert caught.value.key == key


def test_a_header_whose_error_details_name_a_wave_setting_is_read_as_this_layout(
    storage: BaseStorage,
) -> None:
    # A timed-out wave's error names its timeout (``timeoutS``) in the execution's header.
    stored = _one_wave_stored(
        storage,
        status="FAILED",
        timeout_s=120,
        error=ErrorRecord(code="JobTimeout", message="late", details={"timeoutS": 120}),
    )
    stored.error = stored.waves[0].error
    stored = storage.executions.put(stored)

    loaded = storage.executions.load(stored.execution_id)

    assert not loaded.legacy
    assert loaded.loaded == set()
    storage.executions.save(loaded, loaded.execution)
    assert storage.executions.get(stored.execution_id).waves[0].timeout_s == 120
    assert storage.executions.get(stored.execution_id).waves[0].error == stored.error


def test_an_ended_waves_summary_in_the_header_is_moved_to_its_record_when_stored(
    storage: BaseStorage,
) -> None:
    stored = _one_wave_stored(
        storage, status="COMPLETED", depends_on=[], pause_before=True, timeout_s=300
    )
    document = to_document(stored)
    document["waves"][0].update(
        {"pauseBefore": True, "summary": to_document(stored.waves[0].summary)}
    )
    body: Any = encode_json(document) if storage.backend.keeps_text else document
    storage.backend.write(
        EXECUTIONS,
        Row(stored.execution_id, stored.version, stored.plan_id, body),
        expected_version=stored.version,
    )
    key = f"{stored.execution_id}:w0000"
    (raw,) = storage.backend.read_many(EXECUTION_WAVES, [key])
    record = dict(raw.body) if isinstance(raw.body, dict) else json.loads(raw.body)
    for name in ("pauseBefore", "summary", "dependsOn", "pauseReleased"):
        record["state"].pop(name, None)
    rewritten: Any = encode_json(record) if storage.backend.keeps_text else record
    storage.backend.write(
        EXECUTION_WAVES, Row(key, record["version"], None, rewritten), expected_version=None
    )

    loaded = storage.executions.load(stored.execution_id)
    assert loaded.legacy
    assert storage.executions.get(stored.execution_id) == stored
    storage.executions.save(loaded, loaded.execution)

    again = storage.executions.load(stored.execution_id)
    assert not again.legacy
    assert again.execution.waves[0].pause_before is False  # in its record only
    assert storage.executions.get(stored.execution_id).waves[0].pause_before is True
