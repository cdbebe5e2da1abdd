"""One start attempt for one ReplicationJob: the I/O that the decision asks for, step by step.

:func:`smc_operator.decide.decide` says what to do; the :class:`Starter` does it over the two
seams (:class:`~smc_operator.apis.SmcApi`, :class:`~smc_operator.apis.KubeApi`) and decides
again with each answer, until the verdict asks for no more calls. Without kopf: the handler
records the last verdict (the status, the Events, the retry).
"""

from __future__ import annotations

import dataclasses
import random as random_module
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from smc_operator.apis import KubeApi, KubeConflictError, KubeError, KubeNotFoundError, SmcApi
from smc_operator.clocks import Clock, utc_now
from smc_operator.conditions import CONDITION_TYPES, STARTED
from smc_operator.credentials import AccessKey, CredentialsError
from smc_operator.decide import (
    INTENT_CALLS,
    Answer,
    Call,
    IntentFailure,
    LifecycleOutcome,
    Limits,
    Observed,
    Remembered,
    SmcRequest,
    Verdict,
    decide,
)
from smc_operator.events import Event
from smc_operator.keys import read_access_key
from smc_operator.model import ReplicationJobStatus

ObjectKey = tuple[str, str]  # (namespace, name)

#: How many objects' last outcomes are remembered (:class:`~smc_operator.decide.Remembered`).
OUTCOMES_REMEMBERED = 100_000


@dataclass(frozen=True)
class ObjectRef:
    namespace: str
    name: str
    resource_version: str | None


