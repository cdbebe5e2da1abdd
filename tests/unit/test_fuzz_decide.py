"""Property-based tests of the decision (:mod:`smc_operator.decide`) against a model of SMC.

The driver plays the handler (:mod:`smc_operator.starting`) against a tiny SMC state machine: a
successful StartReplicationJob moves the job from a startable state (Ready, Stopped, InError) to
Running; a start in any other state is answered with ``ReplicationJob.InvalidStatus`` naming that
state; a Running job may finish (Finished or Waiting). Hypothesis chooses everything else: SMC's
answers (the truthful one, errors with codes from the wire and random codes and HTTP statuses,
``retry-after``, garbled answers to a start that did or did not happen), DescribeReplicationJobs
answers and failures, operator restarts (re-planning from the last status written, including
crashes between the write-ahead and the outcome), new start requests (generation, retry
annotation, ``start: false``) and time. Invariants after every step:

- SMC sees at most one successful start per start request;
- ``attempts`` never exceeds ``maxAttempts``, nor do StartReplicationJob calls per request;
- the ``Started`` condition's ``lastTransitionTime`` never goes back, changes exactly when its
  status changes, and ``observedGeneration`` is stamped on every write;
- ``Started``/True only when SMC's job really is Running, Waiting or Finished;
- a settled verdict is never Unknown; a retry is always Unknown with a bounded, non-negative delay;
- the operator never leaves a request Unknown with nothing more to do.
"""

from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smc_operator import wire
from smc_operator.conditions import FINAL_REASONS, STARTED, STATUS_OF, Reason, format_time
from smc_operator.decide import (
    Limits,
    Observed,
    Plan,
    Step,
    Verdict,
    after_confirm,
    credentials_missing,
    judge,
    plan,
)
from smc_operator.model import ReplicationJobSpec, ReplicationJobStatus
from smc_operator.outcomes import JobReport, JobsReport, SmcAccepted, SmcFailure

JOB = "j-fuzz0000000000001"
T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
LIMITS = Limits(max_attempts=3, backoff_base_seconds=1.0, backoff_max_seconds=8.0)

FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

WIRE_CODES = (
    wire.INTERNAL_ERROR,
    wire.SERVICE_UNAVAILABLE,
    wire.THROTTLING,
    wire.THROTTLING_USER,
    wire.THROTTLING_API,
    wire.INVALID_ACCESS_KEY_NOT_FOUND,
    wire.INVALID_ACCESS_KEY_INACTIVE,
    wire.SIGNATURE_DOES_NOT_MATCH,
    wire.INVALID_SECURITY_TOKEN_EXPIRED,
    wire.FORBIDDEN_RAM,
    wire.FORBIDDEN,
    wire.INVALID_CREDENTIALS,
    wire.JOB_NOT_FOUND,
    wire.SOURCE_SERVER_STATE_INVALID,
    wire.MISSING_PARAMETER,
    wire.INVALID_PARAMETER,
    wire.INVALID_ACTION_NOT_FOUND,
)

codes = st.one_of(st.none(), st.sampled_from(WIRE_CODES), st.text(min_size=1, max_size=30))
http_statuses = st.one_of(
    st.none(), st.sampled_from([400, 403, 404, 409, 429, 500, 502, 503]), st.integers(100, 599)
)
failures = st.builds(
    SmcFailure,
    code=codes,
    message=st.text(max_size=60),
    request_id=st.one_of(st.none(), st.uuids().map(str)),
    http_status=http_statuses,
    retry_after=st.one_of(st.none(), st.floats(0.001, 3600)),
)
#: Failures worth retrying (weighted up, so that histories reach the attempt limit).
retryable_failures = st.builds(
    SmcFailure,
    code=st.sampled_from(
        [None, wire.INTERNAL_ERROR, wire.THROTTLING_USER, wire.SERVICE_UNAVAILABLE]
    ),
    message=st.just("try again"),
    request_id=st.one_of(st.none(), st.just("R-retry")),
    http_status=st.sampled_from([None, 500, 503, 400]),
    retry_after=st.one_of(st.none(), st.just(2.0)),
)
#: Failures of a call whose start may have happened: no answer, or an InternalError.
ambiguous_failures = st.builds(
    SmcFailure,
    code=st.sampled_from([None, wire.INTERNAL_ERROR]),
    message=st.sampled_from(["timed out", "connection reset", "<html>502</html>"]),
    http_status=st.sampled_from([None, 500, 502]),
)


