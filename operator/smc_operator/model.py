"""The ReplicationJob custom resource as typed data: spec, status, conditions, job observations.

These pydantic models and ``crds/replicationjobs.smcoperator.io.yaml`` describe the same shapes; a
unit test compares them field by field so they cannot drift. Field names are the wire's camelCase
(aliases); Python code uses snake_case.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from smc_operator import wire

GROUP: Final = "smcoperator.io"
VERSION: Final = "v1alpha1"
PLURAL: Final = "replicationjobs"
SINGULAR: Final = "replicationjob"
KIND: Final = "ReplicationJob"
SHORT_NAMES: Final = ("rj",)
CATEGORIES: Final = ("smc",)
API_VERSION: Final = f"{GROUP}/{VERSION}"

#: Setting (or changing) this annotation asks for a new start request (docs/design.md).
RETRY_ANNOTATION: Final = f"{GROUP}/retry-requested-at"

#: The tag every job the operator creates carries: the ReplicationJob's uid (docs/design.md).
UID_TAG: Final = f"{GROUP}/uid"
#: CreateReplicationJob's idempotency token: this prefix and the object's uid.
CLIENT_TOKEN_PREFIX: Final = "smc-operator-"
#: The finalizer of objects with ``deletionPolicy: Delete`` (and only those).
FINALIZER: Final = f"{GROUP}/delete-job"

#: The longest message we keep in a condition; SMC messages are short, but a body can be anything.
MESSAGE_MAX_LENGTH: Final = 1024
#: Kubernetes object names (DNS-1123 subdomain): the Secret reference's name.
SECRET_NAME_PATTERN: Final = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
SECRET_NAME_MAX_LENGTH: Final = 253

ConditionStatus = Literal["True", "False", "Unknown"]


class _Wire(BaseModel):
    """camelCase on the wire, snake_case in Python; immutable values."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )

    def to_wire(self) -> dict[str, object]:
        """The JSON-ready dict as stored in Kubernetes (camelCase, no unset optional fields)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class SecretReference(_Wire):
    """A Secret in the ReplicationJob's own namespace (there is deliberately no namespace field)."""

    name: str = Field(min_length=1, max_length=SECRET_NAME_MAX_LENGTH, pattern=SECRET_NAME_PATTERN)


TargetType = Literal["Image", "ContainerImage", "TargetInstance"]
DeletionPolicy = Literal["Orphan", "Delete"]
#: SMC's job names: 2-128 characters, starting with a letter, of letters, digits, ``.``, ``_``,
#: ``:`` and ``-`` (Alibaba Cloud's usual naming rule; the SMC reference gives no pattern).
JOB_NAME_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9._:-]{1,127}$"
JOB_NAME_MAX_LENGTH: Final = 128
DESCRIPTION_MAX_LENGTH: Final = 128
SOURCE_ID_PATTERN: Final = r"^s-[a-z0-9]{8,40}$"
#: Alibaba Cloud's tag rules: at most 20 per resource (the operator's own, UID_TAG, is one of
#: them), keys of 1-128 characters not starting with ``aliyun`` or ``acs:``, values up to 128.
TAG_MAX: Final = 20
USER_TAG_MAX: Final = TAG_MAX - 1
TAG_LENGTH_MAX: Final = 128
RESERVED_TAG_PREFIXES: Final = ("aliyun", "acs:")


def tag_problem(key: str, value: str) -> str | None:
    """Why SMC (or the operator) would refuse this tag; None when it is fine."""
    if key == UID_TAG:
        return f"tag {key} is the operator's own (it names the ReplicationJob); choose another key"
    if not 1 <= len(key) <= TAG_LENGTH_MAX:
        return f"tag keys have 1-{TAG_LENGTH_MAX} characters ({key[:40]!r} has {len(key)})"
    if key.startswith(RESERVED_TAG_PREFIXES):
        return f"tag key {key[:40]!r} starts with a prefix Alibaba Cloud reserves (aliyun, acs:)"
    if len(value) > TAG_LENGTH_MAX:
        return f"the value of tag {key[:40]!r} is longer than {TAG_LENGTH_MAX} characters"
    return None


class DataDisk(_Wire):
    index: int = Field(ge=1, le=16, strict=True)
    size: int = Field(ge=20, le=32768, strict=True)


class JobTemplate(_Wire):
    """``spec.job``: the SMC job the operator creates, in CreateReplicationJob's terms."""

    source_id: str = Field(max_length=42, pattern=SOURCE_ID_PATTERN)
    name: str | None = Field(default=None, max_length=JOB_NAME_MAX_LENGTH, pattern=JOB_NAME_PATTERN)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_LENGTH)
    target_type: TargetType = "Image"
    image_name: str | None = Field(default=None, max_length=128)
    instance_id: str | None = Field(default=None, max_length=64)
    system_disk_size: int | None = Field(default=None, ge=20, le=2048, strict=True)
    data_disks: tuple[DataDisk, ...] = Field(default=(), max_length=16)
    net_mode: int | None = Field(default=None, ge=0, le=2, strict=True)
    vpc_id: str | None = Field(default=None, max_length=64)
    v_switch_id: str | None = Field(default=None, max_length=64, alias="vSwitchId")
    instance_type: str | None = Field(default=None, max_length=64)
    run_once: bool = Field(default=True, strict=True)
    frequency: int | None = Field(default=None, ge=1, le=168, strict=True)
    max_number_of_image_to_keep: int | None = Field(default=None, ge=1, le=10, strict=True)
    valid_time: str | None = Field(default=None, max_length=64)
    tags: dict[str, str] = Field(default_factory=dict, max_length=USER_TAG_MAX)

    @field_validator("tags")
    @classmethod
    def _tags_smc_accepts(cls, tags: dict[str, str]) -> dict[str, str]:
        for key, value in tags.items():
            problem = tag_problem(key, value)
            if problem is not None:
                raise ValueError(problem)
        return tags

    @model_validator(mode="after")
    def _incremental_needs_its_schedule(self) -> JobTemplate:
        if not self.run_once and (
            self.frequency is None or self.max_number_of_image_to_keep is None
        ):
            raise ValueError(
                "an incremental job (runOnce: false) needs frequency and maxNumberOfImageToKeep"
            )
        return self


