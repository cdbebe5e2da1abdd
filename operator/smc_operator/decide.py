"""The decision: everything that happens next to one ReplicationJob. Pure: no I/O, no kopf, no SDK.

:func:`decide` takes what was observed (:class:`Observed`: the spec, status, generation and
retry annotation, whether another object holds the job, a Secret problem, this process's memory
of the request, and the answer of the call it asked for last) and returns a :class:`Verdict`:
the status to write, the Events, the one SMC call to make next, whether the request is settled
and when to run again. The I/O shell (:class:`smc_operator.starting.Starter`) executes the verdict
and, after a call, decides again with the answer: it asks nothing back.

The state machine, for one start request (``metadata.generation`` plus the
``smcoperator.io/retry-requested-at`` annotation, docs/design.md):

==========================================  ==================================================
observed                                    verdict
==========================================  ==================================================
being deleted                               nothing
spec invalid / ``start: false``             write InvalidSpec / NotRequested (once)
this request already settled                nothing
this request in progress, attempts > 0      remembered outcome if this process has one, else
                                            call DescribeReplicationJobs (never a blind repeat)
another object holds the job (new request)  write DuplicateJobId
a call is due, the Secret is unusable       write CredentialsNotFound
a call is due                               write the intent (``Starting``, attempts + 1), then
                                            call StartReplicationJob
Describe: Running, Waiting or Finished      write Started (confirmed), RequestId of Describe
Describe: not started, budget left          write the intent, then call Start again
Start accepted                              write Started with SMC's RequestId
Start: InvalidStatus naming Running/Waiting write Started: our earlier attempt started it
  after an earlier attempt of ours
Start or Describe failed                    the failure's reason (:func:`errors.classify`):
                                            settled, or retried with backoff; the budget
                                            spent: RetriesExhausted
the intent could not be written             retry soon (conflict: 1 s; error: 5 s); gone: stop
==========================================  ==================================================

Invariant (exactly once): for every start request SMC sees at most one successful start. It holds
because the intent is written (with a resourceVersion precondition) before every call, and every
call after the first in a request follows a DescribeReplicationJobs that would have shown the
start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from smc_operator import wire
from smc_operator.backoff import retry_delay
from smc_operator.conditions import STARTED, set_condition, started_condition
from smc_operator.errors import classify, named_job_status
from smc_operator.events import Event, event_for
from smc_operator.model import ReplicationJobSpec, ReplicationJobStatus, StartRequest
from smc_operator.outcomes import DescribeOutcome, SmcAccepted, SmcFailure, StartOutcome
from smc_operator.reasons import REASONS, Reason, RetryCurve, known, row_of


@dataclass(frozen=True)
class Limits:
    """The retry budget and backoff curve (from settings)."""

    max_attempts: int = 10
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 300.0


class Call(StrEnum):
    """The SMC call a verdict asks for."""

    DESCRIBE = "DescribeReplicationJobs"
    """Before any repeat Start: has the start already happened?"""
    START = "StartReplicationJob"
    """Only after the verdict's ``write`` (the intent) has landed."""


class IntentFailure(StrEnum):
    """Why the write-ahead did not land (no SMC call was made)."""

    CONFLICT = "Conflict"
    """The object changed since it was read (resourceVersion precondition)."""
    GONE = "Gone"
    """The object was deleted."""
    ERROR = "Error"
    """The API server refused or could not be reached."""


@dataclass(frozen=True)
class Remembered:
    """A settled outcome this process recorded, in case its write was lost or a stale event
    shows the object again: recorded again as it was, keeping SMC's own RequestId."""

    request: StartRequest
    attempts: int
    status: ReplicationJobStatus


@dataclass(frozen=True)
class Observed:
    """Everything the decision looks at. ``spec`` is None when it did not parse."""

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
    #: Why the credentials cannot be used (a Secret in another namespace, or one that could not
    #: be read): known before a call is made.
    secret_problem: str | None = None
    #: This process's last settled outcome for the object, if any.
    remembered: Remembered | None = None
    #: The answer to the DescribeReplicationJobs the last verdict asked for.
    confirmation: DescribeOutcome | None = None
    #: The answer to the StartReplicationJob the last verdict asked for; ``status`` is then the
    #: intent written before it.
    outcome: StartOutcome | None = None
    #: The intent the last verdict asked to write did not land.
    intent_failure: IntentFailure | None = None
    intent_failure_detail: str = ""

    @property
    def request(self) -> StartRequest:
        return StartRequest(generation=self.generation, retry_requested_at=self.retry_requested_at)

    @property
    def is_current_request(self) -> bool:
        return self.status.start_request == self.request

    def answered(
        self,
        *,
        status: ReplicationJobStatus | None = None,
        confirmation: DescribeOutcome | None = None,
        outcome: StartOutcome | None = None,
        intent_failure: IntentFailure | None = None,
        intent_failure_detail: str = "",
        secret_problem: str | None = None,
    ) -> Observed:
        """This observation with the answer to the last verdict (earlier answers cleared)."""
        return dataclasses.replace(
            self,
            status=self.status if status is None else status,
            confirmation=confirmation,
            outcome=outcome,
            intent_failure=intent_failure,
            intent_failure_detail=intent_failure_detail,
            secret_problem=self.secret_problem if secret_problem is None else secret_problem,
        )


