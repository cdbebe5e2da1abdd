"""The ReplicationJob custom resource as typed data: spec, status, conditions, job observations.

These pydantic models and ``crds/replicationjobs.smcoperator.io.yaml`` describe the same shapes; a
unit test compares them field by field so they cannot drift. Field names are the wire's camelCase
(aliases); Python code uses snake_case.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
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


class ReplicationJobSpec(_Wire):
    job_id: str = Field(
        min_length=1, max_length=wire.JOB_ID_MAX_LENGTH, pattern=wire.JOB_ID_PATTERN
    )
    region_id: str | None = Field(
        default=None, max_length=wire.REGION_ID_MAX_LENGTH, pattern=wire.REGION_ID_PATTERN
    )
    start: bool = Field(default=False, strict=True)
    credentials_secret_ref: SecretReference | None = None

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
    observed_time: str | None = None


class StartRequest(_Wire):
    """Which start request the status describes: the generation and the retry annotation's value.

    Exactly-once bookkeeping (docs/design.md): the status is only trusted for the request it
    names; a new generation or a new ``retry-requested-at`` value begins a new request.
    """

    generation: int
    retry_requested_at: str | None = None


class ReplicationJobStatus(_Wire):
    observed_generation: int | None = None
    conditions: tuple[Condition, ...] = ()
    attempts: int = 0
    start_request: StartRequest | None = None
    job: JobObservation | None = None

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)
