"""SMC's protocol facts, shared by the operator and the emulator.

Everything here comes from Alibaba's API reference for SMC (API version 2019-06-01) or from the
Alibaba Cloud common error codes. Where the reference is silent, the choice is marked as ours.
"""

from __future__ import annotations

from typing import Final

API_VERSION: Final = "2019-06-01"
SIGNATURE_ALGORITHM: Final = "ACS3-HMAC-SHA256"

# Actions (the value of the ``x-acs-action`` header).
START_REPLICATION_JOB: Final = "StartReplicationJob"
STOP_REPLICATION_JOB: Final = "StopReplicationJob"
DESCRIBE_REPLICATION_JOBS: Final = "DescribeReplicationJobs"
DESCRIBE_SOURCE_SERVERS: Final = "DescribeSourceServers"

# Replication job ``Status`` values.
JOB_READY: Final = "Ready"
JOB_RUNNING: Final = "Running"
JOB_STOPPED: Final = "Stopped"
JOB_IN_ERROR: Final = "InError"
JOB_FINISHED: Final = "Finished"
JOB_WAITING: Final = "Waiting"
JOB_EXPIRED: Final = "Expired"
JOB_DELETING: Final = "Deleting"
JOB_STATUSES: Final = (
    JOB_READY,
    JOB_RUNNING,
    JOB_STOPPED,
    JOB_IN_ERROR,
    JOB_FINISHED,
    JOB_WAITING,
    JOB_EXPIRED,
    JOB_DELETING,
)
#: StartReplicationJob is only accepted in these states.
STARTABLE_STATUSES: Final = (JOB_READY, JOB_STOPPED, JOB_IN_ERROR)
#: A job in one of these states has been started (docs/design.md, "Exactly-once start").
STARTED_STATUSES: Final = (JOB_RUNNING, JOB_WAITING, JOB_FINISHED)

# ``BusinessStatus`` while a job runs.
BUSINESS_PREPARING: Final = "Preparing"
BUSINESS_SYNCING: Final = "Syncing"
BUSINESS_PROCESSING: Final = "Processing"
BUSINESS_CLEANING: Final = "Cleaning"

# Source server ``State`` values.
SOURCE_AVAILABLE: Final = "Available"
SOURCE_UNAVAILABLE: Final = "Unavailable"
SOURCE_IN_USE: Final = "InUse"
SOURCE_DELETING: Final = "Deleting"
SOURCE_STATES: Final = (SOURCE_AVAILABLE, SOURCE_UNAVAILABLE, SOURCE_IN_USE, SOURCE_DELETING)

# Job types.
JOB_TYPE_FULL: Final = 0  # one-off migration: Running -> Finished
JOB_TYPE_INCREMENTAL: Final = 1  # incremental: Running -> Waiting between runs

# Error codes: SMC's own, from the StartReplicationJob reference.
INVALID_STATUS: Final = "ReplicationJob.InvalidStatus"
SOURCE_SERVER_STATE_INVALID: Final = "SourceServerState.Invalid"
# Alibaba Cloud common error codes.
INTERNAL_ERROR: Final = "InternalError"
SERVICE_UNAVAILABLE: Final = "ServiceUnavailable"
THROTTLING: Final = "Throttling"
THROTTLING_USER: Final = "Throttling.User"
THROTTLING_API: Final = "Throttling.Api"
INVALID_ACCESS_KEY_NOT_FOUND: Final = "InvalidAccessKeyId.NotFound"
INVALID_ACCESS_KEY_INACTIVE: Final = "InvalidAccessKeyId.Inactive"
SIGNATURE_DOES_NOT_MATCH: Final = "SignatureDoesNotMatch"
INVALID_SECURITY_TOKEN_EXPIRED: Final = "InvalidSecurityToken.Expired"
INVALID_SECURITY_TOKEN_MALFORMED: Final = "InvalidSecurityToken.Malformed"
FORBIDDEN_RAM: Final = "Forbidden.RAM"
FORBIDDEN: Final = "Forbidden"
#: The SDK's own code when it has no credentials to sign with (no call reaches SMC).
INVALID_CREDENTIALS: Final = "InvalidCredentials"
MISSING_PARAMETER: Final = "MissingParameter"
INVALID_PARAMETER: Final = "InvalidParameter"
# Our assumption (SMC's reference does not document the unknown-job case); kept in one place.
JOB_NOT_FOUND: Final = "InvalidJobId.NotFound"

# Message templates, verbatim from the reference (``%s``: the current and the allowed states).
INVALID_STATUS_MESSAGE: Final = (
    "The specified replication job status: %s is invalid. "
    "This operation can only be performed in the following status: %s."
)
SOURCE_SERVER_STATE_INVALID_MESSAGE: Final = (
    "The specified source server status: %s is invalid. "
    "This operation can only be performed in the following status: %s."
)
INTERNAL_ERROR_MESSAGE: Final = (
    "An error occurred while processing your request. Please try again. "
    "If the problem still exists, please submit a ticket."
)
SERVICE_UNAVAILABLE_MESSAGE: Final = (
    "The request has failed due to a temporary failure of the server."
)
THROTTLING_USER_MESSAGE: Final = "Request was denied due to user flow control."
THROTTLING_MESSAGE: Final = "Request was denied due to request throttling."
INVALID_ACCESS_KEY_NOT_FOUND_MESSAGE: Final = "Specified access key is not found."
SIGNATURE_DOES_NOT_MATCH_MESSAGE: Final = "Specified signature is not matched with our calculation."
INVALID_SECURITY_TOKEN_MESSAGE: Final = "Specified SecurityToken is invalid or expired."
JOB_NOT_FOUND_MESSAGE: Final = "The specified replication job %s does not exist."

