"""Job status mirroring, pure: which jobs to ask about together, and what changed.

``status.job`` mirrors what DescribeReplicationJobs reports, and ``status.sourceServer`` what
DescribeSourceServers reports about the job's source. One background task refreshes both for
every ReplicationJob: jobs sharing credentials and region go into one call of up to 50 JobIds
(and their sources into one DescribeSourceServers call), and an object is written only when
something other than ``observedTime`` changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from smc_operator import wire
from smc_operator.conditions import STARTED, format_time
from smc_operator.model import (
    JobObservation,
    ReplicationJobSpec,
    ReplicationJobStatus,
    SourceServerObservation,
)
from smc_operator.outcomes import JobReport, SourceServerReport
from smc_operator.reasons import row_of


@dataclass(frozen=True)
class Watched:
    """One ReplicationJob as the refresher knows it (from the operator's index)."""

    namespace: str
    name: str
    job_id: str
    region_id: str
    secret_name: str | None
    job: JobObservation | None
    source_server: SourceServerObservation | None = None

    @property
    def group(self) -> tuple[str, str | None, str]:
        """Objects in one group can share a DescribeReplicationJobs call."""
        # A Secret is per namespace, so the namespace is part of the credentials' identity.
        secret = self.namespace if self.secret_name else ""
        return (secret, self.secret_name, self.region_id)


def watched(
    namespace: str,
    name: str,
    spec: ReplicationJobSpec,
    status: ReplicationJobStatus,
    default_region: str,
) -> Watched | None:
    """The refresher's view of an object, or None when it should not be polled."""
    job_id = spec.job_id or status.job_id
    if job_id is None:
        return None  # not created yet
    condition = status.condition(STARTED)
    row = row_of(condition.reason) if condition is not None else None
    if row is not None and not row.polled:
        # Polling could not succeed (no credentials, a refused key, no such job) or would
        # mirror another object's job.
        return None
    return Watched(
        namespace=namespace,
        name=name,
        job_id=job_id,
        region_id=spec.region_id or default_region,
        secret_name=spec.secret_name,
        job=status.job,
        source_server=status.source_server,
    )


@dataclass(frozen=True)
class Batch:
    """Objects answered by one DescribeReplicationJobs call."""

    namespace: str
    secret_name: str | None
    region_id: str
    objects: tuple[Watched, ...]

    @property
    def job_ids(self) -> list[str]:
        return sorted({o.job_id for o in self.objects})


def batches(objects: Iterable[Watched], size: int = wire.DESCRIBE_MAX_JOB_IDS) -> list[Batch]:
    """Group by credentials and region, then split so each call asks for at most ``size`` jobs."""
    groups: dict[tuple[str, str | None, str], list[Watched]] = defaultdict(list)
    for obj in objects:
        groups[obj.group].append(obj)
    result: list[Batch] = []
    for (namespace, secret_name, region_id), members in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1] or "", item[0][2])
    ):
        by_job: dict[str, list[Watched]] = defaultdict(list)
        for member in members:
            by_job[member.job_id].append(member)
        job_ids = sorted(by_job)
        for start in range(0, len(job_ids), size):
            chunk = job_ids[start : start + size]
            objects_in_chunk = tuple(o for job_id in chunk for o in by_job[job_id])
            result.append(Batch(namespace, secret_name, region_id, objects_in_chunk))
    return result


def observe(report: JobReport, now: datetime) -> JobObservation:
    return JobObservation(
        status=report.status,
        business_status=report.business_status,
        progress=report.progress,
        error_code=report.error_code,
        status_info=report.status_info,
        image_id=report.image_id,
        instance_id=report.instance_id,
        observed_time=format_time(now),
    )


def observe_source(report: SourceServerReport, now: datetime) -> SourceServerObservation:
    return SourceServerObservation(
        source_id=report.source_id,
        state=report.state,
        name=report.name,
        platform=report.platform,
        agent_version=report.agent_version,
        error_code=report.error_code,
        status_info=report.status_info,
        observed_time=format_time(now),
    )


def unknown(obj: Watched, now: datetime) -> JobObservation:
    """What to show when DescribeReplicationJobs does not know the job (in this region)."""
    return JobObservation(
        status_info=(
            f"DescribeReplicationJobs in region {obj.region_id} does not know job {obj.job_id}; "
            f"check spec.regionId"
        ),
        observed_time=format_time(now),
    )


def changed(
    old: JobObservation | SourceServerObservation | None,
    new: JobObservation | SourceServerObservation,
) -> bool:
    """True when anything but ``observedTime`` differs: only then is the object written."""
    if old is None:
        return True
    return old.model_copy(update={"observed_time": None}) != new.model_copy(
        update={"observed_time": None}
    )


def sources(batch: Batch, reports: dict[str, JobReport]) -> list[str]:
    """The source servers of the batch's jobs (one DescribeSourceServers call: at most 50)."""
    found = {r.source_id for r in reports.values() if r.source_id}
    return sorted(found)[: wire.DESCRIBE_MAX_JOB_IDS]


@dataclass(frozen=True)
class Update:
    """What to write for one object: ``job`` and/or ``source_server`` (None: unchanged)."""

    obj: Watched
    job: JobObservation | None
    source_server: SourceServerObservation | None

    def patch(self) -> dict[str, object]:
        patch: dict[str, object] = {}
        if self.job is not None:
            patch["job"] = self.job.to_wire()
        if self.source_server is not None:
            patch["sourceServer"] = self.source_server.to_wire()
        return patch


def updates(
    batch: Batch,
    reports: dict[str, JobReport],
    now: datetime,
    servers: dict[str, SourceServerReport] | None = None,
) -> Sequence[Update]:
    """The objects of ``batch`` whose ``status.job`` or ``status.sourceServer`` must be written."""
    result = []
    for obj in batch.objects:
        report = reports.get(obj.job_id)
        new = observe(report, now) if report is not None else unknown(obj, now)
        server = (servers or {}).get(report.source_id or "") if report is not None else None
        new_source = observe_source(server, now) if server is not None else None
        job = new if changed(obj.job, new) else None
        source = (
            new_source
            if new_source is not None and changed(obj.source_server, new_source)
            else None
        )
        if job is not None or source is not None:
            result.append(Update(obj, job, source))
    return result
