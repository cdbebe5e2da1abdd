"""A client-side token bucket shared by every SMC call (``SMC_OPERATOR_QPS``).

Reservation style: each caller takes a token, possibly going into debt, and sleeps until its
reservation matures. Callers are served in arrival order without a lock, and N calls are spaced
exactly ``1/rate`` apart once the burst is used. Time comes from the running loop, so tests can run
it in virtual time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class TokenBucket:
    """At most ``rate`` acquisitions a second, ``burst`` at once; a rate of 0 is unlimited."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if rate < 0:
            raise ValueError("rate must be >= 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._updated: float | None = None

    @property
    def rate(self) -> float:
        return self._rate

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    async def acquire(self) -> float:
        """Wait for a token; return the seconds waited (0 when one was available)."""
        if self._rate == 0:
            return 0.0
        now = self._now()
        if self._updated is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        self._tokens -= 1
        if self._tokens >= 0:
            return 0.0
        wait = -self._tokens / self._rate
        try:
            await asyncio.sleep(wait)
        except asyncio.CancelledError:
            self._tokens += 1  # give the reservation back: the caller will not call
            raise
        return wait
