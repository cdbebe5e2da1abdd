"""Property-based tests of exactly-once: the real Starter and decision against fakes of SMC and
Kubernetes (:mod:`testkit.fakes`).

Each step is one handler run: the real :class:`~smc_operator.starting.Starter` attempts, over
:class:`FakeSmc` (SMC's job state machine: a start only from Ready, Stopped or InError, else
``ReplicationJob.InvalidStatus`` naming the status; a Running job may finish) and
:class:`FakeKube` (statuses with resourceVersion preconditions), and the verdict's status is
recorded as kopf records it. Hypothesis chooses everything else: SMC's answers (the truthful one,
errors with codes from the wire and random codes and HTTP statuses, ``retry-after``, a start that
took effect but whose answer was lost), DescribeReplicationJobs answers and failures, crashes
before and after SMC acted, write-aheads that do not land, outcome patches that are lost, operator
restarts (a new Starter, its memory gone), new start requests (generation, retry annotation,
``start: false``) and time. Invariants after every step:

- SMC sees at most one successful start per start request;
- no RequestId lost: while the process that saw SMC accept a start lives, the ``Started``
  condition recorded for that request carries that RequestId;
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
from smc_operator.apis import KubeError
from smc_operator.conditions import STARTED
from smc_operator.decide import Limits, Observed, Verdict, decide
from smc_operator.model import ReplicationJobSpec, ReplicationJobStatus
from smc_operator.outcomes import SmcFailure
from smc_operator.reasons import REASONS, Reason
from smc_operator.starting import ObjectRef, Starter, status_patch
from testkit.fakes import Act, Crash, FakeKube, FakeSmc, Script
from testkit.verdicts import half, step

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


NS, NAME = "team-a", "fuzz-01"
Request = tuple[int, str | None]


@dataclass
class World:
    """The object in Kubernetes, the job in SMC, the operator, and what the invariants need."""

    smc: FakeSmc
    kube: FakeKube = field(default_factory=FakeKube)
    generation: int = 1
    retry: str | None = None
    start: bool = True
    now: datetime = T0
    jitter: float = 0.5
    starter: Starter = field(init=False)
    #: Start calls per request, and the requests described (readably) since their last Start.
    calls: collections.Counter[Request] = field(default_factory=collections.Counter)
    described: set[Request] = field(default_factory=set)
    #: Successful starts per request, and the RequestId SMC gave, while the process that saw it
    #: lives (a restart forgets it: the start is then confirmed by Describe).
    successes: collections.Counter[Request] = field(default_factory=collections.Counter)
    accepted: dict[Request, str] = field(default_factory=dict)
    checked: int = 0
    #: What the last Start call did (only a truthful answer shows the operator SMC's RequestId).
    last_act: str = ""

    def __post_init__(self) -> None:
        self.kube.add(NS, NAME)
        self.restart()

    def restart(self) -> None:
        self.starter = Starter(
            self.smc,
            self.kube,
            LIMITS,
            "cn-hangzhou",
            clock=lambda: self.now,
            random=lambda: self.jitter,
        )
        self.accepted.clear()

    @property
    def request(self) -> Request:
        return (self.generation, self.retry)

    @property
    def stored(self) -> ReplicationJobStatus:
        return ReplicationJobStatus.model_validate(self.kube.objects[(NS, NAME)].status)

    def observed(self) -> Observed:
        return Observed(
            generation=self.generation,
            retry_requested_at=self.retry,
            spec=ReplicationJobSpec(job_id=JOB, start=self.start),
            status=self.stored,
        )

    def check_writes(self) -> None:
        """Every status that landed since the last check keeps the status invariants."""
        previous: ReplicationJobStatus | None = None
        for index, (_key, raw) in enumerate(self.kube.writes):
            status = ReplicationJobStatus.model_validate(raw)
            if index >= self.checked:
                check_status(status, previous, self)
            previous = status
        self.checked = len(self.kube.writes)

    async def handler_run(self, data: st.DataObject) -> None:
        """One run of the handler: the real Starter over the fakes, then kopf's patch."""
        self.jitter = data.draw(st.floats(0, 1, exclude_max=True), label="jitter")
        request = self.request
        start_calls = len([c for c in self.smc.calls if c[0] == wire.START_REPLICATION_JOB])

        def start_script() -> Script:
            if self.calls[request] > 0:
                assert request in self.described, "a repeat call without a Describe first"
            self.described.discard(request)
            self.calls[request] += 1
            assert self.calls[request] <= LIMITS.max_attempts
            kind = data.draw(
                st.sampled_from(
                    ["truthful"] * 2 + ["refused"] * 4 + ["lost", "crash-before", "crash-after"]
                ),
                label="call",
            )
            self.last_act = kind
            if kind == "truthful":
                return Script()
            if kind == "refused":
                failure = data.draw(st.one_of(retryable_failures, retryable_failures, failures))
                return Script(Act.REFUSED, failure)
            if kind == "lost":
                return Script(Act.LOST, data.draw(ambiguous_failures, label="lost answer"))
            if kind == "crash-before":
                self.calls[request] -= 1  # the call never left
                return Script(Act.CRASH_BEFORE)
            return Script(Act.CRASH_AFTER)

        def describe_script() -> Script:
            answer = data.draw(
                st.sampled_from(["truthful"] * 4 + ["failure", "unknown-job"]), label="describe"
            )
            if answer == "failure":
                failure = data.draw(
                    st.one_of(retryable_failures, failures), label="describe failure"
                )
                return Script(Act.REFUSED, failure)
            self.described.add(request)
            return Script() if answer == "truthful" else Script(Act.UNKNOWN_JOB)

        self.smc.start_script = start_script
        self.smc.describe_script = describe_script
        lands = data.draw(st.integers(0, 9), label="write-ahead lands") > 0
        self.kube.write_failure = lambda: None if lands else KubeError(500, "Error", "etcd down")
        stored = self.kube.objects[(NS, NAME)]
        ref = ObjectRef(NS, NAME, str(stored.resource_version))
        before = dict(self.smc.starts)
        try:
            verdict = await self.starter.attempt(ref, self.observed())
        except Crash:
            self.last_act = "crash"
            self.note_starts(before, request)
            self.restart()
            return
        self.note_starts(before, request)
        # A call's outcome follows the write-ahead; nothing is called without it.
        new_starts = len([c for c in self.smc.calls if c[0] == wire.START_REPLICATION_JOB])
        if new_starts > start_calls:
            assert self.kube.writes and self.kube.writes[-1][1]["conditions"]
        check_verdict(verdict)
        if verdict.write is not None and data.draw(st.integers(0, 9), label="patch lands") > 0:
            self.kube.apply(NS, NAME, status_patch(verdict.write))
        self.check_writes()

    def note_starts(self, before: dict[str, int], request: Request) -> None:
        if self.smc.starts[JOB] > before.get(JOB, 0):
            self.successes[request] += 1
            assert self.successes[request] <= 1, "a second successful start for one request"
            if self.last_act == "truthful":
                self.accepted[request] = self.smc.accepted[JOB][-1]


