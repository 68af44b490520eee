"""Hypothesis strategies for every stored model, and the IDs and values inside them.

Every strategy yields *valid* values, so a test can use them as it would
real data:

- IDs match the real patterns: source server ``s-`` + 17 alphanumerics, job
  ``drsjob-`` + 17, EC2/recovery instance ``i-`` + 8 or 17 hex, ours
  ``pg-``/``rp-``/``ex-`` + 20 lowercase alphanumerics, accounts 12 digits.
- Timestamps are timezone-aware, in several zones (one with a sub-minute
  offset, as historical zones have), between 2000 and 2100.
- Models satisfy their validators: launch settings are consistent, failed
  servers carry errors, recovery plans have unique wave names, an acyclic
  ``depends_on`` and no server in two waves.
- Numbers fit every backend (finite, within DynamoDB's range), map keys are
  never empty.

Each public name is a function returning a ``SearchStrategy``::

    from hypothesis import given
    from tests.strategies import recovery_plans

    @given(recovery_plans())
    def test_plans_order_their_waves(plan: RecoveryPlan) -> None:
        assert len(plan.ordered_waves()) == len(plan.waves)

Functions taking arguments pin part of the value (for example
``executions(plan_id=...)`` or ``recovery_instance_records(source_execution_id=...)``).
"""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any, TypeVar

from hypothesis import strategies as st

from drs_orchestration.models import (
    AccountContext,
    Acknowledgement,
    CancelRequest,
    ConfigPath,
    ConfigStatus,
    EndedWaves,
    ErrorRecord,
    Execution,
    ExecutionStatus,
    ExecutionType,
    FailbackLaunch,
    FailbackMode,
    FailbackPhase,
    FailbackState,
    FailbackStep,
    FailurePolicy,
    InstancePair,
    JobRecord,
    JobStatus,
    LaunchConfigStatus,
    LaunchDisposition,
    LaunchIntoInstanceProperties,
    LaunchSettings,
    Licensing,
    MatchMethod,
    PhaseTimes,
    ProtectionGroup,
    RecoveryInstanceRecord,
    RecoveryMode,
    RecoveryPlan,
    RightSizingMethod,
    ServerConfigStatus,
    ServerIdentity,
    ServerLaunchStatus,
    ServerOutcome,
    SyncStatus,
    SyncTargetResult,
    Wave,
    WaveRun,
    WaveStatus,
    WaveSummary,
)
from drs_orchestration.models.failback import DRS_FAILBACK_STATES

__all__ = [
    "account_contexts",
    "account_ids",
    "durations",
    "ec2_instance_ids",
    "error_records",
    "execution_ids",
    "executions",
    "failback_states",
    "instance_pairs",
    "job_ids",
    "job_records",
    "json_values",
    "launch_config_statuses",
    "launch_settings",
    "phase_times",
    "plan_ids",
    "protection_group_ids",
    "protection_groups",
    "recovery_instance_ids",
    "recovery_instance_records",
    "recovery_plans",
    "regions",
    "server_config_statuses",
    "server_outcomes",
    "source_server_ids",
    "sync_statuses",
    "sync_target_results",
    "timestamps",
    "wave_runs",
    "waves",
]

T = TypeVar("T")
M = TypeVar("M")

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits
_HEX = "0123456789abcdef"
_ROLE_CHARS = _ALNUM + "_+=,.@-"

_ZONES = [
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-8)),
    timezone(timedelta(hours=12, minutes=45)),
    timezone(-timedelta(hours=3, minutes=30)),
    # Local mean time of Amsterdam until 1937: offsets with seconds exist.
    timezone(timedelta(minutes=19, seconds=32)),
]
_REGIONS = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "ap-south-1",
    "sa-east-1",
    "ca-central-1",
    "us-gov-west-1",
]


@cache
def _fixed(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=size, max_size=size)


def _model(model: Callable[..., M], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[M]:
    # Not st.builds: it infers the camelCase aliases as required arguments of
    # pydantic models and would pass every field twice.
    return st.fixed_dictionaries(fields).map(lambda values: model(**values))


@cache
def _optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


# Strategies are built once and cached: building them inside every draw costs
# more than drawing from them.


@cache
def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=low, max_value=high)