@dataclass(frozen=True)
class Verdict:
    """Everything to do. With ``call``, ``write`` goes first (it is the intent, for START).

    Without ``call`` the verdict is the attempt's outcome: ``write`` the status (or nothing),
    post ``events``, count a retry under ``metric``, and run again in ``retry_in`` seconds, or
    not (``retry_in`` None). ``final``: the request is settled; ``failed``: settled without
    starting the job. ``message`` says what happened, for the handler's log and kopf.
    """

    write: ReplicationJobStatus | None = None
    call: Call | None = None
    events: tuple[Event, ...] = ()
    retry_in: float | None = None
    final: bool = False
    failed: bool = False
    metric: Reason | None = None
    message: str = ""

    @property
    def reason(self) -> Reason | None:
        """The reason of the ``Started`` condition written (None when nothing is written)."""
        condition = self.write.condition(STARTED) if self.write is not None else None
        return known(condition.reason) if condition is not None else None


NOTHING = Verdict()


def decide(
    observed: Observed, limits: Limits, now: datetime, random: Callable[[], float]
) -> Verdict:
    """What happens next (the table in the module docstring)."""
    if observed.intent_failure is not None:
        return _intent_not_recorded(observed.intent_failure, observed.intent_failure_detail)
    if observed.outcome is not None:
        return _judge(observed, observed.outcome, limits, now, random)
    if observed.confirmation is not None:
        return _after_confirm(observed, observed.confirmation, limits, now, random)
    return _plan(observed, limits, now)


def _plan(observed: Observed, limits: Limits, now: datetime) -> Verdict:
    status = observed.status
    if observed.deleting:
        return NOTHING
    spec = observed.spec
    if spec is None:
        message = f"spec is invalid: {observed.spec_problem or 'unknown problem'}"
        return _record(observed, Reason.INVALID_SPEC, message, now)
    if not spec.start:
        message = "spec.start is false: no start requested (setting it to false never stops a job)"
        return _record(observed, Reason.NOT_REQUESTED, message, now)

    if observed.is_current_request:
        condition = status.condition(STARTED)
        row = row_of(condition.reason) if condition is not None else None
        if row is not None and row.settled:
            return NOTHING
        if row is not None and row.in_progress and status.attempts > 0:
            remembered = observed.remembered
            if remembered is not None and (remembered.request, remembered.attempts) == (
                observed.request,
                status.attempts,
            ):
                return _remembered(remembered.status)
            return _call(observed, Call.DESCRIBE, None, now)
        return _call(observed, Call.START, _intent(observed, limits, now, status.attempts + 1), now)

    if observed.duplicate_of is not None:
        message = (
            f"{observed.duplicate_of[0].upper()}{observed.duplicate_of[1:]} already starts SMC job "
            f"{spec.job_id}; this one does not call StartReplicationJob. "
            f"Delete one of them, or point this one at another job."
        )
        return _record(observed, Reason.DUPLICATE_JOB_ID, message, now)

    return _call(observed, Call.START, _intent(observed, limits, now, 1), now)


def _call(
    observed: Observed, call: Call, intent: ReplicationJobStatus | None, now: datetime
) -> Verdict:
    """A call is due, unless the credentials cannot be used: then that is final."""
    if observed.secret_problem is not None:
        message = (
            f"{observed.secret_problem}. Fix the Secret, then set the annotation "
            f"smcoperator.io/retry-requested-at to a new value to try again"
        )
        attempts = observed.status.attempts if observed.is_current_request else 0
        status = _status(observed, Reason.CREDENTIALS_NOT_FOUND, message, now, attempts=attempts)
        return _outcome(status)
    return Verdict(write=intent, call=call)


