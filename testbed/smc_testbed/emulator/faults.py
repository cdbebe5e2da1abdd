"""Injected faults: which calls they hit and what they do to them.

A fault matches calls by action (``"*"`` for any) and optionally by job: a call matches ``jobId``
when its ``JobId`` (or one of ``JobId.N`` in DescribeReplicationJobs) names that job. Faults are
tried oldest first; the first that matches and fires is used. A fault fires for its next ``count``
matching calls (default 1) and is then dropped, or, with ``probability``, for each matching call
with that chance, forever (the draw uses the injected :class:`random.Random`).

What a fired fault does, in order:

1. The real action takes effect now when ``applyBeforeDelay`` is true.
2. The answer waits ``latencyMs``.
3. Unless it has taken effect already, the real action takes effect now, except when the fault
   carries an error ``code`` or ``drop`` (the call was refused or lost before SMC acted). ``apply``
   (true/false) overrides this default. So by default a latency-only fault delays a start and then
   performs it, and a body fault garbles the answer to a call that did happen.
4. With ``drop``, the connection is closed without an answer.
5. Otherwise the answer is the error ``code`` (``httpStatus`` defaults per code, ``message`` from
   SMC's messages), or else the real answer (a bare ``{"RequestId"}`` success when ``apply`` is
   false); ``body`` then garbles it (:data:`BODY_KINDS`) and ``httpStatus`` replaces its status.
   ``retryAfter`` adds ``x-acs-retry-after``; given alone it implies ``Throttling.User``.

The call log records the answer when it is decided: before the delay when the action took effect
before it (or never does), after it otherwise. When the emulator stops during a delay, the call
is dropped (and a delayed action never takes effect).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from smc_operator import wire
from smc_testbed.emulator import fields
from smc_testbed.emulator.fields import DocumentError

ANY_ACTION: Final = "*"
#: ``body`` values: an HTML page, an empty body, truncated JSON, JSON without ``RequestId``, and
#: the real answer padded to several megabytes.
BODY_KINDS: Final = ("html", "empty", "malformed", "no-request-id", "huge")

#: HTTP status of an injected error when the fault names none; anything else is 400.
_DEFAULT_STATUS: Final[Mapping[str, int]] = {
    wire.INTERNAL_ERROR: 500,
    wire.SERVICE_UNAVAILABLE: 503,
    wire.INVALID_ACCESS_KEY_NOT_FOUND: 404,
    wire.JOB_NOT_FOUND: 404,
    wire.INVALID_ACTION_NOT_FOUND: 404,
    wire.FORBIDDEN: 403,
    wire.FORBIDDEN_RAM: 403,
}
#: Message of an injected error when the fault names none.
_DEFAULT_MESSAGE: Final[Mapping[str, str]] = {
    wire.INTERNAL_ERROR: wire.INTERNAL_ERROR_MESSAGE,
    wire.SERVICE_UNAVAILABLE: wire.SERVICE_UNAVAILABLE_MESSAGE,
    wire.THROTTLING: wire.THROTTLING_MESSAGE,
    wire.THROTTLING_USER: wire.THROTTLING_USER_MESSAGE,
    wire.THROTTLING_API: wire.THROTTLING_MESSAGE,
    wire.INVALID_ACCESS_KEY_NOT_FOUND: wire.INVALID_ACCESS_KEY_NOT_FOUND_MESSAGE,
    wire.SIGNATURE_DOES_NOT_MATCH: wire.SIGNATURE_DOES_NOT_MATCH_MESSAGE,
    wire.INVALID_SECURITY_TOKEN_EXPIRED: wire.INVALID_SECURITY_TOKEN_MESSAGE,
    wire.INVALID_SECURITY_TOKEN_MALFORMED: wire.INVALID_SECURITY_TOKEN_MESSAGE,
    wire.FORBIDDEN_RAM: "User not authorized to operate on the specified resource.",
}
_FALLBACK_MESSAGE: Final = "The request has failed due to an injected fault."


def default_status(code: str) -> int:
    return _DEFAULT_STATUS.get(code, 400)


def default_message(code: str) -> str:
    return _DEFAULT_MESSAGE.get(code, _FALLBACK_MESSAGE)


class Effect(enum.Enum):
    """When the real action of a faulted call takes effect."""

    NEVER = "never"
    BEFORE_DELAY = "beforeDelay"
    AFTER_DELAY = "afterDelay"


class FaultError(DocumentError):
    """A fault description that makes no sense; the message says why."""


@dataclass(slots=True)
class Fault:
    fault_id: int
    action: str
    job_id: str | None = None
    code: str | None = None
    http_status: int | None = None
    message: str | None = None
    remaining: int | None = 1  # None: unlimited (probability faults)
    probability: float | None = None
    latency_seconds: float = 0.0
    drop: bool = False
    body: str | None = None
    retry_after: int | None = None
    effect: Effect = Effect.AFTER_DELAY
    fired: int = 0

    def to_document(self) -> dict[str, object]:
        return {
            "faultId": self.fault_id,
            "action": self.action,
            "jobId": self.job_id,
            "code": self.code,
            "httpStatus": self.http_status,
            "message": self.message,
            "remaining": self.remaining,
            "probability": self.probability,
            "latencyMs": round(self.latency_seconds * 1000),
            "drop": self.drop,
            "body": self.body,
            "retryAfter": self.retry_after,
            "effect": self.effect.value,
            "fired": self.fired,
        }


_FIELDS: Final = frozenset(
    {
        "action",
        "jobId",
        "code",
        "httpStatus",
        "message",
        "count",
        "probability",
        "latencyMs",
        "drop",
        "body",
        "retryAfter",
        "applyBeforeDelay",
        "apply",
    }
)


def parse_fault(doc: Mapping[str, object], fault_id: int) -> Fault:
    """Build a :class:`Fault` from the control API's JSON (camelCase keys)."""
    fields.check_known(doc, _FIELDS)
    action = fields.text(doc, "action")
    if not action:
        raise FaultError("'action' is required (an SMC action name, or '*')")
    return make_fault(
        fault_id,
        action,
        job_id=fields.text(doc, "jobId"),
        code=fields.text(doc, "code"),
        http_status=fields.integer(doc, "httpStatus"),
        message=fields.text(doc, "message"),
        count=fields.integer(doc, "count"),
        probability=fields.number(doc, "probability"),
        latency_ms=fields.number(doc, "latencyMs") or 0.0,
        drop=fields.flag(doc, "drop") is True,
        body=fields.text(doc, "body"),
        retry_after=fields.integer(doc, "retryAfter"),
        apply_before_delay=fields.flag(doc, "applyBeforeDelay") is True,
        apply=fields.flag(doc, "apply"),
    )


