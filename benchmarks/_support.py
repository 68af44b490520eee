"""What the benchmarks share: CPU attribution, storage byte counts, goals, tables, Markdown.

CPU attribution. The library runs in one process with the services it
talks to: the DRS simulator (answering at botocore's ``before-send.drs``)
and moto (EC2, DynamoDB, STS, at botocore's generic ``before-send``). A
Lambda pays for the library and for botocore's client-side work
(serialising requests, signing, parsing answers); it does not pay for the
service answering. :class:`CpuAttribution` charges the calling thread's CPU
time (``time.thread_time``) spent inside

- ``BaseClient._make_api_call`` to **botocore**, when the library made the
  call (a call the simulator makes to moto is the simulator's);
- ``drs_orchestration.testing.handler.serve`` (the simulator answering one
  DRS request) and callables wrapped with :meth:`CpuAttribution.wrap` (the
  simulator's clock ``advance``, which runs the jobs' transitions and
  launches recovery instances) to the **simulator**;
- ``moto.core.botocore_stubber.BotocoreStubber.__call__`` (moto answering one
  request) to **moto**;
- the benchmark's own counters to the **harness**.

Time goes to the innermost region, so moto answering the simulator's EC2
calls is moto's, and a region wrapped as :data:`LIBRARY` inside the
simulator (a DRS event delivered to the library while the simulator's
clock advances) is the library's again. The library's CPU is the process
CPU time (every thread) minus the botocore, simulator, moto and harness
time.
"""

from __future__ import annotations

import copy
import os
import platform
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

LIBRARY = "library"
BOTOCORE = "botocore"
SIMULATOR = "simulator"
MOTO = "moto"
HARNESS = "harness"
_EXCLUDED = (BOTOCORE, SIMULATOR, MOTO, HARNESS)


class CpuAttribution:
    """Charges CPU time to the library, botocore, the simulator, moto and the harness.

    Use as a context manager: the wrappers are installed on entry and removed
    on exit. ``latency`` (seconds) is how long each request the library makes
    to the simulator (DRS) or moto (EC2, DynamoDB) takes from request to
    answer, the service's own work included, as a remote endpoint's latency
    includes its servers' time: the answer is held until ``latency`` has
    passed since the request (sleeping costs no CPU). The simulator's own
    calls to moto are DRS's inner work and are not delayed.
    """

    def __init__(self, *, latency: float = 0.0) -> None:
        self.seconds: dict[str, float] = dict.fromkeys((LIBRARY, *_EXCLUDED), 0.0)
        self.latency = latency
        self._local = threading.local()
        self._lock = threading.Lock()
        self._undo: list[Callable[[], None]] = []

    def _stack(self) -> list[list[Any]]:
        stack: list[list[Any]] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def _charge(self, category: str, seconds: float) -> None:
        with self._lock:
            self.seconds[category] += seconds

    def wrap(self, fn: Callable[..., Any], category: str) -> Callable[..., Any]:
        """``fn``, its CPU time charged to ``category`` (less what inner regions take)."""
        return self._timed(fn, category)

    def _timed(self, fn: Callable[..., Any], category: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            stack = self._stack()
            top = stack[-1][0] if stack else LIBRARY
            # The simulator's and moto's own botocore work is theirs, not the library's.
            if top == category or (category == BOTOCORE and top != LIBRARY):
                return fn(*args, **kwargs)
            entered = time.thread_time()
            if stack:
                self._charge(top, entered - stack[-1][1])
            frame = [category, entered]
            stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                left = time.thread_time()
                stack.pop()
                self._charge(category, left - frame[1])
                if stack:
                    stack[-1][1] = left

        return timed

    def _patch(self, owner: Any, name: str, category: str) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, self._timed(original, category))
        self._undo.append(lambda: setattr(owner, name, original))

    def __enter__(self) -> CpuAttribution:
        from botocore.client import BaseClient
        from moto.core.botocore_stubber import BotocoreStubber

        from drs_orchestration.testing import handler

        self._patch(BaseClient, "_make_api_call", BOTOCORE)
        latency = self.latency
        serve = handler.__dict__["serve"]

        def remote_serve(*args: Any, **kwargs: Any) -> Any:
            asked = time.perf_counter()
            reply = serve(*args, **kwargs)
            _hold(asked, latency)
            return reply

        handler.serve = self._timed(remote_serve if latency else serve, SIMULATOR)
        self._undo.append(lambda: setattr(handler, "serve", serve))
        original = BotocoreStubber.__dict__["__call__"]

        def answer(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            asked = time.perf_counter()
            response = original(stubber, event_name, request, **kwargs)
            # botocore hands DRS requests to moto too, and uses the simulator's answer.
            served = response is not None and not event_name.startswith("before-send.drs.")
            stack = self._stack()
            caller = stack[-2][0] if len(stack) > 1 else LIBRARY
            if latency and served and caller != SIMULATOR:
                _hold(asked, latency)
            return response

        BotocoreStubber.__call__ = self._timed(answer, MOTO)  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(BotocoreStubber, "__call__", original))
        return self

    def __exit__(self, *_: object) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    def sample(self) -> CpuSample:
        """Process CPU time and the time charged so far, to subtract two samples."""
        with self._lock:
            return CpuSample(time.process_time(), dict(self.seconds))


