"""The reasons table: every reason the ``Started`` condition can give, and what each one means.

One row per reason. Conditions (their status), Events (their type), the decision (whether a
request is settled, whether and how it is retried), duplicate detection (whether an object holds
its SMC job), the job refresher (whether the job is polled), the ``smc_operator_replicationjobs``
and ``smc_operator_start_retries_total`` metrics (the reason is their label) and the README's
reason table all read it; a test keeps the README and the CRD's documentation in step with it.
Adding a reason is adding a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

from smc_operator.model import ConditionStatus

EventType = Literal["Normal", "Warning"]


class Reason(StrEnum):
    """Why ``Started`` has its status. CamelCase, as Kubernetes reasons are."""

    NOT_REQUESTED = "NotRequested"
    STARTING = "Starting"
    STARTED = "Started"
    RETRYING = "Retrying"
    THROTTLED = "Throttled"
    INVALID_STATUS = "InvalidStatus"
    SOURCE_SERVER_STATE_INVALID = "SourceServerStateInvalid"
    ACCESS_DENIED = "AccessDenied"
    JOB_NOT_FOUND = "JobNotFound"
    CREDENTIALS_NOT_FOUND = "CredentialsNotFound"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    DUPLICATE_JOB_ID = "DuplicateJobId"
    INVALID_SPEC = "InvalidSpec"
    FAILED = "Failed"


class RetryCurve(StrEnum):
    """How a retried reason backs off (:func:`smc_operator.backoff.retry_delay`)."""

    REGULAR = "Regular"
    THROTTLED = "Throttled"


@dataclass(frozen=True)
class ReasonInfo:
    status: ConditionStatus
    #: Nothing more happens for the current start request (until a new generation or retry).
    settled: bool
    #: The type of the Event that announces it.
    event: EventType
    #: Retried, and on which curve; None: not retried.
    retry: RetryCurve | None
    #: The object holds its SMC job (started, or starting): another object naming the same job
    #: is a duplicate.
    holds_job: bool
    #: The job refresher mirrors DescribeReplicationJobs into ``status.job``.
    polled: bool
    #: When the operator reports it (the README's "when" column).
    meaning: str
    #: What the user can do about it (empty when nothing needs doing).
    remedy: str = ""

    @property
    def failed(self) -> bool:
        """Settled without starting the job: reported as a failure (a Warning, kopf's error)."""
        return self.settled and self.event == "Warning"

    @property
    def in_progress(self) -> bool:
        return self.status == "Unknown"


#: "ask again" in a remedy: change the spec (a new generation), or set the annotation
#: ``smcoperator.io/retry-requested-at`` to a new value.
REASONS: Final[Mapping[Reason, ReasonInfo]] = MappingProxyType(
    {
        Reason.NOT_REQUESTED: ReasonInfo(
            status="False",
            settled=False,
            event="Normal",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="`spec.start` is false",
            remedy="set `spec.start: true` to start the job; false never stops a job",
        ),
        Reason.STARTING: ReasonInfo(
            status="Unknown",
            settled=False,
            event="Warning",
            retry=None,
            holds_job=True,
            polled=True,
            meaning="the intent is recorded and a call is in flight",
        ),
        Reason.STARTED: ReasonInfo(
            status="True",
            settled=True,
            event="Normal",
            retry=None,
            holds_job=True,
            polled=True,
            meaning="SMC accepted the start (or DescribeReplicationJobs confirmed it after a restart)",
        ),
        Reason.RETRYING: ReasonInfo(
            status="Unknown",
            settled=False,
            event="Warning",
            retry=RetryCurve.REGULAR,
            holds_job=True,
            polled=True,
            meaning="`InternalError`, a network error or a timeout: retried with exponential backoff (full jitter)",
            remedy="nothing: it is retried, and ends RetriesExhausted after `SMC_OPERATOR_MAX_ATTEMPTS` calls",
        ),
        Reason.THROTTLED: ReasonInfo(
            status="Unknown",
            settled=False,
            event="Warning",
            retry=RetryCurve.THROTTLED,
            holds_job=True,
            polled=True,
            meaning="`Throttling*` or `ServiceUnavailable`: retried on a slower curve",
            remedy="nothing: it is retried; lower `SMC_OPERATOR_QPS` if it persists",
        ),
        Reason.INVALID_STATUS: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="SMC refused: the job is not `Ready`, `Stopped` or `InError`",
            remedy="wait until SMC shows the job Ready, Stopped or InError, then ask again",
        ),
        Reason.SOURCE_SERVER_STATE_INVALID: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="SMC refused: the source server is not `Available`",
            remedy="check the SMC agent on the source server until SMC shows it Available, then ask again",
        ),
        Reason.ACCESS_DENIED: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=False,
            meaning="the credentials were refused (unknown key, bad signature, RAM denial, no credentials)",
            remedy="check the AccessKey and its RAM policy (smc:StartReplicationJob, smc:DescribeReplicationJobs), then ask again",
        ),
        Reason.JOB_NOT_FOUND: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=False,
            meaning="SMC does not know the job ID",
            remedy="check `spec.jobId` and `spec.regionId`",
        ),
        Reason.CREDENTIALS_NOT_FOUND: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=False,
            meaning="the Secret is missing, lacks a key, is unreadable, or is in another namespace",
            remedy="create or fix the Secret in the object's namespace (keys accessKeyId, accessKeySecret, optional securityToken), then ask again",
        ),
        Reason.RETRIES_EXHAUSTED: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="retryable failures for `SMC_OPERATOR_MAX_ATTEMPTS` calls",
            remedy="the condition keeps the last error code; once SMC answers again, ask again",
        ),
        Reason.DUPLICATE_JOB_ID: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=False,
            meaning="another ReplicationJob already starts the same job",
            remedy="delete one of the two objects, or point this one at another job",
        ),
        Reason.INVALID_SPEC: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=False,
            meaning="the spec is invalid (only if it got past the CRD's validation)",
            remedy="fix the spec as the message says",
        ),
        Reason.FAILED: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="SMC refused with a client error that has no reason of its own (see ERROR CODE)",
            remedy="look the error code up in SMC's documentation, fix the cause, then ask again",
        ),
    }
)


def known(reason: str | None) -> Reason | None:
    """``reason`` as a :class:`Reason`, or None when it is none (a status written by others)."""
    try:
        return Reason(reason) if reason else None
    except ValueError:
        return None


def row_of(reason: str | None) -> ReasonInfo | None:
    """The row of a reason as written in a condition; None when it names no reason of ours."""
    as_reason = known(reason)
    return REASONS[as_reason] if as_reason is not None else None
