"""WaveExecutor: the library's own cost per wave and server, and the fast path against the seeds'.

Two tables, in one run:

1. A 10-wave plan of 1000 servers (100 per wave) on the DRS simulator with
   no latency, driven by ``run``. Per wave: the library's own CPU time
   (the executor, models and storage: process CPU time minus the time spent
   inside DRS client calls and simulated waits, i.e. botocore and the
   simulator) per wave and per server against the target of < 2 ms per
   server per wave; the DRS
   calls by operation (target: ⌈n/100⌉ ``StartRecovery``, zero
   launch-configuration calls on the fast path, plus monitoring polls); the
   storage writes. Side by side: the same plan driven by ``advance`` per
   step (each step reads the whole execution back, as a Lambda per step
   does), one wave alone (each write still prints the whole execution, so a
   step's cost grows with the plan), and the target.
2. With a fixed latency on every DRS call (real sleeps, default 50 ms), the
   time from an execution's start to its wave's jobs being started, for one
   wave of 100 servers: the fast path (configurations pre-applied), the
   library's fallback (applied first, 10 servers at a time), and the seeds'
   runtime-apply path (per server ``GetLaunchConfiguration`` then
   ``UpdateLaunchConfiguration``, one after the other, then
   ``StartRecovery``), with the ratios (target: fast path >= 5x faster than
   the seeds' path).

Run: ``.venv/bin/python benchmarks/wave_executor.py [--waves 10] [--servers 1000] [--latency 0.05]``
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from drs_orchestration import Orchestrator, RetryPolicy
from drs_orchestration.models import Execution, WaveStatus
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs

REGION = "us-east-1"
NO_WAIT = RetryPolicy(sleep=lambda _s: None)
POLL_S = 30.0
LAUNCH_CONFIG_OPS = ("GetLaunchConfiguration", "UpdateLaunchConfiguration")
SETTINGS = {"copyPrivateIp": True, "copyTags": True}


class _Timed:
    """Adds up the CPU time spent inside a callable (a DRS client's calls, simulated waits)."""

    def __init__(self, inner: Callable[..., Any]) -> None:
        self.cpu_s = 0.0
        self._inner = inner

    def __call__(self, *args: Any) -> Any:
        started = time.process_time()
        try:
            return self._inner(*args)
        finally:
            self.cpu_s += time.process_time() - started


class _WaveMeter(MemoryStorage):
    """Memory storage that attributes the library's CPU time and writes to waves.

    At each execution write, the CPU time spent since the previous write
    (less the time inside DRS calls and simulated waits) is charged to the
    wave the written execution is working on.
    """

    def __init__(self, drs: _Timed, waits: _Timed) -> None:
        super().__init__()
        self.cpu: list[float] = []
        self.writes: list[int] = []
        self._outside = (drs, waits)
        self._mark = self._own_cpu()
        inner_put = self.executions.put

        def put(item: Execution, **kwargs: Any) -> Execution:
            stored = inner_put(item, **kwargs)
            self._charge(_current_wave(stored), len(stored.waves), write=True)
            return stored

        self.executions.put = put  # type: ignore[method-assign]

    def _own_cpu(self) -> float:
        return time.process_time() - sum(t.cpu_s for t in self._outside)

    def start_measuring(self) -> None:
        self.cpu, self.writes, self._mark = [], [], self._own_cpu()

    def _charge(self, wave: int, waves: int, *, write: bool) -> None:
        if not self.cpu:
            self.cpu, self.writes = [0.0] * waves, [0] * waves
        now = self._own_cpu()
        self.cpu[wave] += now - self._mark
        self.writes[wave] += write
        self._mark = now

    def finish(self, execution: Execution) -> None:
        """Charge what ran after the last write (the final poll-free return)."""
        self._charge(len(execution.waves) - 1, len(execution.waves), write=False)


def _orchestrator(
    sim: DrsSimulator,
    storage: Any,
    clients: SimulatedClientFactory,
    sleep: Callable[[float], None] | None = None,
) -> Orchestrator:
    return Orchestrator(
        storage=storage, clients=clients, clock=sim.now, retry=NO_WAIT, sleep=sleep or sim.advance
    )


def _plan(orch: Orchestrator, sim: DrsSimulator, waves: int, per_wave: int, apply: bool) -> str:
    specs: list[dict[str, Any]] = []
    for w in range(waves):
        tier = f"tier{w:02d}"
        for i in range(per_wave):
            sim.add_source_server(region=REGION, hostname=f"{tier}-{i}", tags={"Tier": tier})
        group = orch.groups.create(
            tier, REGION, tags={"Tier": tier}, launch_settings=SETTINGS, apply=apply
        )
        specs.append({"name": tier, "protectionGroupIds": [group.group_id]})
        if w:
            specs[-1]["dependsOn"] = [specs[-2]["name"]]
    return orch.plans.create("benchmark", specs).plan_id


def _current_wave(execution: Execution) -> int:
    started = [i for i, w in enumerate(execution.waves) if w.status is not WaveStatus.PENDING]
    return started[-1] if started else 0


def _attribute_calls(sim: DrsSimulator, execution: Execution) -> list[Counter[str]]:
    """DRS calls per wave, from what each call was about (servers, jobs, tags)."""
    wave_of: dict[str, int] = {}
    for index, run in enumerate(execution.waves):
        for sid, outcome in run.servers.items():
            wave_of[sid] = index
            if outcome.recovery_instance_id:
                wave_of[outcome.recovery_instance_id] = index
        for job in run.jobs:
            if job.job_id:
                wave_of[job.job_id] = index
    per_wave: list[Counter[str]] = [Counter() for _ in execution.waves]
    pending: list[str] = []  # date-window DescribeJobs: quota checks before a StartRecovery
    for call in sim.calls:
        params, op = call.params, call.operation
        filters = params.get("filters") or {}
        ids = (
            filters.get("sourceServerIDs")
            or filters.get("jobIDs")
            or filters.get("recoveryInstanceIDs")
            or [params.get("jobID") or params.get("sourceServerID")]
        )
        if op == "StartRecovery":
            index = execution.waves.index(execution.wave_run(params["tags"]["Wave"]))
        elif ids and ids[0] in wave_of:
            index = wave_of[ids[0]]
        else:
            pending.append(op)
            continue
        per_wave[index][op] += 1
        for queued in pending:
            per_wave[index][queued] += 1
        pending.clear()
    return per_wave


def _measure(
    waves: int, per_wave: int, *, stepwise: bool = False
) -> tuple[Execution, list[float], list[int], list[Any]]:
    """Run a plan; the library's CPU time, writes and DRS calls per wave.

    ``run`` drives it, or with ``stepwise`` a loop of ``advance`` calls (what a
    Lambda per step does: every step reads the execution from storage).
    """
    with mock_drs() as sim:
        clients = SimulatedClientFactory(sim)
        drs = clients.client("drs", REGION)
        drs_time = _Timed(drs._make_api_call)
        drs._make_api_call = drs_time  # type: ignore[method-assign]
        waits = _Timed(sim.advance)
        storage = _WaveMeter(drs_time, waits)
        orch = _orchestrator(sim, storage, clients, sleep=waits)
        plan_id = _plan(orch, sim, waves, per_wave, apply=True)
        sim.calls.clear()
        execution_id = orch.waves.start(plan_id).execution_id
        storage.start_measuring()
        if stepwise:
            while not (result := orch.waves.step(execution_id)).finished:
                if not result.progressed:
                    waits(POLL_S)
            execution = result.execution
        else:
            execution = orch.waves.run(execution_id, poll_interval=POLL_S)
        storage.finish(execution)
        return execution, storage.cpu, storage.writes, _attribute_calls(sim, execution)


def bench_cpu(waves: int, servers: int) -> None:
    per_wave = servers // waves
    execution, cpu, writes, calls = _measure(waves, per_wave)
    print(f"\n1. {waves} waves x {per_wave} servers, no latency ({execution.status.value})")
    header = (
        f"{'wave':>5} {'CPU ms':>8} {'ms/server':>10} {'StartRecovery':>14} "
        f"{'launch-config':>14} {'other DRS':>10} {'writes':>7}"
    )
    print(header)
    print("-" * len(header))
    for i in range(waves):
        start = calls[i]["StartRecovery"]
        config = sum(calls[i][op] for op in LAUNCH_CONFIG_OPS)
        other = sum(calls[i].values()) - start - config
        print(
            f"{i:>5} {cpu[i] * 1000:>8.1f} {cpu[i] * 1000 / per_wave:>10.3f} "
            f"{start:>8} (={math.ceil(per_wave / 100)}) {config:>14} {other:>10} {writes[i]:>7}"
        )
    total = sum(cpu)
    print(
        f"total: {total * 1000:.0f} ms library CPU, {total * 1000 / servers:.3f} ms per server "
        f"per wave (target < 2 ms: {'met' if total / servers < 0.002 else 'NOT met'})"
    )
    _, stepwise, _, _ = _measure(waves, per_wave, stepwise=True)
    _, alone, _, _ = _measure(1, per_wave)
    rows = [
        ("run() (keeps its copy between steps)", total, waves),
        ("advance() per step (reads each step)", sum(stepwise), waves),
        ("the same wave in a one-wave plan", alone[0], 1),
        ("the target", 0.002 * servers, waves),
    ]
    print(f"\n{'driver':<40} {'ms/server/wave':>15} {'vs run()':>9}")
    for name, seconds, count in rows:
        per_server = seconds * 1000 / (per_wave * count)
        print(f"{name:<40} {per_server:>15.3f} {seconds / count / (total / waves):>8.2f}x")


def _seeds_runtime_apply(clients: SimulatedClientFactory, server_ids: list[str]) -> None:
    """The seeds' wave start: read and apply each server's configuration in turn, then start."""
    drs = clients.client("drs", REGION)
    for sid in server_ids:
        drs.get_launch_configuration(sourceServerID=sid)
        drs.update_launch_configuration(sourceServerID=sid, copyPrivateIp=True, copyTags=True)
    drs.start_recovery(sourceServers=[{"sourceServerID": s} for s in server_ids], isDrill=True)


def _time_wave_start(apply: bool, servers: int, latency: float) -> tuple[float, int]:
    with mock_drs() as sim:
        clients = SimulatedClientFactory(sim)
        orch = _orchestrator(sim, MemoryStorage(), clients)
        plan_id = _plan(orch, sim, 1, servers, apply=apply)
        sim.faults.latency(latency)
        sim.calls.clear()
        started = time.perf_counter()
        execution = orch.waves.start(plan_id)
        while not execution.waves[0].job_ids or any(
            j.job_id is None for j in execution.waves[0].jobs
        ):
            execution = orch.waves.step(execution.execution_id).execution
        return time.perf_counter() - started, len(sim.calls)


def _time_seeds(servers: int, latency: float) -> tuple[float, int]:
    with mock_drs() as sim:
        clients = SimulatedClientFactory(sim)
        ids = [sim.add_source_server(region=REGION, hostname=f"s{i}") for i in range(servers)]
        sim.faults.latency(latency)
        started = time.perf_counter()
        _seeds_runtime_apply(clients, ids)
        return time.perf_counter() - started, len(sim.calls)


def bench_latency(servers: int, latency: float) -> None:
    rows: list[tuple[str, Callable[[], tuple[float, int]]]] = [
        ("fast path (pre-applied)", lambda: _time_wave_start(True, servers, latency)),
        ("library fallback (apply first)", lambda: _time_wave_start(False, servers, latency)),
        ("seeds' runtime apply", lambda: _time_seeds(servers, latency)),
    ]
    results = [(name, *measure()) for name, measure in rows]
    fast = results[0][1]
    print(f"\n2. wave start, {servers} servers, {latency * 1000:.0f} ms per DRS call")
    header = f"{'path':<32} {'seconds':>8} {'DRS calls':>10} {'vs fast path':>13}"
    print(header)
    print("-" * len(header))
    for name, seconds, calls in results:
        print(f"{name:<32} {seconds:>8.2f} {calls:>10} {seconds / fast:>12.1f}x")
    ratio = results[2][1] / fast
    verdict = "met" if ratio >= 5 else "NOT met"
    print(f"fast path vs seeds' path: {ratio:.1f}x (target >= 5x: {verdict})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waves", type=int, default=10)
    parser.add_argument("--servers", type=int, default=1000, help="servers in the whole plan")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per DRS call")
    parser.add_argument("--latency-servers", type=int, default=100)
    args = parser.parse_args(argv)
    bench_cpu(args.waves, args.servers)
    bench_latency(args.latency_servers, args.latency)


if __name__ == "__main__":
    main()