def _hold(asked: float, latency: float) -> None:
    """Sleep until ``latency`` seconds have passed since ``asked``."""
    left = latency - (time.perf_counter() - asked)
    if left > 0:
        time.sleep(left)


@dataclass(frozen=True)
class CpuSample:
    """Cumulative CPU seconds at one moment."""

    process: float
    charged: dict[str, float]

    def __sub__(self, other: CpuSample) -> CpuSplit:
        spent = {k: self.charged[k] - other.charged[k] for k in _EXCLUDED}
        library = self.process - other.process - sum(spent.values())
        return CpuSplit(library, spent[BOTOCORE], spent[SIMULATOR], spent[MOTO], spent[HARNESS])


@dataclass
class CpuSplit:
    """CPU seconds between two samples, by who spent them."""

    library: float = 0.0
    botocore: float = 0.0
    simulator: float = 0.0
    moto: float = 0.0
    harness: float = 0.0

    @property
    def client(self) -> float:
        """What a Lambda pays: the library and botocore's client-side work."""
        return self.library + self.botocore


def document_bytes(body: Any) -> int:
    """Bytes of a stored document as the backend holds it (JSON text, or a DynamoDB item)."""
    if body is None:
        return 0
    if isinstance(body, bytes):
        return len(body)
    if isinstance(body, str):
        return len(body.encode())
    return _item_bytes(body)