@cache
def _text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(max_size=max_size)


def _subset(draw: st.DrawFn, items: list[T]) -> list[T]:
    """Some of ``items``, in order (shrinks towards none)."""
    mask = draw(_ints(0, 2**16 - 1))
    return [item for i, item in enumerate(items) if mask >> (i % 16) & 1]


def _versions() -> st.SearchStrategy[int]:
    return _ints(0, 1000)


# --- identifiers -------------------------------------------------------------


@cache
def source_server_ids() -> st.SearchStrategy[str]:
    """DRS source server IDs: ``s-`` and 17 alphanumerics."""
    return _fixed(_ALNUM, 17).map(lambda s: "s-" + s)


@cache
def job_ids() -> st.SearchStrategy[str]:
    """DRS job IDs: ``drsjob-`` and 17 alphanumerics."""
    return _fixed(_ALNUM, 17).map(lambda s: "drsjob-" + s)


@cache
def ec2_instance_ids() -> st.SearchStrategy[str]:
    """EC2 instance IDs: ``i-`` and 8 or 17 hex digits."""
    return (_fixed(_HEX, 8) | _fixed(_HEX, 17)).map(lambda s: "i-" + s)


@cache
def recovery_instance_ids() -> st.SearchStrategy[str]:
    """DRS recovery instance IDs (the same form as EC2 instance IDs)."""
    return ec2_instance_ids()


@cache
def protection_group_ids() -> st.SearchStrategy[str]:
    """Our protection group IDs: ``pg-`` and 20 lowercase alphanumerics."""
    return _fixed(_LOWER_ALNUM, 20).map(lambda s: "pg-" + s)


@cache
def plan_ids() -> st.SearchStrategy[str]:
    """Our recovery plan IDs: ``rp-`` and 20 lowercase alphanumerics."""
    return _fixed(_LOWER_ALNUM, 20).map(lambda s: "rp-" + s)


@cache
def execution_ids() -> st.SearchStrategy[str]:
    """Our execution IDs: ``ex-`` and 20 lowercase alphanumerics."""
    return _fixed(_LOWER_ALNUM, 20).map(lambda s: "ex-" + s)


@cache
def account_ids() -> st.SearchStrategy[str]:
    """12-digit AWS account IDs."""
    return _fixed(string.digits, 12)


@cache
def regions() -> st.SearchStrategy[str]:
    """Real AWS region names (commercial and GovCloud)."""
    return st.sampled_from(_REGIONS)


@cache
def _subnet_ids() -> st.SearchStrategy[str]:
    return (_fixed(_HEX, 8) | _fixed(_HEX, 17)).map(lambda s: "subnet-" + s)


@cache
def _security_group_ids() -> st.SearchStrategy[str]:
    return (_fixed(_HEX, 8) | _fixed(_HEX, 17)).map(lambda s: "sg-" + s)


@cache
def _private_ips() -> st.SearchStrategy[str]:
    return st.ip_addresses(v=4, network="10.0.0.0/8").map(str)


# --- plain values ------------------------------------------------------------


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_CENTURY_US = 100 * 365 * 24 * 3600 * 10**6


@cache
def timestamps() -> st.SearchStrategy[datetime]:
    """Timezone-aware datetimes between 2000 and 2100, in several zones, with microseconds."""
    # Two draws (an offset and a zone) rather than one per calendar field: far cheaper.
    return st.builds(
        lambda us, zone: (_EPOCH + timedelta(microseconds=us)).astimezone(zone),
        _ints(0, _CENTURY_US),
        st.sampled_from(_ZONES),
    )


@cache
def durations() -> st.SearchStrategy[float]:
    """Non-negative, finite seconds, from microseconds to months, at full float precision."""
    return st.just(0.0) | st.floats(min_value=1e-6, max_value=1e7)


