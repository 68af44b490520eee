"""Failback: fail over with identity kept, then come home (in AWS or on premises)."""

from drs_orchestration.services.failback.identity import (
    capture_identities,
    verify_identities,
)

__all__ = ["capture_identities", "verify_identities"]
