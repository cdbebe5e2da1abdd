"""Conditions: the documented reasons, and the one function that sets a condition.

Every reason the operator can report is a constant here, documented with when it is used
(DESIGN.md section 2). :func:`set_condition` is the only place a condition list changes: it keeps
``lastTransitionTime`` when the status did not change, always stamps ``observedGeneration``, and
bounds the message so a huge SMC answer cannot bloat the object.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from smc_operator.model import MESSAGE_MAX_LENGTH, Condition, ConditionStatus

#: The one condition type this operator owns.
STARTED: Final = "Started"


class Reason(StrEnum):
    """Why ``Started`` has its status. CamelCase, as Kubernetes reasons are."""

    NOT_REQUESTED = "NotRequested"
    """``spec.start`` is false (setting it false never stops a job)."""
    STARTING = "Starting"
    """Intent recorded; a StartReplicationJob call is (or may be) in flight."""
    STARTED = "Started"
    """SMC accepted the start (or DescribeReplicationJobs confirmed it); ``requestId`` recorded."""
    RETRYING = "Retrying"
    """A retryable failure (InternalError, network error, timeout); will retry with backoff."""
    THROTTLED = "Throttled"
    """SMC throttled the call (Throttling*, ServiceUnavailable); will retry on a slower curve."""
    INVALID_STATUS = "InvalidStatus"
    """SMC refused: the job is not in Ready, Stopped or InError."""
    SOURCE_SERVER_STATE_INVALID = "SourceServerStateInvalid"
    """SMC refused: the job's source server is not Available."""
    ACCESS_DENIED = "AccessDenied"
    """The credentials were refused (unknown or inactive AccessKey, bad signature, RAM denial)."""
    JOB_NOT_FOUND = "JobNotFound"
    """SMC does not know the job ID."""
    CREDENTIALS_NOT_FOUND = "CredentialsNotFound"
    """The credentials Secret is missing, lacks a key, is unreadable, or is in another namespace."""
    RETRIES_EXHAUSTED = "RetriesExhausted"
    """Retryable failures for ``maxAttempts`` calls; the last code is kept."""
    INVALID_SPEC = "InvalidSpec"
    """The spec is invalid (it got past admission, or admission could not express the rule)."""
    DUPLICATE_JOB_ID = "DuplicateJobId"
    """Another ReplicationJob already asks to start the same SMC job; this one does not call."""
    FAILED = "Failed"
    """SMC refused with a client error this operator has no specific reason for; see errorCode."""


#: Reasons after which nothing more happens for the current start request.
FINAL_REASONS: Final = frozenset(
    {
        Reason.STARTED,
        Reason.INVALID_STATUS,
        Reason.SOURCE_SERVER_STATE_INVALID,
        Reason.ACCESS_DENIED,
        Reason.JOB_NOT_FOUND,
        Reason.CREDENTIALS_NOT_FOUND,
        Reason.RETRIES_EXHAUSTED,
        Reason.INVALID_SPEC,
        Reason.DUPLICATE_JOB_ID,
        Reason.FAILED,
    }
)

#: The status each reason implies (DESIGN.md section 2).
STATUS_OF: Final[dict[Reason, ConditionStatus]] = {
    Reason.NOT_REQUESTED: "False",
    Reason.STARTING: "Unknown",
    Reason.STARTED: "True",
    Reason.RETRYING: "Unknown",
    Reason.THROTTLED: "Unknown",
    Reason.INVALID_STATUS: "False",
    Reason.SOURCE_SERVER_STATE_INVALID: "False",
    Reason.ACCESS_DENIED: "False",
    Reason.JOB_NOT_FOUND: "False",
    Reason.CREDENTIALS_NOT_FOUND: "False",
    Reason.RETRIES_EXHAUSTED: "False",
    Reason.INVALID_SPEC: "False",
    Reason.DUPLICATE_JOB_ID: "False",
    Reason.FAILED: "False",
}


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as ``metav1.Time`` serialises."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bounded(message: str) -> str:
    """Printable, single-paragraph text of bounded length (SMC bodies can be anything)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in message).strip()
    if len(cleaned) <= MESSAGE_MAX_LENGTH:
        return cleaned
    return cleaned[: MESSAGE_MAX_LENGTH - 1] + "…"


#: The CRD's bounds for the SMC fields of a condition (an answer can hold anything).
REQUEST_ID_MAX_LENGTH: Final = 128
ERROR_CODE_MAX_LENGTH: Final = 256


def _clipped(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:limit] or None


def started_condition(
    reason: Reason,
    message: str,
    *,
    generation: int | None,
    now: datetime,
    request_id: str | None = None,
    error_code: str | None = None,
) -> Condition:
    """A fresh ``Started`` condition for ``reason``; pass it to :func:`set_condition`."""
    return Condition(
        type=STARTED,
        status=STATUS_OF[reason],
        reason=reason.value,
        message=bounded(message),
        last_transition_time=format_time(now),
        observed_generation=generation,
        request_id=_clipped(request_id, REQUEST_ID_MAX_LENGTH),
        error_code=_clipped(error_code, ERROR_CODE_MAX_LENGTH),
    )


def set_condition(conditions: tuple[Condition, ...], new: Condition) -> tuple[Condition, ...]:
    """Put ``new`` into ``conditions`` (replacing the one of its type), keeping order.

    ``lastTransitionTime`` is kept from the old condition when ``status`` did not change, so it
    records the last transition, not the last write.
    """
    old = next((c for c in conditions if c.type == new.type), None)
    if old is not None and old.status == new.status:
        new = new.model_copy(update={"last_transition_time": old.last_transition_time})
    if old is None:
        return (*conditions, new)
    return tuple(new if c.type == new.type else c for c in conditions)
