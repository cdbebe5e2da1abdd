"""The decision function, row by row of the table in its docstring."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from smc_operator import wire
from smc_operator.conditions import STARTED
from smc_operator.decide import Limits, Observed, Verdict, decide
from smc_operator.model import ReplicationJobSpec, ReplicationJobStatus
from smc_operator.outcomes import JobReport, JobsReport, SmcAccepted, SmcFailure
from smc_operator.reasons import Reason
from testkit.verdicts import half, step

T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
LIMITS = Limits(max_attempts=3, backoff_base_seconds=5, backoff_max_seconds=300)
JOB = "j-bw526m1vi6x21qxxxx"


def observed(
    *,
    start: bool = True,
    generation: int = 1,
    retry: str | None = None,
    status: ReplicationJobStatus | None = None,
    duplicate_of: str | None = None,
) -> Observed:
    return Observed(
        generation=generation,
        retry_requested_at=retry,
        spec=ReplicationJobSpec(job_id=JOB, start=start),
        status=status or ReplicationJobStatus(),
        duplicate_of=duplicate_of,
    )


def started_reason(result: Verdict) -> tuple[str, str, str | None, str | None, int]:
    condition = result.write.condition(STARTED)
    assert condition is not None
    return (
        condition.reason,
        condition.status,
        condition.error_code,
        condition.request_id,
        result.write.attempts,
    )


def written_intent(obs: Observed) -> Observed:
    """The object as it is after the write-ahead of ``plan(obs)`` landed."""
    result = decide(obs, LIMITS, T0, half)
    assert step(result) == "start"
    return Observed(
        generation=obs.generation,
        retry_requested_at=obs.retry_requested_at,
        spec=obs.spec,
        status=result.write,
    )


# --- plan -------------------------------------------------------------------------------------


def test_start_false_records_not_requested_once() -> None:
    first = decide(observed(start=False), LIMITS, T0, half)
    assert step(first) == "record"
    assert started_reason(first) == ("NotRequested", "False", None, None, 0)
    again = decide(observed(start=False, status=first.write), LIMITS, T0 + timedelta(hours=1), half)
    assert step(again) == "nothing"


def test_invalid_spec_is_recorded_as_a_failure() -> None:
    obs = Observed(
        generation=1,
        retry_requested_at=None,
        spec=None,
        status=ReplicationJobStatus(),
        spec_problem="spec.jobId: String should match pattern",
    )
    result = decide(obs, LIMITS, T0, half)
    assert step(result) == "record" and result.failed
    assert started_reason(result)[:2] == ("InvalidSpec", "False")
    condition = result.write.condition(STARTED)
    assert condition is not None and "spec.jobId" in condition.message


def test_a_fresh_request_writes_the_intent_then_starts() -> None:
    result = decide(observed(generation=4), LIMITS, T0, half)
    assert step(result) == "start"
    assert started_reason(result) == ("Starting", "Unknown", None, None, 1)
    assert result.write.observed_generation == 4
    assert result.write.start_request is not None
    assert result.write.start_request.generation == 4


def test_a_call_in_flight_is_confirmed_before_any_repeat() -> None:
    # The operator died after the write-ahead: the call may or may not have reached SMC.
    obs = written_intent(observed())
    assert step(decide(obs, LIMITS, T0, half)) == "confirm"


@pytest.mark.parametrize("final", [Reason.STARTED, Reason.INVALID_STATUS, Reason.ACCESS_DENIED])
def test_a_settled_request_does_nothing(final: Reason) -> None:
    obs = written_intent(observed())
    outcome = {
        Reason.STARTED: SmcAccepted("R-1"),
        Reason.INVALID_STATUS: SmcFailure(wire.INVALID_STATUS, "no", "R-2", 400),
        Reason.ACCESS_DENIED: SmcFailure("Forbidden.RAM", "no", "R-3", 403),
    }[final]
    verdict = decide(obs.answered(outcome=outcome), LIMITS, T0, half)
    assert verdict.retry_in is None
    settled = observed(status=verdict.write)
    assert step(decide(settled, LIMITS, T0, half)) == "nothing"


def test_a_new_generation_is_a_new_request_with_attempts_reset() -> None:
    obs = written_intent(observed(generation=1))
    done = decide(
        obs.answered(outcome=SmcFailure("InternalError", "x", "R", 500)), LIMITS, T0, half
    )
    changed = observed(generation=2, status=done.write)
    changed = dataclasses.replace(
        changed, spec=ReplicationJobSpec(job_id=JOB, start=True, region_id="cn-shanghai")
    )
    result = decide(changed, LIMITS, T0, half)
    assert step(result) == "start"
    assert result.write.attempts == 1


def test_a_new_generation_that_leaves_the_start_alone_is_no_new_request() -> None:
    # e.g. spec.deletionPolicy or spec.job.description changed: the settled start stays settled
    # and is stamped with the new generation, without an Event.
    obs = written_intent(observed(generation=1))
    done = decide(obs.answered(outcome=SmcAccepted("R-S")), LIMITS, T0, half)
    later = dataclasses.replace(
        observed(generation=2, status=done.write),
        spec=ReplicationJobSpec(job_id=JOB, start=True, deletion_policy="Delete"),
    )
    result = decide(later, LIMITS, T0, half)
    assert result.call is None and result.events == ()
    assert result.write is not None
    condition = result.write.condition(STARTED)
    assert condition is not None
    assert (condition.reason, condition.request_id, condition.observed_generation) == (
        "Started",
        "R-S",
        2,
    )


def test_a_new_retry_annotation_value_is_a_new_request() -> None:
    obs = written_intent(observed())
    done = decide(
        obs.answered(outcome=SmcFailure(wire.INVALID_STATUS, "x", "R", 400)), LIMITS, T0, half
    )
    same = decide(observed(status=done.write), LIMITS, T0, half)
    assert step(same) == "nothing"
    retried = decide(observed(status=done.write, retry="2026-11-29T13:00:00Z"), LIMITS, T0, half)
    assert step(retried) == "start"
    assert retried.write.attempts == 1


def test_an_object_being_deleted_is_left_alone() -> None:
    obs = observed(generation=7)
    deleting = Observed(
        generation=obs.generation,
        retry_requested_at=None,
        spec=obs.spec,
        status=obs.status,
        deleting=True,
    )
    assert step(decide(deleting, LIMITS, T0, half)) == "nothing"


def test_a_duplicate_job_id_is_reported_without_calling() -> None:
    result = decide(observed(duplicate_of="ReplicationJob team-a/first"), LIMITS, T0, half)
    assert step(result) == "record" and result.failed
    assert started_reason(result)[:2] == ("DuplicateJobId", "False")
    condition = result.write.condition(STARTED)
    assert condition is not None and "team-a/first" in condition.message


# --- judge: one row per outcome ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "expected", "retries"),
    [
        (SmcAccepted("R-OK"), ("Started", "True", None, "R-OK", 1), False),
        (
            SmcFailure("InternalError", wire.INTERNAL_ERROR_MESSAGE, "R-500", 500),
            ("Retrying", "Unknown", "InternalError", "R-500", 1),
            True,
        ),
        (
            SmcFailure(None, "timed out"),
            ("Retrying", "Unknown", None, None, 1),
            True,
        ),
        (
            SmcFailure("Throttling.User", "slow down", "R-T", 400),
            ("Throttled", "Unknown", "Throttling.User", "R-T", 1),
            True,
        ),
        (
            SmcFailure("ServiceUnavailable", "busy", "R-503", 503),
            ("Throttled", "Unknown", "ServiceUnavailable", "R-503", 1),
            True,
        ),
        (
            SmcFailure(
                wire.INVALID_STATUS,
                wire.INVALID_STATUS_MESSAGE % ("Running", "Ready, Stopped, InError"),
                "R-IS",
                400,
            ),
            ("InvalidStatus", "False", wire.INVALID_STATUS, "R-IS", 1),
            False,
        ),
        (
            SmcFailure(wire.SOURCE_SERVER_STATE_INVALID, "bad source", "R-SS", 400),
            ("SourceServerStateInvalid", "False", wire.SOURCE_SERVER_STATE_INVALID, "R-SS", 1),
            False,
        ),
        (
            SmcFailure("InvalidAccessKeyId.NotFound", "who", "R-AK", 404),
            ("AccessDenied", "False", "InvalidAccessKeyId.NotFound", "R-AK", 1),
            False,
        ),
        (
            SmcFailure("InvalidJobId.NotFound", "no job", "R-NF", 404),
            ("JobNotFound", "False", "InvalidJobId.NotFound", "R-NF", 1),
            False,
        ),
        (
            SmcFailure("InvalidParameter", "odd", "R-IP", 400),
            ("Failed", "False", "InvalidParameter", "R-IP", 1),
            False,
        ),
    ],
)
def test_each_outcome_of_a_first_attempt(
    outcome: SmcAccepted | SmcFailure,
    expected: tuple[str, str, str | None, str | None, int],
    retries: bool,
) -> None:
    verdict = decide(written_intent(observed()).answered(outcome=outcome), LIMITS, T0, half)
    assert started_reason(verdict) == expected
    assert (verdict.retry_in is not None) is retries
    condition = verdict.write.condition(STARTED)
    assert condition is not None
    if isinstance(outcome, SmcFailure):
        assert outcome.message in condition.message


def test_retry_delays_follow_the_curves() -> None:
    obs = written_intent(observed())
    retry = decide(
        obs.answered(outcome=SmcFailure("InternalError", "x", "R", 500)), LIMITS, T0, half
    )
    throttle = decide(
        obs.answered(outcome=SmcFailure("Throttling", "x", "R", 400)), LIMITS, T0, half
    )
    assert retry.retry_in == 2.5  # half of the base ceiling (5 s)
    assert throttle.retry_in is not None and throttle.retry_in > retry.retry_in


def test_retry_after_from_smc_is_honoured() -> None:
    obs = written_intent(observed())
    failure = SmcFailure("Throttling.Api", "x", "R", 400, retry_after=120)
    assert decide(obs.answered(outcome=failure), LIMITS, T0, half).retry_in == 120


def test_retries_exhausted_after_max_attempts_keeping_the_last_code() -> None:
    obs = written_intent(observed())
    for attempt in range(1, LIMITS.max_attempts + 1):
        assert obs.status.attempts == attempt
        verdict = decide(
            obs.answered(outcome=SmcFailure("InternalError", "x", f"R{attempt}", 500)),
            LIMITS,
            T0,
            half,
        )
        if attempt < LIMITS.max_attempts:
            assert verdict.reason == "Retrying"
            confirm = observed(status=verdict.write)
            assert step(decide(confirm, LIMITS, T0, half)) == "confirm"
            report = JobsReport("RD", {JOB: JobReport(JOB, status="Ready")})
            next_plan = decide(confirm.answered(confirmation=report), LIMITS, T0, half)
            assert next_plan.call is not None and step(next_plan) == "start"
            obs = observed(status=next_plan.write)
    assert started_reason(verdict) == (
        "RetriesExhausted",
        "False",
        "InternalError",
        f"R{LIMITS.max_attempts}",
        LIMITS.max_attempts,
    )
    assert verdict.retry_in is None


def test_invalid_status_naming_running_after_our_earlier_attempt_means_started() -> None:
    first = written_intent(observed())
    verdict = decide(
        first.answered(outcome=SmcFailure(None, "connection dropped")), LIMITS, T0, half
    )
    report = JobsReport("RD", {JOB: JobReport(JOB, status="Ready")})
    second = decide(observed(status=verdict.write).answered(confirmation=report), LIMITS, T0, half)
    assert second.call is not None
    message = wire.INVALID_STATUS_MESSAGE % ("Running", "Ready, Stopped, InError")
    outcome = SmcFailure(wire.INVALID_STATUS, message, "R-2", 400)
    result = decide(observed(status=second.write).answered(outcome=outcome), LIMITS, T0, half)
    assert started_reason(result) == ("Started", "True", None, "R-2", 2)


def test_invalid_status_naming_running_on_a_first_attempt_is_invalid_status() -> None:
    message = wire.INVALID_STATUS_MESSAGE % ("Running", "Ready, Stopped, InError")
    outcome = SmcFailure(wire.INVALID_STATUS, message, "R-1", 400)
    result = decide(written_intent(observed()).answered(outcome=outcome), LIMITS, T0, half)
    assert result.reason == "InvalidStatus"


# --- after_confirm ---------------------------------------------------------------------------------


@pytest.mark.parametrize("job_status", ["Running", "Waiting", "Finished"])
def test_describe_showing_the_job_started_confirms_without_calling(job_status: str) -> None:
    obs = written_intent(observed())
    report = JobsReport("R-DESCRIBE", {JOB: JobReport(JOB, status=job_status)})
    result = decide(obs.answered(confirmation=report), LIMITS, T0, half)
    assert result.call is None and result.retry_in is None
    assert started_reason(result) == ("Started", "True", None, "R-DESCRIBE", 1)
    condition = result.write.condition(STARTED)
    assert condition is not None
    assert "confirmed by DescribeReplicationJobs" in condition.message


@pytest.mark.parametrize("job_status", ["Ready", "Stopped", "InError"])
def test_describe_showing_a_startable_job_starts_again(job_status: str) -> None:
    obs = written_intent(observed())
    report = JobsReport("R-D", {JOB: JobReport(JOB, status=job_status)})
    result = decide(obs.answered(confirmation=report), LIMITS, T0, half)
    assert result.call is not None and step(result) == "start"
    assert result.write.attempts == 2


def test_describe_at_the_attempt_limit_gives_up_without_calling() -> None:
    obs = written_intent(observed())
    status = obs.status.model_copy(update={"attempts": LIMITS.max_attempts})
    report = JobsReport("R-D", {JOB: JobReport(JOB, status="Ready")})
    result = decide(observed(status=status).answered(confirmation=report), LIMITS, T0, half)
    assert result.call is None
    assert result.reason == "RetriesExhausted"


def test_describe_failures_retry_without_counting_a_start_attempt() -> None:
    obs = written_intent(observed())
    failure = SmcFailure("InternalError", "x", "R-D", 500)
    result = decide(obs.answered(confirmation=failure), LIMITS, T0, half)
    assert result.call is None
    assert result.retry_in is not None
    assert started_reason(result)[:3] == ("Retrying", "Unknown", "InternalError")
    assert result.write.attempts == 1


def test_describe_not_knowing_the_job_is_job_not_found() -> None:
    obs = written_intent(observed())
    result = decide(obs.answered(confirmation=JobsReport("R-D", {})), LIMITS, T0, half)
    assert result.call is None
    assert started_reason(result)[:3] == ("JobNotFound", "False", wire.JOB_NOT_FOUND)


def test_missing_credentials_are_final_and_say_how_to_retry() -> None:
    verdict = decide(
        observed().answered(secret_problem="Secret team-a/creds not found"), LIMITS, T0, half
    )
    assert verdict.retry_in is None
    assert started_reason(verdict)[:2] == ("CredentialsNotFound", "False")
    condition = verdict.write.condition(STARTED)
    assert condition is not None
    assert "smcoperator.io/retry-requested-at" in condition.message
    assert step(decide(observed(status=verdict.write), LIMITS, T0, half)) == "nothing"
