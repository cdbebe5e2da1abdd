import pytest

from smc_operator import wire
from smc_operator.conditions import Reason
from smc_operator.errors import Category, classify, is_final, named_job_status, reason_for
from smc_operator.outcomes import SmcFailure


@pytest.mark.parametrize(
    ("code", "http_status", "category", "reason"),
    [
        ("InternalError", 500, Category.RETRYABLE, Reason.RETRYING),
        ("SomethingNew", 502, Category.RETRYABLE, Reason.RETRYING),
        (None, None, Category.RETRYABLE, Reason.RETRYING),  # connection error, timeout, HTML
        ("ServiceUnavailable", 503, Category.THROTTLED, Reason.THROTTLED),
        ("Throttling", 400, Category.THROTTLED, Reason.THROTTLED),
        ("Throttling.User", 400, Category.THROTTLED, Reason.THROTTLED),
        ("Throttling.Api", 400, Category.THROTTLED, Reason.THROTTLED),
        ("Throttling.Whatever", 400, Category.THROTTLED, Reason.THROTTLED),
        ("TooMany", 429, Category.THROTTLED, Reason.THROTTLED),
        ("ReplicationJob.InvalidStatus", 400, Category.TERMINAL, Reason.INVALID_STATUS),
        (
            "SourceServerState.Invalid",
            400,
            Category.TERMINAL,
            Reason.SOURCE_SERVER_STATE_INVALID,
        ),
        ("InvalidParameter", 400, Category.TERMINAL, Reason.FAILED),
        ("AnyUnknownClientError", 400, Category.TERMINAL, Reason.FAILED),
        ("InvalidAccessKeyId.NotFound", 404, Category.AUTH, Reason.ACCESS_DENIED),
        ("InvalidAccessKeyId.Inactive", 400, Category.AUTH, Reason.ACCESS_DENIED),
        ("SignatureDoesNotMatch", 400, Category.AUTH, Reason.ACCESS_DENIED),
        ("Forbidden.RAM", 403, Category.AUTH, Reason.ACCESS_DENIED),
        ("Forbidden", 403, Category.AUTH, Reason.ACCESS_DENIED),
        ("Forbidden.NoPermission", 403, Category.AUTH, Reason.ACCESS_DENIED),
        ("InvalidSecurityToken.Expired", 400, Category.AUTH, Reason.ACCESS_DENIED),
        ("InvalidSecurityToken.Malformed", 400, Category.AUTH, Reason.ACCESS_DENIED),
        ("InvalidJobId.NotFound", 404, Category.NOT_FOUND, Reason.JOB_NOT_FOUND),
        ("InvalidCredentials", None, Category.AUTH, Reason.ACCESS_DENIED),
    ],
)
def test_every_code_has_one_category_and_reason(
    code: str | None, http_status: int | None, category: Category, reason: Reason
) -> None:
    failure = SmcFailure(code=code, message="m", http_status=http_status)
    assert classify(failure) is category
    assert reason_for(failure) is reason
    assert is_final(failure) is (category not in (Category.RETRYABLE, Category.THROTTLED))


def test_retry_after_header_means_throttled_whatever_the_code() -> None:
    failure = SmcFailure(code="InternalError", message="m", http_status=500, retry_after=2.0)
    assert classify(failure) is Category.THROTTLED


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
