"""The error table: every failed SMC call, classified once, into the reason it leads to.

A failed SMC call is an :class:`~smc_operator.outcomes.SmcFailure` (an SMC error body, a transport
error, a timeout, a body we could not read). :func:`classify` is the one place that reads its code
and HTTP status; the :class:`~smc_operator.reasons.Reason` it returns says everything else
(settled or retried, on which curve: :mod:`smc_operator.reasons`):

=========================  =====================================================================
reason                     codes
=========================  =====================================================================
Retrying                   InternalError, other 5xx, network errors, timeouts, unreadable
                           answers (no code)
Throttled                  Throttling, Throttling.User, Throttling.Api, Throttling.*,
                           ServiceUnavailable, HTTP 429, any answer with ``x-acs-retry-after``
                           (never retried sooner than that)
AccessDenied               InvalidAccessKeyId.*, SignatureDoesNotMatch, Forbidden, Forbidden.*,
                           InvalidSecurityToken.*, InvalidCredentials (no credentials at all)
JobNotFound                InvalidJobId.NotFound
InvalidStatus              ReplicationJob.InvalidStatus, ReplicationJob.InvalidBusinessStatus
SourceServerStateInvalid   SourceServerState.Invalid
NameDuplicate              ReplicationJobName.Duplicate
QuotaExceeded              QuotaExceeded.ReplicationJob
IdempotentParameterMism.   IdempotentParameterMismatch
Failed                     every other 4xx (CreateReplicationJob: InvalidParameter)
=========================  =====================================================================
"""

from __future__ import annotations

import re
from typing import Final

from smc_operator import wire
from smc_operator.outcomes import SmcFailure
from smc_operator.reasons import Reason

_EXACT: Final[dict[str, Reason]] = {
    wire.INTERNAL_ERROR: Reason.RETRYING,
    wire.SERVICE_UNAVAILABLE: Reason.THROTTLED,
    wire.THROTTLING: Reason.THROTTLED,
    wire.THROTTLING_USER: Reason.THROTTLED,
    wire.THROTTLING_API: Reason.THROTTLED,
    wire.INVALID_ACCESS_KEY_NOT_FOUND: Reason.ACCESS_DENIED,
    wire.INVALID_ACCESS_KEY_INACTIVE: Reason.ACCESS_DENIED,
    wire.SIGNATURE_DOES_NOT_MATCH: Reason.ACCESS_DENIED,
    wire.FORBIDDEN_RAM: Reason.ACCESS_DENIED,
    wire.FORBIDDEN: Reason.ACCESS_DENIED,
    wire.INVALID_CREDENTIALS: Reason.ACCESS_DENIED,
    wire.JOB_NOT_FOUND: Reason.JOB_NOT_FOUND,
    wire.INVALID_STATUS: Reason.INVALID_STATUS,
    wire.SOURCE_SERVER_STATE_INVALID: Reason.SOURCE_SERVER_STATE_INVALID,
    wire.INVALID_BUSINESS_STATUS: Reason.INVALID_STATUS,
    wire.NAME_DUPLICATE: Reason.NAME_DUPLICATE,
    wire.QUOTA_EXCEEDED: Reason.QUOTA_EXCEEDED,
    wire.IDEMPOTENT_PARAMETER_MISMATCH: Reason.IDEMPOTENT_PARAMETER_MISMATCH,
}

_PREFIXES: Final[tuple[tuple[str, Reason], ...]] = (
    ("Throttling.", Reason.THROTTLED),
    ("InvalidSecurityToken.", Reason.ACCESS_DENIED),
    ("InvalidAccessKeyId.", Reason.ACCESS_DENIED),
    ("Forbidden.", Reason.ACCESS_DENIED),
)


def classify(failure: SmcFailure, *, client_error: Reason = Reason.FAILED) -> Reason:
    """The reason a failed call leads to; see the table in the module docstring.

    ``client_error``: the reason of a 4xx without a reason of its own (CreateReplicationJob's
    are about its parameters: ``InvalidParameter``).
    """
    if failure.retry_after is not None:
        return Reason.THROTTLED
    code = failure.code
    if code is not None:
        if code in _EXACT:
            return _EXACT[code]
        for prefix, reason in _PREFIXES:
            if code.startswith(prefix):
                return reason
    status = failure.http_status
    if status == 429:
        return Reason.THROTTLED
    if status is not None and 400 <= status < 500:
        return client_error
    return Reason.RETRYING


_NAMED_STATUS = re.compile(r"replication job status:\s*(?P<status>[A-Za-z]+)\s+is invalid")


def named_job_status(failure: SmcFailure) -> str | None:
    """The job status named by an InvalidStatus message ("status: Running is invalid").

    After an earlier attempt of the same request, SMC naming Running or Waiting here means that
    attempt started the job (exactly-once, docs/design.md).
    """
    if failure.code != wire.INVALID_STATUS:
        return None
    match = _NAMED_STATUS.search(failure.message)
    return match.group("status") if match else None
