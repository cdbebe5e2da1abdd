"""The decision: everything that happens next to one ReplicationJob. Pure: no I/O, no kopf, no SDK.

:func:`decide` takes what was observed (:class:`Observed`: the spec, status, generation and
retry annotation, whether another object holds the job, a Secret problem, this process's memory
of the request, and the answer of the call it asked for last) and returns a :class:`Verdict`:
the status to write, the Events, the one SMC call to make next, whether the start request is
settled and when to run again. The I/O shell (:class:`smc_operator.starting.Starter`) executes
the verdict and, after a call, decides again with the answer: it asks nothing back.

One object goes through the lifecycle's steps in this order, each owning one condition
(docs/design.md, section 7); a step with nothing to do passes to the next, a step that needs a
call ends the verdict with it, and after each answer the decision starts again from the top:

========  ===========  ==============================================================
step      condition    what it does
========  ===========  ==============================================================
create    Created      ``spec.job``: CreateReplicationJob exactly once (intent written
                       ahead; before a repeat, the lookup by name and uid tag).
                       ``spec.jobId``: Adopted once an answer about the job shows it (an
                       accepted Start, the Describe of a repeat start or of a suspend;
                       no call of its own). Nothing else happens without a job.
modify    Synced       ``spec.job``'s modifiable attributes differ from the job's:
                       ModifyReplicationJobAttribute when the job's status allows all
                       of them, else NotModifiableInStatus until it does
suspend   Suspended    ``spec.suspend``: StopReplicationJob once Running + Syncing
start     Started      the start request (table below); none while suspended
cut over  CutOver      ``spec.cutOver``: CutOverReplicationJob once, when Waiting
========  ===========  ==============================================================

Being deleted with ``deletionPolicy: Delete``: Stop if running, DeleteReplicationJob, and done
(the finalizer goes) once DescribeReplicationJobs no longer lists the job.

The start step, for one start request (the retry annotation plus the start-relevant part of the
spec, :func:`start_fingerprint`; in statuses written before the fingerprint existed, the
generation):

==========================================  ==================================================
observed                                    verdict
==========================================  ==================================================
being deleted                               nothing
spec invalid / ``start: false`` / suspended write InvalidSpec / NotRequested / Suspended (once)
this request already settled                nothing (a newer generation is stamped)
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

Invariants (exactly once): for every start request SMC sees at most one successful start, and
for every object uid at most one job is created. They hold because the intent is written (with a
resourceVersion precondition) before every Start and Create, every Start after the first in a
request follows a DescribeReplicationJobs that would have shown the start, and every Create
after the first follows a lookup by name and uid tag that would have found the job (and carries
the same ClientToken).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from smc_operator import wire
from smc_operator.backoff import retry_delay
from smc_operator.conditions import (
    CREATED,
    CUT_OVER,
    DELETED,
    STARTED,
    SUSPENDED,
    SYNCED,
    condition_for,
    set_condition,
)
from smc_operator.errors import classify, named_job_status
from smc_operator.events import Event, event_for
from smc_operator.model import (
    CLIENT_TOKEN_PREFIX,
    JOB_NAME_MAX_LENGTH,
    UID_TAG,
    Condition,
    JobAttributes,
    JobTemplate,
    ReplicationJobSpec,
    ReplicationJobStatus,
    StartRequest,
)
from smc_operator.outcomes import (
    ActionOutcome,
    CreateOutcome,
    DescribeOutcome,
    JobCreated,
    JobReport,
    JobsReport,
    SmcAccepted,
    SmcFailure,
    StartOutcome,
)
from smc_operator.reasons import REASONS, Reason, RetryCurve, known, row_of


@dataclass(frozen=True)
class Limits:
    """The retry budget, the backoff curve and the polling interval of waits (from settings)."""

    max_attempts: int = 10
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 300.0
    #: How often a wait for SMC's job (Stopping, WaitingForCycle, Deleting, ...) looks again.
    poll_seconds: float = 60.0


class Call(StrEnum):
    """The SMC call a verdict asks for."""

    DESCRIBE = "DescribeReplicationJobs"
    """What the job is now: before any repeat Start, and for every step that depends on it."""
    START = "StartReplicationJob"
    """Only after the verdict's ``write`` (the intent) has landed."""
    CREATE = "CreateReplicationJob"
    """Only after the verdict's ``write`` (the intent) has landed."""
    FIND = "DescribeReplicationJobs by Name and Tag"
    """Before any repeat Create: does the job exist already?"""
    STOP = "StopReplicationJob"
    CUT_OVER = "CutOverReplicationJob"
    """Only after the verdict's ``write`` (the intent) has landed."""
    MODIFY = "ModifyReplicationJobAttribute"
    DELETE = "DeleteReplicationJob"


#: Calls whose intent is written ahead, with a resourceVersion precondition.
INTENT_CALLS: Final = frozenset({Call.START, Call.CREATE, Call.CUT_OVER})