def _item_bytes(value: Any) -> int:
    """Roughly DynamoDB's item size: names and values, without JSON punctuation."""
    if isinstance(value, dict):
        return sum(len(str(k)) + _item_bytes(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return sum(_item_bytes(v) for v in value)
    if isinstance(value, bytes):
        return len(value)
    return len(str(value).encode())


@dataclass
class ByteMeter:
    """Counts the bytes a storage backend reads and writes, by wrapping its primitives.

    Bytes are those of each document as the backend keeps it: JSON text for
    the memory and SQLite backends, attribute names and values for DynamoDB.
    The counting is charged to the harness when ``cpu`` is given.
    """

    cpu: CpuAttribution | None = None
    read: int = 0
    written: int = 0
    calls: int = 0
    by_collection: Counter[str] = field(default_factory=Counter)
    """Bytes read and written per collection since the last :meth:`take`."""

    def attach(self, backend: Any) -> ByteMeter:
        """Wrap ``backend``'s read and write primitives (on the instance)."""

        def counted(fn: Callable[..., None]) -> Callable[..., None]:
            return self.cpu.wrap(fn, HARNESS) if self.cpu else fn

        @counted
        def count_read(collection: str, found: Any) -> None:
            self.calls += 1
            records = found if isinstance(found, list) else [found]
            size = sum(document_bytes(getattr(r, "body", None)) for r in records)
            self.read += size
            self.by_collection[f"{collection} read"] += size

        @counted
        def count_written(rows: Sequence[tuple[str, Any]]) -> None:
            self.calls += 1
            for collection, row in rows:
                size = document_bytes(getattr(row, "body", None))
                self.written += size
                self.by_collection[f"{collection} written"] += size

        def reading(name: str) -> None:
            inner = getattr(backend, name)

            def wrapped(spec: Any, *args: Any, **kwargs: Any) -> Any:
                found = inner(spec, *args, **kwargs)
                count_read(spec.name, found)
                return found

            setattr(backend, name, wrapped)

        def writing(name: str, rows: Callable[..., Sequence[tuple[str, Any]]]) -> None:
            inner = getattr(backend, name)

            def wrapped(*args: Any, **kwargs: Any) -> Any:
                count_written(rows(*args))
                return inner(*args, **kwargs)

            setattr(backend, name, wrapped)

        for name in ("read", "read_many", "query"):
            reading(name)
        if "read_many_across" in type(backend).__dict__:
            # Its own request (DynamoDB's BatchGetItem across tables); the default goes
            # through read_many, counted above.
            across = backend.read_many_across

            def read_across(wanted: Any) -> Any:
                found = across(wanted)
                for name, records in found.items():
                    count_read(name, records)
                return found

            backend.read_many_across = read_across
        writing("write", lambda spec, row: [(spec.name, row)])
        writing("write_many", lambda spec, rows: [(spec.name, r) for r in rows])
        writing(
            "transact", lambda ops: [(op.spec.name, op.row) for op in ops if op.row is not None]
        )
        return self

    def take(self) -> tuple[int, int, dict[str, int]]:
        """Bytes read and written since the last call, and per collection."""
        counts = (self.read, self.written, dict(self.by_collection))
        self.read = self.written = 0
        self.by_collection.clear()
        return counts


@dataclass(frozen=True)
class Goal:
    """A goal, what was measured against it, and whether it is met."""

    name: str
    measured: str
    met: bool

    @property
    def verdict(self) -> str:
        return "met" if self.met else "NOT met"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    """One line naming the machine and its load, for a sample output's caption."""
    try:
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        load = "unknown"
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {load}, Python {platform.python_version()}"
    )


def _tags_by_id(resource: Any) -> list[dict[str, str]]:
    """A moto EC2 resource's tags, as moto's ``describe_tags`` filtered by its ID answers them."""
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    if not resource.id:
        return []
    kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource.id), "")
    return [
        {"resource_id": resource.id, "key": key, "value": value, "resource_type": kind}
        for key, value in resource.ec2_backend.tags.get(resource.id, {}).items()
    ]


def _reservations(backend: Any, filters: Any = None) -> list[Any]:
    """moto's ``all_reservations``, copying only those an ``instance-id`` filter names."""
    ids = (filters or {}).get("instance-id")
    if not ids or any(c in value for value in ids for c in "*?"):
        return _MOTO["all_reservations"](backend, filters)  # type: ignore[no-any-return]
    from moto.ec2.utils import filter_reservations

    wanted = set(ids)
    chosen = [
        copy.copy(reservation)
        for reservation in backend.reservations.copy().values()
        if any(instance.id in wanted for instance in reservation.instances)
    ]
    return filter_reservations(chosen, filters)  # type: ignore[no-any-return]


def _reservations_by_ids(backend: Any, instance_ids: list[str], filters: Any = None) -> list[Any]:
    """moto's ``get_reservations_by_instance_ids``, copying only the reservations it returns."""
    from moto.ec2.exceptions import InvalidInstanceIdError
    from moto.ec2.utils import filter_reservations

    wanted = set(instance_ids)
    reservations = []
    for reservation in backend.reservations.copy().values():
        if any(instance.id in wanted for instance in reservation.instances):
            chosen = copy.copy(reservation)
            chosen.instances = [i for i in reservation.instances if i.id in wanted]
            reservations.append(chosen)
    found = [instance.id for reservation in reservations for instance in reservation.instances]
    if len(found) != len(instance_ids):
        raise InvalidInstanceIdError(next(iter(wanted.difference(found))))
    if filters is not None:
        reservations = filter_reservations(reservations, filters)
    return reservations


def _instance(backend: Any, instance_id: str) -> Any:
    """moto's ``get_instance``, without copying every reservation first."""
    from moto.ec2.exceptions import InvalidInstanceIdError

    for reservation in backend.reservations.copy().values():
        for instance in reservation.instances:
            if instance.id == instance_id:
                return instance
    raise InvalidInstanceIdError(instance_id)