@cache
def _labels(max_size: int = 24) -> st.SearchStrategy[str]:
    """Non-empty text, any Unicode (names, codes, messages)."""
    return st.text(min_size=1, max_size=max_size)


@cache
def _names(max_size: int = 40) -> st.SearchStrategy[str]:
    """Names that stay non-empty when models strip their whitespace."""
    return _labels(max_size).filter(lambda s: s.strip() != "")


@cache
def json_values() -> st.SearchStrategy[Any]:
    """JSON-compatible values (as in ``ErrorRecord.details``) that every backend can store."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**18), max_value=10**18)
        | st.floats(min_value=-1e15, max_value=1e15).filter(lambda x: x == 0 or abs(x) >= 1e-9)
        | st.text(max_size=16)
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(_labels(8), children, max_size=3)
        ),
        max_leaves=4,
    )


@cache
def error_records() -> st.SearchStrategy[ErrorRecord]:
    """Errors as kept on records: code, message, JSON details, time."""
    return _model(
        ErrorRecord,
        code=_labels(),
        message=st.text(max_size=40),
        details=st.dictionaries(_labels(12), json_values(), max_size=2),
        at=timestamps(),
    )


def _account_context(
    parts: tuple[str, str, str, str, str | None, str | None, str],
) -> AccountContext:
    account_id, partition, role_name, role, external_id, region, session_name = parts
    return AccountContext(
        account_id=account_id,
        role_name=role_name if role == "name" else None,
        role_arn=f"arn:{partition}:iam::{account_id}:role/{role_name}" if role == "arn" else None,
        external_id=external_id,
        region=region,
        partition=partition,
        session_name=session_name,
    )


@cache
def account_contexts() -> st.SearchStrategy[AccountContext]:
    """Accounts with no role, a role name, or a role ARN in the same account."""
    return st.tuples(
        account_ids(),
        st.sampled_from(["aws", "aws-us-gov", "aws-cn"]),
        st.text(alphabet=_ROLE_CHARS + "/", min_size=1, max_size=30),
        st.sampled_from(["none", "name", "arn"]),
        _optional(st.text(min_size=2, max_size=20)),
        _optional(regions()),
        st.text(alphabet=_ROLE_CHARS, min_size=2, max_size=32),
    ).map(_account_context)


# --- protection groups -------------------------------------------------------


@cache
def _aws_tag_text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    # AWS's tag character set (letters, numbers, space separators, _ . : / = + - @), kept
    # to the Basic Multilingual Plane so Python's and the validator's Unicode tables agree.
    alphabet = st.characters(
        categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No", "Zs"),
        include_characters="_.:/=+-@",
        max_codepoint=0xFFFF,
    )
    return st.text(alphabet, min_size=min_size, max_size=max_size)


def _consistent_launch_settings(fields: dict[str, Any]) -> LaunchSettings:
    # Resolve the combinations LaunchSettings refuses, the way a user would.
    launches_into_instance = fields["launch_into_instance_properties"] is not None
    if fields["copy_private_ip"] and (launches_into_instance or fields["static_private_ip"]):
        fields["copy_private_ip"] = False
    if fields["copy_tags"] and launches_into_instance:
        fields["copy_tags"] = False
    # An instance type is only kept by DRS with right-sizing off (unset means DRS's BASIC).
    if fields["instance_type"] is not None:
        fields["target_instance_type_right_sizing_method"] = RightSizingMethod.NONE
    return LaunchSettings(**{k: v for k, v in fields.items() if v is not None})


@cache
def launch_settings() -> st.SearchStrategy[LaunchSettings]:
    """Consistent launch settings (each field independently set or left to DRS)."""
    optional_bool = _optional(st.booleans())
    return st.fixed_dictionaries(
        {
            "name": _optional(st.text(max_size=40)),
            "launch_disposition": _optional(st.sampled_from(LaunchDisposition)),
            "target_instance_type_right_sizing_method": _optional(
                st.sampled_from(RightSizingMethod)
            ),
            "copy_private_ip": optional_bool,
            "copy_tags": optional_bool,
            "licensing": _optional(_model(Licensing, os_byol=optional_bool)),
            "post_launch_enabled": optional_bool,
            "launch_into_instance_properties": _optional(
                ec2_instance_ids().map(
                    lambda i: LaunchIntoInstanceProperties(launch_into_ec2_instance_id=i)
                )
            ),
            "recovery_mode": _optional(st.sampled_from(RecoveryMode)),
            "instance_type": _optional(
                st.from_regex(r"[a-z][a-z0-9-]{0,6}\.[a-z0-9]{1,8}", fullmatch=True)
            ),
            "subnet_id": _optional(_subnet_ids()),
            "security_group_ids": _optional(
                st.lists(_security_group_ids(), min_size=1, max_size=5, unique=True)
            ),
            "static_private_ip": _optional(_private_ips()),
            "iam_instance_profile": _optional(
                st.text(alphabet=_ROLE_CHARS, min_size=1, max_size=20)
                | account_ids().map(lambda a: f"arn:aws:iam::{a}:instance-profile/drs-recovered")
            ),
            "tags": _optional(
                st.dictionaries(_aws_tag_text(1, 20), _aws_tag_text(0, 30), max_size=4).filter(
                    lambda tags: not any(k.lower().startswith("aws:") for k in tags)
                )
            ),
        }
    ).map(_consistent_launch_settings)


@cache
def _config_hashes() -> st.SearchStrategy[str]:
    return _fixed(_HEX, 64).map(lambda h: "sha256:" + h)


@cache
def server_config_statuses() -> st.SearchStrategy[ServerConfigStatus]:
    """A server's applied configuration: ready ones carry a hash, failed ones an error."""
    common = {
        "last_applied": _optional(timestamps()),
        "launch_template_version": _optional(_ints(1, 10**6)),
    }
    return st.one_of(
        _model(
            ServerConfigStatus,
            status=st.just(ConfigStatus.PENDING),
            config_hash=_optional(_config_hashes()),
            errors=st.lists(_labels(40), max_size=2),
            **common,
        ),
        _model(
            ServerConfigStatus,
            status=st.just(ConfigStatus.READY),
            config_hash=_config_hashes(),
            errors=st.lists(_labels(40), max_size=2),
            **common,
        ),
        _model(
            ServerConfigStatus,
            status=st.just(ConfigStatus.FAILED),
            config_hash=_optional(_config_hashes()),
            errors=st.lists(_labels(40), min_size=1, max_size=2),
            **common,
        ),
    )


