"""Job status mirroring, pure: which jobs to ask about together, and what changed.

``status.job`` mirrors what DescribeReplicationJobs reports. One background task refreshes it for
every ReplicationJob: jobs sharing credentials and region go into one call of up to 50 JobIds, and
an object is written only when something other than ``observedTime`` changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from smc_operator import wire
from smc_operator.conditions import STARTED, format_time
from smc_operator.model import JobObservation, ReplicationJobSpec, ReplicationJobStatus
from smc_operator.outcomes import JobReport
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
    condition = status.condition(STARTED)
    row = row_of(condition.reason) if condition is not None else None
    if row is not None and not row.polled:
        # Polling could not succeed (no credentials, a refused key, no such job) or would
        # mirror another object's job.
        return None
    return Watched(
        namespace=namespace,
        name=name,
        job_id=spec.job_id,
        region_id=spec.region_id or default_region,
        secret_name=spec.secret_name,
        job=status.job,
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


def changed(old: JobObservation | None, new: JobObservation) -> bool:
    """True when anything but ``observedTime`` differs: only then is the object written."""
    if old is None:
        return True
    return old.model_copy(update={"observed_time": None}) != new.model_copy(
        update={"observed_time": None}
    )


def updates(
    batch: Batch, reports: dict[str, JobReport], now: datetime
) -> Sequence[tuple[Watched, JobObservation]]:
    """The objects of ``batch`` whose ``status.job`` must be written, with the new value."""
    result = []
    for obj in batch.objects:
        report = reports.get(obj.job_id)
        new = observe(report, now) if report is not None else unknown(obj, now)
        if changed(obj.job, new):
            result.append((obj, new))
    return result
