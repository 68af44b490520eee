"""The exceptions drs-orchestration raises.

Every error carries a stable ``code``, a human ``message``, structured
``details`` and the HTTP status an adapter should answer with; ``to_dict()``
gives the JSON body.  AWS ``ClientError`` is translated into these at one
boundary (:func:`drs_orchestration.aws.errors.translate_aws_errors`), and each
storage backend translates its own failures (``sqlite3`` errors, undecodable
records, DynamoDB throttling) in one place of its module, always with
``raise ... from`` so the original stays on ``__cause__``::

    DrsOrchestrationError                       500
    ├── ValidationError                         400
    │   └── LaunchConfigValidationError         400
    ├── NotFoundError                           404
    ├── ConflictError                           409
    │   ├── ConcurrentModificationError         409
    │   └── TerminationRefusedError             409
    ├── InvalidStateTransitionError             409
    ├── LaunchConfigApplicationError            502
    │   └── LaunchConfigTimeoutError            504
    ├── ServersNotReadyError                    409
    ├── RecoveryError                           502
    │   ├── JobTimeoutError                     504
    │   └── ReplicationTimeoutError             504
    ├── InstanceMatchingError                   422
    ├── PrivateIPMismatchError                  409
    ├── AgentInstallationError                  502
    ├── CrossAccountError                       403
    ├── StorageError                            500
    │   ├── StorageUnavailableError             503 (retryable)
    │   └── CorruptRecordError                  500
    └── AwsApiError                             502 (or the AWS status)
        ├── ThrottledError                      429
        ├── AwsAccessDeniedError                403
        ├── AwsResourceNotFoundError            404
        ├── AwsConflictError                    409
        ├── AwsValidationError                  400
        └── ServiceQuotaExceededError           429
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pydantic

__all__ = [
    "AgentInstallationError",
    "AwsAccessDeniedError",
    "AwsApiError",
    "AwsConflictError",
    "AwsResourceNotFoundError",
    "AwsValidationError",
    "ConcurrentModificationError",
    "ConflictError",
    "CorruptRecordError",
    "CrossAccountError",
    "DrsOrchestrationError",
    "FieldProblem",
    "InstanceMatchingError",
    "InvalidFields",
    "InvalidStateTransitionError",
    "JobTimeoutError",
    "LaunchConfigApplicationError",
    "LaunchConfigTimeoutError",
    "LaunchConfigValidationError",
    "NotFoundError",
    "PrivateIPMismatchError",
    "RecoveryError",
    "ReplicationTimeoutError",
    "ServersNotReadyError",
    "ServiceQuotaExceededError",
    "StorageError",
    "StorageUnavailableError",
    "TerminationRefusedError",
    "ThrottledError",
    "ValidationError",
]


class DrsOrchestrationError(Exception):
    """Base class of every error the library raises.

    Attributes:
        code: Stable machine-readable identifier, e.g. ``"NotFound"``.
        message: Human-readable explanation.
        details: Structured context (IDs, fields, AWS error data).
        http_status: The status code an API adapter should answer with.
        retryable: Whether the same request may succeed if made again later
            (throttling, a 5xx answer, a lost connection). Decided once, where
            the error is raised; retry loops read it instead of re-classifying.
    """

    code: ClassVar[str] = "DrsOrchestration"
    http_status: ClassVar[int] = 500
    retryable: bool = False

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable body: ``{"error": code, "message": ..., "details": ...}``."""
        return {"error": self.code, "message": self.message, "details": _jsonable(self.details)}

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, details={self.details!r})"


class FieldProblem(dict[str, Any]):
    """One invalid field: ``{"field": "waves.0.name", "message": ..., "value": ...}``."""