@dataclass(frozen=True)
class SmcRequest:
    """The parameters of the call a verdict asks for (beyond the object's region and Secret)."""

    job_id: str | None = None
    template: JobTemplate | None = None
    name: str | None = None
    client_token: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    sync_data: bool = False
    changes: JobAttributes | None = None


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
    shows the object again: recorded again as it was, keeping SMC's own RequestId.

    Kept for every object the process settled, so compactly: the status as its JSON (about a
    sixth of the model's memory), read back only when it is needed again.
    """

    request: StartRequest
    attempts: int
    status_json: bytes

    @classmethod
    def of(cls, request: StartRequest, status: ReplicationJobStatus) -> Remembered:
        return cls(request, status.attempts, status.model_dump_json(by_alias=True).encode())

    @property
    def status(self) -> ReplicationJobStatus:
        return ReplicationJobStatus.model_validate_json(self.status_json)


LifecycleOutcome = CreateOutcome | ActionOutcome | DescribeOutcome


@dataclass(frozen=True)
class Answer:
    """The answer to a lifecycle call (Create, Find, Stop, CutOver, Modify, Delete)."""

    call: Call
    outcome: LifecycleOutcome


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
    #: The object is being deleted (``deletionTimestamp`` set): never begin anything then,
    #: except deleting the job under ``deletionPolicy: Delete``.
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
    #: The answer to the lifecycle call the last verdict asked for.
    answer: Answer | None = None
    #: The intent the last verdict asked to write did not land.
    intent_failure: IntentFailure | None = None
    intent_failure_detail: str = ""
    #: The object's identity: the created job's default name and its ClientToken and uid tag.
    namespace: str = ""
    name: str = ""
    uid: str = ""

    @property
    def request(self) -> StartRequest:
        return StartRequest(
            generation=self.generation,
            retry_requested_at=self.retry_requested_at,
            spec=start_fingerprint(self.spec) if self.spec is not None else None,
        )

    @property
    def is_current_request(self) -> bool:
        recorded = self.status.start_request
        if recorded is None:
            return False
        current = self.request
        if recorded.spec is None or current.spec is None:
            return (recorded.generation, recorded.retry_requested_at) == (
                current.generation,
                current.retry_requested_at,
            )
        return (recorded.spec, recorded.retry_requested_at) == (
            current.spec,
            current.retry_requested_at,
        )

    @property
    def job_id(self) -> str | None:
        """The SMC job: ``spec.jobId``, or the one the operator created."""
        if self.spec is not None and self.spec.job_id is not None:
            return self.spec.job_id
        return self.status.job_id

    def answered(
        self,
        *,
        status: ReplicationJobStatus | None = None,
        confirmation: DescribeOutcome | None = None,
        outcome: StartOutcome | None = None,
        answer: Answer | None = None,
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
            answer=answer,
            intent_failure=intent_failure,
            intent_failure_detail=intent_failure_detail,
            secret_problem=self.secret_problem if secret_problem is None else secret_problem,
        )


@dataclass(frozen=True)
class Verdict:
    """Everything to do. With ``call``, ``write`` goes first (for INTENT_CALLS: the intent).

    Without ``call`` the verdict is the attempt's outcome: ``write`` the status (or nothing),
    post ``events``, count a retry under ``metric``, and run again in ``retry_in`` seconds, or
    not (``retry_in`` None). ``final``: the start request is settled; ``failed``: a step settled
    without doing what was asked. ``message`` says what happened, for the handler's log and kopf.
    ``request`` holds the call's parameters.
    """

    write: ReplicationJobStatus | None = None
    call: Call | None = None
    events: tuple[Event, ...] = ()
    retry_in: float | None = None
    final: bool = False
    failed: bool = False
    metric: Reason | None = None
    message: str = ""
    request: SmcRequest | None = None

    @property
    def reason(self) -> Reason | None:
        """The reason of the ``Started`` condition written (None when nothing is written)."""
        condition = self.write.condition(STARTED) if self.write is not None else None
        return known(condition.reason) if condition is not None else None


NOTHING = Verdict()


def start_fingerprint(spec: ReplicationJobSpec) -> str:
    """The part of the spec a start request is made for; other changes are no new request."""
    relevant = {
        "jobId": spec.job_id,
        "sourceId": spec.job.source_id if spec.job is not None else None,
        "regionId": spec.region_id,
        "start": spec.start,
        "secret": spec.secret_name,
        "suspend": spec.suspend,
    }
    digest = hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()
    return digest[:16]


def job_name(spec: ReplicationJobSpec, namespace: str, name: str) -> str:
    """The created job's name: ``spec.job.name``, else ``<namespace>-<name>`` fitted to SMC's
    rules (starts with a letter, at most 128 characters)."""
    if spec.job is not None and spec.job.name:
        return spec.job.name
    default = f"{namespace}-{name}"
    if not default[:1].isalpha():
        default = f"rj-{default}"
    return default[:JOB_NAME_MAX_LENGTH]


def client_token(uid: str) -> str:
    return f"{CLIENT_TOKEN_PREFIX}{uid}"[: wire.CLIENT_TOKEN_MAX_LENGTH]


def decide(
    observed: Observed, limits: Limits, now: datetime, random: Callable[[], float]
) -> Verdict:
    """What happens next (the tables in the module docstring)."""
    judged: Verdict | None = None
    if observed.outcome is not None:
        judged = _judge(observed, observed.outcome, limits, now, random)
    elif observed.answer is not None:
        judged = _judge_lifecycle(observed, observed.answer, limits, now, random)
    if observed.intent_failure is not None:
        # The next intent did not land: nothing of it happened, but what the answer before it
        # settled (a start SMC accepted, a created job) is still recorded, with its Event.
        halt = _intent_not_recorded(observed.intent_failure, observed.intent_failure_detail)
        if judged is None or judged.call is not None or judged.retry_in is not None:
            return halt  # the intent was the answer's own verdict: none of it landed
        return _merge(judged, halt)
    if judged is None:
        return _plan(observed, limits, now, random)
    if judged.call is not None or judged.retry_in is not None or judged.failed:
        return judged
    # The call succeeded: go on with the next step, on the status it leads to.
    rest = _plan(
        observed.answered(status=judged.write) if judged.write is not None else observed.answered(),
        limits,
        now,
        random,
    )
    return _merge(judged, rest)


def _merge(first: Verdict, then: Verdict) -> Verdict:
    """Two steps' verdicts as one: the later write (built on the earlier), both steps' Events,
    the sooner retry, the later call."""
    retries = [r for r in (first.retry_in, then.retry_in) if r is not None]
    return Verdict(
        write=then.write if then.write is not None else first.write,
        call=then.call,
        request=then.request,
        events=first.events + then.events,
        retry_in=min(retries) if retries else None,
        final=first.final or then.final,
        failed=first.failed or then.failed,
        metric=then.metric or first.metric,
        message="; ".join(m for m in (first.message, then.message) if m),
    )


Step = Callable[["Observed", Limits, datetime, Callable[[], float]], "Verdict | None"]


def _plan(
    observed: Observed, limits: Limits, now: datetime, random: Callable[[], float]
) -> Verdict:
    spec = observed.spec
    if observed.deleting:
        if spec is not None and spec.deletion_policy == "Delete":
            return _delete(observed, limits, now, random)
        return NOTHING
    if spec is None:
        message = f"spec is invalid: {observed.spec_problem or 'unknown problem'}"
        return _record(observed, Reason.INVALID_SPEC, message, now)
    verdict = NOTHING
    for step in _STEPS:
        result = step(observed, limits, now, random)
        if result is None:
            continue
        verdict = _merge(verdict, result)
        if result.call is not None:
            return verdict
        if result.write is not None:
            observed = dataclasses.replace(observed, status=result.write)
        if step is _create and observed.job_id is None:
            return verdict  # nothing else happens before the job exists
    return verdict


# --- the create step: Created ------------------------------------------------------------------


def _create(
    observed: Observed, limits: Limits, now: datetime, random: Callable[[], float]
) -> Verdict | None:
    spec = observed.spec
    assert spec is not None
    status = observed.status
    created = status.condition(CREATED)
    if spec.job is None:
        return _adopt(observed, limits, now, random)
    if status.job_id is not None:
        return None
    row = row_of(created.reason) if created is not None else None
    attempts = status.action_attempts.get(CREATED, 0)
    if row is not None and row.settled and _current(created, observed):
        return NOTHING  # refused for this generation: a new one asks again
    if row is not None and row.in_progress and attempts > 0:
        if observed.confirmation is None:
            return _call(observed, CREATED, Call.FIND, None, now, _find_request(observed))
        return _after_find(observed, observed.confirmation, limits, now, random)
    return _create_call(observed, limits, now, attempts + 1)


def _find_request(observed: Observed) -> SmcRequest:
    assert observed.spec is not None
    return SmcRequest(
        name=job_name(observed.spec, observed.namespace, observed.name),
        tags={UID_TAG: observed.uid},
    )


def _create_call(observed: Observed, limits: Limits, now: datetime, attempts: int) -> Verdict:
    spec = observed.spec
    assert spec is not None
    assert spec.job is not None
    name = job_name(spec, observed.namespace, observed.name)
    message = f"calling CreateReplicationJob {name} (attempt {attempts} of {limits.max_attempts})"
    intent = _status(observed, CREATED, Reason.CREATING, message, now, attempts=attempts)
    request = SmcRequest(
        template=spec.job,
        name=name,
        client_token=client_token(observed.uid),
        tags={**spec.job.tags, UID_TAG: observed.uid},
    )
    return _call(observed, CREATED, Call.CREATE, intent, now, request)


def _after_find(
    observed: Observed,
    report: DescribeOutcome,
    limits: Limits,
    now: datetime,
    random: Callable[[], float],
) -> Verdict:
    attempts = observed.status.action_attempts.get(CREATED, 0)
    if isinstance(report, SmcFailure):
        return _failed(observed, CREATED, Call.FIND, limits, report, now, random, attempts, True)
    job = _tagged_for(observed, report)
    if job is not None:
        message = (
            f"found job {job.job_id} by its name and tag {UID_TAG} after an unanswered "
            f"CreateReplicationJob (attempt {attempts})"
        )
        return _created(observed, job.job_id, message, now, report.request_id)
    if attempts >= limits.max_attempts:
        return _outcome(_exhausted(observed, CREATED, limits, now, attempts=attempts), CREATED)
    return _create_call(observed, limits, now, attempts + 1)


def _tagged_for(observed: Observed, report: JobsReport) -> JobReport | None:
    """The job of a lookup that carries this object's uid tag (a name alone is not proof)."""
    return next((j for j in report.jobs.values() if j.tags.get(UID_TAG) == observed.uid), None)


def _created(
    observed: Observed, job_id: str, message: str, now: datetime, request_id: str | None
) -> Verdict:
    status = _status(
        observed, CREATED, Reason.CREATED, message, now, attempts=0, request_id=request_id
    )
    status = status.model_copy(update={"job_id": job_id})
    # A job just created has the spec's attributes.
    synced = condition_for(
        SYNCED,
        Reason.SYNCED,
        f"job {job_id} was created from spec.job",
        generation=observed.generation,
        now=now,
        request_id=request_id,
    )
    status = status.model_copy(update={"conditions": set_condition(status.conditions, synced)})
    return _outcome(status, CREATED)


def _adopt(
    observed: Observed, limits: Limits, now: datetime, random: Callable[[], float]
) -> Verdict | None:
    """``spec.jobId``: Created=Adopted once SMC shows the job (non-blocking: Start goes on)."""
    spec = observed.spec
    assert spec is not None
    assert spec.job_id is not None
    status = observed.status
    created = status.condition(CREATED)
    if status.job_id == spec.job_id and created is not None and created.status == "True":
        return None
    if (
        created is not None
        and created.reason == Reason.JOB_NOT_FOUND
        and _current(created, observed)
    ):
        return None
    report = observed.confirmation
    if report is None:
        # No call of its own: the next answer about the job tells (an accepted Start, or the
        # Describe of a repeat start or of a suspend).
        return None
    if isinstance(report, SmcFailure):
        return None  # the steps that need the job report the failure; adoption waits
    job = report.jobs.get(spec.job_id)
    if job is None:
        return _set(
            observed,
            CREATED,
            Reason.JOB_NOT_FOUND,
            f"DescribeReplicationJobs does not know job {spec.job_id}",
            now,
            request_id=report.request_id,
            error_code=wire.JOB_NOT_FOUND,
        )
    return _adopted(observed, f"DescribeReplicationJobs shows job {spec.job_id}", now, report)


def _adopted(
    observed: Observed, message: str, now: datetime, answer: JobsReport | SmcAccepted
) -> Verdict:
    """Recorded without an Event of its own: the call that showed the job tells its story."""
    assert observed.spec is not None
    status = _status(
        observed, CREATED, Reason.ADOPTED, message, now, attempts=0, request_id=answer.request_id
    )
    verdict = _outcome(status.model_copy(update={"job_id": observed.spec.job_id}), CREATED)
    return dataclasses.replace(verdict, events=(), message="")


# --- the modify step: Synced -------------------------------------------------------------------


def _desired(observed: Observed) -> JobAttributes:
    spec = observed.spec
    assert spec is not None
    assert spec.job is not None
    template = spec.job
    return JobAttributes(
        name=job_name(spec, observed.namespace, observed.name),
        description=template.description,
        frequency=template.frequency,
        max_number_of_image_to_keep=template.max_number_of_image_to_keep,
        valid_time=template.valid_time,
    )


#: JobAttributes' fields and SMC's names for them (wire.MODIFIABLE_IN's keys).
_SMC_FIELD: Final = {
    "name": "Name",
    "description": "Description",
    "frequency": "Frequency",
    "max_number_of_image_to_keep": "MaxNumberOfImageToKeep",
    "valid_time": "ValidTime",
}


def _changes(desired: JobAttributes, job: JobReport) -> JobAttributes:
    """What differs between the spec and the job (fields the spec leaves out are left alone)."""
    current = {
        "name": job.name,
        "description": job.description,
        "frequency": job.frequency,
        "max_number_of_image_to_keep": job.max_number_of_image_to_keep,
        "valid_time": job.valid_time,
    }
    update = {
        key: value
        for key, value in dataclasses.asdict(desired).items()
        if value is not None and value != current[key]
    }
    return JobAttributes(**update)


def _sync(
    observed: Observed, limits: Limits, now: datetime, random: Callable[[], float]
) -> Verdict | None:
    spec = observed.spec
    assert spec is not None
    job_id = observed.job_id
    if spec.job is None or job_id is None:
        return None
    synced = observed.status.condition(SYNCED)
    if synced is not None and synced.reason == Reason.SYNCED and _current(synced, observed):
        return None
    job = _job_report(observed, SYNCED, limits, now, random)
    if not isinstance(job, JobReport):
        return job
    changes = _changes(_desired(observed), job)
    if changes.is_empty():
        return _set(observed, SYNCED, Reason.SYNCED, f"job {job_id} matches spec.job", now)
    fields = [
        _SMC_FIELD[key] for key, value in dataclasses.asdict(changes).items() if value is not None
    ]
    refused = [
        name
        for name in fields
        if job.status not in wire.MODIFIABLE_IN.get(name, wire.MODIFIABLE_BEFORE_FIRST_RUN)
    ]
    if refused:
        message = (
            f"SMC changes {', '.join(refused)} only in other job states; job {job_id} is "
            f"{job.status}: the change is applied once SMC allows it"
        )
        return _set(observed, SYNCED, Reason.NOT_MODIFIABLE_IN_STATUS, message, now, retry=limits)
    attempts = _attempts(observed, SYNCED)
    if attempts >= limits.max_attempts:
        return _outcome(_exhausted(observed, SYNCED, limits, now, attempts=attempts), SYNCED)
    message = (
        f"calling ModifyReplicationJobAttribute for {', '.join(fields)} "
        f"(attempt {attempts + 1} of {limits.max_attempts})"
    )
    modifying = _status(observed, SYNCED, Reason.MODIFYING, message, now, attempts=attempts + 1)
    return _call(
        observed, SYNCED, Call.MODIFY, modifying, now, SmcRequest(job_id=job_id, changes=changes)
    )


# --- the suspend step: Suspended ---------------------------------------------------------------


def _suspend(
    observed: Observed, limits: Limits, now: datetime, random: Callable[[], float]
) -> Verdict | None:
    spec = observed.spec
    assert spec is not None
    job_id = observed.job_id
    suspended = observed.status.condition(SUSPENDED)
    if not spec.suspend:
        if suspended is None or suspended.reason == Reason.RESUMED:
            return None
        return _set(observed, SUSPENDED, Reason.RESUMED, "spec.suspend is false", now)
    if job_id is None:
        return None
    if suspended is not None and suspended.status == "True" and _current(suspended, observed):
        return None
    row = row_of(suspended.reason) if suspended is not None else None
    if row is not None and row.failed and _current(suspended, observed):
        return NOTHING
    job = _job_report(observed, SUSPENDED, limits, now, random)
    if not isinstance(job, JobReport):
        return job
    return _suspend_job(observed, job, limits, now)


def _suspend_job(observed: Observed, job: JobReport, limits: Limits, now: datetime) -> Verdict:
    job_id = job.job_id
    if job.status == wire.JOB_RUNNING and job.business_status == wire.BUSINESS_SYNCING:
        attempts = _attempts(observed, SUSPENDED)
        if attempts >= limits.max_attempts:
            exhausted = _exhausted(observed, SUSPENDED, limits, now, attempts=attempts)
            return _outcome(exhausted, SUSPENDED)
        stopping = _status(
            observed,
            SUSPENDED,
            Reason.STOPPING,
            f"calling StopReplicationJob: job {job_id} is Running, Syncing "
            f"(attempt {attempts + 1} of {limits.max_attempts})",
            now,
            attempts=attempts + 1,
        )
        return _call(observed, SUSPENDED, Call.STOP, stopping, now, SmcRequest(job_id=job_id))
    if job.status in (wire.JOB_RUNNING, wire.JOB_WAITING):
        message = (
            f"job {job_id} is {job.status}"
            f"{', ' + job.business_status if job.business_status else ''}: SMC stops a job only "
            f"while Running and Syncing; looking again every {limits.poll_seconds:g}s"
        )
        return _set(observed, SUSPENDED, Reason.STOPPING, message, now, retry=limits)
    if job.status in (wire.JOB_READY, wire.JOB_STOPPED, wire.JOB_IN_ERROR):
        message = f"job {job_id} is {job.status}: not running, and not started while suspended"
        return _set(observed, SUSPENDED, Reason.STOPPED, message, now)
    message = f"job {job_id} is {job.status}: there is nothing to suspend"
    return _set(observed, SUSPENDED, Reason.INVALID_STATUS, message, now)


# --- the start step: Started (the table in the module docstring) -------------------------------


def _start(
    observed: Observed, limits: Limits, now: datetime, random: Callable[[], float]
) -> Verdict | None:
    status = observed.status
    spec = observed.spec
    assert spec is not None
    job_id = observed.job_id
    if job_id is None:
        return None
    if spec.suspend:
        message = "spec.suspend is true: no start while suspended"
        return _record(observed, Reason.SUSPENDED, message, now)
    if not spec.start:
        message = "spec.start is false: no start requested (setting it to false never stops a job)"
        return _record(observed, Reason.NOT_REQUESTED, message, now)

    if observed.is_current_request:
        condition = status.condition(STARTED)
        row = row_of(condition.reason) if condition is not None else None
        if row is not None and row.settled:
            return _restamped(observed, condition)
        if row is not None and row.in_progress and status.attempts > 0:
            remembered = observed.remembered
            if remembered is not None and (remembered.request, remembered.attempts) == (
                observed.request,
                status.attempts,
            ):
                return _remembered(remembered.status)
            if observed.confirmation is None:
                return _call(observed, STARTED, Call.DESCRIBE, None, now)
            return _after_confirm(observed, observed.confirmation, limits, now, random)
        return _call(
            observed, STARTED, Call.START, _intent(observed, limits, now, status.attempts + 1), now
        )

    if observed.duplicate_of is not None:
        message = (
            f"{observed.duplicate_of[0].upper()}{observed.duplicate_of[1:]} already starts SMC job "
            f"{job_id}; this one does not call StartReplicationJob. "
            f"Delete one of them, or point this one at another job."
        )
        return _record(observed, Reason.DUPLICATE_JOB_ID, message, now)

    return _call(observed, STARTED, Call.START, _intent(observed, limits, now, 1), now)


def _restamped(observed: Observed, condition: Condition | None) -> Verdict | None:
    """A settled request seen at a newer generation (a change that is no new start request):
    the status says it was looked at, without a new transition or Event."""
    if condition is None or condition.observed_generation == observed.generation:
        return None
    status = observed.status
    request = status.start_request
    restamped = condition.model_copy(update={"observed_generation": observed.generation})
    return Verdict(
        write=status.model_copy(
            update={
                "observed_generation": observed.generation,
                "conditions": set_condition(status.conditions, restamped),
                "start_request": request.model_copy(update={"generation": observed.generation})
                if request is not None
                else None,
            }
        )
    )


def _call(
    observed: Observed,
    type_: str,
    call: Call,
    intent: ReplicationJobStatus | None,
    now: datetime,
    request: SmcRequest | None = None,
) -> Verdict:
    """A call is due, unless the credentials cannot be used: then that is final for the step."""
    if observed.secret_problem is not None:
        message = (
            f"{observed.secret_problem}. Fix the Secret, then set the annotation "
            f"smcoperator.io/retry-requested-at to a new value to try again"
        )
        attempts = _attempts(observed, type_) if _in_request(observed, type_) else 0
        status = _status(
            observed, type_, Reason.CREDENTIALS_NOT_FOUND, message, now, attempts=attempts
        )
        return _outcome(status, type_)
    return Verdict(write=intent, call=call, request=request or SmcRequest(job_id=observed.job_id))


def _intent(
    observed: Observed, limits: Limits, now: datetime, attempts: int
) -> ReplicationJobStatus:
    """The write-ahead status: ``Starting``; ``attempts`` counts the call about to be made."""
    message = f"calling StartReplicationJob (attempt {attempts} of {limits.max_attempts})"
    return _status(observed, STARTED, Reason.STARTING, message, now, attempts=attempts)


def _after_confirm(
    observed: Observed,
    report: DescribeOutcome,
    limits: Limits,
    now: datetime,
    random: Callable[[], float],
) -> Verdict:
    attempts = observed.status.attempts
    job_id = observed.job_id or ""
    if isinstance(report, SmcFailure):
        return _failed(
            observed, STARTED, Call.DESCRIBE, limits, report, now, random, attempts, True
        )

    job = report.jobs.get(job_id)
    if job is None:
        failure = SmcFailure(
            code=wire.JOB_NOT_FOUND,
            message=f"DescribeReplicationJobs does not know job {job_id}",
            request_id=report.request_id,
        )
        return _failed(
            observed, STARTED, Call.DESCRIBE, limits, failure, now, random, attempts, True
        )

    if job.status in wire.STARTED_STATUSES:
        message = (
            f"start confirmed by DescribeReplicationJobs: the job is {job.status} "
            f"after attempt {attempts}"
        )
        return _started(observed, message, now, request_id=report.request_id)

    if attempts >= limits.max_attempts:
        return _outcome(_exhausted(observed, STARTED, limits, now, attempts=attempts))

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
        return _started(observed, message, now, request_id=outcome.request_id, accepted=outcome)

    named = named_job_status(outcome)
    if attempts > 1 and named in wire.STARTED_STATUSES:
        # Our earlier attempt in this request started the job; SMC now refuses a second start.
        message = (
            f"start confirmed: after an earlier attempt, SMC reports the job {named} "
            f"({outcome.message})"
        )
        return _started(observed, message, now, request_id=outcome.request_id)

    verdict = _failed(observed, STARTED, Call.START, limits, outcome, now, random, attempts, False)
    spec = observed.spec
    adopting = spec is not None and spec.job_id is not None
    if adopting and outcome.code == wire.JOB_NOT_FOUND and verdict.write is not None:
        # SMC does not know spec.jobId: nothing was adopted either.
        not_found = condition_for(
            CREATED,
            Reason.JOB_NOT_FOUND,
            f"StartReplicationJob: SMC does not know job {observed.job_id}",
            generation=observed.generation,
            now=now,
            request_id=outcome.request_id,
            error_code=outcome.code,
        )
        written = verdict.write
        verdict = dataclasses.replace(
            verdict,
            write=written.model_copy(
                update={"conditions": set_condition(written.conditions, not_found)}
            ),
        )
    return verdict


def _started(
    observed: Observed,
    message: str,
    now: datetime,
    *,
    request_id: str | None,
    accepted: SmcAccepted | None = None,
) -> Verdict:
    """The start happened (accepted, or confirmed): final, with the RequestId that says so."""
    attempts = observed.status.attempts
    status = _status(
        observed, STARTED, Reason.STARTED, message, now, attempts=attempts, request_id=request_id
    )
    verdict = _outcome(status)
    spec = observed.spec
    created = status.condition(CREATED)
    if (
        accepted is not None
        and spec is not None
        and spec.job_id is not None
        and (created is None or created.status != "True" or status.job_id != spec.job_id)
    ):
        # An accepted start of spec.jobId shows SMC knows the job: adopted, without a Describe
        # (and without an Event of its own: the Started Event tells).
        adopted = _adopted(
            dataclasses.replace(observed, status=status),
            f"StartReplicationJob accepted job {spec.job_id}",
            now,
            accepted,
        )
        verdict = _merge(verdict, adopted)
    return verdict


# --- the cut-over step: CutOver ----------------------------------------------------------------


def _cut_over(
    observed: Observed, limits: Limits, now: datetime, random: Callable[[], float]
) -> Verdict | None:
    spec = observed.spec
    assert spec is not None
    job_id = observed.job_id
    if spec.cut_over is None or job_id is None:
        return None
    condition = observed.status.condition(CUT_OVER)
    row = row_of(condition.reason) if condition is not None else None
    if condition is not None and condition.status == "True":
        return None  # asked once, done once
    if row is not None and row.failed and _current(condition, observed):
        return NOTHING
    started = observed.status.condition(STARTED)
    if started is None or started.status != "True":
        message = f"cut-over requested: waiting for job {job_id} to be started"
        return _set(observed, CUT_OVER, Reason.WAITING_FOR_CYCLE, message, now, retry=limits)
    attempts = observed.status.action_attempts.get(CUT_OVER, 0)
    job = _job_report(observed, CUT_OVER, limits, now, random)
    if not isinstance(job, JobReport):
        return job
    # An attempt without its answer (in flight, lost, or failed) may have cut the job over.
    # Only Finished says it did and only Waiting says it did not: a Running job is either the
    # cut-over's last run (syncData) or the next cycle, so it is looked at again, never cut twice.
    unanswered = row is not None and row.in_progress and attempts > 0
    if unanswered and job.status == wire.JOB_FINISHED:
        message = (
            f"cut-over confirmed by DescribeReplicationJobs: job {job_id} is Finished "
            f"after attempt {attempts}"
        )
        return _cut(observed, message, now, request_id=None)
    if unanswered and job.status == wire.JOB_RUNNING:
        message = (
            f"CutOverReplicationJob attempt {attempts} has no answer and job {job_id} is Running "
            f"(the cut-over's last run, or the next cycle): looking again every "
            f"{limits.poll_seconds:g}s until it is Finished (cut over) or Waiting (not)"
        )
        return _set(observed, CUT_OVER, Reason.CUTTING_OVER, message, now, retry=limits)
    if job.run_once:
        message = (
            f"job {job_id} is a one-off job (runOnce: true): only incremental jobs are cut over"
        )
        return _set(observed, CUT_OVER, Reason.NOT_INCREMENTAL, message, now)
    if job.status == wire.JOB_WAITING:
        if attempts >= limits.max_attempts:
            return _outcome(
                _exhausted(observed, CUT_OVER, limits, now, attempts=attempts), CUT_OVER
            )
        message = (
            f"calling CutOverReplicationJob (syncData {str(spec.cut_over.sync_data).lower()}, "
            f"attempt {attempts + 1} of {limits.max_attempts})"
        )
        intent = _status(
            observed, CUT_OVER, Reason.CUTTING_OVER, message, now, attempts=attempts + 1
        )
        request = SmcRequest(job_id=job_id, sync_data=spec.cut_over.sync_data)
        return _call(observed, CUT_OVER, Call.CUT_OVER, intent, now, request)
    if job.status in (wire.JOB_RUNNING, wire.JOB_READY, wire.JOB_STOPPED):
        message = (
            f"job {job_id} is {job.status}: SMC cuts over only between cycles (Waiting); "
            f"looking again every {limits.poll_seconds:g}s"
        )
        return _set(observed, CUT_OVER, Reason.WAITING_FOR_CYCLE, message, now, retry=limits)
    message = f"job {job_id} is {job.status}: SMC cuts over only a Waiting job"
    return _set(observed, CUT_OVER, Reason.INVALID_STATUS, message, now)


def _cut(observed: Observed, message: str, now: datetime, *, request_id: str | None) -> Verdict:
    status = _status(
        observed, CUT_OVER, Reason.CUT_OVER, message, now, attempts=0, request_id=request_id
    )
    return _outcome(status, CUT_OVER)


# --- deletion (deletionPolicy: Delete): Deleted ------------------------------------------------


def _delete(
    observed: Observed, limits: Limits, now: datetime, random: Callable[[], float]
) -> Verdict:
    job_id = observed.job_id
    if job_id is None:
        created = observed.status.condition(CREATED)
        row = row_of(created.reason) if created is not None else None
        unanswered = row is not None and row.in_progress
        if unanswered and observed.status.action_attempts.get(CREATED, 0) > 0:
            # A create may have happened: find its job before letting the object go.
            report = observed.confirmation
            if report is None:
                return _call(observed, DELETED, Call.FIND, None, now, _find_request(observed))
            if isinstance(report, SmcFailure):
                return _deletion_failed(observed, Call.FIND, report, limits, now, random)
            mine = _tagged_for(observed, report)
            if mine is not None:
                found = observed.status.model_copy(update={"job_id": mine.job_id})
                return _plan(observed.answered(status=found), limits, now, random)
        return Verdict(message="Deleted: no SMC job was created for this object")
    report = observed.confirmation
    if report is None:
        return _call(observed, DELETED, Call.DESCRIBE, None, now)
    if isinstance(report, SmcFailure):
        return _deletion_failed(observed, Call.DESCRIBE, report, limits, now, random)
    job = report.jobs.get(job_id)
    if job is None:
        return Verdict(message=f"Deleted: SMC no longer lists job {job_id}; the finalizer goes")
    request = SmcRequest(job_id=job_id)
    if job.status == wire.JOB_DELETING:
        message = f"job {job_id} is Deleting; looking again every {limits.poll_seconds:g}s"
        return _set(observed, DELETED, Reason.DELETING, message, now, retry=limits)
    if job.status == wire.JOB_RUNNING:
        if job.business_status == wire.BUSINESS_SYNCING:
            message = f"calling StopReplicationJob before deleting job {job_id}"
            attempts = _attempts(observed, DELETED) + 1
            stopping = _status(observed, DELETED, Reason.DELETING, message, now, attempts=attempts)
            return _call(observed, DELETED, Call.STOP, stopping, now, request)
        message = (
            f"job {job_id} is Running, {job.business_status or 'busy'}: SMC deletes no running "
            f"job and stops one only while Syncing; looking again every {limits.poll_seconds:g}s"
        )
        return _set(observed, DELETED, Reason.DELETING, message, now, retry=limits)
    message = f"calling DeleteReplicationJob: job {job_id} is {job.status}"
    attempts = _attempts(observed, DELETED) + 1
    deleting = _status(observed, DELETED, Reason.DELETING, message, now, attempts=attempts)
    return _call(observed, DELETED, Call.DELETE, deleting, now, request)


def _deletion_failed(
    observed: Observed,
    call: Call,
    failure: SmcFailure,
    limits: Limits,
    now: datetime,
    random: Callable[[], float],
) -> Verdict:
    """A lookup before deleting failed: the Deleted condition says so, and it is retried."""
    attempts = _attempts(observed, DELETED)  # a failed look is no attempt
    return _failed(observed, DELETED, call, limits, failure, now, random, attempts, True)


# --- lifecycle answers -------------------------------------------------------------------------


def _judge_lifecycle(
    observed: Observed,
    answer: Answer,
    limits: Limits,
    now: datetime,
    random: Callable[[], float],
) -> Verdict | None:
    """The answer to a lifecycle call: its step's outcome (None: plan on). The lookup by name
    and tag (FIND) arrives as ``confirmation``: the step that asked reads it."""
    outcome = answer.outcome
    call = answer.call
    if call is Call.CREATE:
        attempts = observed.status.action_attempts.get(CREATED, 0)
        if isinstance(outcome, JobCreated):
            message = f"CreateReplicationJob created job {outcome.job_id} (attempt {attempts})"
            return _created(observed, outcome.job_id, message, now, outcome.request_id)
        assert isinstance(outcome, SmcFailure)
        return _failed(observed, CREATED, call, limits, outcome, now, random, attempts, False)
    assert isinstance(outcome, SmcAccepted | SmcFailure)
    if observed.deleting:
        return _judge_deletion(observed, call, outcome, limits, now, random)
    if call is Call.STOP:
        if isinstance(outcome, SmcAccepted):
            message = f"StopReplicationJob accepted: job {observed.job_id} is stopped"
            return _outcome(
                _status(
                    observed,
                    SUSPENDED,
                    Reason.STOPPED,
                    message,
                    now,
                    attempts=0,
                    request_id=outcome.request_id,
                ),
                SUSPENDED,
            )
        if outcome.code == wire.INVALID_STATUS:
            # The job moved on between Describe and Stop: look again later.
            message = f"StopReplicationJob refused ({outcome.describe()}); looking again"
            return _set(
                observed,
                SUSPENDED,
                Reason.STOPPING,
                message,
                now,
                request_id=outcome.request_id,
                error_code=outcome.code,
                retry=limits,
                attempts=0,
            )
        attempts = _attempts(observed, SUSPENDED)  # the Stop just made
        return _failed(observed, SUSPENDED, call, limits, outcome, now, random, attempts, False)
    if call is Call.CUT_OVER:
        attempts = observed.status.action_attempts.get(CUT_OVER, 0)
        if isinstance(outcome, SmcAccepted):
            message = f"CutOverReplicationJob accepted (attempt {attempts})"
            return _cut(observed, message, now, request_id=outcome.request_id)
        named = named_job_status(outcome)
        if attempts > 1 and named == wire.JOB_FINISHED:
            message = f"cut-over confirmed: after an earlier attempt, SMC reports the job {named}"
            return _cut(observed, message, now, request_id=outcome.request_id)
        if outcome.code in (wire.INVALID_STATUS, wire.INVALID_BUSINESS_STATUS):
            message = f"CutOverReplicationJob refused ({outcome.describe()}); waiting for Waiting"
            return _set(
                observed,
                CUT_OVER,
                Reason.WAITING_FOR_CYCLE,
                message,
                now,
                request_id=outcome.request_id,
                error_code=outcome.code,
                retry=limits,
                attempts=0,
            )
        return _failed(observed, CUT_OVER, call, limits, outcome, now, random, attempts, False)
    if call is Call.MODIFY:
        if isinstance(outcome, SmcAccepted):
            message = (
                f"ModifyReplicationJobAttribute accepted: job {observed.job_id} matches spec.job"
            )
            return _outcome(
                _status(
                    observed,
                    SYNCED,
                    Reason.SYNCED,
                    message,
                    now,
                    attempts=0,
                    request_id=outcome.request_id,
                ),
                SYNCED,
            )
        attempts = _attempts(observed, SYNCED)  # the Modify just made
        return _failed(observed, SYNCED, call, limits, outcome, now, random, attempts, False)
    raise AssertionError(f"no answer expected from {call}")  # DELETE only while deleting


def _judge_deletion(
    observed: Observed,
    call: Call,
    outcome: SmcAccepted | SmcFailure,
    limits: Limits,
    now: datetime,
    random: Callable[[], float],
) -> Verdict | None:
    if isinstance(outcome, SmcAccepted):
        return None  # look at the job again (Describe), then on
    if outcome.code == wire.JOB_NOT_FOUND:
        return Verdict(message=f"Deleted: SMC does not know job {observed.job_id}")
    if outcome.code == wire.INVALID_STATUS:
        message = f"{call.value} refused ({outcome.describe()}); looking again"
        return _set(
            observed,
            DELETED,
            Reason.DELETING,
            message,
            now,
            request_id=outcome.request_id,
            error_code=outcome.code,
            retry=limits,
        )
    attempts = _attempts(observed, DELETED)  # the Stop or Delete just made
    return _failed(observed, DELETED, call, limits, outcome, now, random, attempts, False)


# --- shared: the job's report, failures, conditions --------------------------------------------


def _job_report(
    observed: Observed, type_: str, limits: Limits, now: datetime, random: Callable[[], float]
) -> JobReport | Verdict | None:
    """The job as DescribeReplicationJobs shows it now; else the verdict that asks (or fails)."""
    report = observed.confirmation
    if report is None:
        return _call(observed, type_, Call.DESCRIBE, None, now)
    if isinstance(report, SmcFailure):
        attempts = _attempts(observed, type_)  # a failed look is no attempt of the action
        return _failed(observed, type_, Call.DESCRIBE, limits, report, now, random, attempts, True)
    job = report.jobs.get(observed.job_id or "")
    return job  # None: SMC does not list it (Created and the job mirror say so)


def _failed(
    observed: Observed,
    type_: str,
    action: Call,
    limits: Limits,
    failure: SmcFailure,
    now: datetime,
    random: Callable[[], float],
    attempts: int,
    confirming: bool,
) -> Verdict:
    name = "DescribeReplicationJobs" if action is Call.FIND else action.value
    text = f"{name} failed: {failure.describe()}"
    client_error = Reason.INVALID_PARAMETER if action is Call.CREATE else Reason.FAILED
    reason = classify(failure, client_error=client_error)
    curve = REASONS[reason].retry
    # A deletion never ends in a failure: the finalizer stays, the condition says why, and it is
    # tried again until SMC no longer lists the job (``deletionPolicy: Orphan`` lets it go).
    endless = type_ == DELETED
    if curve is None:
        refused = _outcome(
            _status(
                observed,
                type_,
                reason,
                text,
                now,
                attempts=attempts,
                request_id=failure.request_id,
                error_code=failure.code,
            ),
            type_,
        )
        if endless:  # looked at again every poll interval
            return dataclasses.replace(
                refused, retry_in=limits.poll_seconds, failed=False, final=False
            )
        return refused

    if attempts >= limits.max_attempts and not confirming and not endless:
        return _outcome(
            _exhausted(observed, type_, limits, now, attempts=attempts, last=failure), type_
        )

    # A failed confirmation makes no attempt; back off by how often the handler has run.
    step = max(attempts, observed.retries + 1) if confirming else max(attempts, 1)
    delay = retry_delay(
        step,
        throttled=curve is RetryCurve.THROTTLED,
        base=limits.backoff_base_seconds,
        cap=limits.backoff_max_seconds,
        random=random,
        retry_after=failure.retry_after,
    )
    count = (
        f"attempt {attempts}; retried until the job is deleted or deletionPolicy is Orphan"
        if endless
        else f"attempt {attempts} of {limits.max_attempts}"
    )
    message = f"{text}; retrying in {delay:.1f}s ({count})"
    status = _status(
        observed,
        type_,
        reason,
        message,
        now,
        attempts=attempts,
        request_id=failure.request_id,
        error_code=failure.code,
    )
    return _outcome(status, type_, retry_in=delay)


def _exhausted(
    observed: Observed,
    type_: str,
    limits: Limits,
    now: datetime,
    *,
    attempts: int,
    last: SmcFailure | None = None,
) -> ReplicationJobStatus:
    previous = observed.status.condition(type_)
    code = last.code if last else (previous.error_code if previous else None)
    request_id = last.request_id if last else (previous.request_id if previous else None)
    detail = last.describe() if last else (previous.message if previous else "")
    message = f"gave up after {attempts} of {limits.max_attempts} attempts; last: {detail}"
    return _status(
        observed,
        type_,
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


def _current(condition: Condition | None, observed: Observed) -> bool:
    return condition is not None and condition.observed_generation == observed.generation


def _record(observed: Observed, reason: Reason, message: str, now: datetime) -> Verdict:
    """Write ``reason`` on Started (no call), unless the status already says exactly that."""
    condition = observed.status.condition(STARTED)
    if (
        observed.is_current_request
        and condition is not None
        and condition.reason == reason
        and condition.message == message
    ):
        return _restamped(observed, condition) or NOTHING
    return _outcome(_status(observed, STARTED, reason, message, now, attempts=0))


def _set(
    observed: Observed,
    type_: str,
    reason: Reason,
    message: str,
    now: datetime,
    *,
    request_id: str | None = None,
    error_code: str | None = None,
    retry: Limits | None = None,
    attempts: int | None = None,
) -> Verdict:
    """Write a lifecycle condition (no call), unless it already says exactly that; a wait
    (``retry``) looks again every poll interval."""
    retry_in = retry.poll_seconds if retry is not None else None
    condition = observed.status.condition(type_)
    if condition is not None and condition.reason == reason and condition.message == message:
        # Said already: no Event; a newer generation is only stamped.
        if _current(condition, observed):
            return Verdict(retry_in=retry_in, message=message)
        restamped = condition.model_copy(update={"observed_generation": observed.generation})
        status = observed.status.model_copy(
            update={
                "observed_generation": observed.generation,
                "conditions": set_condition(observed.status.conditions, restamped),
            }
        )
        return Verdict(write=status, retry_in=retry_in, message=message)
    kept = _attempts(observed, type_) if attempts is None else attempts
    status = _status(
        observed,
        type_,
        reason,
        message,
        now,
        attempts=kept if REASONS[reason].in_progress else 0,
        request_id=request_id,
        error_code=error_code,
    )
    return _outcome(status, type_, retry_in=retry_in)


def _attempts(observed: Observed, type_: str) -> int:
    if type_ == STARTED:
        return observed.status.attempts
    return observed.status.action_attempts.get(type_, 0)


def _in_request(observed: Observed, type_: str) -> bool:
    return observed.is_current_request if type_ == STARTED else True


def _outcome(
    status: ReplicationJobStatus, type_: str = STARTED, *, retry_in: float | None = None
) -> Verdict:
    """The verdict that records ``status``, announced by its ``type_`` condition's Event."""
    condition = status.condition(type_)
    assert condition is not None  # every status the decision builds has one
    event = event_for(condition)
    reason = Reason(condition.reason)
    row = REASONS[reason]
    counted = retry_in is not None and row.retry is not RetryCurve.POLL
    return Verdict(
        write=status,
        events=(event,),
        retry_in=retry_in,
        final=row.settled and type_ == STARTED,
        failed=row.failed,
        metric=reason if counted else None,
        message=event.message,
    )


def _remembered(status: ReplicationJobStatus) -> Verdict:
    """A settled outcome recorded again as it was; its Event was posted the first time."""
    return dataclasses.replace(_outcome(status), events=())


def _status(
    observed: Observed,
    type_: str,
    reason: Reason,
    message: str,
    now: datetime,
    *,
    attempts: int,
    request_id: str | None = None,
    error_code: str | None = None,
) -> ReplicationJobStatus:
    condition = condition_for(
        type_,
        reason,
        message,
        generation=observed.generation,
        now=now,
        request_id=request_id,
        error_code=error_code,
    )
    update: dict[str, object] = {
        "observed_generation": observed.generation,
        "conditions": set_condition(observed.status.conditions, condition),
    }
    if type_ == STARTED:
        update["attempts"] = attempts
        update["start_request"] = observed.request
    else:
        counts = {k: v for k, v in observed.status.action_attempts.items() if k != type_}
        if attempts > 0:
            counts[type_] = attempts
        update["action_attempts"] = counts
    return observed.status.model_copy(update=update)


_STEPS: Final[tuple[Step, ...]] = (_create, _sync, _suspend, _start, _cut_over)
