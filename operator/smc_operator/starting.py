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
from smc_operator.credentials import AccessKey, CredentialsError
from smc_operator.decide import Call, IntentFailure, Limits, Observed, Remembered, Verdict, decide
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
        """Decide, do what the verdict asks, decide again with the answer; the last verdict."""
        key = (ref.namespace, ref.name)
        # 1. Decide from the object as observed, and what this process remembers of it.
        observed = dataclasses.replace(observed, remembered=self.outcomes.get(key))
        verdict = self._decide(observed)
        access_key: AccessKey | None = None
        credentials_read = False
        while verdict.call is not None:
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
            # 3. Before a repeat call: ask DescribeReplicationJobs whether the job has started.
            if verdict.call is Call.DESCRIBE:
                report = await self.smc.describe_replication_jobs(
                    [spec.job_id], region_id=region, access_key=access_key
                )
                observed = observed.answered(confirmation=report)
            # 4. Write the intent, only if the object is unchanged; only then call Start.
            else:
                assert verdict.write is not None  # a Start always follows its intent
                failure, detail = await self._write_intent(ref, verdict.write)
                if failure is not None:
                    observed = observed.answered(
                        intent_failure=failure, intent_failure_detail=detail
                    )
                else:
                    outcome = await self.smc.start_replication_job(
                        spec.job_id, region_id=region, access_key=access_key
                    )
                    observed = observed.answered(status=verdict.write, outcome=outcome)
            # 5. Decide again, with the answer.
            verdict = self._decide(observed)
        # 6. Remember a settled outcome, in case its write is lost.
        if verdict.final and verdict.write is not None:
            self._remember(key, Remembered(observed.request, verdict.write.attempts, verdict.write))
        return verdict

    def _decide(self, observed: Observed) -> Verdict:
        return decide(observed, self.limits, self.clock(), self.random)

    async def _credentials(self, namespace: str, secret_name: str | None) -> AccessKey | None:
        if secret_name is None:
            return None
        return await read_access_key(self.kube, self.smc, namespace, secret_name)

    async def _write_intent(
        self, ref: ObjectRef, intent: ReplicationJobStatus
    ) -> tuple[IntentFailure | None, str]:
        try:
            await self.kube.patch_status(
                ref.namespace, ref.name, status_patch(intent), resource_version=ref.resource_version
            )
        except KubeConflictError:
            return IntentFailure.CONFLICT, ""
        except KubeNotFoundError:
            return IntentFailure.GONE, ""
        except KubeError as exc:
            return IntentFailure.ERROR, str(exc)
        return None, ""

    def _remember(self, key: ObjectKey, remembered: Remembered) -> None:
        self.outcomes[key] = remembered
        self.outcomes.move_to_end(key)
        while len(self.outcomes) > OUTCOMES_REMEMBERED:
            self.outcomes.popitem(last=False)


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