_MOTO: dict[str, Any] = {}


@contextmanager
def offline_aws() -> Iterator[None]:
    """moto's ``mock_aws``, without its AMI catalogue, with fake credentials, made to scale.

    moto answers every EC2 resource's tags by scanning every tag of the
    region, and every instance lookup by copying every reservation of the
    region first: each answer costs more as instances accumulate, and a
    5,000-server plan takes hours in moto alone. Here a resource finds its
    tags by its ID, and a lookup by instance ID copies only the reservations
    it returns: the same answers, at a cost that grows far slower. moto's
    CPU is reported apart and is never the library's; this only keeps the
    runs affordable.
    """
    from moto import mock_aws
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.models.instances import InstanceBackend

    saved = dict(os.environ)
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    patches = [
        (TaggedEC2Resource, "get_tags", _tags_by_id),
        (InstanceBackend, "all_reservations", _reservations),
        (InstanceBackend, "get_reservations_by_instance_ids", _reservations_by_ids),
        (InstanceBackend, "get_instance", _instance),
    ]
    originals = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    _MOTO["all_reservations"] = InstanceBackend.__dict__["all_reservations"]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    try:
        with mock_aws():
            yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
        os.environ.clear()
        os.environ.update(saved)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    numeric = [all(_numeric(row[i]) for row in rows) and bool(rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell(h) for h in header) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    stripped = text.strip().rstrip("x%*").replace(",", "").replace(".", "", 1).lstrip("-")
    return stripped.isdigit() or text.strip() == "-"


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    first, *rest = widths

    def line(cells: Sequence[str]) -> str:
        head, *tail = cells
        return " ".join(
            [f"{head:<{first}}", *(f"{c:>{w}}" for c, w in zip(tail, rest, strict=True))]
        ).rstrip()

    out = [line(header), "-" * (sum(widths) + len(widths) - 1)]
    return "\n".join(out + [line(row) for row in rows])


class Report:
    """What a benchmark prints, kept to write the same text as Markdown."""

    def __init__(self, title: str, command: str) -> None:
        self.title = title
        self.command = command
        self.parts: list[tuple[str, Any]] = []

    def heading(self, text: str) -> None:
        print(f"\n{text}", flush=True)
        self.parts.append(("heading", text))

    def note(self, text: str) -> None:
        print(text, flush=True)
        self.parts.append(("note", text))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        print(text_table(header, rows), flush=True)
        self.parts.append(("table", (list(header), [list(r) for r in rows])))

    def goals(self, goals: Sequence[Goal]) -> None:
        print("\ngoals")
        for goal in goals:
            print(f"- {goal.name}: {goal.verdict} ({goal.measured})")
        self.parts.append(("goals", list(goals)))

    def markdown(self) -> str:
        out = [
            f"### {self.title}",
            "",
            f"Output of `{self.command}`, one run on {machine()}. "
            "Absolute figures depend on the machine and its load; the ratios are "
            "what the goals are about.",
            "",
        ]
        for kind, value in self.parts:
            if kind == "heading":
                out += [f"**{value}**", ""]
            elif kind == "note":
                out += [value, ""]
            elif kind == "table":
                out += [markdown_table(*value), ""]
            else:
                out += ["**Goals**", ""]
                out += [f"- {g.name}: **{g.verdict}** ({g.measured})" for g in value] + [""]
        return "\n".join(out).rstrip() + "\n"

    def write_markdown(self, path: Path) -> None:
        """Write the report as Markdown to ``path`` (generated: never edit it by hand)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<!-- generated by {self.command}; do not edit -->\n\n{self.markdown()}")
        print(f"\nwrote {path}")


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """How the script was run, for the report's caption."""
    import sys

    script = Path(script).name
    args = list(sys.argv[1:] if argv is None else argv)
    # Where the Markdown went is not part of what was measured.
    if "--markdown" in args:
        at = args.index("--markdown")
        del args[at : at + 2]
    return " ".join(["python", f"benchmarks/{script}", *args])
