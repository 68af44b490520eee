"""Launch-configuration pre-application: library vs a naive sequential baseline vs the bound.

With the simulator answering every DRS call after a fixed latency (real
sleeps, no lock held), apply one setting to groups of 10, 100 and 1000
servers and report, side by side in one run:

- the library's wall time (``LaunchConfigService.apply_to_group``, concurrency 10),
- a naive baseline: one ``UpdateLaunchConfiguration`` after another, as the seeds did,
- the bound: calls / concurrency * latency,

with the ratios library/bound (target ≤ 1.3) and naive/library (target ≥ 8 at 100
servers), and the API calls made per server (target: one ``UpdateLaunchConfiguration``).

Run: ``.venv/bin/python benchmarks/launch_config_apply.py [--sizes 10 100 1000] [--latency 0.05]``
"""

from __future__ import annotations

import argparse
import math
import time

from moto import mock_aws

from drs_orchestration.aws import RetryPolicy
from drs_orchestration.services import LaunchConfigService, ProtectionGroupService
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.testing import SimulatedClientFactory, mock_drs

CONCURRENCY = 10


def measure(size: int, latency: float) -> dict[str, float]:
    with mock_aws(), mock_drs() as sim:
        clients = SimulatedClientFactory(sim)
        storage = MemoryStorage()
        configs = LaunchConfigService(
            storage, clients, concurrency=CONCURRENCY, retry=RetryPolicy(sleep=lambda _: None)
        )
        groups = ProtectionGroupService(storage, clients, launch_configs=configs)
        ids = [sim.add_source_server(region="us-east-1", hostname=f"h{i}") for i in range(size)]
        group = groups.create("bench", "us-east-1", server_ids=ids, apply=False)
        storage.protection_groups.put(
            group.model_copy(
                update={
                    "launch_settings": group.launch_settings.model_copy(update={"copy_tags": True})
                }
            )
        )
        sim.faults.latency(latency)
        sim.calls.clear()

        started = time.perf_counter()
        status = configs.apply_to_group(group.group_id)
        library = time.perf_counter() - started
        assert status.status.value == "ready", status.errors
        calls = len(sim.calls)
        updates = sim.calls.count("UpdateLaunchConfiguration")

        drs = clients.client("drs", "us-east-1")
        started = time.perf_counter()
        for sid in ids:
            drs.update_launch_configuration(sourceServerID=sid, copyTags=True)
        naive = time.perf_counter() - started

    bound = math.ceil(calls / CONCURRENCY) * latency
    return {
        "servers": size,
        "library_s": library,
        "naive_s": naive,
        "bound_s": bound,
        "library_over_bound": library / bound,
        "naive_over_library": naive / library,
        "calls_per_server": calls / size,
        "updates_per_server": updates / size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    rows = [measure(size, args.latency) for size in args.sizes]
    header = (
        f"{'servers':>8} {'library s':>10} {'naive s':>9} {'bound s':>8} "
        f"{'lib/bound':>10} {'naive/lib':>10} {'calls/srv':>10} {'updates/srv':>12}"
    )
    print(f"latency {args.latency * 1000:.0f} ms per call, concurrency {CONCURRENCY}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['servers']:>8.0f} {r['library_s']:>10.2f} {r['naive_s']:>9.2f} "
            f"{r['bound_s']:>8.2f} "
            f"{r['library_over_bound']:>10.2f} {r['naive_over_library']:>10.1f} "
            f"{r['calls_per_server']:>10.2f} {r['updates_per_server']:>12.2f}"
        )
    print("targets: lib/bound <= 1.3 at every size; naive/lib >= 8 at 100 servers; 1 update/server")


if __name__ == "__main__":
    main()