@cache
def _config_status_and_time() -> st.SearchStrategy[tuple[ConfigStatus, datetime | None]]:
    # last_applied is required on every status but not_configured.
    return st.tuples(st.just(ConfigStatus.NOT_CONFIGURED), _optional(timestamps())) | st.tuples(
        st.sampled_from([s for s in ConfigStatus if s is not ConfigStatus.NOT_CONFIGURED]),
        timestamps(),
    )


@cache
def _server_id_lists(max_size: int) -> st.SearchStrategy[list[str]]:
    return st.lists(source_server_ids(), max_size=max_size, unique=True)


@st.composite
def launch_config_statuses(
    draw: st.DrawFn, server_ids: list[str] | None = None
) -> LaunchConfigStatus:
    """A group's launch-configuration status, with per-server status for some of ``server_ids``."""
    if server_ids is None:
        server_ids = draw(_server_id_lists(4))
    status, last_applied = draw(_config_status_and_time())
    return LaunchConfigStatus(
        status=status,
        last_applied=last_applied,
        applied_by=draw(_optional(_labels())),
        apply_id=draw(_optional(_fixed(_HEX, 32))),
        server_configs={sid: draw(server_config_statuses()) for sid in _subset(draw, server_ids)},
        errors=draw(st.lists(_labels(40), max_size=2)),
    )