#: How a ``JobId`` looks: ``j-`` and lowercase letters and digits (e.g. ``j-bw526m1vi6x21qxxxx``).
JOB_ID_PATTERN: Final = r"^j-[a-z0-9]{8,40}$"
JOB_ID_MAX_LENGTH: Final = 42
#: Region IDs such as ``cn-hangzhou``, ``ap-southeast-1``, ``cn-shanghai-finance-1``.
REGION_ID_PATTERN: Final = r"^[a-z]{2,4}(-[a-z0-9]{1,20}){1,4}$"
REGION_ID_MAX_LENGTH: Final = 64
#: DescribeReplicationJobs takes at most this many JobIds and this page size.
DESCRIBE_MAX_JOB_IDS: Final = 50

# Added with the emulator: Alibaba Cloud gateway errors the operator may also meet, and the
# parameter rules of the Describe calls. Codes and messages follow Alibaba's common error list.
INVALID_ACTION_NOT_FOUND: Final = "InvalidAction.NotFound"
INVALID_ACTION_NOT_FOUND_MESSAGE: Final = (
    "Specified api is not found, please check your url and method."
)
INVALID_VERSION: Final = "InvalidVersion"
INVALID_VERSION_MESSAGE: Final = "Specified parameter Version is not valid."
INCOMPLETE_SIGNATURE: Final = "IncompleteSignature"
INCOMPLETE_SIGNATURE_MESSAGE: Final = "The request signature does not conform to Aliyun standards."
MISSING_PARAMETER_MESSAGE: Final = (
    'The input parameter "%s" that is mandatory for processing this request is not supplied.'
)
INVALID_PARAMETER_MESSAGE: Final = 'The specified parameter "%s" is not valid.'
#: StopReplicationJob is only accepted in this state, and only while BusinessStatus is Syncing.
STOPPABLE_STATUSES: Final = (JOB_RUNNING,)
#: DescribeReplicationJobs / DescribeSourceServers paging: PageSize 1..50, default 10.
DESCRIBE_MAX_PAGE_SIZE: Final = 50
DESCRIBE_DEFAULT_PAGE_SIZE: Final = 10
#: The response header that makes the SDK raise its ``ThrottlingException`` (seconds).
RETRY_AFTER_HEADER: Final = "x-acs-retry-after"
#: Every Alibaba Cloud answer names its request in this header too.
REQUEST_ID_HEADER: Final = "x-acs-request-id"

# The lifecycle of a job (CreateReplicationJob's parameters and rules: SMC's API reference; where
# it is silent the emulator's module docstring says what we assumed).
CREATE_REPLICATION_JOB: Final = "CreateReplicationJob"
DELETE_REPLICATION_JOB: Final = "DeleteReplicationJob"
CUT_OVER_REPLICATION_JOB: Final = "CutOverReplicationJob"
MODIFY_REPLICATION_JOB_ATTRIBUTE: Final = "ModifyReplicationJobAttribute"
NAME_DUPLICATE: Final = "ReplicationJobName.Duplicate"
QUOTA_EXCEEDED: Final = "QuotaExceeded.ReplicationJob"
IDEMPOTENT_PARAMETER_MISMATCH: Final = "IdempotentParameterMismatch"
INVALID_BUSINESS_STATUS: Final = "ReplicationJob.InvalidBusinessStatus"
NAME_DUPLICATE_MESSAGE: Final = "The specified replication job name: %s already exists."
QUOTA_EXCEEDED_MESSAGE: Final = "The maximum number of replication jobs: %d is exceeded."
IDEMPOTENT_PARAMETER_MISMATCH_MESSAGE: Final = (
    "The specified parameters are different from before for the same ClientToken."
)
#: A source server holds at most one job in these states (another CreateReplicationJob fails).
UNFINISHED_STATUSES: Final = (
    JOB_READY,
    JOB_RUNNING,
    JOB_STOPPED,
    JOB_WAITING,
    JOB_IN_ERROR,
    JOB_EXPIRED,
)
#: Jobs per account.
MAX_JOBS_PER_ACCOUNT: Final = 1000
#: CreateReplicationJob's ClientToken: ASCII, at most this long.
CLIENT_TOKEN_MAX_LENGTH: Final = 64
#: Which job statuses let ModifyReplicationJobAttribute change each field (SMC's reference:
#: Name and Description any time; Frequency and MaxNumberOfImageToKeep before the first run or
#: while Waiting; ValidTime in Ready, Running, Stopped, InError, Waiting; the rest only before
#: the first run). RunOnce is never modifiable.
MODIFIABLE_IN: Final = {
    "Name": JOB_STATUSES,
    "Description": JOB_STATUSES,
    "Frequency": (JOB_READY, JOB_WAITING),
    "MaxNumberOfImageToKeep": (JOB_READY, JOB_WAITING),
    "ValidTime": (JOB_READY, JOB_RUNNING, JOB_STOPPED, JOB_IN_ERROR, JOB_WAITING),
}
#: Modifiable fields not named above: only before the first run.
MODIFIABLE_BEFORE_FIRST_RUN: Final = (JOB_READY,)