@dataclass
class World:
    """The object in Kubernetes, the job in SMC, and what the invariants need to remember."""

    job_status: str
    #: SMC's real state machine (a start only from Ready, Stopped, InError), or a lenient SMC
    #: that accepts a start in any state: then only the operator's protocol prevents a second
    #: start (the Describe before any repeat call).
    strict: bool = True
    generation: int = 1
    retry: str | None = None
    start: bool = True
    stored: ReplicationJobStatus = field(default_factory=ReplicationJobStatus)
    now: datetime = T0
    successes: collections.Counter[tuple[int, str | None]] = field(
        default_factory=collections.Counter
    )
    calls: collections.Counter[tuple[int, str | None]] = field(default_factory=collections.Counter)
    request_ids: int = 0
    #: Requests whose job was described (a readable answer) since their last Start call.
    described: set[tuple[int, str | None]] = field(default_factory=set)

    @property
    def request(self) -> tuple[int, str | None]:
        return (self.generation, self.retry)

    def observed(self, status: ReplicationJobStatus | None = None) -> Observed:
        return Observed(
            generation=self.generation,
            retry_requested_at=self.retry,
            spec=ReplicationJobSpec(job_id=JOB, start=self.start),
            status=self.stored if status is None else status,
        )

    def request_id(self) -> str:
        self.request_ids += 1
        return f"R-{self.request_ids}"

    def write(self, status: ReplicationJobStatus) -> None:
        """Store ``status`` (a status write), checking every invariant of a written status."""
        old = self.stored.condition(STARTED)
        new = status.condition(STARTED)
        assert new is not None
        assert status.observed_generation == self.generation
        assert new.observed_generation == self.generation
        assert STATUS_OF[Reason(new.reason)] == new.status
        assert 0 <= status.attempts <= LIMITS.max_attempts
        if old is not None:
            assert new.last_transition_time >= old.last_transition_time
            if old.status == new.status:
                assert new.last_transition_time == old.last_transition_time
            else:
                assert new.last_transition_time == format_time(self.now)
        if new.reason == Reason.STARTED:
            assert self.job_status in wire.STARTED_STATUSES, (new.message, self.job_status)
        assert len(new.message) <= 1024 and new.message.isprintable()
        self.stored = status

    def describe(self) -> None:
        self.described.add(self.request)

    def call(self) -> None:
        """A StartReplicationJob call leaves the operator (whatever becomes of it)."""
        if self.calls[self.request] > 0:
            assert self.request in self.described, "a repeat call without a Describe first"
        self.described.discard(self.request)
        self.calls[self.request] += 1
        assert self.calls[self.request] <= LIMITS.max_attempts

    def smc_start(self) -> bool:
        """StartReplicationJob takes effect in SMC's model; True if the job started."""
        self.call()
        if self.strict and self.job_status not in wire.STARTABLE_STATUSES:
            return False
        self.job_status = wire.JOB_RUNNING
        self.successes[self.request] += 1
        assert self.successes[self.request] <= 1, "a second successful start for one request"
        return True


def check_verdict(verdict: Verdict) -> None:
    condition = verdict.status.condition(STARTED)
    assert condition is not None
    if verdict.retry_in is None:
        assert condition.status in ("True", "False"), condition
        assert Reason(condition.reason) in FINAL_REASONS
    else:
        assert condition.status == "Unknown", condition
        assert verdict.retry_in >= 0
        failure_retry_after = 3600.0
        assert verdict.retry_in <= max(LIMITS.backoff_max_seconds, failure_retry_after)


def reconcile(world: World, data: st.DataObject) -> None:
    """One handler run: plan, confirm, write-ahead, call, judge, write (or crash on the way)."""
    jitter = data.draw(st.floats(0, 1, exclude_max=True), label="jitter")

    def random() -> float:
        return jitter

    observed = world.observed()
    step: Plan | Verdict = plan(observed, LIMITS, world.now)
    if step.step is Step.NOTHING:
        condition = world.stored.condition(STARTED)
        assert condition is not None and condition.status != "Unknown", condition
        return
    if step.step is Step.RECORD:
        world.write(step.status)
        return
    if step.step is Step.CONFIRM:
        answer = data.draw(
            st.sampled_from(["truthful"] * 4 + ["failure", "unknown-job"]), label="describe"
        )
        report: JobsReport | SmcFailure
        if answer == "truthful":
            world.describe()
            report = JobsReport(world.request_id(), {JOB: JobReport(JOB, status=world.job_status)})
        elif answer == "failure":
            report = data.draw(st.one_of(retryable_failures, failures), label="describe failure")
        else:
            world.describe()
            report = JobsReport(world.request_id(), {})
        step = after_confirm(observed, LIMITS, report, world.now, random)
        if isinstance(step, Verdict):
            check_verdict(step)
            world.write(step.status)
            return
    assert isinstance(step, Plan) and step.step is Step.START

    if data.draw(st.integers(0, 9), label="write-ahead lands") > 0:
        world.write(step.status)  # the intent
    else:
        return  # the write-ahead failed (conflict, API down): no call is made
    kind = data.draw(
        st.sampled_from(
            ["truthful"] * 2 + ["refused"] * 4 + ["lost-after-start", "crash-before", "crash-after"]
        ),
        label="call",
    )
    if kind == "crash-before":
        return
    outcome: SmcAccepted | SmcFailure
    if kind == "truthful":
        current = world.job_status
        if world.smc_start():
            outcome = SmcAccepted(world.request_id())
        else:
            message = wire.INVALID_STATUS_MESSAGE % (current, ", ".join(wire.STARTABLE_STATUSES))
            outcome = SmcFailure(wire.INVALID_STATUS, message, world.request_id(), 400)
    elif kind == "refused":
        world.call()
        outcome = data.draw(
            st.one_of(retryable_failures, retryable_failures, failures), label="start failure"
        )
    elif kind == "lost-after-start":
        world.smc_start()
        outcome = data.draw(ambiguous_failures, label="lost answer")
    else:  # crash-after: the call happened, the operator died before writing the outcome
        world.smc_start()
        return
    verdict = judge(world.observed(step.status), LIMITS, outcome, world.now, random)
    check_verdict(verdict)
    world.write(verdict.status)


