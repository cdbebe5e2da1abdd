import pytest

from smc_operator.backoff import THROTTLED_BASE_FACTOR, Curve, backoff_delay, retry_delay


def top() -> float:
    return 0.999999


def bottom() -> float:
    return 0.0


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [
        (0, 5),
        (1, 5),
        (2, 10),
        (3, 20),
        (4, 40),
        (5, 80),
        (6, 160),
        (7, 300),
        (50, 300),
        (10**6, 300),
    ],
)
def test_ceiling_doubles_from_base_and_is_capped(attempt: int, ceiling: float) -> None:
    assert Curve(base=5, cap=300).ceiling(attempt) == ceiling


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    curve = Curve(base=5, cap=300)
    assert backoff_delay(3, curve, bottom) == 0
    assert backoff_delay(3, curve, top) == pytest.approx(20, rel=1e-5)
    assert backoff_delay(3, curve, lambda: 0.5) == 10


def test_delays_never_exceed_the_cap() -> None:
    for attempt in range(1, 100):
        assert retry_delay(attempt, throttled=False, base=5, cap=300, random=top) <= 300
        assert retry_delay(attempt, throttled=True, base=5, cap=300, random=top) <= 300


def test_throttled_curve_is_slower_and_never_near_zero() -> None:
    regular = retry_delay(1, throttled=False, base=5, cap=300, random=bottom)
    throttled = retry_delay(1, throttled=True, base=5, cap=300, random=bottom)
    assert regular == 0
    assert throttled == 5 * THROTTLED_BASE_FACTOR / 2
    assert retry_delay(2, throttled=True, base=5, cap=300, random=top) > retry_delay(
        2, throttled=False, base=5, cap=300, random=top
    )


def test_retry_after_is_a_floor_for_throttled_calls() -> None:
    assert retry_delay(1, throttled=True, base=1, cap=300, random=bottom, retry_after=42) == 42
