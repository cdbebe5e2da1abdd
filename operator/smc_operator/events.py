"""Kubernetes Events for SMC outcomes, so ``kubectl describe rj`` tells the story. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from smc_operator.conditions import Reason
from smc_operator.model import Condition

#: Outcomes reported as Normal events; every other outcome is a Warning.
NORMAL_REASONS = frozenset({Reason.STARTED, Reason.NOT_REQUESTED})


@dataclass(frozen=True)
class Event:
    type: Literal["Normal", "Warning"]
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
    kind: Literal["Normal", "Warning"] = (
        "Normal" if condition.reason in NORMAL_REASONS else "Warning"
    )
    return Event(type=kind, reason=condition.reason, message=condition.message + suffix)
