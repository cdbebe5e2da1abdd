"""The error table: every SMC outcome, classified once.

A failed SMC call is an :class:`~smc_operator.outcomes.SmcFailure` (an SMC error body, a transport
error, a timeout, a body we could not read). :func:`classify` sorts failures into the categories
that drive the decision:

============  =====================================================  ==========================
category      codes                                                  what happens
============  =====================================================  ==========================
RETRYABLE     InternalError, other 5xx, network errors, timeouts,    retry with backoff
              unreadable answers (no code)
THROTTLED     Throttling, Throttling.User, Throttling.Api,            retry on the slower curve,
              Throttling.*, ServiceUnavailable, any answer with      never sooner than
              ``x-acs-retry-after``                                  ``retry-after``
AUTH          InvalidAccessKeyId.NotFound/.Inactive,                 final: AccessDenied
              SignatureDoesNotMatch, Forbidden.RAM, Forbidden,
              InvalidSecurityToken.*, InvalidCredentials (no
              credentials could be obtained at all)
NOT_FOUND     InvalidJobId.NotFound                                  final: JobNotFound
TERMINAL      ReplicationJob.InvalidStatus, SourceServerState.       final, with its own reason
              Invalid, every other 4xx
============  =====================================================  ==========================
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from smc_operator import wire
from smc_operator.conditions import Reason
from smc_operator.outcomes import SmcFailure


class Category(StrEnum):
    RETRYABLE = "Retryable"
    THROTTLED = "Throttled"
    AUTH = "Auth"
    NOT_FOUND = "NotFound"
    TERMINAL = "Terminal"


_EXACT: Final[dict[str, Category]] = {
    wire.INTERNAL_ERROR: Category.RETRYABLE,
    wire.SERVICE_UNAVAILABLE: Category.THROTTLED,
    wire.THROTTLING: Category.THROTTLED,
    wire.THROTTLING_USER: Category.THROTTLED,
    wire.THROTTLING_API: Category.THROTTLED,
    wire.INVALID_ACCESS_KEY_NOT_FOUND: Category.AUTH,
    wire.INVALID_ACCESS_KEY_INACTIVE: Category.AUTH,
    wire.SIGNATURE_DOES_NOT_MATCH: Category.AUTH,
    wire.FORBIDDEN_RAM: Category.AUTH,
    wire.FORBIDDEN: Category.AUTH,
    wire.INVALID_CREDENTIALS: Category.AUTH,
    wire.JOB_NOT_FOUND: Category.NOT_FOUND,
    wire.INVALID_STATUS: Category.TERMINAL,
    wire.SOURCE_SERVER_STATE_INVALID: Category.TERMINAL,
}

_PREFIXES: Final[tuple[tuple[str, Category], ...]] = (
    ("Throttling.", Category.THROTTLED),
    ("InvalidSecurityToken.", Category.AUTH),
    ("InvalidAccessKeyId.", Category.AUTH),
    ("Forbidden.", Category.AUTH),
)

_REASONS: Final[dict[str, Reason]] = {
    wire.INVALID_STATUS: Reason.INVALID_STATUS,
    wire.SOURCE_SERVER_STATE_INVALID: Reason.SOURCE_SERVER_STATE_INVALID,
}

_CATEGORY_REASONS: Final[dict[Category, Reason]] = {
    Category.RETRYABLE: Reason.RETRYING,
    Category.THROTTLED: Reason.THROTTLED,
    Category.AUTH: Reason.ACCESS_DENIED,
    Category.NOT_FOUND: Reason.JOB_NOT_FOUND,
    Category.TERMINAL: Reason.FAILED,
}


def classify(failure: SmcFailure) -> Category:
    """The category of a failed call; see the table in the module docstring."""
    if failure.retry_after is not None:
        return Category.THROTTLED
    code = failure.code
    if code is not None:
        if code in _EXACT:
            return _EXACT[code]
        for prefix, category in _PREFIXES:
            if code.startswith(prefix):
                return category
    status = failure.http_status
    if status is not None and 400 <= status < 500:
        if status == 429:
            return Category.THROTTLED
        return Category.TERMINAL
    return Category.RETRYABLE


def reason_for(failure: SmcFailure) -> Reason:
    """The ``Started`` reason a failure leads to (before the attempt budget is considered)."""
    if failure.code in _REASONS:
        return _REASONS[failure.code]
    return _CATEGORY_REASONS[classify(failure)]


def is_final(failure: SmcFailure) -> bool:
    """True when retrying cannot help: the request ends with this failure."""
    return classify(failure) not in (Category.RETRYABLE, Category.THROTTLED)


_NAMED_STATUS = re.compile(r"replication job status:\s*(?P<status>[A-Za-z]+)\s+is invalid")


def named_job_status(failure: SmcFailure) -> str | None:
    """The job status named by an InvalidStatus message ("status: Running is invalid")."""
    if failure.code != wire.INVALID_STATUS:
        return None
    match = _NAMED_STATUS.search(failure.message)
    return match.group("status") if match else None
