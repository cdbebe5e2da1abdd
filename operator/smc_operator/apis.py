"""The two seams of the operator: what it needs from SMC and from Kubernetes, as Protocols.

:class:`~smc_operator.smc.SmcClient` (over the Alibaba SDK) and
:class:`~smc_operator.kube.KubeClient` (over HTTP) implement them in production; the tests'
in-memory fakes implement them to drive the real :class:`~smc_operator.starting.Starter` and
:class:`~smc_operator.refreshing.JobRefresher`. The Kubernetes errors live here, with the seam,
so that a fake raises exactly what the real client raises:

- :class:`KubeError`: the API server refused a request, or could not be reached (``status`` 0);
- :class:`KubeConflictError`: 409, the object changed since it was read;
- :class:`KubeNotFoundError`: 404, the object (or its namespace) does not exist.

SMC calls never raise for SMC or transport errors: they return outcomes
(:mod:`smc_operator.outcomes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from smc_operator.credentials import AccessKey
from smc_operator.model import JobAttributes, JobTemplate
from smc_operator.outcomes import (
    ActionOutcome,
    CreateOutcome,
    DescribeOutcome,
    SourceServersOutcome,
    StartOutcome,
)


class KubeError(Exception):
    """The API server refused a request (or could not be reached: ``status`` 0)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class KubeConflictError(KubeError):
    """409: the object changed since it was read (optimistic concurrency)."""


class KubeNotFoundError(KubeError):
    """404: the object (or its namespace) does not exist."""


class SmcApi(Protocol):
    async def start_replication_job(
        self, job_id: str, *, region_id: str, access_key: AccessKey | None
    ) -> StartOutcome:
        """Call StartReplicationJob once."""
        ...

    async def describe_replication_jobs(
        self, job_ids: Sequence[str], *, region_id: str, access_key: AccessKey | None
    ) -> DescribeOutcome:
        """DescribeReplicationJobs for up to 50 JobIds in one call."""
        ...

    async def create_replication_job(
        self,
        template: JobTemplate,
        *,
        name: str,
        client_token: str,
        tags: Mapping[str, str],
        region_id: str,
        access_key: AccessKey | None,
    ) -> CreateOutcome:
        """CreateReplicationJob once, with ``name`` and ``tags`` (the template's own and ours)."""
        ...

    async def find_replication_jobs(
        self, *, name: str, tags: Mapping[str, str], region_id: str, access_key: AccessKey | None
    ) -> DescribeOutcome:
        """DescribeReplicationJobs filtered by ``Name`` and every tag in ``tags``."""
        ...

    async def stop_replication_job(
        self, job_id: str, *, region_id: str, access_key: AccessKey | None
    ) -> ActionOutcome:
        """StopReplicationJob once."""
        ...

    async def delete_replication_job(
        self, job_id: str, *, region_id: str, access_key: AccessKey | None
    ) -> ActionOutcome:
        """DeleteReplicationJob once."""
        ...

    async def cut_over_replication_job(
        self, job_id: str, *, sync_data: bool, region_id: str, access_key: AccessKey | None
    ) -> ActionOutcome:
        """CutOverReplicationJob once."""
        ...

    async def modify_replication_job_attribute(
        self,
        job_id: str,
        changes: JobAttributes,
        *,
        region_id: str,
        access_key: AccessKey | None,
    ) -> ActionOutcome:
        """ModifyReplicationJobAttribute once, sending only the attributes ``changes`` sets."""
        ...

    async def describe_source_servers(
        self, source_ids: Sequence[str], *, region_id: str, access_key: AccessKey | None
    ) -> SourceServersOutcome:
        """DescribeSourceServers for up to 50 SourceIds in one call."""
        ...

    def remember_secret(self, secret: tuple[str, str], access_key: AccessKey | None) -> None:
        """The key a Secret (namespace, name) holds now; a key it no longer holds is dropped."""
        ...


class KubeApi(Protocol):
    async def read_access_key(self, namespace: str, secret_name: str) -> AccessKey:
        """The AccessKey in a Secret; raises ``CredentialsError`` saying what is wrong."""
        ...

    async def patch_status(
        self,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        *,
        resource_version: str | None = None,
    ) -> Mapping[str, Any]:
        """Merge-patch a ReplicationJob's status; with ``resource_version`` only if unchanged."""
        ...