@cache
def _group_fields() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "group_id": protection_group_ids(),
            "name": _names(),
            "description": _optional(_text(60)),
            "region": regions(),
            "account": _optional(account_contexts()),
            "server_selection_tags": _optional(
                st.dictionaries(
                    _aws_tag_text(1, 20), _aws_tag_text(0, 30), min_size=1, max_size=3
                ).filter(lambda tags: not any(k.lower().startswith("aws:") for k in tags))
            ),
            "launch_settings": launch_settings(),
            "created_at": timestamps(),
            "updated_at": timestamps(),
            "version": _versions(),
        }
    )


@st.composite
def protection_groups(draw: st.DrawFn) -> ProtectionGroup:
    """Protection groups with servers, overrides for some of them, and a config status."""
    server_ids = draw(_server_id_lists(6))
    return ProtectionGroup(
        source_server_ids=server_ids,
        server_overrides={sid: draw(launch_settings()) for sid in _subset(draw, server_ids)},
        launch_config_status=draw(launch_config_statuses(server_ids)),
        **draw(_group_fields()),
    )


# --- recovery plans ----------------------------------------------------------


@cache
def _wave_names() -> st.SearchStrategy[str]:
    return st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_ .:/=+@-]{0,30}", fullmatch=True)


@cache
def _wave_fields() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "region": _optional(regions()),
            "account": _optional(account_contexts()),
            "pause_before": st.booleans(),
            "point_in_time": _optional(timestamps()),
            "timeout_s": _ints(1, 7 * 24 * 3600),
        }
    )


@cache
def _group_id_lists(min_size: int) -> st.SearchStrategy[list[str]]:
    return st.lists(protection_group_ids(), min_size=min_size, max_size=3, unique=True)


@st.composite
def waves(
    draw: st.DrawFn,
    name: str | None = None,
    server_ids: list[str] | None = None,
    depends_on: list[str] | None = None,
    order: int | None = None,
) -> Wave:
    """One wave; a recovery plan passes the name, servers and dependencies it chose."""
    servers = draw(_server_id_lists(4)) if server_ids is None else server_ids
    return Wave(
        name=draw(_wave_names()) if name is None else name,
        order=order,
        # A wave needs protection groups or servers.
        protection_group_ids=draw(_group_id_lists(0 if servers else 1)),
        server_ids=servers,
        depends_on=depends_on or [],
        **draw(_wave_fields()),
    )


@cache
def _distinct_ints(size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(_ints(0, 100), min_size=size, max_size=size, unique=True)


@cache
def _plan_fields() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "plan_id": plan_ids(),
            "name": _names(),
            "description": _optional(_text(60)),
            "failure_policy": st.sampled_from(FailurePolicy),
            "allow_concurrent_waves": st.booleans(),
            "created_at": timestamps(),
            "updated_at": timestamps(),
            "version": _versions(),
        }
    )


@st.composite
def recovery_plans(draw: st.DrawFn) -> RecoveryPlan:
    """Valid plans: unique wave names and orders, acyclic dependencies, no server in two waves.

    Waves depend only on waves drawn before them (so there is no cycle) and
    are then shuffled, so dependencies also point forwards in the list.
    """
    names = draw(st.lists(_wave_names(), min_size=1, max_size=5, unique=True))
    servers = draw(_server_id_lists(10))
    owner = [draw(_ints(0, 1000)) % len(names) for _ in servers]
    orders = draw(_distinct_ints(len(names)))
    built = [
        draw(
            waves(
                name=name,
                server_ids=[sid for sid, i in zip(servers, owner, strict=True) if i == index],
                depends_on=_subset(draw, names[:index]),
                order=orders[index] if draw(st.booleans()) else None,
            )
        )
        for index, name in enumerate(names)
    ]
    shuffle = draw(_distinct_ints(len(built)))
    return RecoveryPlan(
        waves=[wave for _, wave in sorted(zip(shuffle, built, strict=True), key=lambda p: p[0])],
        **draw(_plan_fields()),
    )


# --- executions --------------------------------------------------------------


_PHASES = (
    "job_start",
    "snapshot_start",
    "snapshot_end",
    "conversion_start",
    "conversion_end",
    "launch_start",
    "launch_end",
    "launch_failed",
    "job_end",
)


