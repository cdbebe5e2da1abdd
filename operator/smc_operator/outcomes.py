"""What SMC calls return, as plain data: no SDK types leak past the ``smc`` adapter.

An SMC call ends in :class:`SmcFailure` or its success: :class:`SmcAccepted` (Start, Stop,
Delete, CutOver, Modify), :class:`JobCreated` (CreateReplicationJob), :class:`JobsReport`
(DescribeReplicationJobs) or :class:`SourceServersReport` (DescribeSourceServers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SmcAccepted:
    """SMC answered the call successfully."""

    request_id: str


@dataclass(frozen=True)
class SmcFailure:
    """One failed SMC call, whatever the SDK raised.

    ``code`` is SMC's error code, or None when there was no SMC answer to read (connection error,
    timeout, an HTML or empty body). ``message`` never contains credentials.
    """

    code: str | None
    message: str
    request_id: str | None = None
    http_status: int | None = None
    retry_after: float | None = None

    def describe(self) -> str:
        """One line for conditions, events and logs."""
        head = self.code or "NoAnswer"
        status = f" (HTTP {self.http_status})" if self.http_status else ""
        return f"{head}{status}: {self.message}"


@dataclass(frozen=True)
class JobReport:
    """One replication job as DescribeReplicationJobs reports it."""

    job_id: str
    status: str | None = None
    business_status: str | None = None
    progress: float | None = None
    error_code: str | None = None
    status_info: str | None = None
    name: str | None = None
    description: str | None = None
    source_id: str | None = None
    #: False: an incremental job (RunOnce false).
    run_once: bool | None = None
    frequency: int | None = None
    max_number_of_image_to_keep: int | None = None
    valid_time: str | None = None
    image_id: str | None = None
    instance_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobCreated:
    """CreateReplicationJob answered with the new job's ID."""

    request_id: str
    job_id: str


@dataclass(frozen=True)
class SourceServerReport:
    """One source server as DescribeSourceServers reports it."""

    source_id: str
    state: str | None = None
    name: str | None = None
    platform: str | None = None
    agent_version: str | None = None
    error_code: str | None = None
    status_info: str | None = None


@dataclass(frozen=True)
class SourceServersReport:
    """A DescribeSourceServers answer: the servers SMC knows among those asked for."""

    request_id: str
    servers: Mapping[str, SourceServerReport] = field(default_factory=dict)


@dataclass(frozen=True)
class JobsReport:
    """A DescribeReplicationJobs answer: the jobs SMC knows among those asked for."""

    request_id: str
    jobs: Mapping[str, JobReport] = field(default_factory=dict)


StartOutcome = SmcAccepted | SmcFailure
#: Stop, Delete, CutOver and Modify answer like Start: accepted, or failed.
ActionOutcome = SmcAccepted | SmcFailure
CreateOutcome = JobCreated | SmcFailure
DescribeOutcome = JobsReport | SmcFailure
SourceServersOutcome = SourceServersReport | SmcFailure
