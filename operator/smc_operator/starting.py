"""One start attempt for one ReplicationJob: observe, decide, act, and say what to record.

This is the I/O shell around :mod:`smc_operator.decide`, without kopf: it reads the credentials
Secret, writes the intent (the write-ahead) through the Kubernetes adapter *before* calling SMC,
calls SMC, and returns a :class:`Result` for the handler to record. Steps:

1. Plan from the object as observed (pure).
2. For a call: read the credentials (the ReplicationJob's Secret, or the operator's own chain).
3. For a repeat call: ask DescribeReplicationJobs first; the start may already have happened.
4. Write the intent (``Starting``, ``attempts`` + 1) with the object's resourceVersion as a
   precondition, so two writers cannot both start the job; only then call StartReplicationJob.
5. Judge the outcome (pure) and return the status to record, the events, and any retry delay.
"""

from __future__ import annotations

import dataclasses
import random as random_module
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from smc_operator.clocks import Clock, utc_now
from smc_operator.conditions import STARTED
from smc_operator.credentials import AccessKey, CredentialsError
from smc_operator.decide import (
    Limits,
    Observed,
    Step,
    Verdict,
    after_confirm,
    credentials_missing,
    judge,
    plan,
)
from smc_operator.events import Event, event_for
from smc_operator.keys import read_access_key
from smc_operator.kube import KubeClient, KubeConflictError, KubeError, KubeNotFoundError
from smc_operator.model import ReplicationJobSpec, ReplicationJobStatus, StartRequest
from smc_operator.smc import SmcClient


@dataclass(frozen=True)
class ObjectRef:
    namespace: str
    name: str
    resource_version: str | None
    #: Set when the object's credentials reference is not allowed (another namespace).
    credentials_problem: str | None = None


@dataclass(frozen=True)
class Result:
    """What the handler records: a status to write (or None), events, and when to run again.

    ``retry_in`` is None when the request is settled; ``final_failure`` marks a settled request
    that did not start the job (the handler reports it as a permanent failure).
    """

    status: ReplicationJobStatus | None = None
    retry_in: float | None = None
    events: tuple[Event, ...] = ()
    final_failure: bool = False


class IntentNotRecorded(Exception):  # noqa: N818 - a signal, handled by the handler
    """The write-ahead did not land; no SMC call was made. Try again after ``retry_in``."""

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


#: How many objects' last outcomes are remembered (see :attr:`Starter.outcomes`).
OUTCOMES_REMEMBERED = 100_000


@dataclass
class Starter:
    smc: SmcClient
    kube: KubeClient
    limits: Limits
    default_region: str
    clock: Clock = utc_now
    random: Callable[[], float] = field(default=random_module.random)
    #: The last final outcome per object in this process: (request, attempts, status). If the
    #: write that recorded it was lost (a failed patch) or the object is seen again from a stale
    #: watch event, the same outcome is recorded again, keeping SMC's own RequestId, instead of
    #: confirming with DescribeReplicationJobs.
    outcomes: OrderedDict[tuple[str, str], tuple[StartRequest, int, ReplicationJobStatus]] = field(
        default_factory=OrderedDict
    )

    def forget(self, namespace: str, name: str) -> None:
        """The object is gone: drop what is remembered about it."""
        self.outcomes.pop((namespace, name), None)

    async def attempt(self, ref: ObjectRef, observed: Observed) -> Result:
        """Run the steps in the module docstring once."""
        step = plan(observed, self.limits, self.clock())
        if step.step is Step.NOTHING:
            return Result()
        if step.step is Step.CONFIRM:
            known = self.outcomes.get((ref.namespace, ref.name))
            if known is not None and known[:2] == (observed.request, observed.status.attempts):
                return Result(status=known[2], final_failure=_failed(known[2]))
        if step.step is Step.RECORD:
            return self._result(step.status, None, final_failure=step.failed)

        assert observed.spec is not None  # plans to call are only made for valid specs
        spec = observed.spec
        try:
            if ref.credentials_problem is not None:
                raise CredentialsError(ref.credentials_problem)
            access_key = await self._credentials(ref.namespace, spec)
        except CredentialsError as exc:
            verdict = credentials_missing(observed, str(exc), self.clock())
            return self._verdict(ref, observed, verdict)

        region = spec.region_id or self.default_region
        if step.step is Step.CONFIRM:
            report = await self.smc.describe_replication_jobs(
                [spec.job_id], region_id=region, access_key=access_key
            )
            confirmed = after_confirm(observed, self.limits, report, self.clock(), self.random)
            if isinstance(confirmed, Verdict):
                return self._verdict(ref, observed, confirmed)
            step = confirmed

        intent = step.status
        await self._record_intent(ref, intent)
        outcome = await self.smc.start_replication_job(
            spec.job_id, region_id=region, access_key=access_key
        )
        after_intent = dataclasses.replace(observed, status=intent)
        verdict = judge(after_intent, self.limits, outcome, self.clock(), self.random)
        return self._verdict(ref, after_intent, verdict)

    async def _credentials(self, namespace: str, spec: ReplicationJobSpec) -> AccessKey | None:
        ref = spec.credentials_secret_ref
        if ref is None:
            return None
        return await read_access_key(self.kube, self.smc, namespace, ref.name)

    async def _record_intent(self, ref: ObjectRef, intent: ReplicationJobStatus) -> None:
        try:
            await self.kube.patch_status(
                ref.namespace,
                ref.name,
                status_patch(intent),
                resource_version=ref.resource_version,
            )
        except KubeConflictError:
            raise IntentNotRecorded(
                "the object changed while deciding; deciding again on the new version", 1.0
            ) from None
        except KubeNotFoundError:
            raise IntentNotRecorded("the object is gone; nothing to start", 0.0) from None
        except KubeError as exc:
            raise IntentNotRecorded(f"could not record the intent: {exc}", 5.0) from None

    def _verdict(self, ref: ObjectRef, observed: Observed, verdict: Verdict) -> Result:
        if verdict.retry_in is None:
            key = (ref.namespace, ref.name)
            self.outcomes[key] = (observed.request, verdict.status.attempts, verdict.status)
            self.outcomes.move_to_end(key)
            while len(self.outcomes) > OUTCOMES_REMEMBERED:
                self.outcomes.popitem(last=False)
        failed = verdict.retry_in is None and _failed(verdict.status)
        return self._result(verdict.status, verdict.retry_in, final_failure=failed)

    def _result(
        self, status: ReplicationJobStatus, retry_in: float | None, *, final_failure: bool
    ) -> Result:
        condition = status.condition(STARTED)
        events = (event_for(condition),) if condition is not None else ()
        return Result(status=status, retry_in=retry_in, events=events, final_failure=final_failure)


def _failed(status: ReplicationJobStatus) -> bool:
    condition = status.condition(STARTED)
    return condition is not None and condition.status != "True"


def status_patch(status: ReplicationJobStatus) -> Mapping[str, Any]:
    """The status fields a start attempt owns; ``job`` belongs to the job refresher."""
    wire_status = status.to_wire()
    wire_status.pop("job", None)
    if status.start_request is not None:
        # Merge patches keep keys they do not mention: clear a removed annotation explicitly.
        wire_status["startRequest"] = {
            "generation": status.start_request.generation,
            "retryRequestedAt": status.start_request.retry_requested_at,
        }
    return wire_status