class CutOverRequest(_Wire):
    """``spec.cutOver``: its presence asks once for CutOverReplicationJob."""

    sync_data: bool = Field(default=False, strict=True)


class ReplicationJobSpec(_Wire):
    job_id: str | None = Field(
        default=None, min_length=1, max_length=wire.JOB_ID_MAX_LENGTH, pattern=wire.JOB_ID_PATTERN
    )
    job: JobTemplate | None = None
    region_id: str | None = Field(
        default=None, max_length=wire.REGION_ID_MAX_LENGTH, pattern=wire.REGION_ID_PATTERN
    )
    start: bool = Field(default=False, strict=True)
    credentials_secret_ref: SecretReference | None = None
    suspend: bool = Field(default=False, strict=True)
    cut_over: CutOverRequest | None = None
    deletion_policy: DeletionPolicy = "Orphan"

    @model_validator(mode="after")
    def _adopt_or_create(self) -> ReplicationJobSpec:
        if (self.job_id is None) == (self.job is None):
            raise ValueError(
                "exactly one of spec.jobId (adopt a job) and spec.job (create one) must be set"
            )
        return self

    @field_validator("region_id", mode="before")
    @classmethod
    def _absent_not_null(cls, value: object) -> object:
        # The CRD's schema has no nullable fields: an explicit null is refused there, so it is
        # refused here too (leaving a field out is how to ask for its default).
        if value is None:
            raise ValueError("must not be null; leave the field out instead")
        return value

    @property
    def secret_name(self) -> str | None:
        """The credentials Secret's name (in the object's namespace), if it names one."""
        return self.credentials_secret_ref.name if self.credentials_secret_ref else None


class Condition(_Wire):
    """A ``metav1.Condition`` plus SMC's ``requestId`` and ``errorCode`` (docs/design.md)."""

    type: str
    status: ConditionStatus
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int | None = None
    request_id: str | None = None
    error_code: str | None = None


class JobObservation(_Wire):
    """What DescribeReplicationJobs last reported about the job."""

    status: str | None = None
    business_status: str | None = None
    progress: float | None = None
    error_code: str | None = None
    status_info: str | None = None
    image_id: str | None = None
    instance_id: str | None = None
    observed_time: str | None = None


class SourceServerObservation(_Wire):
    """What DescribeSourceServers last reported about the job's source server."""

    source_id: str | None = None
    state: str | None = None
    name: str | None = None
    platform: str | None = None
    agent_version: str | None = None
    error_code: str | None = None
    status_info: str | None = None
    observed_time: str | None = None


class StartRequest(_Wire):
    """Which start request the status describes: the generation and the retry annotation's value.

    Exactly-once bookkeeping (docs/design.md): the status is only trusted for the request it
    names; a new generation or a new ``retry-requested-at`` value begins a new request.
    """

    generation: int
    retry_requested_at: str | None = None
    #: The start-relevant part of the spec the request was made for (:func:`start_fingerprint`).
    #: A new generation that leaves it unchanged (a modified description, a cut-over) is no new
    #: start request. Absent in statuses written before it existed: then every generation is.
    spec: str | None = None


class ReplicationJobStatus(_Wire):
    observed_generation: int | None = None
    conditions: tuple[Condition, ...] = ()
    attempts: int = 0
    start_request: StartRequest | None = None
    job: JobObservation | None = None
    #: The SMC job this object manages: ``spec.jobId``, or CreateReplicationJob's answer.
    job_id: str | None = None
    source_server: SourceServerObservation | None = None
    #: Calls made for the lifecycle action in progress, by its condition type (``Created``,
    #: ``CutOver``, ...): its retry budget. ``attempts`` stays StartReplicationJob's.
    action_attempts: dict[str, int] = Field(default_factory=dict)

    @field_validator("action_attempts", mode="before")
    @classmethod
    def _cleared_counts_are_gone(cls, value: object) -> object:
        # A merge patch clears a count with null; a store that keeps the null means the same.
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if v is not None}
        return value

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


@dataclass(frozen=True)
class JobAttributes:
    """The attributes of a job ModifyReplicationJobAttribute can change (None: leave as is)."""

    name: str | None = None
    description: str | None = None
    frequency: int | None = None
    max_number_of_image_to_keep: int | None = None
    valid_time: str | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in dataclasses.astuple(self))
