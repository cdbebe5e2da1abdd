"""The reasons table: every reason a condition can give, and what each one means.

One row per reason, whichever condition (``Created``, ``Started``, ``Suspended``, ``CutOver``,
``Synced``, ``Deleted``) gives it: a failure such as ``Retrying`` or ``AccessDenied`` means the
same on each, and ``conditions`` says where a reason appears. Conditions (their status), Events (their type), the decision (whether a
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
    """Why a condition has its status. CamelCase, as Kubernetes reasons are."""

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
    SUSPENDED = "Suspended"
    CREATING = "Creating"
    CREATED = "Created"
    ADOPTED = "Adopted"
    NAME_DUPLICATE = "NameDuplicate"
    QUOTA_EXCEEDED = "QuotaExceeded"
    IDEMPOTENT_PARAMETER_MISMATCH = "IdempotentParameterMismatch"
    INVALID_PARAMETER = "InvalidParameter"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    RESUMED = "Resumed"
    WAITING_FOR_CYCLE = "WaitingForCycle"
    CUTTING_OVER = "CuttingOver"
    CUT_OVER = "CutOver"
    NOT_INCREMENTAL = "NotIncremental"
    MODIFYING = "Modifying"
    SYNCED = "Synced"
    NOT_MODIFIABLE_IN_STATUS = "NotModifiableInStatus"
    DELETING = "Deleting"


class RetryCurve(StrEnum):
    """How a retried reason backs off (:func:`smc_operator.backoff.retry_delay`)."""

    REGULAR = "Regular"
    THROTTLED = "Throttled"
    #: Not a failure: waiting for SMC's job to reach a state, looked at every poll interval.
    POLL = "Poll"


#: The condition types (docs/design.md): one per SMC action.
CREATED: Final = "Created"
STARTED: Final = "Started"
SUSPENDED: Final = "Suspended"
CUT_OVER: Final = "CutOver"
SYNCED: Final = "Synced"
DELETED: Final = "Deleted"
CONDITION_TYPES: Final = (CREATED, STARTED, SUSPENDED, CUT_OVER, SYNCED, DELETED)
#: Failures every action can meet (its call failed, or could not be made).
EVERY: Final = CONDITION_TYPES


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
    #: The condition types that give this reason.
    conditions: tuple[str, ...] = (STARTED,)

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
            remedy="nothing: it is retried, and ends RetriesExhausted after `SMC_OPERATOR_MAX_ATTEMPTS` calls (a deletion is retried until it is done)",
            conditions=EVERY,
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
            conditions=EVERY,
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
            conditions=(STARTED, SUSPENDED, CUT_OVER, SYNCED, DELETED),
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
            conditions=(CREATED, STARTED, CUT_OVER),
        ),
        Reason.ACCESS_DENIED: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=False,
            meaning="the credentials were refused (unknown key, bad signature, RAM denial, no credentials)",
            remedy="check the AccessKey and its RAM policy (the README lists the smc: actions), then ask again",
            conditions=EVERY,
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
            conditions=(CREATED, STARTED),
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
            conditions=EVERY,
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
            conditions=tuple(c for c in EVERY if c != DELETED),  # deletions never give up
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
            conditions=EVERY,
        ),
        Reason.SUSPENDED: ReasonInfo(
            status="False",
            settled=False,
            event="Normal",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="`spec.suspend` is true: no start while suspended",
            remedy="set `spec.suspend: false` to resume (a new start request when `spec.start` is true)",
        ),
        Reason.CREATING: ReasonInfo(
            status="Unknown",
            settled=False,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=False,
            meaning="CreateReplicationJob is in flight (the intent is recorded first; a repeat looks the job up by name and uid tag)",
            conditions=(CREATED,),
        ),
        Reason.CREATED: ReasonInfo(
            status="True",
            settled=True,
            event="Normal",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="CreateReplicationJob answered with `status.jobId` (or the lookup by name and uid tag found the job)",
            conditions=(CREATED,),
        ),
        Reason.ADOPTED: ReasonInfo(
            status="True",
            settled=True,
            event="Normal",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="SMC knows `spec.jobId` (DescribeReplicationJobs found it, or it accepted a start of it)",
            conditions=(CREATED,),
        ),
        Reason.NAME_DUPLICATE: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=False,
            meaning="SMC refused: another job already has this name (`ReplicationJobName.Duplicate`)",
            remedy="choose another `spec.job.name`",
            conditions=(CREATED, SYNCED),
        ),
        Reason.QUOTA_EXCEEDED: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=False,
            meaning="SMC refused: the account has its maximum of replication jobs (`QuotaExceeded.ReplicationJob`)",
            remedy="delete finished jobs (or raise the quota), then ask again",
            conditions=(CREATED,),
        ),
        Reason.IDEMPOTENT_PARAMETER_MISMATCH: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=False,
            meaning="SMC refused a repeated create whose parameters changed since the first (same ClientToken)",
            remedy="restore `spec.job` as it was, or delete the SMC job tagged `smcoperator.io/uid` with this object's uid and ask again",
            conditions=(CREATED,),
        ),
        Reason.INVALID_PARAMETER: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=False,
            meaning="SMC refused the job's parameters (a client error, see ERROR CODE)",
            remedy="fix `spec.job` as the message says",
            conditions=(CREATED,),
        ),
        Reason.STOPPING: ReasonInfo(
            status="Unknown",
            settled=False,
            event="Normal",
            retry=RetryCurve.POLL,
            holds_job=False,
            polled=True,
            meaning="waiting until the job is Running and Syncing (the only state SMC stops in), or StopReplicationJob is in flight",
            remedy="nothing: the job is stopped as soon as SMC allows it",
            conditions=(SUSPENDED,),
        ),
        Reason.STOPPED: ReasonInfo(
            status="True",
            settled=True,
            event="Normal",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="the job is stopped (StopReplicationJob accepted), or was not running",
            conditions=(SUSPENDED,),
        ),
        Reason.RESUMED: ReasonInfo(
            status="False",
            settled=False,
            event="Normal",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="`spec.suspend` is false again",
            conditions=(SUSPENDED,),
        ),
        Reason.WAITING_FOR_CYCLE: ReasonInfo(
            status="Unknown",
            settled=False,
            event="Normal",
            retry=RetryCurve.POLL,
            holds_job=False,
            polled=True,
            meaning="cut-over requested: waiting until the incremental job is Waiting between cycles",
            remedy="nothing: it is cut over at the end of the current cycle",
            conditions=(CUT_OVER,),
        ),
        Reason.CUTTING_OVER: ReasonInfo(
            status="Unknown",
            settled=False,
            event="Normal",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="CutOverReplicationJob is in flight (the intent is recorded first)",
            conditions=(CUT_OVER,),
        ),
        Reason.CUT_OVER: ReasonInfo(
            status="True",
            settled=True,
            event="Normal",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="SMC accepted the cut-over: the job makes its last image and finishes",
            conditions=(CUT_OVER,),
        ),
        Reason.NOT_INCREMENTAL: ReasonInfo(
            status="False",
            settled=True,
            event="Warning",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="cut-over requested for a one-off job (`runOnce: true`): only incremental jobs are cut over",
            remedy="remove `spec.cutOver`; a one-off job finishes by itself",
            conditions=(CUT_OVER,),
        ),
        Reason.MODIFYING: ReasonInfo(
            status="Unknown",
            settled=False,
            event="Normal",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="ModifyReplicationJobAttribute is in flight",
            conditions=(SYNCED,),
        ),
        Reason.SYNCED: ReasonInfo(
            status="True",
            settled=True,
            event="Normal",
            retry=None,
            holds_job=False,
            polled=True,
            meaning="the job's name, description, frequency, images to keep and valid time match `spec.job`",
            conditions=(SYNCED,),
        ),
        Reason.NOT_MODIFIABLE_IN_STATUS: ReasonInfo(
            status="False",
            settled=False,
            event="Warning",
            retry=RetryCurve.POLL,
            holds_job=False,
            polled=True,
            meaning="a change SMC accepts only in other job states (the message names the status and fields); applied once SMC allows it",
            remedy="nothing, or revert the change: frequency and maxNumberOfImageToKeep change only while Ready or Waiting",
            conditions=(SYNCED,),
        ),
        Reason.DELETING: ReasonInfo(
            status="Unknown",
            settled=False,
            event="Normal",
            retry=RetryCurve.POLL,
            holds_job=False,
            polled=False,
            meaning="`deletionPolicy: Delete`: stopping and deleting the SMC job; the finalizer goes once SMC no longer lists it",
            remedy="nothing; to keep the SMC job instead, set `spec.deletionPolicy: Orphan`",
            conditions=(DELETED,),
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