def check_status(
    status: ReplicationJobStatus, previous: ReplicationJobStatus | None, world: World
) -> None:
    """A written status: consistent, bounded, and Started only when SMC's job really started."""
    new = status.condition(STARTED)
    assert new is not None
    old = previous.condition(STARTED) if previous is not None else None
    assert status.observed_generation is not None
    assert new.observed_generation == status.observed_generation
    assert REASONS[Reason(new.reason)].status == new.status
    assert 0 <= status.attempts <= LIMITS.max_attempts
    if old is not None:
        assert new.last_transition_time >= old.last_transition_time
        if old.status == new.status:
            assert new.last_transition_time == old.last_transition_time
    if new.reason == Reason.STARTED:
        assert world.smc.jobs[JOB] in wire.STARTED_STATUSES, (new.message, world.smc.jobs[JOB])
        request = status.start_request
        assert request is not None
        accepted = world.accepted.get((request.generation, request.retry_requested_at))
        if accepted is not None:
            assert new.request_id == accepted, "SMC's RequestId was lost"
    assert len(new.message) <= 1024 and new.message.isprintable()


def check_verdict(verdict: Verdict) -> None:
    if verdict.write is None:
        return
    condition = verdict.write.condition(STARTED)
    assert condition is not None
    if verdict.retry_in is None:
        assert condition.status in ("True", "False"), condition
        if verdict.events:
            assert (
                REASONS[Reason(condition.reason)].settled
                or condition.reason == Reason.NOT_REQUESTED
            )
    else:
        assert condition.status == "Unknown", condition
        assert verdict.retry_in >= 0
        failure_retry_after = 3600.0
        assert verdict.retry_in <= max(LIMITS.backoff_max_seconds, failure_retry_after)


