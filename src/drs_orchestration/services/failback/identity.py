"""Identity on failover: a server launched into its paired instance keeps that instance and IP.

DRS launches into an existing instance only with ``copyPrivateIp`` off, so the
private IP a paired server keeps is the *target's* (pre-provisioned to match
the source where clients depend on it). Two wave steps call this module,
each once:

- the wave's preflight (:func:`capture_identities`): for each paired server
  about to launch, the source server's private IP (from DRS) and the target
  instance's (from EC2) are recorded on its outcome;
- the recording of a completed job's outcomes (:func:`verify_identities`):
  the recovery instance must *be* the target instance, with the target's
  private IP; a mismatch is recorded as a ``PrivateIPMismatch`` error (both
  IPs and what to do), which stops that server's failback until someone
  acknowledges it.

Both read only what they need (nothing for a wave without paired servers).
A retryable AWS error is raised before anything is recorded, so the step is
retried; any other error is recorded on the identity and the wave carries on
(a recovery never fails on bookkeeping), leaving the identity unverified.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.errors import DrsOrchestrationError, PrivateIPMismatchError
from drs_orchestration.models import ErrorRecord, ServerIdentity, WaveRun

__all__ = [
    "capture_identities",
    "captured_identity",
    "mismatch_remediation",
    "primary_private_ip",
    "verified_identity",
    "verify_identities",
]


def primary_private_ip(server: Mapping[str, Any] | None) -> str | None:
    """The first IP of a DRS source server's (or recovery instance's) primary interface."""
    if not server:
        return None
    properties = server.get("sourceProperties") or server.get("recoveryInstanceProperties") or {}
    nics = sorted(properties.get("networkInterfaces") or [], key=lambda n: not n.get("isPrimary"))
    for nic in nics:
        if nic.get("ips"):
            return str(nic["ips"][0])
    return None


def captured_identity(
    target_instance_id: str,
    *,
    source: Mapping[str, Any] | None,
    target: Mapping[str, Any] | None,
    at: datetime,
) -> ServerIdentity:
    """What a paired server's launch must keep, from its DRS source server and EC2 target."""
    identity = ServerIdentity(
        target_instance_id=target_instance_id,
        source_private_ip=primary_private_ip(source),
        target_private_ip=str(target["PrivateIpAddress"])
        if target and target.get("PrivateIpAddress")
        else None,
        captured_at=at,
    )
    if target is None:
        identity.error = ErrorRecord(
            code="TargetNotFound",
            message=f"paired instance {target_instance_id} was not found in EC2 before the "
            "launch; DRS cannot launch into it (check the pair and the instance)",
            at=at,
        )
    return identity


def mismatch_remediation(identity: ServerIdentity, recovery_ec2_instance_id: str | None) -> str:
    """What to do about a launch that did not keep the paired instance or its IP."""
    if recovery_ec2_instance_id != identity.target_instance_id:
        return (
            f"DRS launched {recovery_ec2_instance_id or 'no instance'} instead of launching into "
            f"paired instance {identity.target_instance_id}: check the server's "
            "launchIntoInstanceProperties, the instance's AWSDRS=AllowLaunchingIntoThisInstance "
            "tag and the job log; move clients to the new instance or fail over again, then "
            "acknowledge the mismatch to fail back"
        )
    return (
        f"give instance {identity.target_instance_id} its private IP "
        f"{identity.target_private_ip} again (or update what depends on it), check that "
        "copyPrivateIp is off and the primary network interface was not replaced, then "
        "acknowledge the mismatch to fail back"
    )


