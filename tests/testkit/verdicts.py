"""Read a :class:`~smc_operator.decide.Verdict` the way the table in ``decide``'s docstring does."""

from __future__ import annotations

from smc_operator.decide import Call, Verdict


def step(verdict: Verdict) -> str:
    """``nothing``, ``record`` (write, no call), ``start`` (intent, then Start) or ``confirm``."""
    if verdict.call is Call.START:
        return "start"
    if verdict.call is Call.DESCRIBE:
        return "confirm"
    return "record" if verdict.write is not None else "nothing"


def half() -> float:
    """A fixed jitter: the middle of the backoff range."""
    return 0.5
