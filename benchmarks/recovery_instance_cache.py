"""Recovery-instance cache: batched reads vs one GetItem per server; concurrent sync vs sequential.

Two tables, in one run:

1. Reads, on DynamoDB (moto) holding ``--records`` cached records:
   ``cache.get`` of 100 and of 1000 source servers against the seeds' way,
   one ``GetItem`` per server. Reported: DynamoDB calls (goal ⌈n/100⌉, and at
   least 10x fewer than the baseline) and the client CPU of each (the
   library's and botocore's, what a Lambda pays; median of ``--repeats``;
   goal: less than the baseline), with moto's CPU answering them apart: moto
   serialises every item in Python, which DynamoDB does not do on the
   caller's CPU.
2. Sync of ``--records`` recovery instances over 3 regions, every DRS call
   (the simulator) and EC2 ``DescribeInstances`` call (a stand-in serving the
   simulator's instances) answered after a fixed latency, real sleeps:
   ``sync_all`` with its default concurrency against the sequential baseline
   (concurrency 1), each next to its bound, the latency times the calls on
   its critical path (the busiest region when concurrent, all calls when
   sequential). The same sync with no latency is reported too: that CPU time
   (answers parsed, records built) adds to the bound, since threads do not
   overlap Python work.

Run: ``.venv/bin/python benchmarks/recovery_instance_cache.py [--records 1000] [--latency 0.05]
[--markdown benchmarks/results/recovery_instance_cache.md]``
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from botocore.awsrequest import AWSResponse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    HARNESS,
    CpuAttribution,
    CpuSplit,
    Goal,
    Report,
    command_line,
    offline_aws,
)
from drs_orchestration.aws import RetryPolicy
from drs_orchestration.models import RecoveryInstanceRecord
from drs_orchestration.services import RecoveryInstanceCache
from drs_orchestration.storage import DynamoDBStorage, MemoryStorage
from drs_orchestration.storage.base import RECOVERY_INSTANCES
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs
from drs_orchestration.testing.ec2 import InstanceInfo

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
NO_WAIT = RetryPolicy(sleep=lambda _s: None)
SYNC_GOAL = 1.3


def server_id(n: int) -> str:
    return f"s-{n:017d}"


def record(n: int) -> RecoveryInstanceRecord:
    return RecoveryInstanceRecord(
        source_server_id=server_id(n),
        recovery_instance_id=f"i-{n:017x}",
        ec2_instance_id=f"i-{n:017x}",
        region=REGIONS[n % len(REGIONS)],
        instance_type="m5.large",
        private_ip=f"10.0.{n // 250}.{n % 250 + 1}",
        ec2_instance_state="running",
    )


def counting(client: Any) -> Counter[str]:
    calls: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-call.dynamodb", count)
    return calls


def cpu_of(cpu: CpuAttribution, fn: Callable[[], object], repeats: int) -> CpuSplit:
    """The CPU of ``fn`` by who spent it: the sample with the median client CPU."""
    samples = []
    for _ in range(repeats):
        before = cpu.sample()
        fn()
        samples.append(cpu.sample() - before)
    return sorted(samples, key=lambda split: split.client)[(len(samples) - 1) // 2]


def measure_reads(records: int, sizes: list[int], repeats: int) -> list[dict[str, float]]:
    rows = []
    with offline_aws(), CpuAttribution() as cpu:
        client = SimulatedClientFactory().client("dynamodb", "us-east-1")
        storage = DynamoDBStorage(table_prefix="bench-", client=client, retry=NO_WAIT)
        storage.create_tables()
        storage.recovery_instances.put_many(record(n) for n in range(records))
        cache = RecoveryInstanceCache(storage, SimulatedClientFactory(), targets=[])
        table = storage.table_name(RECOVERY_INSTANCES)
        calls = counting(client)
        for size in sizes:
            ids = [server_id(n) for n in range(size)]

            def one_get_item_each(wanted: list[str] = ids) -> None:
                for sid in wanted:
                    client.get_item(
                        TableName=table, Key={"sourceServerId": {"S": sid}}, ConsistentRead=True
                    )

            calls.clear()
            found = cache.get(ids)
            if found.misses:
                raise RuntimeError(f"records missing from the cache: {found.misses[:3]}")
            cache_calls = sum(calls.values())
            calls.clear()
            one_get_item_each()
            baseline_calls = sum(calls.values())
            mine = cpu_of(cpu, lambda wanted=ids: cache.get(wanted), repeats)
            theirs = cpu_of(cpu, one_get_item_each, repeats)
            rows.append(
                {
                    "servers": size,
                    "target_calls": math.ceil(size / 100),
                    "cache_calls": cache_calls,
                    "baseline_calls": baseline_calls,
                    "call_ratio": baseline_calls / cache_calls,
                    "cache_ms": mine.client * 1000,
                    "baseline_ms": theirs.client * 1000,
                    "cache_moto_ms": mine.moto * 1000,
                    "baseline_moto_ms": theirs.moto * 1000,
                    "speedup": theirs.client / mine.client,
                }
            )
        storage.close()
    return rows


class Ec2StandIn:
    """``DescribeInstances`` answered from the simulator's own instances, after a fixed latency.

    moto serialises EC2 answers in Python at several milliseconds per
    instance, under the GIL: with moto, a sync of 1000 instances measures
    moto. Here the simulator keeps its recovery instances itself (no
    ``mock_aws``) and this stand-in answers EC2 the way a remote service
    does: a fixed wait, then a small XML document botocore parses as usual.
    """

    def __init__(self, sim: DrsSimulator, latency: float) -> None:
        self.sim = sim
        self.latency = latency
        self.calls: Counter[str] = Counter()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.ec2.DescribeInstances", self.answer)

    def _instances(self, region: str) -> dict[str, InstanceInfo]:
        found: dict[str, InstanceInfo] = {}
        for state in self.sim.regions():
            if state.region == region:
                found.update(self.sim.ec2._detached_region(state.account_id, region).instances)
        return found

    def answer(self, request: Any, **_: Any) -> AWSResponse:
        region = request.url.split(".")[1]
        self.calls[region] += 1
        time.sleep(self.latency)
        form = parse_qs(request.body.decode() if isinstance(request.body, bytes) else request.body)
        wanted = [v[0] for k, v in form.items() if k.startswith("Filter.1.Value.")]
        known = self._instances(region)
        items = "".join(_item_xml(known[w]) for w in wanted if w in known)
        body = (
            '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            "<requestId>bench</requestId><reservationSet><item><reservationId>r-0bench"
            f"</reservationId><ownerId>123456789012</ownerId><instancesSet>{items}"
            "</instancesSet></item></reservationSet></DescribeInstancesResponse>"
        ).encode()
        return AWSResponse(request.url, 200, {}, _Raw(body))  # type: ignore[arg-type]


def _item_xml(i: InstanceInfo) -> str:
    tags = "".join(f"<item><key>{k}</key><value>{v}</value></item>" for k, v in i.tags.items())
    return (
        f"<item><instanceId>{i.instance_id}</instanceId>"
        f"<instanceType>{i.instance_type}</instanceType>"
        f"<instanceState><code>16</code><name>{i.state}</name></instanceState>"
        f"<privateIpAddress>{i.private_ip or '10.0.0.1'}</privateIpAddress>"
        f"<subnetId>{i.subnet_id or 'subnet-0bench'}</subnetId><vpcId>vpc-0bench</vpcId>"
        f"<placement><availabilityZone>{i.availability_zone}</availabilityZone></placement>"
        "<launchTime>2026-01-01T00:00:00.000Z</launchTime>"
        f"<tagSet>{tags}</tagSet></item>"
    )


class _Raw(BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def seed_instances(sim: DrsSimulator, clients: SimulatedClientFactory, total: int) -> None:
    """``total`` launched drill instances spread over the regions, in jobs of 100."""
    for index, region in enumerate(REGIONS):
        count = total // len(REGIONS) + (1 if index < total % len(REGIONS) else 0)
        ids = [sim.add_source_server(region=region, hostname=f"h{i}") for i in range(count)]
        drs = clients.client("drs", region)
        for start in range(0, len(ids), 100):
            drs.start_recovery(
                sourceServers=[{"sourceServerID": s} for s in ids[start : start + 100]],
                isDrill=True,
                tags={"ExecutionId": "ex-" + "b" * 20},
            )
    sim.advance(3600)


def timed_sync(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    ec2: Ec2StandIn,
    concurrency: int,
    *,
    repeats: int,
    cpu: CpuAttribution,
) -> tuple[float, Counter[str], int, CpuSplit]:
    """Median wall time of a first sync into empty storage, its calls per region, instances, CPU."""
    times = []
    splits = []
    per_region: Counter[str] = Counter()
    instances = 0
    for _ in range(repeats):
        cache = RecoveryInstanceCache(
            MemoryStorage(),
            clients,
            targets=[(r, None) for r in REGIONS],
            retry=NO_WAIT,
            concurrency=concurrency,
            clock=sim.now,
        )
        sim.calls.clear()
        ec2.calls.clear()
        before = cpu.sample()
        started = time.perf_counter()
        status = cache.sync_all()
        times.append(time.perf_counter() - started)
        splits.append(cpu.sample() - before)
        if not status.succeeded:
            raise RuntimeError(f"the sync failed: {[t.error for t in status.targets]}")
        per_region = Counter(call.region for call in sim.calls) + ec2.calls
        instances = status.instances
    split = sorted(splits, key=lambda s: s.client)[(len(splits) - 1) // 2]
    return statistics.median(times), per_region, instances, split


def measure_sync(total: int, latency: float, repeats: int) -> dict[str, Any]:
    # The simulator warns once that it keeps EC2 instances itself: here that is the point.
    quiet = logging.getLogger("drs_orchestration.testing")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return _measure_sync(total, latency, repeats)
    finally:
        quiet.setLevel(level)


def _measure_sync(total: int, latency: float, repeats: int) -> dict[str, Any]:
    # strict=False: the simulator's own validation of each answer is not what is measured.
    with mock_drs(strict=False) as sim, CpuAttribution() as cpu:
        clients = SimulatedClientFactory(sim)
        seed_instances(sim, clients, total)
        ec2 = Ec2StandIn(sim, latency)
        # The stand-in answering is EC2's work, not the caller's.
        ec2.answer = cpu.wrap(ec2.answer, HARNESS)  # type: ignore[method-assign]
        for region in REGIONS:
            ec2.attach(clients.client("ec2", region))
        ec2.latency = 0.0
        _, _, _, idle = timed_sync(sim, clients, ec2, 1, repeats=repeats, cpu=cpu)
        ec2.latency = latency
        sim.faults.latency(latency)
        concurrent_s, calls, found, _ = timed_sync(sim, clients, ec2, 4, repeats=repeats, cpu=cpu)
        sequential_s, _, _, _ = timed_sync(sim, clients, ec2, 1, repeats=repeats, cpu=cpu)
    concurrent_bound = max(calls.values()) * latency
    sequential_bound = sum(calls.values()) * latency
    return {
        "instances": found,
        "calls": sum(calls.values()),
        "concurrent_s": concurrent_s,
        "concurrent_bound_s": concurrent_bound,
        "sequential_s": sequential_s,
        "sequential_bound_s": sequential_bound,
        "cpu": idle,
        "concurrent_over_bound": concurrent_s / concurrent_bound,
        "sequential_over_concurrent": sequential_s / concurrent_s,
    }


def report(reads: list[dict[str, float]], sync: dict[str, Any], args: Any, out: Report) -> None:
    out.heading(
        f"get: DynamoDB (moto), {args.records:,} cached records, CPU ms (median of "
        f"{args.repeats}); client = library + botocore, moto apart"
    )
    out.table(
        [
            "servers",
            "goal calls",
            "calls",
            "GetItem calls",
            "fewer",
            "get client ms",
            "GetItem client ms",
            "less CPU",
            "get moto ms",
            "GetItem moto ms",
        ],
        [
            [
                f"{r['servers']:,.0f}",
                f"{r['target_calls']:.0f}",
                f"{r['cache_calls']:.0f}",
                f"{r['baseline_calls']:.0f}",
                f"{r['call_ratio']:.0f}x",
                f"{r['cache_ms']:.1f}",
                f"{r['baseline_ms']:.1f}",
                f"{r['speedup']:.1f}x",
                f"{r['cache_moto_ms']:.1f}",
                f"{r['baseline_moto_ms']:.1f}",
            ]
            for r in reads
        ],
    )
    out.heading(
        f"sync_all: {sync['instances']:,} recovery instances over {len(REGIONS)} regions, "
        f"{args.latency * 1000:g} ms per DRS and EC2 call, {sync['calls']} calls"
    )
    out.table(
        ["mode", "wall s", "bound s", "wall/bound"],
        [
            [
                "concurrent",
                f"{sync['concurrent_s']:.2f}",
                f"{sync['concurrent_bound_s']:.2f}",
                f"{sync['concurrent_over_bound']:.2f}",
            ],
            [
                "sequential",
                f"{sync['sequential_s']:.2f}",
                f"{sync['sequential_bound_s']:.2f}",
                f"{sync['sequential_s'] / sync['sequential_bound_s']:.2f}",
            ],
        ],
    )
    idle: CpuSplit = sync["cpu"]
    out.note(
        f"sequential / concurrent: {sync['sequential_over_concurrent']:.2f}x. The same sync "
        f"with no latency costs {idle.client:.2f} s of client CPU (parsing answers, building "
        f"records; the simulator {idle.simulator:.2f} s and the EC2 stand-in "
        f"{idle.harness:.2f} s apart): Python threads cannot overlap it, so it adds to the "
        "bound; latency is what the threads hide."
    )
    goals = []
    for r in reads:
        n = f"{r['servers']:,.0f}"
        goals += [
            Goal(
                f"get of {n} servers: ceil(n/100) DynamoDB calls",
                f"{r['cache_calls']:.0f} calls, goal {r['target_calls']:.0f}",
                r["cache_calls"] <= r["target_calls"],
            ),
            Goal(
                f"get of {n} servers: at least 10x fewer calls than one GetItem per server",
                f"{r['call_ratio']:.0f}x fewer",
                r["call_ratio"] >= 10,
            ),
            Goal(
                f"get of {n} servers: less client CPU than one GetItem per server",
                f"{r['cache_ms']:.1f} vs {r['baseline_ms']:.1f} ms: {r['speedup']:.1f}x less",
                r["cache_ms"] < r["baseline_ms"],
            ),
        ]
    goals.append(
        Goal(
            f"concurrent sync_all within {SYNC_GOAL}x of its bound plus its client CPU",
            f"{sync['concurrent_s']:.2f} s vs {sync['concurrent_bound_s']:.2f} + "
            f"{idle.client:.2f} s",
            sync["concurrent_s"] <= SYNC_GOAL * (sync["concurrent_bound_s"] + idle.client),
        )
    )
    out.goals(goals)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = parser.parse_args(argv)
    out = Report("Recovery-instance cache", command_line(__file__, argv))
    reads = measure_reads(args.records, args.sizes, args.repeats)
    sync = measure_sync(args.records, args.latency, max(1, args.repeats // 2))
    report(reads, sync, args, out)
    if args.markdown:
        out.write_markdown(args.markdown)


if __name__ == "__main__":
    main()
