import pytest

from smc_operator import wire
from smc_operator.errors import classify, named_job_status
from smc_operator.outcomes import SmcFailure
from smc_operator.reasons import REASONS, Reason, RetryCurve


@pytest.mark.parametrize(
    ("code", "http_status", "reason"),
    [
        ("InternalError", 500, Reason.RETRYING),
        ("SomethingNew", 502, Reason.RETRYING),
        (None, None, Reason.RETRYING),  # connection error, timeout, HTML
        ("ServiceUnavailable", 503, Reason.THROTTLED),
        ("Throttling", 400, Reason.THROTTLED),
        ("Throttling.User", 400, Reason.THROTTLED),
        ("Throttling.Api", 400, Reason.THROTTLED),
        ("Throttling.Whatever", 400, Reason.THROTTLED),
        ("TooMany", 429, Reason.THROTTLED),
        ("ReplicationJob.InvalidStatus", 400, Reason.INVALID_STATUS),
        (
            "SourceServerState.Invalid",
            400,
            Reason.SOURCE_SERVER_STATE_INVALID,
        ),
        ("InvalidParameter", 400, Reason.FAILED),
        ("AnyUnknownClientError", 400, Reason.FAILED),
        ("InvalidAccessKeyId.NotFound", 404, Reason.ACCESS_DENIED),
        ("InvalidAccessKeyId.Inactive", 400, Reason.ACCESS_DENIED),
        ("SignatureDoesNotMatch", 400, Reason.ACCESS_DENIED),
        ("Forbidden.RAM", 403, Reason.ACCESS_DENIED),
        ("Forbidden", 403, Reason.ACCESS_DENIED),
        ("Forbidden.NoPermission", 403, Reason.ACCESS_DENIED),
        ("InvalidSecurityToken.Expired", 400, Reason.ACCESS_DENIED),
        ("InvalidSecurityToken.Malformed", 400, Reason.ACCESS_DENIED),
        ("InvalidJobId.NotFound", 404, Reason.JOB_NOT_FOUND),
        ("InvalidCredentials", None, Reason.ACCESS_DENIED),
    ],
)
def test_every_code_is_classified_once_into_its_reason(
    code: str | None, http_status: int | None, reason: Reason
) -> None:
    failure = SmcFailure(code=code, message="m", http_status=http_status)
    assert classify(failure) is reason


def test_only_retrying_and_throttled_failures_are_retried() -> None:
    retried = {reason for reason, row in REASONS.items() if row.retry is not None}
    waits = {reason for reason, row in REASONS.items() if row.retry is RetryCurve.POLL}
    assert retried - waits == {Reason.RETRYING, Reason.THROTTLED}
    # A wait is no failure: no SMC error leads to one.
    assert all(
        REASONS[reason].event == "Normal" or reason == Reason.NOT_MODIFIABLE_IN_STATUS
        for reason in waits
    )


def test_retry_after_header_means_throttled_whatever_the_code() -> None:
    failure = SmcFailure(code="InternalError", message="m", http_status=500, retry_after=2.0)
    assert classify(failure) is Reason.THROTTLED


@pytest.mark.parametrize(
    ("status", "expected"),
    [("Running", "Running"), ("Waiting", "Waiting"), ("Finished", "Finished")],
)
def test_invalid_status_messages_name_the_current_status(status: str, expected: str) -> None:
    message = wire.INVALID_STATUS_MESSAGE % (status, "Ready, Stopped, InError")
    failure = SmcFailure(code=wire.INVALID_STATUS, message=message)
    assert named_job_status(failure) == expected


def test_only_invalid_status_names_a_job_status() -> None:
    message = wire.SOURCE_SERVER_STATE_INVALID_MESSAGE % ("InUse", "Available")
    assert (
        named_job_status(SmcFailure(code=wire.SOURCE_SERVER_STATE_INVALID, message=message)) is None
    )
    assert named_job_status(SmcFailure(code=wire.INVALID_STATUS, message="garbled")) is None


def test_failure_describes_itself_in_one_line() -> None:
    failure = SmcFailure(code="InternalError", message="try again", http_status=500)
    assert failure.describe() == "InternalError (HTTP 500): try again"
    assert SmcFailure(code=None, message="timed out").describe() == "NoAnswer: timed out"
