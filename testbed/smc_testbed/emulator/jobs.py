"""Replication jobs and source servers, and SMC's job state machine.

Pure: no I/O, no clock of its own. Every transition takes ``now`` (seconds on the emulator's
monotonic clock), and a running job's progress is computed from its start time rather than by
timers, so tests move time by moving a fake clock.

The state machine (our reading of SMC's reference):

- ``start``: only from Ready, Stopped, InError (``wire.STARTABLE_STATUSES``), and only when the
  job's source server is Available. The job becomes Running; every start begins a fresh run of
  ``run_seconds`` (Stopped jobs do not resume where they paused).
- A run spends its first ``PREPARING_FRACTION`` in BusinessStatus Preparing (Progress 0), then
  Syncing with Progress rising linearly to 100. When ``run_seconds`` have passed, a full job
  (JobType 0) is Finished and an incremental job (JobType 1) is Waiting, both with Progress 100.
- ``stop``: only when Running with BusinessStatus Syncing. The job becomes Stopped and keeps its
  Progress.
- Expired and Deleting are only ever seeded; nothing leads into or out of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from smc_operator import wire
from smc_testbed.emulator import rejections

#: The share of a run spent in BusinessStatus Preparing before Syncing starts.
PREPARING_FRACTION = 0.1
#: How the allowed states for StopReplicationJob are named in its InvalidStatus message.
STOPPABLE_DESCRIPTION = f"{wire.JOB_RUNNING}/{wire.BUSINESS_SYNCING}"


@dataclass(slots=True)
class SourceServer:
    source_id: str
    state: str
    name: str
    created_at: float


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    """A job as SMC reports it at one instant."""

    job_id: str
    source_id: str
    name: str
    region_id: str | None
    job_type: int
    run_seconds: float
    status: str
    business_status: str
    progress: float
    error_code: str
    status_info: str
    start_count: int
    stop_count: int
    created_at: float
    started_at: float | None
    ended_at: float | None


@dataclass(slots=True)
class Job:
    """A replication job. ``status`` is the stored state; a Running job ends lazily (``settle``)."""

    job_id: str
    source_id: str
    status: str
    job_type: int
    run_seconds: float
    created_at: float
    name: str = ""
    region_id: str | None = None
    error_code: str = ""
    status_info: str = ""
    progress: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    start_count: int = 0
    stop_count: int = 0

    def settle(self, now: float) -> None:
        """Let a run that has lasted ``run_seconds`` end as Finished or Waiting."""
        if self.status != wire.JOB_RUNNING or self.started_at is None:
            return
        ends_at = self.started_at + self.run_seconds
        if now >= ends_at:
            self.status = (
                wire.JOB_WAITING
                if self.job_type == wire.JOB_TYPE_INCREMENTAL
                else wire.JOB_FINISHED
            )
            self.progress = 100.0
            self.ended_at = ends_at

    def running_phase(self, now: float) -> tuple[str, float]:
        """BusinessStatus and Progress of a Running job at ``now``."""
        elapsed = now - (self.started_at if self.started_at is not None else now)
        preparing = self.run_seconds * PREPARING_FRACTION
        if elapsed < preparing:
            return wire.BUSINESS_PREPARING, 0.0
        syncing = self.run_seconds - preparing
        share = (elapsed - preparing) / syncing if syncing > 0 else 1.0
        return wire.BUSINESS_SYNCING, round(min(share, 1.0) * 100.0, 2)

    def snapshot(self, now: float) -> JobSnapshot:
        self.settle(now)
        business_status, progress = "", self.progress
        if self.status == wire.JOB_RUNNING:
            business_status, progress = self.running_phase(now)
        return JobSnapshot(
            job_id=self.job_id,
            source_id=self.source_id,
            name=self.name,
            region_id=self.region_id,
            job_type=self.job_type,
            run_seconds=self.run_seconds,
            status=self.status,
            business_status=business_status,
            progress=progress,
            error_code=self.error_code,
            status_info=self.status_info,
            start_count=self.start_count,
            stop_count=self.stop_count,
            created_at=self.created_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )

    def start(self, now: float, source_state: str) -> None:
        """StartReplicationJob; raises :class:`~.rejections.SmcError` when SMC would refuse."""
        self.settle(now)
        if self.status not in wire.STARTABLE_STATUSES:
            raise rejections.invalid_status(self.status, wire.STARTABLE_STATUSES)
        if source_state != wire.SOURCE_AVAILABLE:
            raise rejections.source_server_state_invalid(source_state)
        self.status = wire.JOB_RUNNING
        self.started_at = now
        self.ended_at = None
        self.progress = 0.0
        self.error_code = ""
        self.status_info = ""
        self.start_count += 1
        self.settle(now)  # a run of 0 seconds ends at once

    def stop(self, now: float) -> None:
        """StopReplicationJob; only while Running and Syncing."""
        self.settle(now)
        if self.status not in wire.STOPPABLE_STATUSES:
            raise rejections.invalid_status(self.status, (STOPPABLE_DESCRIPTION,))
        business_status, progress = self.running_phase(now)
        if business_status != wire.BUSINESS_SYNCING:
            current = f"{self.status}/{business_status}"
            raise rejections.invalid_status(current, (STOPPABLE_DESCRIPTION,))
        self.status = wire.JOB_STOPPED
        self.progress = progress
        self.ended_at = now
        self.stop_count += 1