def make_fault(
    fault_id: int,
    action: str,
    *,
    job_id: str | None = None,
    code: str | None = None,
    http_status: int | None = None,
    message: str | None = None,
    count: int | None = None,
    probability: float | None = None,
    latency_ms: float = 0.0,
    drop: bool = False,
    body: str | None = None,
    retry_after: int | None = None,
    apply_before_delay: bool = False,
    apply: bool | None = None,
) -> Fault:
    """Check and complete a fault description (see the module docstring for the rules)."""
    if count is not None and probability is not None:
        raise FaultError("give either 'count' or 'probability', not both")
    if count is not None and count < 1:
        raise FaultError("'count' must be at least 1")
    if probability is not None and not 0.0 <= probability <= 1.0:
        raise FaultError("'probability' must be between 0 and 1")
    if latency_ms < 0:
        raise FaultError("'latencyMs' must not be negative")
    if http_status is not None and not 200 <= http_status <= 599:
        raise FaultError("'httpStatus' must be an HTTP status (200..599)")
    if body is not None and body not in BODY_KINDS:
        raise FaultError(f"'body' must be one of {', '.join(BODY_KINDS)}")
    if retry_after is not None and retry_after < 1:
        raise FaultError("'retryAfter' must be a positive number of seconds")
    if apply_before_delay and apply is False:
        raise FaultError("'applyBeforeDelay' contradicts 'apply': false")
    if code is None and retry_after is not None and body is None:
        code = wire.THROTTLING_USER
    if code is None and body is None and not drop and latency_ms == 0 and http_status is None:
        raise FaultError("a fault needs a 'code', 'body', 'latencyMs', 'drop' or 'retryAfter'")
    if code is None and body is None and http_status is not None:
        raise FaultError("'httpStatus' needs a 'code' or a 'body'")
    if apply_before_delay:
        effect = Effect.BEFORE_DELAY
    elif apply is None:
        effect = Effect.NEVER if (code is not None or drop) else Effect.AFTER_DELAY
    else:
        effect = Effect.AFTER_DELAY if apply else Effect.NEVER
    return Fault(
        fault_id=fault_id,
        action=action,
        job_id=job_id,
        code=code,
        http_status=http_status,
        message=message,
        remaining=None if probability is not None else (count if count is not None else 1),
        probability=probability,
        latency_seconds=latency_ms / 1000.0,
        drop=drop,
        body=body,
        retry_after=retry_after,
        effect=effect,
    )


class FaultBook:
    """The active faults, tried oldest first."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._faults: list[Fault] = []
        self._next_id = 1

    def __len__(self) -> int:
        return len(self._faults)

    @property
    def active(self) -> list[Fault]:
        return list(self._faults)

    def next_id(self) -> int:
        fault_id = self._next_id
        self._next_id += 1
        return fault_id

    def add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def remove(self, fault_id: int) -> bool:
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.fault_id != fault_id]
        return len(self._faults) != before

    def clear(self) -> int:
        count = len(self._faults)
        self._faults.clear()
        return count

    def fire(self, action: str, job_ids: Sequence[str]) -> Fault | None:
        """The fault that hits this call, if any; counts it as fired."""
        if not self._faults:
            return None
        for fault in self._faults:
            if fault.action not in (action, ANY_ACTION):
                continue
            if fault.job_id is not None and fault.job_id not in job_ids:
                continue
            if fault.probability is not None and self._rng.random() >= fault.probability:
                continue
            fault.fired += 1
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            return fault
        return None
