"""Instance matching: the library's hash join vs a naive all-pairs loop, on prebuilt inputs.

Pairs N source servers with M target instances by the matcher's pure
pairing function (``pair_instances``: explicit pairs, original instances,
normalised names), with inputs built beforehand, and reports CPU time
(``time.process_time``, best of ``--repeats``) side by side with a naive
baseline that compares every source with every target — the O(n·m) loop
the seeds' ``_match_by_name_tag`` implies — timed on a smaller size, where
it finishes, and extrapolated to the full size.

Inputs look like a real estate: names spelled with different case, spacing
and a ``-dr`` suffix on the targets, 1% explicit pairs, 1% failing-back
servers with an original instance, 2% ambiguous names, 3% sources and 5%
targets with no counterpart.

Goal: 10,000 x 10,000 in under 1 s of CPU.

Run: ``.venv/bin/python benchmarks/instance_matcher.py [--sources 10000] [--targets 10000]
[--naive-size 2000] [--repeats 3] [--markdown benchmarks/results/instance_matcher.md]``
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import Goal, Report, command_line
from drs_orchestration.models import MatchRules
from drs_orchestration.services.matching import (
    NameNormaliser,
    SourceCandidate,
    TargetCandidate,
    pair_instances,
)

GOAL_S = 1.0
SUFFIX = "-dr"


@dataclass
class Inputs:
    """Prebuilt pairing inputs."""

    sources: list[SourceCandidate]
    targets: list[TargetCandidate]
    rules: MatchRules


def _server_id(n: int) -> str:
    return f"s-{n:017d}"


def _instance_id(n: int) -> str:
    return f"i-{n:017x}"


def _spell(name: str, rng: random.Random) -> str:
    """The same name as another team would type it."""
    choice = rng.randrange(4)
    if choice == 0:
        return name.upper()
    if choice == 1:
        return f"  {name} "
    if choice == 2:
        return name.replace("-", " - ", 1) if rng.random() < 0.1 else name.title()
    return name


def build(sources: int, targets: int, *, seed: int = 7) -> Inputs:
    """Sources and targets shaped like a real estate (see the module docstring)."""
    rng = random.Random(seed)
    names = [f"app-{n:06d}" for n in range(max(sources, targets))]
    source_items: list[SourceCandidate] = []
    target_items: list[TargetCandidate] = []
    explicit: dict[str, str] = {}
    paired_targets = int(targets * 0.95)
    for n in range(sources):
        sid = _server_id(n)
        name = names[n] if n < paired_targets and rng.random() > 0.03 else f"orphan-{n}"
        original = None
        if rng.random() < 0.01 and n < paired_targets:
            original = _instance_id(n)
        source_items.append(
            SourceCandidate(
                sid,
                name_tag=name if rng.random() < 0.8 else None,
                hostname=name,
                own_instance_id=_instance_id(10**9 + n),
                original_instance_id=original,
            )
        )
        if rng.random() < 0.01 and n < paired_targets:
            explicit[sid] = _instance_id((n + 1) % paired_targets)
    # One target per explicit pair at most: drop pairs that would share a target.
    seen: set[str] = set()
    explicit = {s: t for s, t in sorted(explicit.items()) if not (t in seen or seen.add(t))}
    for n in range(targets):
        name = names[n] + SUFFIX if n < paired_targets else f"spare-{n}"
        if rng.random() < 0.02:
            name = names[max(0, n - 1)] + SUFFIX  # a second instance with a neighbour's name
        target_items.append(TargetCandidate(_instance_id(n), name=_spell(name, rng)))
    rng.shuffle(source_items)
    rng.shuffle(target_items)
    return Inputs(
        source_items, target_items, MatchRules(explicit_pairs=explicit, name_suffixes=[SUFFIX])
    )


def naive_pairs(inputs: Inputs) -> int:
    """Every source compared with every target by normalised name (names normalised once)."""
    normalise = NameNormaliser(inputs.rules.name_prefixes, inputs.rules.name_suffixes)
    keys = [(t.instance_id, normalise(t.name) if t.name else "") for t in inputs.targets]
    fields = inputs.rules.source_names
    paired = 0
    for source in inputs.sources:
        name = source.name(fields)
        if not name:
            continue
        wanted = normalise(name)
        candidates = [instance for instance, key in keys if key == wanted]
        paired += len(candidates) == 1
    return paired


def cpu_seconds(work: Callable[[], object], repeats: int) -> float:
    """The best CPU time of ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def measure(sources: int, targets: int, naive_size: int, repeats: int) -> dict[str, float]:
    """Library at full size; library and naive at ``naive_size`` x ``naive_size``."""
    full = build(sources, targets)
    small = build(naive_size, naive_size)
    result = pair_instances(full.sources, full.targets, full.rules)
    library_s = cpu_seconds(lambda: pair_instances(full.sources, full.targets, full.rules), repeats)
    library_small_s = cpu_seconds(
        lambda: pair_instances(small.sources, small.targets, small.rules), repeats
    )
    naive_small_s = cpu_seconds(lambda: naive_pairs(small), 1)
    scale = (sources * targets) / (naive_size * naive_size)
    return {
        "sources": sources,
        "targets": targets,
        "pairs": len(result.pairs),
        "ambiguous": sum(len(a.source_server_ids) for a in result.ambiguous),
        "unmatched": len(result.unmatched_sources),
        "library_s": library_s,
        "naive_size": naive_size,
        "library_small_s": library_small_s,
        "naive_small_s": naive_small_s,
        "ratio_small": naive_small_s / library_small_s,
        "naive_full_s": naive_small_s * scale,
        "ratio_full": naive_small_s * scale / library_s,
    }


def main(argv: list[str] | None = None) -> list[Goal]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--naive-size", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = parser.parse_args(argv)
    out = Report("Instance matching", command_line(__file__, argv))
    r = measure(args.sources, args.targets, args.naive_size, args.repeats)
    out.heading(
        f"{r['sources']:,.0f} sources x {r['targets']:,.0f} targets: {r['pairs']:,.0f} paired, "
        f"{r['ambiguous']:,.0f} ambiguous, {r['unmatched']:,.0f} unmatched; CPU seconds, best "
        f"of {args.repeats}"
    )
    small = f"{r['naive_size']:,.0f} x {r['naive_size']:,.0f}"
    full = f"{r['sources']:,.0f} x {r['targets']:,.0f}"
    out.table(
        ["size", "library s", "naive s", "naive/library"],
        [
            [
                small,
                f"{r['library_small_s']:.3f}",
                f"{r['naive_small_s']:.3f}",
                f"{r['ratio_small']:.0f}x",
            ],
            [
                full,
                f"{r['library_s']:.3f}",
                f"{r['naive_full_s']:.1f}*",
                f"{r['ratio_full']:.0f}x",
            ],
        ],
    )
    out.note("* extrapolated from the smaller size (the naive loop grows with sources x targets)")
    goals = [
        Goal(
            f"{full} matched in under {GOAL_S:g} s of CPU",
            f"{r['library_s']:.3f} s",
            r["library_s"] < GOAL_S,
        )
    ]
    out.goals(goals)
    if args.markdown:
        out.write_markdown(args.markdown)
    return goals


if __name__ == "__main__":
    main()
