"""How long to wait before the next attempt: exponential backoff with full jitter, capped.

``delay = random() * min(cap, base * factor ** (attempt - 1))`` ("full jitter": spreads retries of
many objects evenly instead of in synchronized waves). Randomness is injected, so tests are
deterministic. Throttling uses a slower curve and never retries sooner than SMC's ``retry-after``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

#: How much slower the throttled curve starts than the regular one.
THROTTLED_BASE_FACTOR: Final = 4.0


@dataclass(frozen=True)
class Curve:
    base: float
    cap: float
    factor: float = 2.0

    def ceiling(self, attempt: int) -> float:
        """The largest delay after ``attempt`` (1-based) failed attempts."""
        exponent = max(attempt, 1) - 1
        # Bound the exponent so huge attempt counts cannot overflow before the cap applies.
        return min(self.cap, self.base * self.factor ** min(exponent, 64))


def backoff_delay(attempt: int, curve: Curve, random: Callable[[], float]) -> float:
    """Full-jitter delay after ``attempt`` failed attempts; ``random()`` returns [0, 1)."""
    return random() * curve.ceiling(attempt)


def retry_delay(
    attempt: int,
    *,
    throttled: bool,
    base: float,
    cap: float,
    random: Callable[[], float],
    retry_after: float | None = None,
) -> float:
    """The delay before the next attempt, on the regular or the throttled curve."""
    if not throttled:
        return backoff_delay(attempt, Curve(base=base, cap=cap), random)
    curve = Curve(base=min(cap, base * THROTTLED_BASE_FACTOR), cap=cap)
    delay = backoff_delay(attempt, curve, random)
    # Throttled calls never come back sooner than half the curve, nor sooner than SMC asked.
    delay = max(delay, curve.ceiling(attempt) / 2)
    return max(delay, retry_after or 0.0)