def _phase_times(parts: tuple[datetime, list[int | None]]) -> PhaseTimes:
    start, steps = parts
    times: dict[str, datetime] = {}
    at = start
    for name, step in zip(_PHASES, steps, strict=False):
        if step is not None:
            at += timedelta(milliseconds=step)
            times[name] = at
    return PhaseTimes(**times)


@cache
def phase_times() -> st.SearchStrategy[PhaseTimes]:
    """Per-server phase times in the order DRS reports them, each present or not."""
    return st.tuples(
        timestamps(), st.lists(_optional(_ints(0, 3_600_000)), max_size=len(_PHASES))
    ).map(_phase_times)


@cache
def _server_outcome_fields() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "status": st.sampled_from(ServerLaunchStatus),
            "job_id": _optional(job_ids()),
            "recovery_snapshot_id": _optional(_fixed(_HEX, 17).map(lambda h: "pit-" + h)),
            "recovery_instance_id": _optional(recovery_instance_ids()),
            "ec2_instance_id": _optional(ec2_instance_ids()),
            "phases": phase_times(),
            "skipped_reason": _optional(_text(30)),
            "error": _optional(error_records()),
            "identity": _optional(_server_identities()),
        }
    )


def server_outcomes(source_server_id: str | None = None) -> st.SearchStrategy[ServerOutcome]:
    """What happened to one server in a wave (to ``source_server_id`` if given)."""
    ids = source_server_ids() if source_server_id is None else st.just(source_server_id)
    return st.tuples(ids, _server_outcome_fields()).map(
        lambda p: ServerOutcome(source_server_id=p[0], **p[1])
    )


@cache
def job_records() -> st.SearchStrategy[JobRecord]:
    """A chunk of a wave and its DRS job (intent, started or finished)."""
    return _model(
        JobRecord,
        chunk_index=st.integers(min_value=0, max_value=100),
        idempotency_key=_labels(40),
        server_ids=st.lists(source_server_ids(), min_size=1, max_size=4, unique=True),
        region=regions(),
        account_id=_optional(account_ids()),
        job_id=_optional(job_ids()),
        status=st.sampled_from(JobStatus),
        intent_at=timestamps(),
        started_at=_optional(timestamps()),
        ended_at=_optional(timestamps()),
        error=_optional(error_records()),
    )


@cache
def _wave_run_fields() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "status": st.sampled_from(WaveStatus),
            "region": regions(),
            "account": _optional(account_contexts()),
            "config_path": _optional(st.sampled_from(ConfigPath)),
            "jobs": st.lists(job_records(), max_size=2),
            "started_at": _optional(timestamps()),
            "ended_at": _optional(timestamps()),
            "deadline": _optional(timestamps()),
            "error": _optional(error_records()),
        }
    )


@st.composite
def wave_runs(draw: st.DrawFn, wave_name: str | None = None) -> WaveRun:
    """The run of one wave, with jobs and an outcome for some of its servers."""
    server_ids = draw(_server_id_lists(4))
    return WaveRun(
        wave_name=draw(_wave_names()) if wave_name is None else wave_name,
        server_ids=server_ids,
        servers={
            sid: ServerOutcome(source_server_id=sid, **draw(_server_outcome_fields()))
            for sid in _subset(draw, server_ids)
        },
        **draw(_wave_run_fields()),
    )


@cache
def _execution_fields() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "execution_id": execution_ids(),
            "plan_name": _names(),
            "plan_version": _ints(0, 10**6),
            "execution_type": st.sampled_from(ExecutionType),
            "status": st.sampled_from(ExecutionStatus),
            "skip_not_ready": st.booleans(),
            "started_by": _optional(_labels()),
            "cancel_request": _optional(
                _model(
                    CancelRequest,
                    requested_by=_labels(),
                    reason=_optional(_text(30)),
                    requested_at=timestamps(),
                )
            ),
            "error": _optional(error_records()),
            "created_at": timestamps(),
            "started_at": _optional(timestamps()),
            "ended_at": _optional(timestamps()),
            "updated_at": timestamps(),
            "expires_at": timestamps(),
            "version": _versions(),
        }
    )


