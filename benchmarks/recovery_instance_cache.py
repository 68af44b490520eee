"""Recovery-instance cache: batched reads vs one get_item per server; concurrent sync vs sequential.

Two tables, in one run:

1. Reads, on DynamoDB (moto) holding 1000 cached records: ``cache.get`` of 100
   and of 1000 source servers against the seeds' way, one ``GetItem`` per
   server. Reported: DynamoDB calls (target ⌈n/100⌉, and at least 10x fewer than the
   baseline) and median wall time (target: faster than the baseline).
2. Sync of 1000 recovery instances over 3 regions, every DRS call (the
   simulator) and EC2 ``DescribeInstances`` call (a stand-in serving the
   simulator's instances) answered after a fixed latency, real sleeps:
   ``sync_all`` with its default concurrency against the sequential baseline
   (concurrency 1), each next to its bound, the latency times the calls on
   its critical path (the busiest region when concurrent, all calls when
   sequential). The same sync with no latency is reported too: that CPU time
   (answers parsed, records built) adds to the bound, since threads do not
   overlap Python work.

Run: ``.venv/bin/python benchmarks/recovery_instance_cache.py [--records 1000] [--latency 0.05]``
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs

import boto3
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from drs_orchestration.aws import RetryPolicy
from drs_orchestration.models import RecoveryInstanceRecord
from drs_orchestration.services import RecoveryInstanceCache
from drs_orchestration.storage import DynamoDBStorage, MemoryStorage
from drs_orchestration.storage.base import RECOVERY_INSTANCES
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs
from drs_orchestration.testing.ec2 import InstanceInfo

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
NO_WAIT = RetryPolicy(sleep=lambda _s: None)


@contextmanager
def offline_aws() -> Iterator[None]:
    """moto, without its AMI catalogue."""
    saved = dict(os.environ)
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    try:
        with mock_aws():
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


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


def median_s(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_reads(records: int, sizes: list[int], repeats: int) -> list[dict[str, float]]:
    rows = []
    with offline_aws():
        client = boto3.session.Session().client("dynamodb", region_name="us-east-1")
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
            assert not found.misses, found.misses[:3]
            cache_calls = sum(calls.values())
            calls.clear()
            one_get_item_each()
            baseline_calls = sum(calls.values())
            cache_s = median_s(lambda wanted=ids: cache.get(wanted), repeats)
            baseline_s = median_s(one_get_item_each, repeats)
            rows.append(
                {
                    "servers": size,
                    "target_calls": math.ceil(size / 100),
                    "cache_calls": cache_calls,
                    "baseline_calls": baseline_calls,
                    "call_ratio": baseline_calls / cache_calls,
                    "cache_ms": cache_s * 1000,
                    "baseline_ms": baseline_s * 1000,
                    "speedup": baseline_s / cache_s,
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
    repeats: int,
) -> tuple[float, Counter[str], int]:
    """Median wall time of a first sync into empty storage, its calls per region, instances."""
    times = []
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
        started = time.perf_counter()
        status = cache.sync_all()
        times.append(time.perf_counter() - started)
        assert status.succeeded, [t.error for t in status.targets]
        per_region = Counter(call.region for call in sim.calls) + ec2.calls
        instances = status.instances
    return statistics.median(times), per_region, instances


def measure_sync(total: int, latency: float, repeats: int) -> dict[str, float]:
    # The simulator warns once that it keeps EC2 instances itself: here that is the point.
    quiet = logging.getLogger("drs_orchestration.testing")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return _measure_sync(total, latency, repeats)
    finally:
        quiet.setLevel(level)


def _measure_sync(total: int, latency: float, repeats: int) -> dict[str, float]:
    # strict=False: the simulator's own validation of each answer is not what is measured.
    with mock_drs(strict=False) as sim:
        clients = SimulatedClientFactory(sim)
        seed_instances(sim, clients, total)
        ec2 = Ec2StandIn(sim, latency)
        for region in REGIONS:
            ec2.attach(clients.client("ec2", region))
        ec2.latency = 0.0
        cpu_s, _, _ = timed_sync(sim, clients, ec2, 1, repeats)
        ec2.latency = latency
        sim.faults.latency(latency)
        concurrent_s, calls, found = timed_sync(sim, clients, ec2, 4, repeats)
        sequential_s, _, _ = timed_sync(sim, clients, ec2, 1, repeats)
    concurrent_bound = max(calls.values()) * latency
    sequential_bound = sum(calls.values()) * latency
    return {
        "instances": found,
        "calls": sum(calls.values()),
        "concurrent_s": concurrent_s,
        "concurrent_bound_s": concurrent_bound,
        "sequential_s": sequential_s,
        "sequential_bound_s": sequential_bound,
        "cpu_s": cpu_s,
        "concurrent_over_bound": concurrent_s / concurrent_bound,
        "sequential_over_concurrent": sequential_s / concurrent_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    reads = measure_reads(args.records, args.sizes, args.repeats)
    print(f"get: DynamoDB (moto), {args.records} cached records, median of {args.repeats}")
    header = (
        f"{'servers':>8} {'target':>7} {'calls':>6} {'baseline':>9} {'fewer':>7} "
        f"{'get ms':>8} {'baseline ms':>12} {'faster':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in reads:
        print(
            f"{r['servers']:>8.0f} {r['target_calls']:>7.0f} {r['cache_calls']:>6.0f} "
            f"{r['baseline_calls']:>9.0f} {r['call_ratio']:>6.0f}x {r['cache_ms']:>8.1f} "
            f"{r['baseline_ms']:>12.1f} {r['speedup']:>6.1f}x"
        )
    print("targets: calls = ceil(n/100); >= 10x fewer calls than one GetItem per server; faster")
    print()

    sync = measure_sync(args.records, args.latency, max(1, args.repeats // 2))
    print(
        f"sync_all: {sync['instances']:.0f} recovery instances over {len(REGIONS)} regions, "
        f"{args.latency * 1000:.0f} ms per DRS and EC2 call, {sync['calls']:.0f} calls"
    )
    header = f"{'mode':>12} {'wall s':>8} {'bound s':>8} {'wall/bound':>11}"
    print(header)
    print("-" * len(header))
    print(
        f"{'concurrent':>12} {sync['concurrent_s']:>8.2f} {sync['concurrent_bound_s']:>8.2f} "
        f"{sync['concurrent_over_bound']:>11.2f}"
    )
    print(
        f"{'sequential':>12} {sync['sequential_s']:>8.2f} {sync['sequential_bound_s']:>8.2f} "
        f"{sync['sequential_s'] / sync['sequential_bound_s']:>11.2f}"
    )
    print(f"sequential / concurrent: {sync['sequential_over_concurrent']:.2f}x")
    print(
        f"the same sync with no latency takes {sync['cpu_s']:.2f} s: parsing and building "
        "records in Python, which threads cannot overlap (the GIL); latency is what they hide"
    )


if __name__ == "__main__":
    main()
