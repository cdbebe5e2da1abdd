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
- Incremental cycles: an incremental job created with a ``Frequency`` (``cycle_seconds``) that sits
  in Waiting runs again ``cycle_seconds`` after its last run ended (Running, then Waiting), until
  it is cut over. A seeded Waiting job without a frequency stays Waiting.
- ``cut_over``: only when Waiting and incremental. With ``SyncData`` a last run follows, then the
  job is Finished; without, it is Finished at once.
- ``delete``: in any state but Running and Deleting; the job shows Deleting for
  ``delete_seconds``, then it is gone (the state forgets it). An Expired job is deleted by SMC
  itself after ``EXPIRED_RETENTION_SECONDS``.
- ``modify``: each field only in the statuses ``wire.MODIFIABLE_IN`` allows (the rest only in
  Ready, before the first run); ``ReplicationJob.InvalidStatus`` names the status otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from smc_operator import wire
from smc_testbed.emulator import rejections

#: The share of a run spent in BusinessStatus Preparing before Syncing starts.
PREPARING_FRACTION = 0.1
#: How the allowed states for StopReplicationJob are named in its InvalidStatus message.
STOPPABLE_DESCRIPTION = f"{wire.JOB_RUNNING}/{wire.BUSINESS_SYNCING}"
#: SMC deletes an Expired job after seven days.
EXPIRED_RETENTION_SECONDS = 7 * 24 * 3600.0
#: DeleteReplicationJob accepts a job in these states.
DELETABLE_STATUSES = tuple(
    status for status in wire.JOB_STATUSES if status not in (wire.JOB_RUNNING, wire.JOB_DELETING)
)


#: What a seeded source server reports unless told otherwise (an SMC agent on CentOS: assumed).
DEFAULT_PLATFORM = "CentOS Linux 7"
DEFAULT_AGENT_VERSION = "2.8.5"


@dataclass(slots=True)
class SourceServer:
    source_id: str
    state: str
    name: str
    created_at: float
    platform: str = DEFAULT_PLATFORM
    agent_version: str = DEFAULT_AGENT_VERSION
    error_code: str = ""
    status_info: str = ""


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
    cut_over_count: int
    cycles: int
    description: str
    tags: tuple[tuple[str, str], ...]
    frequency: int | None
    max_images: int | None
    valid_time: str
    attributes: tuple[tuple[str, str], ...]
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
    #: Accepted CutOverReplicationJob calls (at most one can be: the job leaves Waiting).
    cut_over_count: int = 0
    #: Runs of an incremental job that ended in Waiting.
    cycles: int = 0
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    #: Hours between the cycles of an incremental job, and the images it keeps.
    frequency: int | None = None
    max_images: int | None = None
    valid_time: str = ""
    #: The other parameters it was created or modified with (TargetType, ImageName, ...).
    attributes: dict[str, str] = field(default_factory=dict)
    #: Seconds between an incremental job's cycles (its frequency on the emulator's clock).
    cycle_seconds: float | None = None
    #: Cut over: the running (or next) run is the last one.
    final_run: bool = False
    #: When DeleteReplicationJob was accepted.
    deleting_since: float | None = None

    @property
    def incremental(self) -> bool:
        return self.job_type == wire.JOB_TYPE_INCREMENTAL

    def settle(self, now: float) -> None:
        """Let time act: a run ends (Finished or Waiting), a Waiting job's next cycle begins."""
        while True:
            if self.status == wire.JOB_RUNNING and self.started_at is not None:
                ends_at = self.started_at + self.run_seconds
                if now < ends_at:
                    return
                self.progress = 100.0
                self.ended_at = ends_at
                if self.incremental and not self.final_run:
                    self.status = wire.JOB_WAITING
                    self.cycles += 1
                else:
                    self.status = wire.JOB_FINISHED
                continue
            if (
                self.status == wire.JOB_WAITING
                and self.cycle_seconds is not None
                and self.ended_at is not None
                and not self.final_run
                and now >= self.ended_at + self.cycle_seconds
            ):
                self.status = wire.JOB_RUNNING
                self.started_at = self.ended_at + self.cycle_seconds
                self.ended_at = None
                self.progress = 0.0
                continue
            return

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
            cut_over_count=self.cut_over_count,
            cycles=self.cycles,
            description=self.description,
            tags=tuple(sorted(self.tags.items())),
            frequency=self.frequency,
            max_images=self.max_images,
            valid_time=self.valid_time,
            attributes=tuple(sorted(self.attributes.items())),
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

    def cut_over(self, now: float, *, sync_data: bool) -> None:
        """CutOverReplicationJob; only an incremental job, while Waiting."""
        self.settle(now)
        if not self.incremental or self.status != wire.JOB_WAITING:
            current = self.status if self.incremental else f"{self.status} (RunOnce)"
            raise rejections.invalid_status(current, (wire.JOB_WAITING,))
        self.final_run = True
        self.cut_over_count += 1
        if sync_data:
            self.status = wire.JOB_RUNNING
            self.started_at = now
            self.ended_at = None
            self.progress = 0.0
            self.settle(now)
        else:
            self.status = wire.JOB_FINISHED
            self.ended_at = now

    def delete(self, now: float) -> None:
        """DeleteReplicationJob: Deleting from now on; the state forgets the job later."""
        self.settle(now)
        if self.status not in DELETABLE_STATUSES:
            raise rejections.invalid_status(self.status, DELETABLE_STATUSES)
        self.status = wire.JOB_DELETING
        self.deleting_since = now

    def gone(self, now: float, delete_seconds: float) -> bool:
        """Whether SMC no longer lists the job (deleted, or Expired long enough)."""
        if self.deleting_since is not None:
            return now >= self.deleting_since + delete_seconds
        if self.status == wire.JOB_EXPIRED:
            since = self.ended_at if self.ended_at is not None else self.created_at
            return now >= since + EXPIRED_RETENTION_SECONDS
        return False

    def check_modifiable(self, now: float, fields: Mapping[str, str]) -> None:
        """Refuse (InvalidStatus) when the job's status does not let one of ``fields`` change."""
        self.settle(now)
        for name in fields:
            allowed = wire.MODIFIABLE_IN.get(name, wire.MODIFIABLE_BEFORE_FIRST_RUN)
            if self.status not in allowed:
                raise rejections.invalid_status(self.status, tuple(allowed))
