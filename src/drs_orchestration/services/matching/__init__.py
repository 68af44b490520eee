"""Instance matching: pair source servers with the existing instances DRS launches into.

:class:`InstanceMatcher` reads sources from DRS and targets from EC2, pairs
them with :func:`pair_instances` (explicit pairs, then original instances,
then normalised names — a hash join, linear in the inputs), checks every
pair, and applies the good ones as launch-configuration overrides of their
protection group.
"""

from drs_orchestration.services.matching.matcher import InstanceMatcher
from drs_orchestration.services.matching.pairing import (
    NameNormaliser,
    Pairing,
    SourceCandidate,
    TargetCandidate,
    TargetDecision,
    normalise_name,
    pair_instances,
)
from drs_orchestration.services.matching.stored import paired_targets

__all__ = [
    "InstanceMatcher",
    "NameNormaliser",
    "Pairing",
    "SourceCandidate",
    "TargetCandidate",
    "TargetDecision",
    "normalise_name",
    "pair_instances",
    "paired_targets",
]
