"""Drift: servers whose launch settings no longer match what their group wants.

Locally, drift is the desired hash of a server's effective settings against
the hash recorded when they were applied (no AWS call, which is what keeps
the wave fast path free of launch-configuration calls). Remotely, the live
DRS launch configuration and EC2 launch template are read back and compared
field by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from pydantic import Field
from pydantic.alias_generators import to_camel

from drs_orchestration.aws.clients import ClientFactory
from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.aws.ec2 import Ec2Gateway
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import DrsOrchestrationError
from drs_orchestration.models import (
    ConfigStatus,
    DrsModel,
    LaunchSettings,
    ProtectionGroup,
)
from drs_orchestration.models.base import Timestamp
from drs_orchestration.services.launch_templates import read_template_settings

__all__ = ["DriftReport", "FieldDifference", "describe_error", "local_drift", "remote_drift"]


class FieldDifference(DrsModel):
    """One setting that DRS (or the launch template) holds differently from what is desired."""

    field: str
    desired: Any = None
    actual: Any = None


class DriftReport(DrsModel):
    """Which servers of a group no longer match their desired launch settings.

    Attributes:
        drifted: Servers whose applied settings differ from the desired ones,
            with a reason per server (locally: the hash; remotely: the fields).
        not_applied: Servers whose settings were never applied successfully
            (pending, failed, or new to the group).
        differences: For a remote check, each drifted server's differing fields.
        errors: For a remote check, servers whose configuration could not be read.
        checked_at: When the check started, by the checking service's clock.
    """

    group_id: str
    remote: bool = False
    checked_at: Timestamp
    drifted: dict[str, list[str]] = Field(default_factory=dict)
    not_applied: list[str] = Field(default_factory=list)
    differences: dict[str, list[FieldDifference]] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict)

    @property
    def has_drift(self) -> bool:
        """Whether any server is drifted or not applied."""
        return bool(self.drifted or self.not_applied)

    @property
    def servers_to_apply(self) -> list[str]:
        """Drifted and not-applied servers, sorted."""
        return sorted({*self.drifted, *self.not_applied})

    def _repr_html_(self) -> str:
        from drs_orchestration.reports.html import drift_report_html

        return drift_report_html(self)


def describe_error(error: BaseException) -> str:
    """A one-line description of an error for status records (AWS code first when known)."""
    if isinstance(error, DrsOrchestrationError):
        aws_code = error.details.get("awsCode")
        return f"{aws_code}: {error.message}" if aws_code else error.message
    return f"{type(error).__name__}: {error}"


def local_drift(
    group: ProtectionGroup, desired: Mapping[str, str], *, checked_at: datetime
) -> DriftReport:
    """Compare each server's desired hash with the hash recorded when it was applied.

    ``checked_at`` is the caller's clock reading, recorded on the report.
    """
    configs = group.launch_config_status.server_configs
    drifted: dict[str, list[str]] = {}
    not_applied: list[str] = []
    for sid, wanted in desired.items():
        cfg = configs.get(sid)
        if cfg is None or cfg.status is not ConfigStatus.READY or cfg.config_hash is None:
            not_applied.append(sid)
        elif cfg.config_hash != wanted:
            drifted[sid] = ["settings changed since they were applied"]
    return DriftReport(
        group_id=group.group_id,
        checked_at=checked_at,
        drifted=drifted,
        not_applied=sorted(not_applied),
    )


def remote_drift(
    group: ProtectionGroup,
    effective: Mapping[str, LaunchSettings],
    report: DriftReport,
    *,
    clients: ClientFactory,
    retry: RetryPolicy,
    concurrency: int,
) -> DriftReport:
    """Add to ``report`` the fields DRS and the launch templates really hold differently.

    A server whose configuration cannot be read is listed in ``errors``; it
    is never assumed to match.
    """
    differences: dict[str, list[FieldDifference]] = {}
    errors: dict[str, str] = {}
    with ThreadPoolExecutor(
        max_workers=min(concurrency, max(len(effective), 1)), thread_name_prefix="drs-drift"
    ) as pool:
        futures = {
            pool.submit(_read_back, group, sid, settings, clients, retry): sid
            for sid, settings in effective.items()
        }
        for future, sid in futures.items():
            try:
                found = future.result()
            except DrsOrchestrationError as exc:
                errors[sid] = describe_error(exc)
                continue
            if found:
                differences[sid] = found
    drifted = dict(report.drifted)
    for sid, diffs in differences.items():
        drifted[sid] = [f"{d.field}: desired {d.desired!r}, DRS has {d.actual!r}" for d in diffs]
    return report.model_copy(
        update={"remote": True, "drifted": drifted, "differences": differences, "errors": errors}
    )


def _same(desired: Any, actual: Any) -> bool:
    # An empty structure asks DRS to clear the setting; DRS then omits it.
    if desired == {}:
        return actual in (None, {})
    return bool(desired == actual)


def _read_back(
    group: ProtectionGroup,
    sid: str,
    settings: LaunchSettings,
    clients: ClientFactory,
    retry: RetryPolicy,
) -> list[FieldDifference]:
    drs = DrsGateway(clients, group.region, group.account, retry=retry)
    live: dict[str, Any] = dict(drs.get_launch_configuration(sid))
    diffs = [
        FieldDifference(field=field, desired=desired, actual=live.get(field))
        for field, desired in settings.drs_fields().items()
        if not _same(desired, live.get(field))
    ]
    if not settings.has_template_settings:
        return diffs
    template_id = live.get("ec2LaunchTemplateID")
    if not template_id:
        diffs.append(FieldDifference(field="ec2LaunchTemplateID", desired="present"))
        return diffs
    ec2 = Ec2Gateway(clients, group.region, group.account, retry=retry)
    actual = read_template_settings(
        ec2.default_template_version(template_id).get("LaunchTemplateData", {})
    )
    for field, wanted in settings.template_fields().items():
        have = actual.get(field)
        if field == "security_group_ids":
            wanted = sorted(wanted)  # noqa: PLW2901 - compared order-insensitively
        if field == "tags":
            # DRS keeps tags of its own on the template; only ours must match.
            have = {k: v for k, v in (have or {}).items() if k in wanted}
        if have != wanted:
            diffs.append(FieldDifference(field=to_camel(field), desired=wanted, actual=have))
    return diffs
