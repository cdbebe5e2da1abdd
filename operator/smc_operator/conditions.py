"""Conditions: the one function that builds a condition and the one that sets it.

:func:`started_condition` takes its status from the reasons table (:mod:`smc_operator.reasons`).
:func:`set_condition` is the only place a condition list changes: it keeps ``lastTransitionTime``
when the status did not change, always stamps ``observedGeneration``, and bounds the message so a
huge SMC answer cannot bloat the object.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from smc_operator.model import MESSAGE_MAX_LENGTH, Condition
from smc_operator.reasons import (
    CONDITION_TYPES,
    CREATED,
    CUT_OVER,
    DELETED,
    REASONS,
    STARTED,
    SUSPENDED,
    SYNCED,
    Reason,
)

__all__ = [
    "CONDITION_TYPES",
    "CREATED",
    "CUT_OVER",
    "DELETED",
    "STARTED",
    "SUSPENDED",
    "SYNCED",
    "bounded",
    "condition_for",
    "format_time",
    "set_condition",
    "started_condition",
]


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as ``metav1.Time`` serialises."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bounded(message: str) -> str:
    """Printable, single-paragraph text of bounded length (SMC bodies can be anything)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in message).strip()
    if len(cleaned) <= MESSAGE_MAX_LENGTH:
        return cleaned
    return cleaned[: MESSAGE_MAX_LENGTH - 1] + "…"


#: The CRD's bounds for the SMC fields of a condition (an answer can hold anything).
REQUEST_ID_MAX_LENGTH: Final = 128
ERROR_CODE_MAX_LENGTH: Final = 256


def _clipped(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:limit] or None


def started_condition(
    reason: Reason,
    message: str,
    *,
    generation: int | None,
    now: datetime,
    request_id: str | None = None,
    error_code: str | None = None,
) -> Condition:
    """A fresh ``Started`` condition for ``reason``; pass it to :func:`set_condition`."""
    return condition_for(
        STARTED,
        reason,
        message,
        generation=generation,
        now=now,
        request_id=request_id,
        error_code=error_code,
    )


def condition_for(
    type_: str,
    reason: Reason,
    message: str,
    *,
    generation: int | None,
    now: datetime,
    request_id: str | None = None,
    error_code: str | None = None,
) -> Condition:
    """A fresh condition of ``type_`` for ``reason``; pass it to :func:`set_condition`."""
    return Condition(
        type=type_,
        status=REASONS[reason].status,
        reason=reason.value,
        message=bounded(message),
        last_transition_time=format_time(now),
        observed_generation=generation,
        request_id=_clipped(request_id, REQUEST_ID_MAX_LENGTH),
        error_code=_clipped(error_code, ERROR_CODE_MAX_LENGTH),
    )


def set_condition(conditions: tuple[Condition, ...], new: Condition) -> tuple[Condition, ...]:
    """Put ``new`` into ``conditions`` (replacing the one of its type), keeping order.

    ``lastTransitionTime`` is kept from the old condition when ``status`` did not change, so it
    records the last transition, not the last write.
    """
    old = next((c for c in conditions if c.type == new.type), None)
    if old is not None and old.status == new.status:
        new = new.model_copy(update={"last_transition_time": old.last_transition_time})
    if old is None:
        return (*conditions, new)
    return tuple(new if c.type == new.type else c for c in conditions)