@st.composite
def executions(draw: st.DrawFn, plan_id: str | None = None) -> Execution:
    """Executions in any state, with wave runs (unique wave names); pin ``plan_id`` if given."""
    names = draw(st.lists(_wave_names(), max_size=3, unique=True))
    paused = _subset(draw, names)
    return Execution(
        plan_id=draw(plan_ids()) if plan_id is None else plan_id,
        waves=[draw(wave_runs(name)) for name in names],
        paused_before=paused[0] if paused else None,
        **draw(_execution_fields()),
    )


def without_derived(execution: Execution) -> Execution:
    """``execution`` less what storage derives when it stores one (summaries, ended waves)."""
    return execution.model_copy(
        update={
            "waves": [w.model_copy(update={"summary": WaveSummary()}) for w in execution.waves],
            "ended_waves": EndedWaves(),
        }
    )


# --- recovery instances and sync status ---------------------------------------


@cache
def recovery_instance_records(
    source_execution_id: str | None = None,
) -> st.SearchStrategy[RecoveryInstanceRecord]:
    """Cached recovery instances; pass ``source_execution_id`` to pin the indexed attribute."""
    optional_text = _optional(_text(20))
    return _model(
        RecoveryInstanceRecord,
        source_server_id=source_server_ids(),
        recovery_instance_id=recovery_instance_ids(),
        ec2_instance_id=_optional(ec2_instance_ids()),
        region=regions(),
        account_id=_optional(account_ids()),
        is_drill=_optional(st.booleans()),
        job_id=_optional(job_ids()),
        source_execution_id=(
            _optional(execution_ids())
            if source_execution_id is None
            else st.just(source_execution_id)
        ),
        ec2_instance_state=_optional(
            st.sampled_from(["pending", "running", "stopping", "stopped", "terminated"])
        ),
        instance_type=optional_text,
        private_ip=_optional(_private_ips()),
        public_ip=_optional(st.ip_addresses(v=4).map(str)),
        subnet_id=_optional(_subnet_ids()),
        vpc_id=_optional(_fixed(_HEX, 17).map(lambda h: "vpc-" + h)),
        availability_zone=optional_text,
        launch_time=_optional(timestamps()),
        name_tag=optional_text,
        source_hostname=optional_text,
        replication_staging_account_id=_optional(account_ids()),
        origin_environment=_optional(st.sampled_from(["ON_PREMISES", "AWS"])),
        origin_availability_zone=optional_text,
        source_region=_optional(regions()),
        source_account_id=_optional(account_ids()),
        source_instance_id=_optional(ec2_instance_ids()),
        source_vpc_id=optional_text,
        failback_state=optional_text,
        last_synced=timestamps(),
    )


@cache
def sync_target_results() -> st.SearchStrategy[SyncTargetResult]:
    """The outcome of syncing one account and region."""
    counts = st.integers(min_value=0, max_value=10**5)
    return _model(
        SyncTargetResult,
        region=regions(),
        account_id=_optional(account_ids()),
        instances=counts,
        written=counts,
        deleted=counts,
        error=_optional(error_records()),
    )


@cache
def sync_statuses() -> st.SearchStrategy[SyncStatus]:
    """Cache sync statuses, finished or not, with per-target results."""
    return _model(
        SyncStatus,
        started_at=timestamps(),
        finished_at=_optional(timestamps()),
        duration_s=_optional(durations()),
        targets=st.lists(sync_target_results(), max_size=3),
        version=_versions(),
    )


# --- instance pairs and failback ----------------------------------------------


@cache
def instance_pairs() -> st.SearchStrategy[InstancePair]:
    """Source servers paired with target instances, validated or not."""
    return _model(
        InstancePair,
        source_server_id=source_server_ids(),
        target_instance_id=ec2_instance_ids(),
        region=regions(),
        account_id=_optional(account_ids()),
        group_id=_optional(protection_group_ids()),
        match_method=st.sampled_from(MatchMethod),
        source_name=_optional(_text(20)),
        target_name=_optional(_text(20)),
        source_private_ip=_optional(_private_ips()),
        target_private_ip=_optional(_private_ips()),
        validated=st.booleans(),
        validation_errors=st.lists(_labels(30), max_size=2),
        warnings=st.lists(_labels(30), max_size=2),
        updated_at=timestamps(),
        version=_versions(),
    )


