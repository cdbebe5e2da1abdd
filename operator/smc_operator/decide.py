"""The decision: given what was observed, what to do next. Pure: no I/O, no kopf, no SDK.

A start request is identified by ``metadata.generation`` and the ``retry-requested-at``
annotation (DESIGN.md section 2). For one object the handler runs these steps:

1. :func:`plan` looks at the object and returns a :class:`Plan`: do nothing, record a verdict,
   start (after writing the intent to status: the write-ahead), or confirm first.
2. For ``CONFIRM`` (a repeat call for the same request: a retry, or a resume after a crash while a
   call may have been in flight) the handler asks DescribeReplicationJobs; :func:`after_confirm`
   turns that answer into a verdict (already started) or into a ``START`` plan.
3. After StartReplicationJob, :func:`judge` turns the outcome into a :class:`Verdict`: the status to
   write, and whether to retry and when.

Invariant (DESIGN.md section 3): for every start request SMC sees at most one successful start.
It holds because the intent is written before every call, and every call after the first in a
request is preceded by a DescribeReplicationJobs that would have shown the start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from smc_operator import wire
from smc_operator.backoff import retry_delay
from smc_operator.conditions import (
    FINAL_REASONS,
    STARTED,
    Reason,
    set_condition,
    started_condition,
)
from smc_operator.errors import Category, classify, is_final, named_job_status, reason_for
from smc_operator.model import ReplicationJobSpec, ReplicationJobStatus, StartRequest
from smc_operator.outcomes import JobsReport, SmcAccepted, SmcFailure, StartOutcome

#: Reasons meaning a request is under way and not settled.
IN_PROGRESS_REASONS = frozenset({Reason.STARTING, Reason.RETRYING, Reason.THROTTLED})


@dataclass(frozen=True)
class Limits:
    """The retry budget and backoff curve (from settings)."""

    max_attempts: int = 10
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 300.0


@dataclass(frozen=True)
class Observed:
    """One ReplicationJob as the handler saw it. ``spec`` is None when it did not parse."""

    generation: int
    retry_requested_at: str | None
    spec: ReplicationJobSpec | None
    status: ReplicationJobStatus
    spec_problem: str | None = None
    #: Another ReplicationJob that already started (or is starting) the job, as the message names
    #: it ("ReplicationJob ns/name", or an unnamed one in another namespace).
    duplicate_of: str | None = None
    #: The object is being deleted (``deletionTimestamp`` set): never begin anything then.
    deleting: bool = False
    #: How often the handler already ran for the current change (kopf's ``retry``): backoff
    #: keeps growing while DescribeReplicationJobs fails, which does not count as an attempt.
    retries: int = 0

    @property
    def request(self) -> StartRequest:
        return StartRequest(generation=self.generation, retry_requested_at=self.retry_requested_at)

    @property
    def is_current_request(self) -> bool:
        return self.status.start_request == self.request


class Step(StrEnum):
    NOTHING = "Nothing"
    """The status already says everything about the current request."""
    RECORD = "Record"
    """Write ``status``; nothing to call."""
    START = "Start"
    """Write ``status`` (the intent: ``Starting``, ``attempts`` + 1) first, then call Start."""
    CONFIRM = "Confirm"
    """Ask DescribeReplicationJobs before any repeat call, then :func:`after_confirm`."""


@dataclass(frozen=True)
class Plan:
    step: Step
    status: ReplicationJobStatus
    #: For ``RECORD`` only: True when the status is a final verdict that failed (for logging).
    failed: bool = False


@dataclass(frozen=True)
class Verdict:
    """The outcome of an attempt: the status to write; ``retry_in`` seconds, or None when final."""

    status: ReplicationJobStatus
    retry_in: float | None = None

    @property
    def reason(self) -> str:
        condition = self.status.condition(STARTED)
        return condition.reason if condition else ""


def plan(observed: Observed, limits: Limits, now: datetime) -> Plan:
    """Decide what to do for ``observed`` (step 1 in the module docstring)."""
    status = observed.status
    if observed.deleting:
        return Plan(Step.NOTHING, status)
    if observed.spec is None:
        message = f"spec is invalid: {observed.spec_problem or 'unknown problem'}"
        return _record(observed, Reason.INVALID_SPEC, message, now, attempts=0, failed=True)

    if not observed.spec.start:
        return _record(
            observed,
            Reason.NOT_REQUESTED,
            "spec.start is false: no start requested (setting it to false never stops a job)",
            now,
            attempts=0,
        )

    if observed.is_current_request:
        condition = status.condition(STARTED)
        reason = condition.reason if condition else None
        if reason in FINAL_REASONS:
            return Plan(Step.NOTHING, status)
        if reason in IN_PROGRESS_REASONS and status.attempts > 0:
            return Plan(Step.CONFIRM, status)
        return Plan(Step.START, intent(observed, limits, now, attempts=status.attempts + 1))

    if observed.duplicate_of is not None:
        message = (
            f"{observed.duplicate_of[0].upper()}{observed.duplicate_of[1:]} already starts SMC job "
            f"{observed.spec.job_id}; this one does not call StartReplicationJob. "
            f"Delete one of them, or point this one at another job."
        )
        return _record(observed, Reason.DUPLICATE_JOB_ID, message, now, attempts=0, failed=True)

    return Plan(Step.START, intent(observed, limits, now, attempts=1))


def intent(
    observed: Observed, limits: Limits, now: datetime, *, attempts: int
) -> ReplicationJobStatus:
    """The write-ahead status: ``Starting``; ``attempts`` counts the call about to be made."""
    message = f"calling StartReplicationJob (attempt {attempts} of {limits.max_attempts})"
    return _status(observed, Reason.STARTING, message, now, attempts=attempts)


def after_confirm(
    observed: Observed,
    limits: Limits,
    report: JobsReport | SmcFailure,
    now: datetime,
    random: Callable[[], float],
) -> Plan | Verdict:
    """Step 2: DescribeReplicationJobs answered; the start has happened, or call Start again."""
    attempts = observed.status.attempts
    job_id = observed.spec.job_id if observed.spec else ""
    if isinstance(report, SmcFailure):
        return _failed(observed, limits, report, now, random, attempts=attempts, confirming=True)

    job = report.jobs.get(job_id)
    if job is None:
        failure = SmcFailure(
            code=wire.JOB_NOT_FOUND,
            message=f"DescribeReplicationJobs does not know job {job_id}",
            request_id=report.request_id,
        )
        return _failed(observed, limits, failure, now, random, attempts=attempts, confirming=True)

    if job.status in wire.STARTED_STATUSES:
        message = (
            f"start confirmed by DescribeReplicationJobs: the job is {job.status} "
            f"after attempt {attempts}"
        )
        status = _status(
            observed, Reason.STARTED, message, now, attempts=attempts, request_id=report.request_id
        )
        return Verdict(status)

    if attempts >= limits.max_attempts:
        return Verdict(_exhausted(observed, limits, now, attempts=attempts))

    return Plan(Step.START, intent(observed, limits, now, attempts=attempts + 1))


def judge(
    observed: Observed,
    limits: Limits,
    outcome: StartOutcome,
    now: datetime,
    random: Callable[[], float],
) -> Verdict:
    """Step 3: StartReplicationJob answered; ``observed.status`` is the intent written before it."""
    attempts = observed.status.attempts
    if isinstance(outcome, SmcAccepted):
        message = f"StartReplicationJob accepted (attempt {attempts})"
        status = _status(
            observed, Reason.STARTED, message, now, attempts=attempts, request_id=outcome.request_id
        )
        return Verdict(status)

    named = named_job_status(outcome)
    if attempts > 1 and named in wire.STARTED_STATUSES:
        # Our earlier attempt in this request started the job; SMC now refuses a second start.
        message = (
            f"start confirmed: after an earlier attempt, SMC reports the job {named} "
            f"({outcome.message})"
        )
        status = _status(
            observed, Reason.STARTED, message, now, attempts=attempts, request_id=outcome.request_id
        )
        return Verdict(status)

    return _failed(observed, limits, outcome, now, random, attempts=attempts, confirming=False)


def credentials_missing(observed: Observed, problem: str, now: datetime) -> Verdict:
    """The credentials Secret cannot be used: final for this request, with what to do."""
    message = (
        f"{problem}. Fix the Secret, then set the annotation "
        f"smcoperator.io/retry-requested-at to a new value to try again"
    )
    attempts = observed.status.attempts if observed.is_current_request else 0
    return Verdict(_status(observed, Reason.CREDENTIALS_NOT_FOUND, message, now, attempts=attempts))


def _failed(
    observed: Observed,
    limits: Limits,
    failure: SmcFailure,
    now: datetime,
    random: Callable[[], float],
    *,
    attempts: int,
    confirming: bool,
) -> Verdict:
    action = "DescribeReplicationJobs" if confirming else "StartReplicationJob"
    text = f"{action} failed: {failure.describe()}"
    if is_final(failure):
        reason = reason_for(failure)
        status = _status(
            observed,
            reason,
            text,
            now,
            attempts=attempts,
            request_id=failure.request_id,
            error_code=failure.code,
        )
        return Verdict(status)

    if attempts >= limits.max_attempts and not confirming:
        return Verdict(_exhausted(observed, limits, now, attempts=attempts, last=failure))

    throttled = classify(failure) is Category.THROTTLED
    # A failed confirmation makes no Start attempt; back off by how often the handler has run.
    step = max(attempts, observed.retries + 1) if confirming else max(attempts, 1)
    delay = retry_delay(
        step,
        throttled=throttled,
        base=limits.backoff_base_seconds,
        cap=limits.backoff_max_seconds,
        random=random,
        retry_after=failure.retry_after,
    )
    reason = Reason.THROTTLED if throttled else Reason.RETRYING
    message = f"{text}; retrying in {delay:.1f}s (attempt {attempts} of {limits.max_attempts})"
    status = _status(
        observed,
        reason,
        message,
        now,
        attempts=attempts,
        request_id=failure.request_id,
        error_code=failure.code,
    )
    return Verdict(status, retry_in=delay)


def _exhausted(
    observed: Observed,
    limits: Limits,
    now: datetime,
    *,
    attempts: int,
    last: SmcFailure | None = None,
) -> ReplicationJobStatus:
    previous = observed.status.condition(STARTED)
    code = last.code if last else (previous.error_code if previous else None)
    request_id = last.request_id if last else (previous.request_id if previous else None)
    detail = last.describe() if last else (previous.message if previous else "")
    message = f"gave up after {attempts} of {limits.max_attempts} attempts; last: {detail}"
    return _status(
        observed,
        Reason.RETRIES_EXHAUSTED,
        message,
        now,
        attempts=attempts,
        request_id=request_id,
        error_code=code,
    )


def _record(
    observed: Observed,
    reason: Reason,
    message: str,
    now: datetime,
    *,
    attempts: int,
    failed: bool = False,
) -> Plan:
    condition = observed.status.condition(STARTED)
    if (
        observed.is_current_request
        and condition is not None
        and condition.reason == reason
        and condition.message == message
        and observed.status.observed_generation == observed.generation
    ):
        return Plan(Step.NOTHING, observed.status)
    status = _status(observed, reason, message, now, attempts=attempts)
    return Plan(Step.RECORD, status, failed=failed)


def _status(
    observed: Observed,
    reason: Reason,
    message: str,
    now: datetime,
    *,
    attempts: int,
    request_id: str | None = None,
    error_code: str | None = None,
) -> ReplicationJobStatus:
    condition = started_condition(
        reason,
        message,
        generation=observed.generation,
        now=now,
        request_id=request_id,
        error_code=error_code,
    )
    return observed.status.model_copy(
        update={
            "observed_generation": observed.generation,
            "conditions": set_condition(observed.status.conditions, condition),
            "attempts": attempts,
            "start_request": observed.request,
        }
    )
