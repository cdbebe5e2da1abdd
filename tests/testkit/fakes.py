"""In-memory fakes of the operator's two seams (:mod:`smc_operator.apis`), for fast unit tests that
drive the real :class:`~smc_operator.starting.Starter`.

- :class:`FakeSmc`: SMC's job state machine for StartReplicationJob (a start only from Ready,
  Stopped or InError, else ``ReplicationJob.InvalidStatus`` naming the status) and
  DescribeReplicationJobs, with every call logged. What a call does can be scripted per call
  (``start_script`` / ``describe_script``): answer truthfully, fail without effect, take effect
  and lose the answer, or crash the operator before or after SMC acted (:class:`Crash`).
- :class:`FakeKube`: ReplicationJob statuses with resourceVersions (a stale precondition is a
  409), Secrets, and write failures on demand.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from smc_operator import wire
from smc_operator.apis import KubeConflictError, KubeError, KubeNotFoundError
from smc_operator.credentials import AccessKey, CredentialsError
from smc_operator.outcomes import (
    DescribeOutcome,
    JobReport,
    JobsReport,
    SmcAccepted,
    SmcFailure,
    StartOutcome,
)


class Crash(Exception):  # noqa: N818 - the operator process dies at this point
    """The operator dies here: nothing after this point of the attempt happens."""


class Act(StrEnum):
    TRUTHFUL = "truthful"
    """SMC's real answer (a start takes effect when the job's status allows it)."""
    REFUSED = "refused"
    """The scripted failure, and SMC did nothing."""
    LOST = "lost"
    """SMC acted as on a truthful call, but the scripted failure is all the operator sees."""
    CRASH_BEFORE = "crash-before"
    """The operator dies before the request leaves."""
    CRASH_AFTER = "crash-after"
    """SMC acted; the operator dies before it reads the answer."""
    UNKNOWN_JOB = "unknown-job"
    """(Describe only) SMC answers without the job."""


@dataclass(frozen=True)
class Script:
    act: Act = Act.TRUTHFUL
    failure: SmcFailure | None = None


TRUTHFUL = Script()


@dataclass
class FakeSmc:
    """SMC for one account: jobs by ID with their status."""

    jobs: dict[str, str] = field(default_factory=dict)
    #: False: a lenient SMC that accepts a start in any state, so that only the operator's
    #: protocol (Describe before any repeat Start) prevents a second start.
    strict: bool = True
    start_script: Callable[[], Script] = lambda: TRUTHFUL
    describe_script: Callable[[], Script] = lambda: TRUTHFUL
    #: Every call that reached SMC: (action, job IDs).
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    #: Successful starts per job.
    starts: collections.Counter[str] = field(default_factory=collections.Counter)
    #: RequestIds of starts SMC accepted, per job, in order.
    accepted: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))
    secrets_seen: dict[tuple[str, str], AccessKey | None] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def request_id(self) -> str:
        return f"R-{next(self._ids)}"

    def _start(self, job_id: str) -> tuple[bool, str, str]:
        """SMC acts on a start: (started, status before, RequestId)."""
        status = self.jobs[job_id]
        request_id = self.request_id()
        if self.strict and status not in wire.STARTABLE_STATUSES:
            return False, status, request_id
        self.jobs[job_id] = wire.JOB_RUNNING
        self.starts[job_id] += 1
        self.accepted[job_id].append(request_id)
        return True, status, request_id

    async def start_replication_job(
        self, job_id: str, *, region_id: str, access_key: AccessKey | None
    ) -> StartOutcome:
        script = self.start_script()
        if script.act is Act.CRASH_BEFORE:
            raise Crash("before StartReplicationJob")
        self.calls.append((wire.START_REPLICATION_JOB, (job_id,)))
        if job_id not in self.jobs:
            return SmcFailure(wire.JOB_NOT_FOUND, "no such job", self.request_id(), 404)
        if script.act is Act.REFUSED:
            assert script.failure is not None
            return script.failure
        started, before, request_id = self._start(job_id)
        if script.act is Act.CRASH_AFTER:
            raise Crash("after StartReplicationJob")
        if script.act is Act.LOST:
            assert script.failure is not None
            return script.failure
        if started:
            return SmcAccepted(request_id)
        message = wire.INVALID_STATUS_MESSAGE % (before, ", ".join(wire.STARTABLE_STATUSES))
        return SmcFailure(wire.INVALID_STATUS, message, request_id, 400)

    async def describe_replication_jobs(
        self, job_ids: Sequence[str], *, region_id: str, access_key: AccessKey | None
    ) -> DescribeOutcome:
        script = self.describe_script()
        if script.act is Act.CRASH_BEFORE:
            raise Crash("before DescribeReplicationJobs")
        self.calls.append((wire.DESCRIBE_REPLICATION_JOBS, tuple(job_ids)))
        if script.act is Act.REFUSED:
            assert script.failure is not None
            return script.failure
        if script.act is Act.UNKNOWN_JOB:
            return JobsReport(self.request_id(), {})
        jobs = {
            job_id: JobReport(job_id, status=self.jobs[job_id])
            for job_id in job_ids
            if job_id in self.jobs
        }
        return JobsReport(self.request_id(), jobs)

    def remember_secret(self, secret: tuple[str, str], access_key: AccessKey | None) -> None:
        self.secrets_seen[secret] = access_key

    def actions(self, job_id: str) -> list[str]:
        """The actions SMC received for ``job_id``, oldest first."""
        return [action for action, ids in self.calls if job_id in ids]


@dataclass
class StoredObject:
    status: dict[str, Any] = field(default_factory=dict)
    resource_version: int = 1


@dataclass
class FakeKube:
    """ReplicationJob statuses by (namespace, name), and Secrets."""

    objects: dict[tuple[str, str], StoredObject] = field(default_factory=dict)
    #: (namespace, name) -> the AccessKey it holds, or the problem reading it.
    secrets: dict[tuple[str, str], AccessKey | str] = field(default_factory=dict)
    #: Decides, per status write, whether it fails (a KubeError to raise) or lands (None).
    write_failure: Callable[[], KubeError | None] = lambda: None
    #: Every status write that landed: (key, the merged status).
    writes: list[tuple[tuple[str, str], dict[str, Any]]] = field(default_factory=list)

    def add(self, namespace: str, name: str) -> StoredObject:
        stored = self.objects[(namespace, name)] = StoredObject()
        return stored

    async def read_access_key(self, namespace: str, secret_name: str) -> AccessKey:
        held = self.secrets.get((namespace, secret_name))
        if held is None:
            raise CredentialsError(f"Secret {namespace}/{secret_name} not found")
        if isinstance(held, str):
            raise CredentialsError(held)
        return held

    async def patch_status(
        self,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        *,
        resource_version: str | None = None,
    ) -> Mapping[str, Any]:
        stored = self.objects.get((namespace, name))
        if stored is None:
            raise KubeNotFoundError(404, "NotFound", f"replicationjobs {name!r} not found")
        if resource_version is not None and resource_version != str(stored.resource_version):
            raise KubeConflictError(409, "Conflict", "the object has been modified")
        failure = self.write_failure()
        if failure is not None:
            raise failure
        self.apply(namespace, name, status)
        return {"status": stored.status}

    def apply(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """A status write that lands (also kopf's patch of a handler's outcome)."""
        stored = self.objects[(namespace, name)]
        merged = {**stored.status, **status}
        stored.status = {key: value for key, value in merged.items() if value is not None}
        stored.resource_version += 1
        self.writes.append(((namespace, name), dict(stored.status)))
