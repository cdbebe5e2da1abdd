"""In-memory fakes of the operator's two seams (:mod:`smc_operator.apis`), for fast unit tests that
drive the real :class:`~smc_operator.starting.Starter`.

- :class:`FakeSmc`: SMC's job state machine for StartReplicationJob (a start only from Ready,
  Stopped or InError, else ``ReplicationJob.InvalidStatus`` naming the status) and
  DescribeReplicationJobs, with every call logged. What a call does can be scripted per call
  (``start_script`` / ``describe_script``): answer truthfully, fail without effect, take effect
  and lose the answer, or crash the operator before or after SMC acted (:class:`Crash`). The
  lifecycle actions (Create, find by name and tags, Stop, Delete, CutOver, Modify,
  DescribeSourceServers) follow the same :class:`Script` per action (``scripts[action]``).
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
from smc_operator.model import JobAttributes, JobTemplate
from smc_operator.outcomes import (
    ActionOutcome,
    CreateOutcome,
    DescribeOutcome,
    JobCreated,
    JobReport,
    JobsReport,
    SmcAccepted,
    SmcFailure,
    SourceServerReport,
    SourceServersOutcome,
    SourceServersReport,
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
    #: The lifecycle actions' scripts, by action name (absent: truthful).
    scripts: dict[str, Callable[[], Script]] = field(default_factory=dict)
    #: Source servers by SourceId with their State.
    sources: dict[str, str] = field(default_factory=dict)
    #: What Create and Modify set on a job, reported by Describe and find.
    names: dict[str, str] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    source_of: dict[str, str] = field(default_factory=dict)
    #: ClientToken -> the JobId it created.
    tokens: dict[str, str] = field(default_factory=dict)
    #: Every ModifyReplicationJobAttribute that took effect: (JobId, changes).
    modifications: list[tuple[str, JobAttributes]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _job_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

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
        jobs = {job_id: self._report(job_id) for job_id in job_ids if job_id in self.jobs}
        return JobsReport(self.request_id(), jobs)

    def _report(self, job_id: str) -> JobReport:
        return JobReport(
            job_id,
            status=self.jobs[job_id],
            name=self.names.get(job_id),
            source_id=self.source_of.get(job_id),
            tags=dict(self.tags.get(job_id, {})),
        )

    def _scripted(self, action: str, ids: tuple[str, ...]) -> Script:
        """Run the script of ``action`` up to the call: crash before, or log the call."""
        script = self.scripts.get(action, lambda: TRUTHFUL)()
        if script.act is Act.CRASH_BEFORE:
            raise Crash(f"before {action}")
        self.calls.append((action, ids))
        return script

    def _answer(self, action: str, script: Script, outcome: Any) -> Any:
        """After SMC acted: crash, lose the answer, or give it."""
        if script.act is Act.CRASH_AFTER:
            raise Crash(f"after {action}")
        if script.act is Act.LOST:
            assert script.failure is not None
            return script.failure
        return outcome

    def _invalid_status(self, job_id: str, allowed: Sequence[str]) -> SmcFailure:
        message = wire.INVALID_STATUS_MESSAGE % (self.jobs[job_id], ", ".join(allowed))
        return SmcFailure(wire.INVALID_STATUS, message, self.request_id(), 400)

    async def create_replication_job(
        self,
        template: JobTemplate,
        *,
        name: str,
        client_token: str,
        tags: Mapping[str, str],
        region_id: str,
        access_key: AccessKey | None,
    ) -> CreateOutcome:
        script = self._scripted(wire.CREATE_REPLICATION_JOB, ())
        if script.act is Act.REFUSED:
            assert script.failure is not None
            return script.failure
        job_id = self.tokens.get(client_token)
        if job_id is None:
            if any(self.names.get(other) == name for other in self.jobs):
                message = wire.NAME_DUPLICATE_MESSAGE % name
                return SmcFailure(wire.NAME_DUPLICATE, message, self.request_id(), 400)
            job_id = f"j-fake{next(self._job_numbers):016d}"
            self.jobs[job_id] = wire.JOB_READY
            self.names[job_id] = name
            self.tags[job_id] = dict(tags)
            self.source_of[job_id] = template.source_id
            self.tokens[client_token] = job_id
        return self._answer(  # type: ignore[no-any-return]
            wire.CREATE_REPLICATION_JOB, script, JobCreated(self.request_id(), job_id)
        )

    async def find_replication_jobs(
        self, *, name: str, tags: Mapping[str, str], region_id: str, access_key: AccessKey | None
    ) -> DescribeOutcome:
        script = self._scripted(wire.DESCRIBE_REPLICATION_JOBS, ())
        if script.act is Act.REFUSED:
            assert script.failure is not None
            return script.failure
        if script.act is Act.UNKNOWN_JOB:
            return JobsReport(self.request_id(), {})
        jobs = {
            job_id: self._report(job_id)
            for job_id in self.jobs
            if self.names.get(job_id) == name
            and all(self.tags.get(job_id, {}).get(k) == v for k, v in tags.items())
        }
        return JobsReport(self.request_id(), jobs)

    async def _transition(
        self, action: str, job_id: str, allowed: Sequence[str], after: str | None
    ) -> ActionOutcome:
        """An action that moves a job from one of ``allowed`` to ``after`` (None: gone)."""
        script = self._scripted(action, (job_id,))
        if job_id not in self.jobs:
            return SmcFailure(wire.JOB_NOT_FOUND, "no such job", self.request_id(), 404)
        if script.act is Act.REFUSED:
            assert script.failure is not None
            return script.failure
        if self.strict and self.jobs[job_id] not in allowed:
            return self._invalid_status(job_id, allowed)
        if after is None:
            del self.jobs[job_id]
        else:
            self.jobs[job_id] = after
        return self._answer(action, script, SmcAccepted(self.request_id()))  # type: ignore[no-any-return]

    async def stop_replication_job(
        self, job_id: str, *, region_id: str, access_key: AccessKey | None
    ) -> ActionOutcome:
        return await self._transition(
            wire.STOP_REPLICATION_JOB, job_id, wire.STOPPABLE_STATUSES, wire.JOB_STOPPED
        )

    async def delete_replication_job(
        self, job_id: str, *, region_id: str, access_key: AccessKey | None
    ) -> ActionOutcome:
        """Deleting takes no time here: the job is gone at once."""
        deletable = [s for s in wire.JOB_STATUSES if s not in (wire.JOB_RUNNING, wire.JOB_DELETING)]
        return await self._transition(wire.DELETE_REPLICATION_JOB, job_id, deletable, None)

    async def cut_over_replication_job(
        self, job_id: str, *, sync_data: bool, region_id: str, access_key: AccessKey | None
    ) -> ActionOutcome:
        return await self._transition(
            wire.CUT_OVER_REPLICATION_JOB, job_id, (wire.JOB_WAITING,), wire.JOB_FINISHED
        )

    async def modify_replication_job_attribute(
        self,
        job_id: str,
        changes: JobAttributes,
        *,
        region_id: str,
        access_key: AccessKey | None,
    ) -> ActionOutcome:
        """Accepted in any status (no per-field rules here); recorded in ``modifications``."""
        action = wire.MODIFY_REPLICATION_JOB_ATTRIBUTE
        script = self._scripted(action, (job_id,))
        if job_id not in self.jobs:
            return SmcFailure(wire.JOB_NOT_FOUND, "no such job", self.request_id(), 404)
        if script.act is Act.REFUSED:
            assert script.failure is not None
            return script.failure
        self.modifications.append((job_id, changes))
        if changes.name is not None:
            self.names[job_id] = changes.name
        return self._answer(action, script, SmcAccepted(self.request_id()))  # type: ignore[no-any-return]

    async def describe_source_servers(
        self, source_ids: Sequence[str], *, region_id: str, access_key: AccessKey | None
    ) -> SourceServersOutcome:
        script = self._scripted(wire.DESCRIBE_SOURCE_SERVERS, tuple(source_ids))
        if script.act is Act.REFUSED:
            assert script.failure is not None
            return script.failure
        servers = {
            source_id: SourceServerReport(source_id, state=self.sources[source_id])
            for source_id in source_ids
            if source_id in self.sources
        }
        return SourceServersReport(self.request_id(), servers)

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