@FUZZ
@given(
    data=st.data(),
    initial=st.sampled_from(wire.JOB_STATUSES),
    strict=st.booleans(),
    steps=st.lists(
        st.sampled_from(
            ["reconcile"] * 12 + ["new-generation", "retry-annotation", "toggle-start", "progress"]
        ),
        min_size=10,
        max_size=80,
    ),
)
def test_any_history_keeps_the_invariants(
    data: st.DataObject, initial: str, strict: bool, steps: list[str]
) -> None:
    world = World(job_status=initial, strict=strict)
    for action in steps:
        world.now += timedelta(seconds=data.draw(st.integers(0, 600), label="elapsed"))
        if action == "reconcile":
            reconcile(world, data)
        elif action == "new-generation":
            world.generation += 1
        elif action == "retry-annotation":
            world.retry = world.now.isoformat()
        elif action == "toggle-start":
            world.start = not world.start
            world.generation += 1
        elif world.job_status == wire.JOB_RUNNING:
            world.job_status = data.draw(
                st.sampled_from([wire.JOB_FINISHED, wire.JOB_WAITING]), label="progress"
            )
    # However it went, a few more runs with SMC answering truthfully settle the request.
    for _ in range(2 * LIMITS.max_attempts + 2):
        observed = world.observed()
        step = plan(observed, LIMITS, world.now)
        if step.step is Step.NOTHING:
            break
        if step.step is Step.RECORD:
            world.write(step.status)
            continue
        if step.step is Step.CONFIRM:
            world.describe()
            report = JobsReport(world.request_id(), {JOB: JobReport(JOB, status=world.job_status)})
            confirmed = after_confirm(observed, LIMITS, report, world.now, lambda: 0.5)
            if isinstance(confirmed, Verdict):
                world.write(confirmed.status)
                continue
            step = confirmed
        world.write(step.status)
        current = world.job_status
        if world.smc_start():
            outcome: SmcAccepted | SmcFailure = SmcAccepted(world.request_id())
        else:
            message = wire.INVALID_STATUS_MESSAGE % (current, ", ".join(wire.STARTABLE_STATUSES))
            outcome = SmcFailure(wire.INVALID_STATUS, message, world.request_id(), 400)
        world.write(
            judge(world.observed(step.status), LIMITS, outcome, world.now, lambda: 0.5).status
        )
    else:
        pytest.fail(f"the request did not settle: {world.stored.condition(STARTED)}")
    condition = world.stored.condition(STARTED)
    assert condition is not None and condition.status in ("True", "False")


@FUZZ
@given(
    problem=st.text(max_size=2000),
    generation=st.integers(0, 2**31),
    attempts=st.integers(0, 100),
)
def test_credential_problems_are_final_and_bounded(
    problem: str, generation: int, attempts: int
) -> None:
    status = ReplicationJobStatus(attempts=attempts)
    observed = Observed(
        generation=generation,
        retry_requested_at=None,
        spec=ReplicationJobSpec(job_id=JOB, start=True),
        status=status,
    )
    verdict = credentials_missing(observed, problem, T0)
    check_verdict(verdict)
    condition = verdict.status.condition(STARTED)
    assert condition is not None and condition.reason == Reason.CREDENTIALS_NOT_FOUND
    assert len(condition.message) <= 1024 and condition.message.isprintable()


def test_backoff_grows_while_confirmations_keep_failing() -> None:
    world = World(job_status=wire.JOB_READY)
    intent = plan(world.observed(), LIMITS, T0)
    world.write(intent.status)
    failure = SmcFailure(None, "certificate verify failed")
    verdict = judge(world.observed(intent.status), LIMITS, failure, T0, lambda: 0.999)
    world.write(verdict.status)
    delays = [verdict.retry_in]
    for retries in range(1, 5):  # kopf's retry count: the handler's earlier runs
        confirm = plan(world.observed(), LIMITS, T0)
        assert confirm.step is Step.CONFIRM
        observed = dataclasses.replace(world.observed(), retries=retries)
        result = after_confirm(observed, LIMITS, failure, T0, lambda: 0.999)
        assert isinstance(result, Verdict)
        world.write(result.status)
        delays.append(result.retry_in)
    assert delays == sorted(delays) and delays[-1] > 4 * delays[0], delays