@FUZZ
@given(
    data=st.data(),
    initial=st.sampled_from(wire.JOB_STATUSES),
    strict=st.booleans(),
    steps=st.lists(
        st.sampled_from(
            ["run"] * 12
            + ["restart", "new-generation", "retry-annotation", "toggle-start", "progress"]
        ),
        min_size=10,
        max_size=80,
    ),
)
def test_any_history_keeps_the_invariants(
    data: st.DataObject, initial: str, strict: bool, steps: list[str]
) -> None:
    # The fakes never wait, so one coroutine run to its end is the whole history; no event loop
    # is needed (hypothesis' own exceptions pass straight through).
    coroutine = history(data, initial, strict, steps)
    try:
        coroutine.send(None)
    except StopIteration:
        return
    finally:
        coroutine.close()
    pytest.fail("the history waited for something: the fakes never wait")


async def history(data: st.DataObject, initial: str, strict: bool, steps: list[str]) -> None:
    world = World(FakeSmc(jobs={JOB: initial}, strict=strict))
    for action in steps:
        world.now += timedelta(seconds=data.draw(st.integers(0, 600), label="elapsed"))
        if action == "run":
            await world.handler_run(data)
        elif action == "restart":
            world.restart()
        elif action == "new-generation":
            world.generation += 1
        elif action == "retry-annotation":
            world.retry = world.now.isoformat()
        elif action == "toggle-start":
            world.start = not world.start
            world.generation += 1
        elif world.smc.jobs[JOB] == wire.JOB_RUNNING:
            world.smc.jobs[JOB] = data.draw(
                st.sampled_from([wire.JOB_FINISHED, wire.JOB_WAITING]), label="progress"
            )
    # However it went, a few more runs with SMC and Kubernetes behaving settle the request.
    world.smc.start_script = world.smc.describe_script = lambda: Script()
    world.last_act = "truthful"
    world.kube.write_failure = lambda: None
    for _ in range(2 * LIMITS.max_attempts + 2):
        stored = world.kube.objects[(NS, NAME)]
        before = dict(world.smc.starts)
        verdict = await world.starter.attempt(
            ObjectRef(NS, NAME, str(stored.resource_version)), world.observed()
        )
        world.note_starts(before, world.request)
        if verdict.write is None and verdict.retry_in is None:
            break
        if verdict.write is not None:
            world.kube.apply(NS, NAME, status_patch(verdict.write))
        world.check_writes()
    else:
        pytest.fail(f"the request did not settle: {world.stored.condition(STARTED)}")
    condition = world.stored.condition(STARTED)
    assert condition is not None and condition.status in ("True", "False")


@FUZZ
@given(
    problem=st.text(min_size=1, max_size=2000),
    generation=st.integers(0, 2**31),
    attempts=st.integers(0, 100),
)
def test_credential_problems_are_final_and_bounded(
    problem: str, generation: int, attempts: int
) -> None:
    observed = Observed(
        generation=generation,
        retry_requested_at=None,
        spec=ReplicationJobSpec(job_id=JOB, start=True),
        status=ReplicationJobStatus(attempts=attempts),
        secret_problem=problem,
    )
    verdict = decide(observed, LIMITS, T0, half)
    check_verdict(verdict)
    assert verdict.write is not None and verdict.call is None and verdict.failed
    condition = verdict.write.condition(STARTED)
    assert condition is not None and condition.reason == Reason.CREDENTIALS_NOT_FOUND
    assert len(condition.message) <= 1024 and condition.message.isprintable()


def test_backoff_grows_while_confirmations_keep_failing() -> None:
    observed = Observed(1, None, ReplicationJobSpec(job_id=JOB, start=True), ReplicationJobStatus())
    intent = decide(observed, LIMITS, T0, half)
    assert intent.write is not None
    failure = SmcFailure(None, "certificate verify failed")
    after_intent = dataclasses.replace(observed, status=intent.write)
    verdict = decide(after_intent.answered(outcome=failure), LIMITS, T0, lambda: 0.999)
    assert verdict.write is not None
    delays = [verdict.retry_in]
    status = verdict.write
    for retries in range(1, 5):  # kopf's retry count: the handler's earlier runs
        again = dataclasses.replace(observed, status=status, retries=retries)
        assert step(decide(again, LIMITS, T0, half)) == "confirm"
        result = decide(again.answered(confirmation=failure), LIMITS, T0, lambda: 0.999)
        assert result.write is not None
        status = result.write
        delays.append(result.retry_in)
    assert delays == sorted(delays) and delays[-1] > 4 * delays[0], delays