def _intent(
    observed: Observed, limits: Limits, now: datetime, attempts: int
) -> ReplicationJobStatus:
    """The write-ahead status: ``Starting``; ``attempts`` counts the call about to be made."""
    message = f"calling StartReplicationJob (attempt {attempts} of {limits.max_attempts})"
    return _status(observed, Reason.STARTING, message, now, attempts=attempts)


def _after_confirm(
    observed: Observed,
    report: DescribeOutcome,
    limits: Limits,
    now: datetime,
    random: Callable[[], float],
) -> Verdict:
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
        return _started(observed, message, now, request_id=report.request_id)

    if attempts >= limits.max_attempts:
        return _outcome(_exhausted(observed, limits, now, attempts=attempts))

    return Verdict(write=_intent(observed, limits, now, attempts + 1), call=Call.START)


def _judge(
    observed: Observed,
    outcome: StartOutcome,
    limits: Limits,
    now: datetime,
    random: Callable[[], float],
) -> Verdict:
    attempts = observed.status.attempts
    if isinstance(outcome, SmcAccepted):
        message = f"StartReplicationJob accepted (attempt {attempts})"
        return _started(observed, message, now, request_id=outcome.request_id)

    named = named_job_status(outcome)
    if attempts > 1 and named in wire.STARTED_STATUSES:
        # Our earlier attempt in this request started the job; SMC now refuses a second start.
        message = (
            f"start confirmed: after an earlier attempt, SMC reports the job {named} "
            f"({outcome.message})"
        )
        return _started(observed, message, now, request_id=outcome.request_id)

    return _failed(observed, limits, outcome, now, random, attempts=attempts, confirming=False)


def _started(observed: Observed, message: str, now: datetime, *, request_id: str | None) -> Verdict:
    """The start happened (accepted, or confirmed): final, with the RequestId that says so."""
    attempts = observed.status.attempts
    status = _status(
        observed, Reason.STARTED, message, now, attempts=attempts, request_id=request_id
    )
    return _outcome(status)


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
    action = Call.DESCRIBE if confirming else Call.START
    text = f"{action.value} failed: {failure.describe()}"
    reason = classify(failure)
    curve = REASONS[reason].retry
    if curve is None:
        return _outcome(
            _status(
                observed,
                reason,
                text,
                now,
                attempts=attempts,
                request_id=failure.request_id,
                error_code=failure.code,
            )
        )

    if attempts >= limits.max_attempts and not confirming:
        return _outcome(_exhausted(observed, limits, now, attempts=attempts, last=failure))

    # A failed confirmation makes no Start attempt; back off by how often the handler has run.
    step = max(attempts, observed.retries + 1) if confirming else max(attempts, 1)
    delay = retry_delay(
        step,
        throttled=curve is RetryCurve.THROTTLED,
        base=limits.backoff_base_seconds,
        cap=limits.backoff_max_seconds,
        random=random,
        retry_after=failure.retry_after,
    )
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
    return _outcome(status, retry_in=delay)


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


def _intent_not_recorded(failure: IntentFailure, detail: str) -> Verdict:
    if failure is IntentFailure.GONE:
        return Verdict(message="Not starting: the object is gone; nothing to start")
    if failure is IntentFailure.CONFLICT:
        return Verdict(
            retry_in=1.0,
            message="Not started yet: the object changed while deciding; "
            "deciding again on the new version",
        )
    return Verdict(retry_in=5.0, message=f"Not started yet: could not record the intent: {detail}")


def _record(observed: Observed, reason: Reason, message: str, now: datetime) -> Verdict:
    """Write ``reason`` (no call), unless the status already says exactly that."""
    condition = observed.status.condition(STARTED)
    if (
        observed.is_current_request
        and condition is not None
        and condition.reason == reason
        and condition.message == message
        and observed.status.observed_generation == observed.generation
    ):
        return NOTHING
    return _outcome(_status(observed, reason, message, now, attempts=0))


def _outcome(status: ReplicationJobStatus, *, retry_in: float | None = None) -> Verdict:
    """The verdict that records ``status``, announced by its Event."""
    condition = status.condition(STARTED)
    assert condition is not None  # every status the decision builds has one
    event = event_for(condition)
    row = REASONS[Reason(condition.reason)]
    return Verdict(
        write=status,
        events=(event,),
        retry_in=retry_in,
        final=row.settled,
        failed=row.failed,
        metric=Reason(condition.reason) if retry_in is not None else None,
        message=event.message,
    )


def _remembered(status: ReplicationJobStatus) -> Verdict:
    """A settled outcome recorded again as it was; its Event was posted the first time."""
    return dataclasses.replace(_outcome(status), events=())


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