class InvalidFields(ValueError):  # noqa: N818 - raised inside pydantic validators, wrapped there
    """Raised inside model validators to report problems at precise field paths.

    pydantic reports a model-level validator's error at the model's root;
    :meth:`ValidationError.from_pydantic` unpacks this one so every problem
    keeps its own path (relative to the model) and bad value.
    """

    def __init__(self, problems: Sequence[tuple[str, str, Any]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{field}: {message}" for field, message, _ in self.problems))


class ValidationError(DrsOrchestrationError, ValueError):
    """Input failed validation; ``problems`` lists each bad field with its path and value."""

    code = "Validation"
    http_status = 400

    def __init__(
        self,
        message: str,
        *,
        problems: Sequence[Mapping[str, Any]] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.problems: list[FieldProblem] = [FieldProblem(p) for p in problems]
        merged = dict(details or {})
        if self.problems:
            merged["problems"] = self.problems
        super().__init__(message, details=merged)

    @classmethod
    def for_field(cls, field: str, value: Any, message: str) -> ValidationError:
        """Build an error about one field, naming its path and the bad value."""
        return cls(
            f"{field}: {message} (got {value!r})",
            problems=[{"field": field, "message": message, "value": value}],
        )

    @classmethod
    def from_pydantic(cls, error: pydantic.ValidationError, *, prefix: str = "") -> ValidationError:
        """Wrap a pydantic error, keeping every problem's field path and input value."""
        problems: list[dict[str, Any]] = []
        for item in error.errors(include_url=False):
            location = [str(part) for part in (prefix, *item["loc"]) if part != ""]
            cause = (item.get("ctx") or {}).get("error")
            if isinstance(cause, InvalidFields):
                for field, message, value in cause.problems:
                    path = ".".join([*location, field]) if field else ".".join(location)
                    problems.append({"field": path or "(root)", "message": message, "value": value})
                continue
            message = item["msg"].removeprefix("Value error, ")
            problems.append(
                {
                    "field": ".".join(location) or "(root)",
                    "message": message,
                    "value": item.get("input"),
                }
            )
        title = error.title
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        return cls(
            f"invalid {title}: {summary}{more}",
            problems=problems,
            details={"model": title},
        )


class LaunchConfigValidationError(ValidationError):
    """Launch settings are invalid; nothing was written or applied."""

    code = "LaunchConfigValidation"


class NotFoundError(DrsOrchestrationError, LookupError):
    """A stored item (group, plan, execution, ...) does not exist."""

    code = "NotFound"
    http_status = 404

    def __init__(self, kind: str, key: str, *, details: Mapping[str, Any] | None = None) -> None:
        self.kind = kind
        self.key = key
        super().__init__(
            f"{kind} {key!r} not found", details={"kind": kind, "key": key, **(details or {})}
        )


class ConflictError(DrsOrchestrationError):
    """The request conflicts with the current state (e.g. a server already in another group)."""

    code = "Conflict"
    http_status = 409


class ConcurrentModificationError(ConflictError):
    """An optimistic-locking write lost: the stored version is not the expected one.

    Nothing was changed by the failed write; re-read and retry (or let
    :func:`drs_orchestration.storage.update_item` do it).

    Attributes:
        kind: What was written ("protection group", "claim", ...).
        key: Its key.
        expected_version: The version the write required (``0``: the item must
            not exist), or ``None`` when a retrying writer gave up and there is
            no single expected version to report.
        actual_version: The version found, ``None`` when the item was absent
            (or not known).
        attempts: How many writes were tried, when a retrying writer gave up.
    """

    code = "ConcurrentModification"

    def __init__(
        self,
        kind: str,
        key: str,
        *,
        expected_version: int | None,
        actual_version: int | None,
        attempts: int | None = None,
    ) -> None:
        # A negative expectation has been used to mean "unknown"; it is reported as such.
        expected = None if expected_version is None or expected_version < 0 else expected_version
        self.kind = kind
        self.key = key
        self.expected_version = expected
        self.actual_version = actual_version
        self.attempts = attempts
        found = "it absent" if actual_version is None else f"version {actual_version}"
        if expected is None:
            tried = f" after {attempts} attempt(s)" if attempts else ""
            last = "" if actual_version is None else f"; last found version {actual_version}"
            reason = f"it kept changing while being written, gave up{tried}{last}"
        elif expected == 0:
            reason = f"expected it not to exist, found {found}"
        else:
            reason = f"expected version {expected}, found {found}"
        super().__init__(
            f"{kind} {key!r} was modified concurrently: {reason}",
            details={
                "kind": kind,
                "key": key,
                "expectedVersion": expected,
                "actualVersion": actual_version,
                **({"attempts": attempts} if attempts else {}),
            },
        )


class TerminationRefusedError(ConflictError):
    """Terminating these recovery instances was refused (they belong to a real recovery).

    Terminating the instances of a recovery is how outages start; it needs
    an explicit ``include_recovery=True``.
    """

    code = "TerminationRefused"

    def __init__(
        self, message: str, *, execution_id: str, details: Mapping[str, Any] | None = None
    ) -> None:
        self.execution_id = execution_id
        super().__init__(message, details={"executionId": execution_id, **(details or {})})


class InvalidStateTransitionError(DrsOrchestrationError):
    """A status change that the lifecycle does not allow (e.g. ``ready`` → ``not_configured``)."""

    code = "InvalidStateTransition"
    http_status = 409

    def __init__(self, kind: str, current: str, target: str, *, allowed: Sequence[str]) -> None:
        self.current = current
        self.target = target
        super().__init__(
            f"{kind} cannot go from {current!r} to {target!r} "
            f"(allowed: {', '.join(allowed) or 'none'})",
            details={"kind": kind, "current": current, "target": target, "allowed": list(allowed)},
        )


class LaunchConfigApplicationError(DrsOrchestrationError):
    """Launch configurations could not be applied to one or more source servers."""

    code = "LaunchConfigApplication"
    http_status = 502


class LaunchConfigTimeoutError(LaunchConfigApplicationError):
    """Applying launch configurations did not finish within the timeout."""

    code = "LaunchConfigTimeout"
    http_status = 504


class ServersNotReadyError(DrsOrchestrationError):
    """Source servers the execution's readiness rule (or DRS) does not launch.

    Attributes:
        servers: Source server ID → its replication state (``"NOT_FOUND"`` when
            DRS did not return the server).
        reasons: Source server ID → why it is not launched.
    """

    code = "ServersNotReady"
    http_status = 409

    def __init__(
        self,
        servers: Mapping[str, str],
        *,
        reasons: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.servers = dict(servers)
        self.reasons = dict(reasons or {})
        listing = "; ".join(
            f"{sid} ({state}: {self.reasons[sid]})" if sid in self.reasons else f"{sid} ({state})"
            for sid, state in sorted(self.servers.items())[:10]
        )
        more = f"; and {len(self.servers) - 10} more" if len(self.servers) > 10 else ""
        super().__init__(
            f"{len(self.servers)} source server(s) not ready: {listing}{more}. "
            "Pass skip_not_ready=True to launch the others",
            details={"servers": self.servers, "reasons": self.reasons, **(details or {})},
        )


class RecoveryError(DrsOrchestrationError):
    """A recovery or drill could not be started or did not complete."""

    code = "Recovery"
    http_status = 502


class JobTimeoutError(RecoveryError):
    """A DRS job (or a wave of jobs) did not finish within its timeout."""

    code = "JobTimeout"
    http_status = 504


class ReplicationTimeoutError(RecoveryError):
    """Replication (back to the origin, or of a re-protected server) did not catch up in time.

    The message names the server, the state and lag it was last seen in, the
    threshold and what to check.
    """

    code = "ReplicationTimeout"
    http_status = 504


class InstanceMatchingError(DrsOrchestrationError):
    """Source servers could not be paired with target EC2 instances."""

    code = "InstanceMatching"
    http_status = 422


class PrivateIPMismatchError(DrsOrchestrationError):
    """A recovered instance does not have the private IP the plan requires."""

    code = "PrivateIPMismatch"
    http_status = 409

    def __init__(
        self,
        source_server_id: str,
        *,
        expected_ip: str | None,
        actual_ip: str | None,
        remediation: str | None = None,
    ) -> None:
        self.source_server_id = source_server_id
        self.expected_ip = expected_ip
        self.actual_ip = actual_ip
        message = (
            f"source server {source_server_id}: expected private IP {expected_ip}, "
            f"recovery instance has {actual_ip}"
        )
        if remediation:
            message += f"; {remediation}"
        super().__init__(
            message,
            details={
                "sourceServerId": source_server_id,
                "expectedIp": expected_ip,
                "actualIp": actual_ip,
                "remediation": remediation,
            },
        )


class AgentInstallationError(DrsOrchestrationError):
    """The DRS replication agent (or the Failback Client) could not be installed.

    Attributes:
        remediation: What to check or do before trying again.
    """

    code = "AgentInstallation"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        remediation: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.remediation = remediation
        text = f"{message}; {remediation}" if remediation else message
        super().__init__(text, details={**(details or {}), "remediation": remediation})


class CrossAccountError(DrsOrchestrationError):
    """Credentials for another account could not be obtained (AssumeRole failed or misconfigured).

    The message names the role and account, never the credentials.
    """

    code = "CrossAccount"
    http_status = 403


class StorageError(DrsOrchestrationError):
    """Storage failed: the database cannot be opened, read or written.

    Raised instead of any backend exception (``sqlite3``, botocore, JSON or
    pydantic errors from stored data), which stays on ``__cause__``.

    Attributes:
        location: The database file or DynamoDB table involved, when known.
    """

    code = "Storage"
    http_status = 500

    def __init__(
        self,
        message: str,
        *,
        location: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.location = location
        merged = dict(details or {})
        if location is not None:
            merged.setdefault("location", location)
        super().__init__(message, details=merged)


class StorageUnavailableError(StorageError):
    """Storage is there but cannot serve now; the same call may succeed later.

    A SQLite database locked by another process beyond the timeout, DynamoDB
    still throttling after the retry policy gave up, an endpoint that cannot
    be reached.
    """

    code = "StorageUnavailable"
    http_status = 503
    retryable = True


class CorruptRecordError(StorageError):
    """A stored record cannot be read: not valid JSON, not a valid model, or under another key.

    Single-item reads (``get``, ``find``) raise it; reads of many records skip
    the record, log a warning and count it, so one bad record never blocks
    the others. Overwrite or delete the record to repair it.

    Attributes:
        collection: The collection (``"executions"``, ...).
        key: The key the record is stored under.
        problem: What is wrong with it.
    """

    code = "CorruptRecord"
    http_status = 500

    def __init__(
        self,
        collection: str,
        key: str,
        problem: str,
        *,
        location: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.collection = collection
        self.key = key
        self.problem = problem
        super().__init__(
            f"corrupt record {key!r} in {collection}"
            + (f" ({location})" if location else "")
            + f": {problem}",
            location=location,
            details={"collection": collection, "key": key, "problem": problem, **(details or {})},
        )


class AwsApiError(DrsOrchestrationError):
    """An AWS API call failed.

    Attributes:
        aws_code: The AWS error code (e.g. ``"ThrottlingException"``).
        request_id: The AWS request ID, for support cases.
        operation: The API operation (e.g. ``"StartRecovery"``).
        service: The AWS service (``"drs"``, ``"ec2"``, ...).
        account_id: The account the call was made in, when known.
        region: The region the call was made in.
        resource_ids: IDs the call was about (source servers, jobs, ...).
        retryable: Worth retrying later (throttling, 5xx except 501, 429,
            connection errors); set by
            :func:`~drs_orchestration.aws.errors.translate_aws_errors`.
        maybe_applied: The request may have reached AWS and taken effect (a 5xx
            answer, a read timeout, a connection lost mid-request). A
            non-idempotent call (``StartRecovery``...) failing this way is not
            re-sent: look for its effect (the job, by its tags) instead.
    """

    code = "AwsApi"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        aws_code: str,
        operation: str,
        service: str,
        request_id: str | None = None,
        aws_http_status: int | None = None,
        account_id: str | None = None,
        region: str | None = None,
        resource_ids: Sequence[str] = (),
        retryable: bool | None = None,
        maybe_applied: bool = False,
    ) -> None:
        if retryable is not None:
            self.retryable = retryable
        self.maybe_applied = maybe_applied
        self.aws_code = aws_code
        self.operation = operation
        self.service = service
        self.request_id = request_id
        self.aws_http_status = aws_http_status
        self.account_id = account_id
        self.region = region
        self.resource_ids = list(resource_ids)
        super().__init__(
            message,
            details={
                "awsCode": aws_code,
                "operation": operation,
                "service": service,
                "requestId": request_id,
                "awsHttpStatus": aws_http_status,
                "accountId": account_id,
                "region": region,
                "resourceIds": self.resource_ids,
                "retryable": self.retryable,
                "maybeApplied": maybe_applied,
            },
        )


class ThrottledError(AwsApiError):
    """AWS throttled the call and the retry budget was exhausted."""

    code = "Throttled"
    http_status = 429
    retryable = True


class AwsAccessDeniedError(AwsApiError):
    """The caller lacks permission for the AWS operation."""

    code = "AwsAccessDenied"
    http_status = 403


class AwsResourceNotFoundError(AwsApiError):
    """AWS says the resource does not exist."""

    code = "AwsResourceNotFound"
    http_status = 404


class AwsConflictError(AwsApiError):
    """AWS refused because of the resource's state (a DRS server already in a job, ...)."""

    code = "AwsConflict"
    http_status = 409


class AwsValidationError(AwsApiError):
    """AWS rejected the request's parameters."""

    code = "AwsValidation"
    http_status = 400


class ServiceQuotaExceededError(AwsApiError):
    """An AWS service quota (DRS jobs or servers in progress, ...) was exceeded."""

    code = "ServiceQuotaExceeded"
    http_status = 429


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
