"""Launch-configuration pre-application: the library vs a naive sequential baseline vs the bound.

Two paths, as a group's settings decide:

- **drs**: settings DRS alone holds (``copyTags``): one
  ``UpdateLaunchConfiguration`` per server.
- **template**: DRS settings and settings of the EC2 launch template DRS keeps
  per server (``copyTags`` and ``subnetId``): ``UpdateLaunchConfiguration``,
  then ``DescribeLaunchTemplateVersions``, ``CreateLaunchTemplateVersion``
  from the default and ``ModifyLaunchTemplate``: four calls per server.

Every call the library makes is answered ``--latency`` after it was asked,
the simulator's or moto's work included, as a remote endpoint's latency
includes its servers' time (``_support.CpuAttribution``). Sleeping costs no
CPU, so the wall time shows what the calls cost. For each path and group
size, side by side in one run:

- the library (``LaunchConfigService.apply_to_group``, concurrency 10);
- a naive baseline: the same calls, one server after another, as the seeds did;
- the bound: ``ceil(servers / 10) x calls per server x latency``, the time the
  calls take when ten are always in flight;

with the ratios library / bound and naive / library, the calls per server,
and the CPU the library and botocore spent per server (the simulator's and
moto's apart: in process they hold the same interpreter, which a real
service does not). The naive baseline is measured up to ``--naive-max``
servers and extrapolated linearly beyond (one call after another is linear).

Run: ``.venv/bin/python benchmarks/launch_config_apply.py [--sizes 10 100 1000] [--latency 0.05]
[--naive-max 100] [--markdown benchmarks/results/launch_config_apply.md]``
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import CpuAttribution, CpuSplit, Goal, Report, command_line, offline_aws
from drs_orchestration.aws import RetryPolicy
from drs_orchestration.models import ProtectionGroup
from drs_orchestration.services import LaunchConfigService, ProtectionGroupService
from drs_orchestration.services.launch_templates import merge_template_data, request_template_data
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs

REGION = "us-east-1"
CONCURRENCY = 10
PATHS = ("drs", "template")
CALLS = {"drs": 1, "template": 4}
BOUND_GOAL = 1.3
NAIVE_GOAL = 8.0
NAIVE_GOAL_SIZE = 100


@dataclass
class Measured:
    path: str
    servers: int
    latency: float
    library_s: float
    naive_s: float
    naive_measured: bool
    calls: Counter[str]
    cpu: CpuSplit

    @property
    def calls_per_server(self) -> float:
        return sum(self.calls.values()) / self.servers

    @property
    def bound_s(self) -> float:
        return math.ceil(self.servers / CONCURRENCY) * CALLS[self.path] * self.latency

    def per_server_ms(self, seconds: float) -> float:
        return seconds * 1000 / self.servers


def _counting(clients: SimulatedClientFactory, calls: Counter[str]) -> None:
    def count(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    for service in ("drs", "ec2"):
        clients.client(service, REGION).meta.events.register(f"before-call.{service}", count)


def _group(
    sim: DrsSimulator, clients: SimulatedClientFactory, storage: MemoryStorage, size: int, path: str
) -> ProtectionGroup:
    groups = ProtectionGroupService(storage, clients, retry=RetryPolicy(sleep=lambda _: None))
    ids = [sim.add_source_server(region=REGION, hostname=f"h{i}") for i in range(size)]
    group = groups.create("bench", REGION, server_ids=ids, apply=False)
    update: dict[str, Any] = {"copy_tags": True}
    if path == "template":
        ec2 = clients.client("ec2", REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        update["subnet_id"] = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/16")["Subnet"][
            "SubnetId"
        ]
    settings = group.launch_settings.model_copy(update=update)
    return storage.protection_groups.put(group.model_copy(update={"launch_settings": settings}))


def naive(clients: SimulatedClientFactory, group: ProtectionGroup, path: str) -> Callable[[], None]:
    """One server after another, each call after the other."""
    drs = clients.client("drs", REGION)
    ec2 = clients.client("ec2", REGION)
    settings = group.launch_settings

    def apply() -> None:
        for sid in group.source_server_ids:
            configuration = drs.update_launch_configuration(sourceServerID=sid, copyTags=True)
            if path != "template":
                continue
            template_id = configuration["ec2LaunchTemplateID"]
            default = ec2.describe_launch_template_versions(
                LaunchTemplateId=template_id, Versions=["$Default"]
            )["LaunchTemplateVersions"][0]
            data = merge_template_data(default["LaunchTemplateData"], settings)
            version = ec2.create_launch_template_version(
                LaunchTemplateId=template_id,
                SourceVersion=str(default["VersionNumber"]),
                LaunchTemplateData=request_template_data(data),  # type: ignore[arg-type]
            )["LaunchTemplateVersion"]["VersionNumber"]
            ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(version))

    return apply


def measure(path: str, size: int, latency: float, naive_max: int) -> Measured:
    with (
        offline_aws(),
        mock_drs(strict=False) as sim,
        CpuAttribution(latency=latency) as cpu,
    ):
        clients = SimulatedClientFactory(sim)
        storage = MemoryStorage()
        configs = LaunchConfigService(
            storage, clients, concurrency=CONCURRENCY, retry=RetryPolicy(sleep=lambda _: None)
        )
        group = _group(sim, clients, storage, size, path)
        calls: Counter[str] = Counter()
        _counting(clients, calls)

        before = cpu.sample()
        started = time.perf_counter()
        status = configs.apply_to_group(group.group_id)
        library = time.perf_counter() - started
        spent = cpu.sample() - before
        if status.status.value != "ready":
            raise RuntimeError(f"the apply did not succeed: {status.errors[:3]}")
        measured = Counter(calls)

        # The naive baseline on a sample of the servers when the group is large.
        sample = group if size <= naive_max else _first(group, naive_max)
        started = time.perf_counter()
        naive(clients, sample, path)()
        naive_s = (time.perf_counter() - started) * size / len(sample.source_server_ids)
    return Measured(path, size, latency, library, naive_s, size <= naive_max, measured, spent)


def _first(group: ProtectionGroup, count: int) -> ProtectionGroup:
    return group.model_copy(update={"source_server_ids": group.source_server_ids[:count]})


def report(rows: list[Measured], out: Report) -> list[Goal]:
    latency = rows[0].latency
    out.heading(
        f"Wall time with {latency * 1000:g} ms per call, concurrency {CONCURRENCY}; CPU per server"
    )
    out.table(
        [
            "path",
            "servers",
            "calls/server",
            "library s",
            "naive s",
            "bound s",
            "library/bound",
            "naive/library",
            "client CPU ms/server",
            "simulator ms/server",
            "moto ms/server",
            "all CPU s",
        ],
        [
            [
                r.path,
                f"{r.servers:,}",
                f"{r.calls_per_server:.2f}",
                f"{r.library_s:.2f}",
                f"{r.naive_s:.2f}" + ("" if r.naive_measured else "*"),
                f"{r.bound_s:.2f}",
                f"{r.library_s / r.bound_s:.2f}",
                f"{r.naive_s / r.library_s:.1f}x",
                f"{r.per_server_ms(r.cpu.client):.2f}",
                f"{r.per_server_ms(r.cpu.simulator):.2f}",
                f"{r.per_server_ms(r.cpu.moto):.2f}",
                f"{r.cpu.client + r.cpu.simulator + r.cpu.moto:.2f}",
            ]
            for r in rows
        ],
    )
    calls = sorted({op for r in rows for op in r.calls})
    out.table(
        ["path", "servers", *calls],
        [
            [r.path, f"{r.servers:,}", *[f"{r.calls[op] / r.servers:.2f}" for op in calls]]
            for r in rows
        ],
    )
    if any(not r.naive_measured for r in rows):
        out.note(
            "* extrapolated from the first servers of the group: one call after another "
            "grows linearly with the servers."
        )
    out.note(
        "The bound counts the calls' latency only. Each call is answered that long after it "
        "was asked, the simulator's or moto's work included (an endpoint's latency includes "
        "its servers' time). The library's and botocore's CPU comes on top where it cannot "
        "overlap; so does the simulator's and moto's when their work on one call holds the "
        "interpreter while another call's answer is due (all CPU: everything the process "
        "spent; Python threads do not run Python code at once, AWS's servers do)."
    )

    found = []
    worst = max(rows, key=lambda r: r.library_s / r.bound_s)
    found.append(
        Goal(
            f"library within {BOUND_GOAL}x of the bound at every size and path",
            f"worst {worst.library_s / worst.bound_s:.2f}x ({worst.path}, {worst.servers:,} "
            "servers)",
            worst.library_s / worst.bound_s <= BOUND_GOAL,
        )
    )
    for path in PATHS:
        at = [r for r in rows if r.path == path and r.servers == NAIVE_GOAL_SIZE]
        if at:
            ratio = at[0].naive_s / at[0].library_s
            found.append(
                Goal(
                    f"naive / library >= {NAIVE_GOAL:g} at {NAIVE_GOAL_SIZE} servers ({path})",
                    f"{ratio:.1f}x",
                    ratio >= NAIVE_GOAL,
                )
            )
    for path in PATHS:
        mine = [r for r in rows if r.path == path]
        if mine:
            spread = sorted({round(r.calls_per_server, 2) for r in mine})
            found.append(
                Goal(
                    f"{CALLS[path]} call(s) per server on the {path} path",
                    ", ".join(f"{c:g}" for c in spread) + " per server",
                    spread == [CALLS[path]],
                )
            )
    return found


def main(argv: list[str] | None = None) -> list[Goal]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per call")
    parser.add_argument(
        "--naive-max", type=int, default=100, help="largest group the naive baseline runs on"
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = parser.parse_args(argv)
    if args.latency <= 0:
        parser.error("--latency must be positive: the bound is made of it")
    out = Report("Launch-configuration pre-application", command_line(__file__, argv))
    # Once per process, untimed: botocore loads the EC2 model and the library reads the
    # template request shape on first use (a Lambda's cold start), not per apply.
    for path in args.paths:
        measure(path, CONCURRENCY, args.latency, CONCURRENCY)
    rows = []
    for path in args.paths:
        for size in args.sizes:
            rows.append(measure(path, size, args.latency, args.naive_max))
            print(f"  {path:>8} {size:>6,}: {rows[-1].library_s:.2f} s", flush=True)
    found = report(rows, out)
    out.goals(found)
    if args.markdown:
        out.write_markdown(args.markdown)
    return found


if __name__ == "__main__":
    main()