@dataclass
class Starter:
    smc: SmcApi
    kube: KubeApi
    limits: Limits
    default_region: str
    clock: Clock = utc_now
    random: Callable[[], float] = field(default=random_module.random)
    #: The last settled outcome per object in this process (least recently settled first).
    outcomes: OrderedDict[ObjectKey, Remembered] = field(default_factory=OrderedDict)

    def forget(self, namespace: str, name: str) -> None:
        """The object is gone: drop what is remembered about it."""
        self.outcomes.pop((namespace, name), None)

    async def attempt(self, ref: ObjectRef, observed: Observed) -> Verdict:
        """Decide, do what the verdict asks, decide again with the answer; the last verdict,
        carrying every Event and the whole status of the steps before it."""
        key = (ref.namespace, ref.name)
        # 1. Decide from the object as observed, and what this process remembers of it.
        observed = dataclasses.replace(observed, remembered=self.outcomes.get(key))
        verdict = self._decide(observed)
        access_key: AccessKey | None = None
        credentials_read = False
        events: list[Event] = []
        status: ReplicationJobStatus | None = None
        resource_version = ref.resource_version
        # Whether a verdict of the chain settled the start request (a later step may go on).
        settled = False
        while verdict.call is not None:
            settled = settled or verdict.final
            assert observed.spec is not None  # calls are only decided for valid specs
            spec = observed.spec
            region = spec.region_id or self.default_region
            # 2. Read the credentials once: the object's Secret, or the operator's own chain.
            if not credentials_read:
                credentials_read = True
                try:
                    access_key = await self._credentials(ref.namespace, spec.secret_name)
                except CredentialsError as exc:
                    verdict = self._decide(observed.answered(secret_problem=str(exc)))
                    continue
            call = verdict.call
            assert call is not None
            request = verdict.request or SmcRequest(job_id=observed.job_id)
            # 3. An intent goes first, only if the object is unchanged; only then the call.
            if call in INTENT_CALLS:
                assert verdict.write is not None  # Start, Create and CutOver follow their intent
                failure, detail, resource_version = await self._write_intent(
                    ref, resource_version, verdict.write
                )
                if failure is not None:
                    # Nothing of this verdict landed; what the calls before it settled stays (a
                    # start SMC accepted keeps its RequestId and Event). The next run decides
                    # again from the object.
                    observed = observed.answered(
                        outcome=observed.outcome,
                        answer=observed.answer,
                        intent_failure=failure,
                        intent_failure_detail=detail,
                    )
                    verdict = self._decide(observed)
                    continue
            events.extend(verdict.events)
            status = verdict.write or status
            # 4. Call SMC; 5. decide again, with the answer.
            observed = await self._call(observed, call, request, region, access_key, verdict.write)
            verdict = self._decide(observed)
        events.extend(verdict.events)
        settled = settled or verdict.final
        if verdict.write is None and status is not None:
            verdict = dataclasses.replace(verdict, write=status)
        verdict = dataclasses.replace(verdict, events=tuple(events), final=settled)
        # 6. Remember a settled start, in case its write is lost.
        if verdict.final and verdict.write is not None:
            self._remember(key, Remembered.of(observed.request, verdict.write))
        return verdict

    async def _call(
        self,
        observed: Observed,
        call: Call,
        request: SmcRequest,
        region: str,
        access_key: AccessKey | None,
        written: ReplicationJobStatus | None,
    ) -> Observed:
        """Make the SMC call a verdict asked for: the observation with its answer."""
        smc = self.smc
        job_id = request.job_id or ""
        if call is Call.DESCRIBE:
            report = await smc.describe_replication_jobs(
                [job_id], region_id=region, access_key=access_key
            )
            return observed.answered(status=written, confirmation=report)
        if call is Call.FIND:
            assert request.name is not None
            found = await smc.find_replication_jobs(
                name=request.name, tags=request.tags, region_id=region, access_key=access_key
            )
            return observed.answered(status=written, confirmation=found)
        if call is Call.START:
            outcome = await smc.start_replication_job(
                job_id, region_id=region, access_key=access_key
            )
            return observed.answered(status=written, outcome=outcome)
        answer: LifecycleOutcome
        if call is Call.CREATE:
            assert request.template is not None
            assert request.name is not None
            assert request.client_token is not None
            answer = await smc.create_replication_job(
                request.template,
                name=request.name,
                client_token=request.client_token,
                tags=request.tags,
                region_id=region,
                access_key=access_key,
            )
        elif call is Call.STOP:
            answer = await smc.stop_replication_job(job_id, region_id=region, access_key=access_key)
        elif call is Call.DELETE:
            answer = await smc.delete_replication_job(
                job_id, region_id=region, access_key=access_key
            )
        elif call is Call.CUT_OVER:
            answer = await smc.cut_over_replication_job(
                job_id, sync_data=request.sync_data, region_id=region, access_key=access_key
            )
        else:
            assert call is Call.MODIFY
            assert request.changes is not None
            answer = await smc.modify_replication_job_attribute(
                job_id, request.changes, region_id=region, access_key=access_key
            )
        return observed.answered(status=written, answer=Answer(call, answer))

    def _decide(self, observed: Observed) -> Verdict:
        return decide(observed, self.limits, self.clock(), self.random)

    async def _credentials(self, namespace: str, secret_name: str | None) -> AccessKey | None:
        if secret_name is None:
            return None
        return await read_access_key(self.kube, self.smc, namespace, secret_name)

    async def _write_intent(
        self, ref: ObjectRef, resource_version: str | None, intent: ReplicationJobStatus
    ) -> tuple[IntentFailure | None, str, str | None]:
        """Write the intent if the object is still at ``resource_version``; the failure, its
        detail and the object's new resourceVersion (the precondition of a next intent)."""
        try:
            written = await self.kube.patch_status(
                ref.namespace, ref.name, status_patch(intent), resource_version=resource_version
            )
        except KubeConflictError:
            return IntentFailure.CONFLICT, "", resource_version
        except KubeNotFoundError:
            return IntentFailure.GONE, "", resource_version
        except KubeError as exc:
            return IntentFailure.ERROR, str(exc), resource_version
        metadata = written.get("metadata") if isinstance(written, Mapping) else None
        version = metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
        return None, "", str(version) if version else resource_version

    def _remember(self, key: ObjectKey, remembered: Remembered) -> None:
        self.outcomes[key] = remembered
        self.outcomes.move_to_end(key)
        while len(self.outcomes) > OUTCOMES_REMEMBERED:
            self.outcomes.popitem(last=False)


def status_patch(status: ReplicationJobStatus) -> Mapping[str, Any]:
    """The status fields a start attempt owns; ``job`` and ``sourceServer`` belong to the job
    refresher."""
    wire_status = status.to_wire()
    wire_status.pop("job", None)
    wire_status.pop("sourceServer", None)
    # Merge patches keep keys they do not mention: a finished action's count is cleared.
    lifecycle = {c.type for c in status.conditions} - {STARTED}
    if lifecycle or status.action_attempts:
        attempts: dict[str, int | None] = {type_: None for type_ in CONDITION_TYPES}
        attempts.update(status.action_attempts)
        wire_status["actionAttempts"] = attempts
    if status.start_request is not None:
        # Merge patches keep keys they do not mention: clear a removed annotation explicitly.
        request: dict[str, object] = {
            "generation": status.start_request.generation,
            "retryRequestedAt": status.start_request.retry_requested_at,
        }
        if status.start_request.spec is not None:
            request["spec"] = status.start_request.spec
        wire_status["startRequest"] = request
    return wire_status
