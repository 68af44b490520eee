"""Executions stored as small records: a header, a record per wave, records of server outcomes.

An execution of a 5,000-server plan used to be one document that every step
parsed and wrote back whole. Here it is:

- the **header** (collection ``executions``, key ``executionId``): the
  execution's own fields and, per wave, what deciding the next step needs.
  For a wave that has not ended: name, status, region, account,
  dependencies, pause flags and a :class:`~drs_orchestration.models.WaveSummary`
  (counts, last launch, worst RPO, job IDs), whatever its size. For an
  ended wave: name, status and region only; what the execution needs of its
  ended waves together (last launch, worst RPO, first claims, job IDs) is
  folded into :class:`~drs_orchestration.models.EndedWaves`, which grows by
  a job ID per chunk and nothing per wave;
- a **wave record** per wave (``execution-waves``, ``{executionId}:w{n}``): its
  settings and timings (:attr:`~drs_orchestration.models.WaveRun.STATE`:
  groups, timeout, start, deadline, errors...), once it ended the header
  fields the header no longer keeps
  (:attr:`~drs_orchestration.models.WaveRun.ENDED_IN_RECORD`), its jobs
  (chunk intents, claims, job IDs) and the lists that grow with it;
- **outcome records** of at most :data:`OUTCOMES_PER_RECORD` servers each
  (``execution-servers``, ``{executionId}:w{n}:s{k}``).

A step reads the header and the records of the waves it works on, and
writes back the header and the records it changed, in one transaction
conditional on the header's version: the header is the execution's lock,
so two processes stepping one execution still cannot both win, and what a
step reads and writes is bounded by the wave it touches, not the plan.
Record keys are derived from the header (wave position, outcome count), so
every read is a strongly consistent get by key; no index is needed.

``get``, ``list_for_plan`` and ``put`` keep working on whole
:class:`~drs_orchestration.models.Execution` models: the records are
assembled on read and split on write. A header written by an older version
of the library (the whole execution in one document, the waves' settings in
the header, or ended waves' summaries in the header) is read as it is and
rewritten in this layout the first time it is stored again.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field

from drs_orchestration.errors import (
    ConcurrentModificationError,
    CorruptRecordError,
    NotFoundError,
    ValidationError,
)
from drs_orchestration.models import (
    EndedWaves,
    ErrorRecord,
    Execution,
    JobRecord,
    ServerOutcome,
    VersionedModel,
    WaveRun,
    WaveSummary,
)
from drs_orchestration.models.base import Timestamp
from drs_orchestration.models.ids import Ec2InstanceId, ExecutionId, SourceServerId
from drs_orchestration.storage.backend import (
    EXECUTION_SERVERS,
    EXECUTION_WAVES,
    CollectionSpec,
    DocumentBackend,
    RawRecord,
    Row,
    TransactionConflict,
    WriteOp,
)
from drs_orchestration.storage.repositories import VersionedRepository, _Codec, _describe

__all__ = [
    "OUTCOMES_PER_RECORD",
    "ExecutionStore",
    "LoadedExecution",
    "WaveOutcomes",
    "WaveRecord",
]

OUTCOMES_PER_RECORD = 100
"""Server outcomes per outcome record: one chunk of a wave (DRS's servers per job)."""


class WaveRecord(VersionedModel):
    """The parts of one wave that grow with it, beside the execution's header."""

    record_id: Annotated[str, Field(min_length=1, max_length=256)]
    execution_id: ExecutionId
    wave_name: str
    jobs: list[JobRecord] = Field(default_factory=list)
    server_ids: list[SourceServerId] = Field(default_factory=list)
    applied_servers: list[SourceServerId] = Field(default_factory=list)
    launch_into: dict[SourceServerId, Ec2InstanceId] = Field(default_factory=dict)
    hook_errors: list[ErrorRecord] = Field(default_factory=list)
    state: dict[str, Any] | None = None
    """The wave's :attr:`~drs_orchestration.models.WaveRun.STATE` fields as stored
    (camelCase), and once the wave ended its
    :attr:`~drs_orchestration.models.WaveRun.ENDED_IN_RECORD` fields; ``None`` in a
    record written while the header held them."""
    expires_at: Timestamp | None = None


class WaveOutcomes(VersionedModel):
    """Up to :data:`OUTCOMES_PER_RECORD` server outcomes of one wave, in the wave's order."""

    record_id: Annotated[str, Field(min_length=1, max_length=256)]
    execution_id: ExecutionId
    wave_name: str
    servers: list[ServerOutcome] = Field(default_factory=list)
    expires_at: Timestamp | None = None


StoredBody = str | dict[str, Any]
"""A record's body as its backend holds it: JSON text, or a document."""


def wave_key(execution_id: str, index: int) -> str:
    """The key of wave ``index``'s record."""
    return f"{execution_id}:w{index:04d}"


def outcomes_key(execution_id: str, index: int, part: int) -> str:
    """The key of outcome record ``part`` of wave ``index``."""
    return f"{execution_id}:w{index:04d}:s{part:04d}"


def _parts(outcome_count: int) -> int:
    return -(-outcome_count // OUTCOMES_PER_RECORD)


_NOT_IN_HEADER = WaveRun.DETAIL | WaveRun.STATE
_NOT_IN_ENDED_HEADER = _NOT_IN_HEADER | WaveRun.ENDED_IN_RECORD


def _defaults(names: Iterable[str]) -> dict[str, Any]:
    return {
        name: WaveRun.model_fields[name].get_default(call_default_factory=True)
        for name in sorted(names)
    }


_STATE_DEFAULTS = _defaults(WaveRun.STATE)
_ENDED_DEFAULTS = _defaults(WaveRun.ENDED_IN_RECORD)


def _kept(
    defaults: dict[str, Any],
) -> tuple[tuple[str, ...], operator.attrgetter[Any], tuple[Any, ...]]:
    """Names, a getter of their values and their defaults, for :func:`_check_state_untouched`."""
    names = tuple(defaults)
    return names, operator.attrgetter(*names), tuple(defaults.values())


_STATE_KEPT = _kept(_STATE_DEFAULTS)
_ENDED_KEPT = _kept(_STATE_DEFAULTS | _ENDED_DEFAULTS)


def _fresh(defaults: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` with fresh lists, dicts and models (never shared between waves)."""
    return {name: copy.deepcopy(value) for name, value in defaults.items()}


def _header_exclude(execution: Execution) -> dict[str, Any]:
    """What the header leaves out: every wave's detail and state, and more of ended waves."""
    return {
        "waves": {
            index: _NOT_IN_ENDED_HEADER if run.status.is_terminal else _NOT_IN_HEADER
            for index, run in enumerate(execution.waves)
        }
    }


def _alias(name: str) -> str:
    return WaveRun.model_fields[name].alias or name


@dataclass
class LoadedExecution:
    """An execution as a step holds it: the header, and the detail of some waves.

    Attributes:
        execution: The execution; waves not in ``loaded`` carry only their
            header fields and summary.
        loaded: Positions of the waves whose detail is here.
        stored: Each record's stored version and body (as its backend holds
            it), by key, to write only what a step changed.
        legacy: The header was written by an older version (the whole
            execution in one document, or the waves' settings in the
            header): every wave is loaded, and each of its records is
            rewritten by the next save.
    """

    execution: Execution
    loaded: set[int] = field(default_factory=set)
    stored: dict[str, tuple[int, StoredBody]] = field(default_factory=dict)
    legacy: bool = False

    @property
    def version(self) -> int:
        """The header's version (the execution's)."""
        return self.execution.version

    def keep_only(self, positions: Iterable[int]) -> None:
        """Drop the detail of the loaded waves not at ``positions``; what is stored stays.

        A caller that keeps an execution between steps (``WaveExecutor.run``)
        holds, like a fresh step, the detail of the waves the next step works
        on, not of every wave it has worked on: a write compares each loaded
        record with its stored text, so detail kept for ended waves would make
        each step cost more as the plan goes on. Only call it with nothing
        left to write (after a save, or a step that changed nothing).
        """
        if self.legacy:
            return  # an older version's document: its records do not exist yet
        execution = self.execution
        for index in sorted(self.loaded - set(positions)):
            run = execution.waves[index]
            run.summary = run.summarised()
            self.stored.pop(wave_key(execution.execution_id, index), None)
            for part in range(_parts(run.summary.outcome_count)):
                self.stored.pop(outcomes_key(execution.execution_id, index, part), None)
            run.jobs = []
            run.server_ids = []
            run.servers = {}
            run.applied_servers = []
            run.launch_into = {}
            run.hook_errors = []
            dropped = _fresh(_STATE_DEFAULTS)
            if run.status.is_terminal:
                # Its record keeps these, as a fresh read's header would not.
                dropped.update(_fresh(_ENDED_DEFAULTS))
            for name, value in dropped.items():
                setattr(run, name, value)
            self.loaded.discard(index)


class ExecutionStore(VersionedRepository[Execution]):
    """Executions over their header, wave and outcome records.

    Implements :class:`~drs_orchestration.storage.ExecutionRepository`:
    whole executions for callers that want them, and the step-sized reads
    and writes (:meth:`load`, :meth:`load_waves`, :meth:`save`) the wave
    executor uses.
    """

    def __init__(self, backend: DocumentBackend, spec: CollectionSpec) -> None:
        super().__init__(backend, spec, Execution)
        self._waves = _Codec(backend, EXECUTION_WAVES, WaveRecord)
        self._outcomes = _Codec(backend, EXECUTION_SERVERS, WaveOutcomes)

    # ---- step-sized reads and writes ------------------------------------------------

    def load(self, execution_id: str) -> LoadedExecution:
        """The execution's header, without any wave's detail.

        Raises:
            NotFoundError: the execution does not exist.
            CorruptRecordError: the header cannot be read.
        """
        loaded = self.find_loaded(execution_id)
        if loaded is None:
            raise NotFoundError(self._spec.kind, execution_id)
        return loaded

    def find_loaded(self, execution_id: str) -> LoadedExecution | None:
        """Like :meth:`load`, or ``None`` when the execution does not exist."""
        raw = self._backend.read(self._spec, execution_id)
        if raw is None:
            return None
        header = self._codec.decode(raw)
        layout = _layout(header)
        if header.waves and layout == "whole":
            # An older version's whole-execution document: everything is here already.
            for run in header.waves:
                run.summary = run.summarised()
            header.ended_waves = EndedWaves().including(header.waves)
            return LoadedExecution(header, set(range(len(header.waves))), legacy=True)
        if layout == "settings in header" or _ended_in_header(header):
            # An older version's header holding the waves' settings, or its ended waves'
            # summaries, its wave records without them: the header's are kept, and the
            # next save moves them.
            loaded = LoadedExecution(header, legacy=True)
            self.load_waves(loaded, range(len(header.waves)))
            header.ended_waves = EndedWaves().including(header.waves)
            return loaded
        return LoadedExecution(header)

    def load_waves(self, loaded: LoadedExecution, positions: Iterable[int]) -> None:
        """Read the detail of the waves at ``positions`` (those not read yet) into ``loaded``.

        Raises:
            CorruptRecordError: a record of those waves is missing or cannot be read.
        """
        execution = loaded.execution
        wanted = sorted(set(positions) - loaded.loaded)
        if not wanted:
            return
        execution_id = execution.execution_id
        wave_keys = [wave_key(execution_id, index) for index in wanted]
        raws: dict[str, RawRecord] = {}
        if any(execution.waves[index].status.is_terminal for index in wanted):
            # An ended wave's outcome count is in its record (the header keeps its name
            # only): the wave records are read first, then every outcome record.
            raws.update((r.key, r) for r in self._backend.read_many(EXECUTION_WAVES, wave_keys))
            records = {i: self._decode_wave(raws, wave_keys[n]) for n, i in enumerate(wanted)}
            counts = {i: self._outcome_count(execution, i, records[i]) for i in wanted}
            outcome_keys = _outcome_keys(execution_id, counts)
            if outcome_keys:
                raws.update(
                    (r.key, r) for r in self._backend.read_many(EXECUTION_SERVERS, outcome_keys)
                )
        else:
            # The header knows how many outcome records each wave has: one read.
            counts = {i: execution.waves[i].summary.outcome_count for i in wanted}
            found = self._backend.read_many_across(
                [
                    (EXECUTION_WAVES, wave_keys),
                    (EXECUTION_SERVERS, _outcome_keys(execution_id, counts)),
                ]
            )
            raws.update((r.key, r) for group in found.values() for r in group)
            records = {i: self._decode_wave(raws, wave_keys[n]) for n, i in enumerate(wanted)}
        for index in wanted:
            run = execution.waves[index]
            record = records[index]
            outcomes: builtins.list[ServerOutcome] = []
            for part in range(_parts(counts[index])):
                key = outcomes_key(execution.execution_id, index, part)
                chunk = self._decode_outcomes(raws, key)
                outcomes.extend(chunk.servers)
                loaded.stored[key] = (chunk.version, _body(raws[key]))
            run.jobs = record.jobs
            run.server_ids = record.server_ids
            run.applied_servers = record.applied_servers
            run.launch_into = record.launch_into
            run.hook_errors = record.hook_errors
            if record.state is not None:
                self._apply_state(run, record)
            run.servers = {o.source_server_id: o for o in outcomes}
            loaded.stored[record.record_id] = (record.version, _body(raws[record.record_id]))
            loaded.loaded.add(index)

    def _outcome_count(self, execution: Execution, index: int, record: WaveRecord) -> int:
        """How many outcomes wave ``index`` has: its header's summary says, or its record's."""
        run = execution.waves[index]
        state = record.state or {}
        summary = state.get(_alias("summary"))
        if not run.status.is_terminal or summary is None:
            return run.summary.outcome_count
        try:
            return WaveSummary.model_validate(summary).outcome_count
        except pydantic.ValidationError as exc:
            raise self._waves.corrupt(
                record.record_id, f"its summary is invalid: {_describe(exc)}"
            ) from None

    def save(self, loaded: LoadedExecution, execution: Execution) -> Execution:
        """Write ``execution`` (the header, and the records of its loaded waves that changed).

        One transaction, conditional on the header's stored version being
        ``execution.version``; ``loaded`` is brought up to date.

        Returns:
            ``execution`` itself, its version now the stored one (one more).

        Raises:
            ConcurrentModificationError: another writer stored the execution
                meanwhile; nothing was written.
            ValidationError: a wave whose record was not loaded was changed
                (its settings are not in the header); nothing was written.
        """
        for index, run in enumerate(execution.waves):
            if index in loaded.loaded:
                run.summary = run.summarised()
            else:
                _check_state_untouched(execution, index)
        # With every wave here the fold starts afresh (a whole execution, or a
        # migration); otherwise the waves stored ended before are in it already.
        every_wave = len(loaded.loaded) == len(execution.waves)
        execution.ended_waves = (EndedWaves() if every_wave else execution.ended_waves).including(
            execution.waves[index] for index in sorted(loaded.loaded)
        )
        stored, header, expected = self.prepare(execution)
        puts, rows = self._changed(loaded, stored)
        ops = [WriteOp("put", self._spec, header.key, expected, header), *puts]
        limit = self._backend.max_transaction_items
        try:
            if limit is None or len(ops) <= limit:
                self._backend.transact(ops)
            elif all(op.expected_version is None for op in puts):
                # Records under keys nobody reads until this header is stored (a new
                # or migrated execution): they may go first, the header decides.
                for spec, spec_rows in _by_spec(puts):
                    self._backend.write_many(spec, spec_rows)
                self._backend.transact(ops[:1])
            else:
                raise ConcurrentModificationError(
                    self._spec.kind, header.key, expected_version=expected, actual_version=None
                )
        except TransactionConflict as conflict:
            failed = ops[conflict.index]
            raise ConcurrentModificationError(
                failed.spec.kind,
                failed.key,
                expected_version=failed.expected_version,
                actual_version=conflict.actual_version,
            ) from None
        for key, (version, body) in rows.items():
            loaded.stored[key] = (version, body)
        loaded.legacy = False
        # The caller keeps working on its own object (a step claims, then goes on).
        execution.version = stored.version
        loaded.execution = execution
        return execution

    def create(self, execution: Execution, *, with_ops: Sequence[WriteOp] = ()) -> Execution:
        """Store a new execution, atomically with ``with_ops`` (a claim, say).

        Raises:
            ConcurrentModificationError: the execution exists, or an operation
                of ``with_ops`` failed its condition; the header was not written.
        """
        stored, header = self.write_new_records(execution)
        ops = [header, *with_ops]
        try:
            self._backend.transact(ops)
        except TransactionConflict as conflict:
            self.forget_records(stored)
            failed = ops[conflict.index]
            raise ConcurrentModificationError(
                failed.spec.kind,
                failed.key,
                expected_version=failed.expected_version,
                actual_version=conflict.actual_version,
            ) from None
        return stored

    def write_new_records(self, execution: Execution) -> tuple[Execution, WriteOp]:
        """Write a new execution's wave and outcome records; return it and its header's write.

        The records are under keys that no reader looks at until the header
        exists, so they may go first; the header's write (a conditional
        insert) is the caller's to make, alone or in a transaction. If it
        fails, :meth:`forget_records` removes the records.
        """
        loaded = LoadedExecution(execution.model_copy(), set(range(len(execution.waves))))
        fresh = loaded.execution
        for run in fresh.waves:
            run.summary = run.summarised()
        fresh.ended_waves = EndedWaves().including(fresh.waves)
        stored, header, _ = self.prepare(fresh, 0)
        puts, _rows = self._changed(loaded, stored)
        for spec, spec_rows in _by_spec(puts):
            self._backend.write_many(spec, spec_rows)
        return stored, WriteOp("put", self._spec, header.key, 0, header)

    # ---- whole executions -------------------------------------------------------------

    def find(self, key: str) -> Execution | None:
        """The whole execution (its records assembled), or ``None``.

        Raises:
            CorruptRecordError: the header or a record cannot be read.
        """
        loaded = self.find_loaded(key)
        if loaded is None:
            return None
        self.load_waves(loaded, range(len(loaded.execution.waves)))
        return loaded.execution

    def get_many(self, keys: Iterable[str]) -> dict[str, Execution]:
        """The executions that exist among ``keys`` (corrupt ones skipped)."""
        found: dict[str, Execution] = {}
        for key in dict.fromkeys(keys):
            try:
                execution = self.find(key)
            except CorruptRecordError as error:
                self._codec.skip(error)
                continue
            if execution is not None:
                found[key] = execution
        return found

    def put(self, item: Execution, *, expected_version: int | None = None) -> Execution:
        """Store a whole execution if the stored version is ``expected_version``.

        Raises:
            ConcurrentModificationError: the stored version differs; nothing changed.
        """
        expected = item.version if expected_version is None else expected_version
        if expected == 0:
            return self.create(item)
        loaded = self.find_loaded(item.execution_id)
        if loaded is None:
            raise ConcurrentModificationError(
                self._spec.kind, item.execution_id, expected_version=expected, actual_version=None
            )
        if loaded.version != expected:
            raise ConcurrentModificationError(
                self._spec.kind,
                item.execution_id,
                expected_version=expected,
                actual_version=loaded.version,
            )
        self.load_waves(loaded, range(len(loaded.execution.waves)))
        loaded.loaded = set(range(len(item.waves)))
        return self.save(loaded, item.model_copy(deep=True, update={"version": expected}))

    def delete(self, key: str, *, expected_version: int | None = None) -> None:
        """Delete an execution and its records.

        Raises:
            NotFoundError: it does not exist.
            ConcurrentModificationError: its version is not ``expected_version``.
        """
        try:
            loaded = self.find_loaded(key)
        except CorruptRecordError:
            loaded = None  # a header that cannot be read can still be deleted (a repair)
        if loaded is not None:
            # Ended waves' outcome counts are in their records; of a broken one, what
            # the header says is deleted.
            with contextlib.suppress(CorruptRecordError):
                self.load_waves(loaded, range(len(loaded.execution.waves)))
        super().delete(key, expected_version=expected_version)
        if loaded is not None:
            self.forget_records(loaded.execution)

    def list(self) -> builtins.list[Execution]:
        """Every execution, whole, ordered by ID (corrupt ones skipped)."""
        ids = sorted(raw.key for raw in self._backend.scan(self._spec))
        return builtins.list(self.get_many(ids).values())

    def list_for_plan(self, plan_id: str) -> builtins.list[Execution]:
        """The executions of one recovery plan, whole, oldest first (corrupt ones skipped)."""
        ids = [raw.key for raw in self._backend.query(self._spec, plan_id)]
        executions = builtins.list(self.get_many(ids).values())
        return sorted(executions, key=lambda e: e.created_at)

    def find_corrupt(self) -> builtins.list[CorruptRecordError]:
        """Every execution whose header or records cannot be read (a full scan)."""
        found: builtins.list[CorruptRecordError] = []
        for raw in self._backend.scan(self._spec):
            try:
                self.find(raw.key)
            except CorruptRecordError as error:
                found.append(error)
        return found

    # ---- helpers ----------------------------------------------------------------------

    def prepare(
        self, item: Execution, expected_version: int | None = None
    ) -> tuple[Execution, Row, int]:
        """The execution as it will be stored, its header row, and the version it expects."""
        expected = item.version if expected_version is None else expected_version
        stored = item.model_copy(update={"version": expected + 1})
        return stored, self._codec.row(stored, exclude=_header_exclude(stored)), expected

    def _changed(
        self, loaded: LoadedExecution, execution: Execution
    ) -> tuple[builtins.list[WriteOp], dict[str, tuple[int, StoredBody]]]:
        """The writes of the loaded waves' records that differ from what is stored."""
        puts: builtins.list[WriteOp] = []
        rows: dict[str, tuple[int, StoredBody]] = {}
        for index in sorted(loaded.loaded):
            for record, codec in self._records(execution, index):
                previous = loaded.stored.get(record.record_id)
                # The header's condition guards the whole write; a record not read
                # before (a wave's first write, or one an older write left behind) is
                # written whatever is there.
                version = 0 if previous is None else previous[0]
                record.version = version
                if previous is not None:
                    # Compared as the backend holds it: a record read and left as it was
                    # is neither written nor printed twice.
                    unchanged = codec.row(record)
                    if unchanged.body == previous[1]:
                        continue
                    row = _next_version(codec, record, unchanged)
                else:
                    record.version = version + 1
                    row = codec.row(record)
                expected = None if previous is None else version
                puts.append(WriteOp("put", codec.spec, row.key, expected, row))
                rows[record.record_id] = (version + 1, row.body)
        return puts, rows

    def _records(
        self, execution: Execution, index: int
    ) -> builtins.list[tuple[WaveRecord | WaveOutcomes, _Codec[Any]]]:
        run = execution.waves[index]
        records: builtins.list[tuple[WaveRecord | WaveOutcomes, _Codec[Any]]] = [
            (
                WaveRecord(
                    record_id=wave_key(execution.execution_id, index),
                    execution_id=execution.execution_id,
                    wave_name=run.wave_name,
                    jobs=run.jobs,
                    server_ids=run.server_ids,
                    applied_servers=run.applied_servers,
                    launch_into=run.launch_into,
                    hook_errors=run.hook_errors,
                    state=run.model_dump(
                        mode="json",
                        by_alias=True,
                        include=set(
                            WaveRun.STATE | WaveRun.ENDED_IN_RECORD
                            if run.status.is_terminal
                            else WaveRun.STATE
                        ),
                        exclude_none=True,
                    ),
                    expires_at=execution.expires_at,
                ),
                self._waves,
            )
        ]
        outcomes = builtins.list(run.servers.values())
        for part in range(_parts(len(outcomes))):
            records.append(
                (
                    WaveOutcomes(
                        record_id=outcomes_key(execution.execution_id, index, part),
                        execution_id=execution.execution_id,
                        wave_name=run.wave_name,
                        servers=outcomes[
                            part * OUTCOMES_PER_RECORD : (part + 1) * OUTCOMES_PER_RECORD
                        ],
                        expires_at=execution.expires_at,
                    ),
                    self._outcomes,
                )
            )
        return records

    def _apply_state(self, run: WaveRun, record: WaveRecord) -> None:
        """Set ``run``'s STATE fields from its record (validated as the model's own fields)."""
        assert record.state is not None
        try:
            state = WaveRun.model_validate(
                {"waveName": run.wave_name, "region": run.region, **record.state}
            )
        except pydantic.ValidationError as exc:
            raise self._waves.corrupt(
                record.record_id, f"its state is invalid: {_describe(exc)}"
            ) from None
        for name in WaveRun.STATE:
            setattr(run, name, getattr(state, name))
        if run.status.is_terminal:
            # The header holds none of these for an ended wave (an older version's
            # header held them, and its record did not).
            for name in WaveRun.ENDED_IN_RECORD:
                if _alias(name) in record.state:
                    setattr(run, name, getattr(state, name))

    def _decode_wave(self, raws: dict[str, RawRecord], key: str) -> WaveRecord:
        raw = raws.get(key)
        if raw is None:
            raise self._waves.corrupt(key, "the wave's record is missing")
        record: WaveRecord = self._waves.decode(raw)
        return record

    def _decode_outcomes(self, raws: dict[str, RawRecord], key: str) -> WaveOutcomes:
        raw = raws.get(key)
        if raw is None:
            raise self._outcomes.corrupt(key, "the record of the wave's outcomes is missing")
        record: WaveOutcomes = self._outcomes.decode(raw)
        return record

    def forget_records(self, execution: Execution) -> None:
        """Delete the wave and outcome records of ``execution`` (best effort, no conditions)."""
        waves = [wave_key(execution.execution_id, i) for i in range(len(execution.waves))]
        outcomes = [
            outcomes_key(execution.execution_id, i, part)
            for i, run in enumerate(execution.waves)
            for part in range(_parts(max(run.summary.outcome_count, len(run.servers))))
        ]
        if waves:
            self._backend.delete_many(EXECUTION_WAVES, waves)
        if outcomes:
            self._backend.delete_many(EXECUTION_SERVERS, outcomes)


def _layout(header: Execution) -> Literal["records", "settings in header", "whole"]:
    """Which layout wrote a header, from the fields its waves were read with.

    Older versions wrote every wave's fields, defaults included: the whole
    execution in one document (no wave summaries), then the header holding
    the waves' settings beside their summaries. This one leaves the STATE
    fields out of the header, so ``timeoutS`` is never in a wave's entry
    (text anywhere else, an error's details say, does not count).
    """
    written = [run.model_fields_set for run in header.waves]
    if not any("timeout_s" in fields for fields in written):
        return "records"
    return "settings in header" if all("summary" in fields for fields in written) else "whole"


def _ended_in_header(header: Execution) -> bool:
    """Whether an older version's header holds ended waves' summaries and dependencies.

    This layout leaves them out of an ended wave's entry (its record holds them).
    """
    return any(
        not run.model_fields_set.isdisjoint(WaveRun.ENDED_IN_RECORD)
        for run in header.waves
        if run.status.is_terminal
    )


def _outcome_keys(execution_id: str, counts: dict[int, int]) -> builtins.list[str]:
    """The keys of the outcome records of the waves ``counts`` names, by outcome count."""
    return [
        outcomes_key(execution_id, index, part)
        for index, count in counts.items()
        for part in range(_parts(count))
    ]


def _check_state_untouched(execution: Execution, index: int) -> None:
    """Refuse to write a wave whose fields kept in its record changed while it was not loaded.

    The header does not hold those fields (STATE, and more once the wave
    ended), so the change would be lost: a step must load a wave
    (``StepContext.load``) before changing it.
    """
    run = execution.waves[index]
    names, read, defaults = _ENDED_KEPT if run.status.is_terminal else _STATE_KEPT
    # Every write checks every wave it did not read: one comparison of tuples each.
    if read(run) == defaults:
        return
    for name, default in zip(names, defaults, strict=True):
        value = getattr(run, name)
        if value != default:
            raise ValidationError.for_field(
                f"waves.{index}.{name}",
                value,
                f"wave {run.wave_name!r} of execution {execution.execution_id} was changed "
                "without its record loaded, so the change would be lost; load the wave "
                "(load_waves) before changing it",
            )


def _body(raw: RawRecord) -> StoredBody:
    """A record's body as read, in the form its row's body takes (text, or a document)."""
    body = raw.body
    if isinstance(body, bytes):
        return body.decode()
    assert body is not None  # decoded already: a record without a body is corrupt
    return body


def _next_version(codec: _Codec[Any], record: VersionedModel, current: Row) -> Row:
    """``current`` (``record``'s row) written as the next version of ``record``."""
    record.version += 1
    if isinstance(current.body, dict):
        return Row(
            current.key,
            record.version,
            current.index_value,
            {**current.body, "version": record.version},
        )
    return codec.row(record)


def _by_spec(ops: Sequence[WriteOp]) -> list[tuple[CollectionSpec, list[Row]]]:
    grouped: dict[str, tuple[CollectionSpec, list[Row]]] = {}
    for op in ops:
        assert op.row is not None
        grouped.setdefault(op.spec.name, (op.spec, []))[1].append(op.row)
    return builtins.list(grouped.values())
