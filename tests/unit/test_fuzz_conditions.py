"""Property-based tests of the condition merge (:mod:`smc_operator.conditions`).

Any sequence of ``Started`` conditions merged into any list of other conditions keeps: exactly one
``Started`` entry, the others untouched and in place, ``lastTransitionTime`` that never goes back
and changes exactly when ``status`` changes, and messages that are printable and bounded whatever
SMC or a user put into them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from smc_operator.conditions import (
    STARTED,
    bounded,
    format_time,
    set_condition,
    started_condition,
)
from smc_operator.model import MESSAGE_MAX_LENGTH, Condition
from smc_operator.reasons import Reason

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None)
T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

others = st.lists(
    st.builds(
        Condition,
        type=st.sampled_from(["Ready", "Synced", "Degraded", "started"]),
        status=st.sampled_from(["True", "False", "Unknown"]),
        reason=st.text(max_size=10),
        message=st.text(max_size=20),
        last_transition_time=st.just("2020-01-01T00:00:00Z"),
    ),
    max_size=3,
    unique_by=lambda c: c.type,
)
updates = st.lists(
    st.tuples(
        st.sampled_from(list(Reason)),
        st.text(max_size=200),
        st.integers(0, 10**6),  # seconds since the previous update
        st.one_of(st.none(), st.integers(0, 2**63)),  # observedGeneration
        # SMC's identifiers as they look (odd ones are clipped: test_conditions.py covers that).
        st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9.\-]{1,40}", fullmatch=True)),  # requestId
        st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9.]{1,40}", fullmatch=True)),  # errorCode
    ),
    min_size=1,
    max_size=30,
)


@FUZZ
@given(existing=others, sequence=updates)
def test_any_sequence_of_updates_keeps_the_invariants(
    existing: list[Condition],
    sequence: list[tuple[Reason, str, int, int | None, str | None, str | None]],
) -> None:
    conditions = tuple(existing)
    now = T0
    previous: Condition | None = None
    for reason, message, elapsed, generation, request_id, error_code in sequence:
        now += timedelta(seconds=elapsed)
        new = started_condition(
            reason,
            message,
            generation=generation,
            now=now,
            request_id=request_id,
            error_code=error_code,
        )
        conditions = set_condition(conditions, new)
        started = [c for c in conditions if c.type == STARTED]
        assert len(started) == 1
        (current,) = started
        assert [c for c in conditions if c.type != STARTED] == existing
        assert current.reason == reason.value
        assert current.observed_generation == generation
        assert (current.request_id, current.error_code) == (request_id, error_code)
        assert RFC3339.match(current.last_transition_time)
        if previous is not None:
            assert current.last_transition_time >= previous.last_transition_time
            if previous.status == current.status:
                assert current.last_transition_time == previous.last_transition_time
            else:
                assert current.last_transition_time == format_time(now)
        else:
            assert current.last_transition_time == format_time(now)
        assert current.message.isprintable() and len(current.message) <= MESSAGE_MAX_LENGTH
        previous = current


@FUZZ
@given(st.text())
def test_messages_are_printable_bounded_and_stable(text: str) -> None:
    once = bounded(text)
    assert once.isprintable()
    assert len(once) <= MESSAGE_MAX_LENGTH
    assert once == once.strip()
    assert bounded(once) == once
    if text.isprintable() and len(text.strip()) <= MESSAGE_MAX_LENGTH:
        assert once == text.strip()


@FUZZ
@given(
    st.datetimes(
        min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.timezones()
    ),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)),
)
def test_transition_times_sort_as_they_happened(moment: datetime, later: timedelta) -> None:
    """``lastTransitionTime`` strings compare in time order (tools and our checks rely on it)."""
    first = format_time(moment)
    try:
        second = format_time(moment + later)
    except OverflowError:
        return
    assert RFC3339.match(first) and RFC3339.match(second)
    assert first <= second
