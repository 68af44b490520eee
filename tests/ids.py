"""Valid AWS-style identifiers for tests (the seeds' ``s-111`` style IDs are invalid)."""

from __future__ import annotations

import hashlib


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def server_id(n: int | str) -> str:
    """A valid DRS source server ID derived from ``n`` (``s-`` + 17 alphanumerics)."""
    return "s-" + _hex(f"server-{n}", 17)


def job_id(n: int | str) -> str:
    """A valid DRS job ID derived from ``n``."""
    return "drsjob-" + _hex(f"job-{n}", 17)


def instance_id(n: int | str) -> str:
    """A valid EC2 instance ID (17 hex) derived from ``n``."""
    return "i-" + _hex(f"instance-{n}", 17)
