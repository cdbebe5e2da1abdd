"""Kubernetes Events for SMC outcomes, so ``kubectl describe rj`` tells the story. Pure.

An Event's type (Normal or Warning) is its reason's row in :mod:`smc_operator.reasons`.
"""

from __future__ import annotations

from dataclasses import dataclass

from smc_operator.model import Condition
from smc_operator.reasons import EventType, row_of


@dataclass(frozen=True)
class Event:
    type: EventType
    reason: str
    message: str


def event_for(condition: Condition) -> Event:
    """The Event announcing ``condition``: its reason, message, RequestId and error code."""
    details = []
    if condition.request_id:
        details.append(f"RequestId {condition.request_id}")
    if condition.error_code:
        details.append(f"code {condition.error_code}")
    suffix = f" [{', '.join(details)}]" if details else ""
    row = row_of(condition.reason)
    kind: EventType = row.event if row is not None else "Warning"
    return Event(type=kind, reason=condition.reason, message=condition.message + suffix)
