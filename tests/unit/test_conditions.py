from datetime import UTC, datetime, timedelta

from smc_operator.conditions import (
    STARTED,
    bounded,
    format_time,
    set_condition,
    started_condition,
)
from smc_operator.model import MESSAGE_MAX_LENGTH, Condition
from smc_operator.reasons import Reason

T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def test_adding_a_condition_stamps_everything() -> None:
    new = started_condition(
        Reason.STARTED, "ok", generation=3, now=T0, request_id="R1", error_code=None
    )
    (condition,) = set_condition((), new)
    assert condition == Condition(
        type=STARTED,
        status="True",
        reason="Started",
        message="ok",
        last_transition_time="2026-11-29T12:00:00Z",
        observed_generation=3,
        request_id="R1",
    )


def test_transition_time_is_kept_when_status_does_not_change() -> None:
    starting = started_condition(Reason.STARTING, "calling", generation=1, now=T0)
    retrying = started_condition(
        Reason.RETRYING, "500", generation=1, now=T1, error_code="InternalError"
    )
    (merged,) = set_condition((starting,), retrying)
    assert merged.reason == "Retrying"
    assert merged.error_code == "InternalError"
    assert merged.last_transition_time == format_time(T0)


def test_transition_time_moves_when_status_changes() -> None:
    starting = started_condition(Reason.STARTING, "calling", generation=1, now=T0)
    started = started_condition(Reason.STARTED, "ok", generation=2, now=T1, request_id="R")
    (merged,) = set_condition((starting,), started)
    assert merged.last_transition_time == format_time(T1)
    assert merged.observed_generation == 2


def test_other_condition_types_are_kept_in_place() -> None:
    other = Condition(
        type="Ready", status="True", reason="Fine", message="", last_transition_time="x"
    )
    new = started_condition(Reason.STARTING, "calling", generation=1, now=T0)
    assert set_condition((other,), new) == (other, new)
    replaced = set_condition(
        (new, other), started_condition(Reason.STARTED, "", generation=1, now=T1)
    )
    assert [c.type for c in replaced] == [STARTED, "Ready"]


def test_messages_are_printable_and_bounded() -> None:
    assert bounded("a\nb\x00c\x1b[31m") == "a b c [31m"
    huge = bounded("x" * 100_000)
    assert len(huge) == MESSAGE_MAX_LENGTH
    assert huge.endswith("…")
    assert bounded("  中文 ünïcode  ") == "中文 ünïcode"


def test_times_are_rfc3339_utc() -> None:
    eastern = datetime(2026, 11, 29, 20, 0, 0, tzinfo=UTC).astimezone(
        __import__("datetime").timezone(timedelta(hours=8))
    )
    assert format_time(eastern) == "2026-11-29T20:00:00Z"


def test_smc_fields_are_bounded_as_the_crd_requires() -> None:
    condition = started_condition(
        Reason.FAILED,
        "m",
        generation=1,
        now=T0,
        request_id="R" * 1000,
        error_code="Weird\x00Code" + "x" * 1000,
    )
    assert condition.request_id is not None and len(condition.request_id) == 128
    assert condition.error_code is not None and len(condition.error_code) == 256
    assert condition.error_code.startswith("WeirdCode")
