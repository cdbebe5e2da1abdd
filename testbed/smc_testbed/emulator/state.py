"""The emulator's in-memory world: jobs, source servers, faults and the call log.

No I/O. Time comes from an injected monotonic ``clock`` (seconds); wall-clock timestamps shown in
answers (``CreationTime``, ``StartTime``, ...) are derived from it, anchored at a wall time read
once, so a fake clock moves them too. Randomness (request IDs, probabilistic faults) comes from an
injected :class:`random.Random`.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from smc_operator import wire
from smc_testbed.emulator.calls import CallLog
from smc_testbed.emulator.faults import Fault, FaultBook, make_fault, parse_fault
from smc_testbed.emulator.fields import DocumentError
from smc_testbed.emulator.jobs import Job, JobSnapshot, SourceServer

Clock = Callable[[], float]

DEFAULT_RUN_SECONDS = 30.0
DEFAULT_REGION_ID = "cn-hangzhou"
#: How long a deleted job shows Deleting before SMC forgets it.
DEFAULT_DELETE_SECONDS = 2.0
#: Seconds per hour of an incremental job's Frequency; a smaller value compresses its cycles.
DEFAULT_HOUR_SECONDS = 3600.0
_JOB_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class SeedError(DocumentError):
    """A seed request that makes no sense; the message says why."""


class EmulatorState:
    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        rng: random.Random | None = None,
        default_run_seconds: float = DEFAULT_RUN_SECONDS,
        delete_seconds: float = DEFAULT_DELETE_SECONDS,
        hour_seconds: float = DEFAULT_HOUR_SECONDS,
        max_jobs: int = wire.MAX_JOBS_PER_ACCOUNT,
    ) -> None:
        self.clock = clock
        self.rng = rng if rng is not None else random.Random()
        self.default_run_seconds = default_run_seconds
        self.delete_seconds = delete_seconds
        self.hour_seconds = hour_seconds
        self.max_jobs = max_jobs
        #: CreateReplicationJob's ClientTokens: token -> (the parameters' fingerprint, JobId).
        self.client_tokens: dict[str, tuple[str, str]] = {}
        self._clock_origin = clock()
        self._wall_origin = wall_clock()
        self.jobs: dict[str, Job] = {}
        self.source_servers: dict[str, SourceServer] = {}
        self.jobs_by_source: dict[str, list[str]] = {}
        self.faults = FaultBook(self.rng)
        self.calls = CallLog()

    # -- time and identity ------------------------------------------------------------------

    def now(self) -> float:
        return self.clock()

    def timestamp(self, moment: float) -> str:
        """A clock reading as SMC writes times: ``2024-05-01T08:00:00Z``."""
        wall = self._wall_origin + (moment - self._clock_origin)
        return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def new_job_id(self) -> str:
        """``j-`` and 20 lowercase letters and digits, like SMC's."""
        while True:
            job_id = "j-" + "".join(self.rng.choice(_JOB_ID_ALPHABET) for _ in range(20))
            if job_id not in self.jobs:
                return job_id

    def new_request_id(self) -> str:
        """An uppercase UUID like ``473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E``."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4)).upper()

    # -- seeding ----------------------------------------------------------------------------

    def seed_source_server(
        self,
        source_id: str,
        state: str = wire.SOURCE_AVAILABLE,
        *,
        name: str | None = None,
        platform: str | None = None,
        agent_version: str | None = None,
        error_code: str | None = None,
        status_info: str | None = None,
    ) -> SourceServer:
        """Create a source server, or change the state (and what else is given) of one."""
        if not source_id:
            raise SeedError("'sourceId' is required")
        if state not in wire.SOURCE_STATES:
            raise SeedError(f"'state' must be one of {', '.join(wire.SOURCE_STATES)}")
        server = self.source_servers.get(source_id)
        if server is None:
            server = SourceServer(source_id, state, name or source_id, self.now())
            self.source_servers[source_id] = server
        else:
            server.state = state
            if name is not None:
                server.name = name
        if platform is not None:
            server.platform = platform
        if agent_version is not None:
            server.agent_version = agent_version
        if error_code is not None:
            server.error_code = error_code
        if status_info is not None:
            server.status_info = status_info
        return server

    def seed_job(
        self,
        job_id: str,
        source_id: str | None = None,
        status: str = wire.JOB_READY,
        *,
        job_type: int = wire.JOB_TYPE_FULL,
        run_seconds: float | None = None,
        name: str | None = None,
        region_id: str | None = None,
        error_code: str = "",
        status_info: str = "",
    ) -> Job:
        """Create (or replace, with counters reset) a job.

        ``source_id`` defaults to ``s-`` plus the job ID's suffix; a source server not seeded yet
        is created Available. A job seeded Running started now; Finished and Waiting jobs show
        Progress 100.
        """
        if not job_id:
            raise SeedError("'jobId' is required")
        if status not in wire.JOB_STATUSES:
            raise SeedError(f"'status' must be one of {', '.join(wire.JOB_STATUSES)}")
        if job_type < 0:
            raise SeedError("'jobType' must not be negative")
        seconds = self.default_run_seconds if run_seconds is None else run_seconds
        if seconds < 0:
            raise SeedError("'runSeconds' must not be negative")
        source = source_id or f"s-{job_id.removeprefix('j-')}"
        if source not in self.source_servers:
            self.seed_source_server(source)
        now = self.now()
        old = self.jobs.pop(job_id, None)
        if old is not None:
            self.jobs_by_source[old.source_id].remove(job_id)
        job = Job(
            job_id=job_id,
            source_id=source,
            status=status,
            job_type=job_type,
            run_seconds=seconds,
            created_at=now,
            name=name if name is not None else job_id,
            region_id=region_id,
            error_code=error_code,
            status_info=status_info,
        )
        if status == wire.JOB_RUNNING:
            job.started_at = now
        elif status in (wire.JOB_FINISHED, wire.JOB_WAITING):
            job.progress = 100.0
        self.jobs[job_id] = job
        self.jobs_by_source.setdefault(source, []).append(job_id)
        return job

    def add_fault(
        self,
        action: str,
        *,
        job_id: str | None = None,
        code: str | None = None,
        http_status: int | None = None,
        message: str | None = None,
        count: int | None = None,
        probability: float | None = None,
        latency_ms: float = 0.0,
        drop: bool = False,
        body: str | None = None,
        retry_after: int | None = None,
        apply_before_delay: bool = False,
        apply: bool | None = None,
    ) -> Fault:
        """Add a fault; keywords are the control API's, snake_cased (see :mod:`.faults`)."""
        fault = make_fault(
            self.faults.next_id(),
            action,
            job_id=job_id,
            code=code,
            http_status=http_status,
            message=message,
            count=count,
            probability=probability,
            latency_ms=latency_ms,
            drop=drop,
            body=body,
            retry_after=retry_after,
            apply_before_delay=apply_before_delay,
            apply=apply,
        )
        return self.faults.add(fault)

    def add_fault_document(self, doc: Mapping[str, object]) -> Fault:
        return self.faults.add(parse_fault(doc, self.faults.next_id()))

    def clear_faults(self) -> int:
        return self.faults.clear()

    def forget_gone_jobs(self) -> None:
        """Forget jobs whose deletion finished (and Expired jobs past their retention)."""
        now = self.now()
        for job_id in [
            job_id for job_id, job in self.jobs.items() if job.gone(now, self.delete_seconds)
        ]:
            job = self.jobs.pop(job_id)
            self.jobs_by_source[job.source_id].remove(job_id)

    def reset(self) -> None:
        """Forget jobs, source servers, faults and calls."""
        self.client_tokens.clear()
        self.jobs.clear()
        self.source_servers.clear()
        self.jobs_by_source.clear()
        self.faults.clear()
        self.calls.clear()

    # -- reading ----------------------------------------------------------------------------

    def job(self, job_id: str) -> JobSnapshot | None:
        job = self.jobs.get(job_id)
        return job.snapshot(self.now()) if job is not None else None

    def job_document(self, snapshot: JobSnapshot) -> dict[str, object]:
        """A job as the control API shows it (camelCase, with counters)."""
        return {
            "jobId": snapshot.job_id,
            "sourceId": snapshot.source_id,
            "name": snapshot.name,
            "regionId": snapshot.region_id,
            "status": snapshot.status,
            "businessStatus": snapshot.business_status,
            "progress": snapshot.progress,
            "errorCode": snapshot.error_code,
            "statusInfo": snapshot.status_info,
            "jobType": snapshot.job_type,
            "runSeconds": snapshot.run_seconds,
            "startCount": snapshot.start_count,
            "stopCount": snapshot.stop_count,
            "cutOverCount": snapshot.cut_over_count,
            "cycles": snapshot.cycles,
            "creationTime": self.timestamp(snapshot.created_at),
            "startTime": self._maybe_timestamp(snapshot.started_at),
            "endTime": self._maybe_timestamp(snapshot.ended_at),
        }

    def source_server_document(self, server: SourceServer) -> dict[str, object]:
        return {
            "sourceId": server.source_id,
            "name": server.name,
            "state": server.state,
            "platform": server.platform,
            "agentVersion": server.agent_version,
            "errorCode": server.error_code,
            "statusInfo": server.status_info,
            "jobIds": list(self.jobs_by_source.get(server.source_id, ())),
            "creationTime": self.timestamp(server.created_at),
        }

    def _maybe_timestamp(self, moment: float | None) -> str | None:
        return self.timestamp(moment) if moment is not None else None