@cache
def _failback_steps() -> st.SearchStrategy[FailbackStep]:
    return _model(
        FailbackStep,
        requested_at=_optional(timestamps()),
        attempts=_ints(0, 5),
        done_at=_optional(timestamps()),
        reversed_source_server_arn=_optional(_labels(40)),
        replication_state=_optional(st.sampled_from(["INITIAL_SYNC", "CONTINUOUS"])),
        job_id=_optional(job_ids()),
        skipped_reason=_optional(_text(30)),
        error=_optional(error_records()),
    )


@cache
def _server_identities() -> st.SearchStrategy[ServerIdentity]:
    return _model(
        ServerIdentity,
        target_instance_id=ec2_instance_ids(),
        source_private_ip=_optional(_private_ips()),
        target_private_ip=_optional(_private_ips()),
        recovery_private_ip=_optional(_private_ips()),
        recovery_ec2_instance_id=_optional(ec2_instance_ids()),
        captured_at=_optional(timestamps()),
        verified_at=_optional(timestamps()),
        instance_kept=_optional(st.booleans()),
        ip_preserved=_optional(st.booleans()),
        error=_optional(error_records()),
    )


@cache
def _failback_launches() -> st.SearchStrategy[FailbackLaunch]:
    return _model(
        FailbackLaunch,
        launch_id=_fixed(string.ascii_lowercase + string.digits, 20).map(lambda s: f"fl-{s}"),
        drill=st.booleans(),
        into_original=st.booleans(),
        add_tag=st.booleans(),
        requested_at=timestamps(),
        plan_name=_text(40).filter(bool),
        plan_id=_optional(plan_ids()),
        execution_id=_optional(execution_ids()),
        group_id=_optional(protection_group_ids()),
        job_id=_optional(job_ids()),
        start_requested_at=_optional(timestamps()),
    )


@cache
def failback_states() -> st.SearchStrategy[FailbackState]:
    """Failback state of a recovery instance, in any phase."""
    return _model(
        FailbackState,
        recovery_instance_id=recovery_instance_ids(),
        execution_id=execution_ids(),
        wave_name=_wave_names(),
        source_server_id=source_server_ids(),
        region=regions(),
        account=_optional(account_contexts()),
        ec2_instance_id=_optional(ec2_instance_ids()),
        mode=st.sampled_from(FailbackMode),
        phase=st.sampled_from(FailbackPhase),
        execution_is_drill=st.booleans(),
        staging_account_id=_optional(account_ids()),
        identity=_optional(_server_identities()),
        ip_acknowledgement=_optional(
            _model(
                Acknowledgement,
                acknowledged_by=_labels(20),
                reason=_optional(_text(40)),
                at=timestamps(),
            )
        ),
        reverse_requested_at=_optional(timestamps()),
        reverse_attempts=_ints(0, 3),
        reversed_source_server_id=_optional(source_server_ids()),
        reversed_region=_optional(regions()),
        replication_state=_optional(st.sampled_from(["INITIATING", "CONTINUOUS", "STALLED"])),
        lag_seconds=_optional(durations()),
        drs_failback_state=_optional(st.sampled_from(sorted(DRS_FAILBACK_STATES))),
        deadline=_optional(timestamps()),
        launch=_optional(_failback_launches()),
        launch_into_instance_id=_optional(ec2_instance_ids()),
        failback_private_ip=_optional(_private_ips()),
        launched_into_original=_optional(st.booleans()),
        reprotect=_optional(_failback_steps()),
        terminate=_optional(_failback_steps()),
        error=_optional(error_records()),
        warnings=st.lists(_labels(30), max_size=2),
        created_at=timestamps(),
        updated_at=timestamps(),
        version=_versions(),
    )