def verified_identity(
    identity: ServerIdentity,
    source_server_id: str,
    *,
    recovery_ec2_instance_id: str | None,
    recovery_private_ip: str | None,
    at: datetime,
) -> ServerIdentity:
    """``identity`` with the verdict on a finished launch (a copy; the input is not changed)."""
    kept = recovery_ec2_instance_id == identity.target_instance_id
    preserved: bool | None
    if not kept:
        preserved = False
    elif identity.target_private_ip is None:
        preserved = None  # the IP before the launch is unknown: nothing to compare with
    else:
        preserved = recovery_private_ip == identity.target_private_ip
    verdict = identity.model_copy(
        update={
            "recovery_ec2_instance_id": recovery_ec2_instance_id,
            "recovery_private_ip": recovery_private_ip,
            "verified_at": at,
            "instance_kept": kept,
            "ip_preserved": preserved,
            "error": None,
        }
    )
    if preserved is None:
        verdict.error = identity.error or ErrorRecord(
            code="IdentityUnverified",
            message=f"the private IP of {identity.target_instance_id} before the launch is "
            "unknown, so keeping it cannot be verified; check it and acknowledge",
            at=at,
        )
    elif not preserved:
        error = PrivateIPMismatchError(
            source_server_id,
            expected_ip=identity.target_private_ip,
            actual_ip=recovery_private_ip,
            remediation=mismatch_remediation(identity, recovery_ec2_instance_id),
        )
        verdict.error = ErrorRecord.from_exception(error, at=at)
    return verdict


def _unreadable(error: DrsOrchestrationError, what: str, at: datetime) -> ErrorRecord:
    return ErrorRecord(
        code=error.code,
        message=f"{what} could not be read ({error.message}); the identity is not verified",
        details=error.to_dict()["details"],
        at=at,
    )


def capture_identities(
    drs: DrsGateway, run: WaveRun, launching: Iterable[str], *, at: datetime
) -> None:
    """Record, on each paired server of ``launching``, the IPs its launch must keep.

    Called once by the wave's preflight with the servers the wave will launch.

    Raises:
        AwsApiError: a retryable error (nothing is recorded; the step is retried).
    """
    paired = {sid: run.launch_into[sid] for sid in launching if sid in run.launch_into}
    if not paired:
        return
    try:
        sources = {
            s["sourceServerID"]: s
            for s in drs.describe_source_servers(source_server_ids=sorted(paired))
        }
        targets = {
            str(i["InstanceId"]): i for i in drs.ec2().describe_instances(sorted(paired.values()))
        }
    except DrsOrchestrationError as error:
        if error.retryable:
            raise
        for sid, target in paired.items():
            run.servers[sid].identity = ServerIdentity(
                target_instance_id=target,
                captured_at=at,
                error=_unreadable(error, "the source server or paired instance", at),
            )
        return
    for sid, target in paired.items():
        run.servers[sid].identity = captured_identity(
            target,
            source=sources.get(sid),
            target=targets.get(target),
            at=at,
        )


def verify_identities(
    drs: DrsGateway, run: WaveRun, server_ids: Iterable[str], *, at: datetime
) -> None:
    """Check each paired server of ``server_ids`` that got a recovery instance.

    Called once when a completed job's outcomes are recorded.

    Raises:
        AwsApiError: a retryable error (nothing is recorded; the step is retried).
    """
    checked = {
        sid: outcome
        for sid in server_ids
        if (outcome := run.servers.get(sid)) is not None
        and outcome.identity is not None
        and outcome.recovery_instance_id is not None
    }
    if not checked:
        return
    try:
        instances = {
            str(ri["recoveryInstanceID"]): ri
            for ri in drs.describe_recovery_instances(
                recovery_instance_ids=sorted(
                    {str(o.recovery_instance_id) for o in checked.values()}
                )
            )
        }
        ec2_ids = {
            str(ri.get("ec2InstanceID")) for ri in instances.values() if ri.get("ec2InstanceID")
        }
        ec2 = {str(i["InstanceId"]): i for i in drs.ec2().describe_instances(sorted(ec2_ids))}
    except DrsOrchestrationError as error:
        if error.retryable:
            raise
        for outcome in checked.values():
            assert outcome.identity is not None
            outcome.identity = outcome.identity.model_copy(
                update={"error": _unreadable(error, "the recovery instance", at)}
            )
        return
    for sid, outcome in checked.items():
        assert outcome.identity is not None
        instance = instances.get(str(outcome.recovery_instance_id)) or {}
        ec2_id = instance.get("ec2InstanceID") or None
        found = ec2.get(str(ec2_id)) if ec2_id else None
        ip = (found or {}).get("PrivateIpAddress") or primary_private_ip(instance)
        outcome.identity = verified_identity(
            outcome.identity,
            sid,
            recovery_ec2_instance_id=str(ec2_id) if ec2_id else None,
            recovery_private_ip=str(ip) if ip else None,
            at=at,
        )
