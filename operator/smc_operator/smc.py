"""The SMC adapter: the only module that imports the Alibaba SDK.

It turns every SDK call into plain outcomes (:mod:`smc_operator.outcomes`): a success, or one
:class:`~smc_operator.outcomes.SmcFailure` carrying ``code``, ``message``, ``request_id`` and
``http_status``, whatever the SDK raised:

- ``ClientException`` (4xx) / ``ServerException`` (5xx) / ``ThrottlingException``
  (``x-acs-retry-after``): SMC's code, message, RequestId and HTTP status;
- ``darabonba.exceptions.UnretryableException``: no answer we could read (connection refused or
  dropped, timeout, an HTML/empty/malformed body): ``code`` None;
- a credential-chain failure (no usable default credentials): code ``InvalidCredentials``.

Calls are async (no blocking of the event loop), go through one pooled transport
(:mod:`smc_operator.transport`: kept-alive connections, SSL contexts built once), time out per
call (``REQUEST_TIMEOUT_SECONDS``), and never retry inside the SDK: the SDK's retry sleeps
block the loop, and the operator owns retries. All calls share one token bucket (``QPS``). SDK
clients are cached per credential and region (least recently used first out, and dropped after
five idle minutes: a client holds its AccessKey, which should stay in memory no longer than it is
in use). Credentials come from the
ReplicationJob's Secret, else from the SDK's default chain (environment, RRSA/OIDC, ECS role).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_smc20190601 import models as smc_models
from alibabacloud_smc20190601.client import Client as SdkClient
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_util import models as util_models
from darabonba.exceptions import UnretryableException

from smc_operator import wire
from smc_operator.credentials import AccessKey
from smc_operator.model import JobAttributes, JobTemplate
from smc_operator.outcomes import (
    ActionOutcome,
    CreateOutcome,
    DescribeOutcome,
    JobCreated,
    JobReport,
    JobsReport,
    SmcAccepted,
    SmcFailure,
    SourceServerReport,
    SourceServersOutcome,
    SourceServersReport,
    StartOutcome,
)
from smc_operator.ratelimit import TokenBucket
from smc_operator.settings import Settings
from smc_operator.transport import Transport

logger = logging.getLogger(__name__)

#: Code used when no credentials could be obtained at all (the SDK uses the same one).
INVALID_CREDENTIALS: Final = wire.INVALID_CREDENTIALS
#: How many SDK clients (credential x region) to keep.
CLIENT_CACHE_SIZE: Final = 256
#: An SDK client holds its AccessKey; one unused for this long is dropped, and its key with it.
CLIENT_IDLE_SECONDS: Final = 300.0

_Outcome = TypeVar("_Outcome")

#: Observer of every call: (action, outcome code or "Success", seconds, limiter wait seconds).
CallObserver = Callable[[str, str, float, float], None]


def _ignore(action: str, code: str, seconds: float, waited: float) -> None:
    pass


class SmcClient:
    """Async SMC calls with typed outcomes, a shared rate limit and cached SDK clients."""

    def __init__(
        self,
        settings: Settings,
        *,
        observer: CallObserver = _ignore,
        limiter: TokenBucket | None = None,
        default_credential: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        transport: Transport | None = None,
    ) -> None:
        self._transport = transport or Transport(
            request_timeout_seconds=settings.request_timeout_seconds, ca_file=settings.ca_file
        )
        self._endpoint = settings.smc_endpoint
        self._timeout_ms = int(settings.request_timeout_seconds * 1000)
        self._limiter = limiter or TokenBucket(settings.qps)
        self._observer = observer
        self._default_credential = default_credential or CredentialClient
        self._clock = clock
        # Least recently used first: (credential fingerprint, region) -> (client, last used).
        self._clients: OrderedDict[tuple[str, str], tuple[SdkClient, float]] = OrderedDict()
        # Which key each Secret (namespace, name) held when last read.
        self._secret_keys: dict[tuple[str, str], str] = {}

    async def start_replication_job(
        self, job_id: str, *, region_id: str, access_key: AccessKey | None
    ) -> StartOutcome:
        """Call StartReplicationJob once; never raises for SMC or transport errors."""
        request = smc_models.StartReplicationJobRequest(job_id=job_id)

        async def call() -> StartOutcome:
            client = self._client(region_id, access_key)
            response = await client.start_replication_job_with_options_async(
                request, self._runtime()
            )
            return _accepted(response, "the start may have happened or not")

        return await self._observed(wire.START_REPLICATION_JOB, call, access_key)

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
        request = create_request(
            template, name=name, client_token=client_token, tags=tags, region_id=region_id
        )

        async def call() -> CreateOutcome:
            client = self._client(region_id, access_key)
            response = await client.create_replication_job_with_options_async(
                request, self._runtime()
            )
            body = response.body
            request_id = _text(getattr(body, "request_id", None))
            job_id = _text(getattr(body, "job_id", None))
            if request_id is None or job_id is None:
                # A 2xx answer without its JobId: the job may exist or not (its ClientToken
                # tells, on the next try).
                return SmcFailure(
                    code=None,
                    message="SMC answered without a JobId or RequestId; "
                    "the job may have been created or not",
                    request_id=request_id,
                    http_status=getattr(response, "status_code", None),
                )
            return JobCreated(request_id=request_id, job_id=job_id)

        return await self._observed(wire.CREATE_REPLICATION_JOB, call, access_key)

    async def describe_replication_jobs(
        self, job_ids: Sequence[str], *, region_id: str, access_key: AccessKey | None
    ) -> DescribeOutcome:
        """DescribeReplicationJobs for up to 50 JobIds in one call."""
        if not 0 < len(job_ids) <= wire.DESCRIBE_MAX_JOB_IDS:
            raise ValueError(f"1..{wire.DESCRIBE_MAX_JOB_IDS} job IDs per call, not {len(job_ids)}")
        request = smc_models.DescribeReplicationJobsRequest(
            job_id=list(job_ids),
            region_id=region_id,
            page_number=1,
            page_size=wire.DESCRIBE_MAX_JOB_IDS,
        )
        return await self._describe_jobs(request, region_id, access_key)

    async def find_replication_jobs(
        self, *, name: str, tags: Mapping[str, str], region_id: str, access_key: AccessKey | None
    ) -> DescribeOutcome:
        """DescribeReplicationJobs filtered by ``Name`` and every tag in ``tags``.

        SMC filters by both; the answer is filtered by the tags once more, so that an SMC that
        ignored the Tag filter could not make another job look like ours. Names are unique per
        account, so one page holds every match.
        """
        request = smc_models.DescribeReplicationJobsRequest(
            name=name,
            tag=[
                smc_models.DescribeReplicationJobsRequestTag(key=key, value=value)
                for key, value in tags.items()
            ],
            region_id=region_id,
            page_number=1,
            page_size=wire.DESCRIBE_MAX_PAGE_SIZE,
        )
        outcome = await self._describe_jobs(request, region_id, access_key)
        if isinstance(outcome, SmcFailure):
            return outcome
        wanted = dict(tags)
        jobs = {
            job_id: job
            for job_id, job in outcome.jobs.items()
            if job.name == name and all(job.tags.get(k) == v for k, v in wanted.items())
        }
        return JobsReport(request_id=outcome.request_id, jobs=jobs)

    async def stop_replication_job(
        self, job_id: str, *, region_id: str, access_key: AccessKey | None
    ) -> ActionOutcome:
        """StopReplicationJob once."""
        request = smc_models.StopReplicationJobRequest(job_id=job_id)

        async def call() -> ActionOutcome:
            client = self._client(region_id, access_key)
            response = await client.stop_replication_job_with_options_async(
                request, self._runtime()
            )
            return _accepted(response, "the stop may have happened or not")

        return await self._observed(wire.STOP_REPLICATION_JOB, call, access_key)

    async def delete_replication_job(
        self, job_id: str, *, region_id: str, access_key: AccessKey | None
    ) -> ActionOutcome:
        """DeleteReplicationJob once."""
        request = smc_models.DeleteReplicationJobRequest(job_id=job_id)

        async def call() -> ActionOutcome:
            client = self._client(region_id, access_key)
            response = await client.delete_replication_job_with_options_async(
                request, self._runtime()
            )
            return _accepted(response, "the deletion may have happened or not")

        return await self._observed(wire.DELETE_REPLICATION_JOB, call, access_key)

    async def cut_over_replication_job(
        self, job_id: str, *, sync_data: bool, region_id: str, access_key: AccessKey | None
    ) -> ActionOutcome:
        """CutOverReplicationJob once."""
        request = smc_models.CutOverReplicationJobRequest(job_id=job_id, sync_data=sync_data)

        async def call() -> ActionOutcome:
            client = self._client(region_id, access_key)
            response = await client.cut_over_replication_job_with_options_async(
                request, self._runtime()
            )
            return _accepted(response, "the cut-over may have happened or not")

        return await self._observed(wire.CUT_OVER_REPLICATION_JOB, call, access_key)

    async def modify_replication_job_attribute(
        self,
        job_id: str,
        changes: JobAttributes,
        *,
        region_id: str,
        access_key: AccessKey | None,
    ) -> ActionOutcome:
        """ModifyReplicationJobAttribute once, sending only the attributes ``changes`` sets."""
        # The SDK leaves a None field out of the query: an unset attribute is left as it is.
        request = smc_models.ModifyReplicationJobAttributeRequest(
            job_id=job_id,
            name=changes.name,
            description=changes.description,
            frequency=changes.frequency,
            max_number_of_image_to_keep=changes.max_number_of_image_to_keep,
            valid_time=changes.valid_time,
        )

        async def call() -> ActionOutcome:
            client = self._client(region_id, access_key)
            response = await client.modify_replication_job_attribute_with_options_async(
                request, self._runtime()
            )
            return _accepted(response, "the change may have happened or not")

        return await self._observed(wire.MODIFY_REPLICATION_JOB_ATTRIBUTE, call, access_key)

    async def describe_source_servers(
        self, source_ids: Sequence[str], *, region_id: str, access_key: AccessKey | None
    ) -> SourceServersOutcome:
        """DescribeSourceServers for up to 50 SourceIds in one call."""
        if not 0 < len(source_ids) <= wire.DESCRIBE_MAX_JOB_IDS:
            raise ValueError(
                f"1..{wire.DESCRIBE_MAX_JOB_IDS} source IDs per call, not {len(source_ids)}"
            )
        # DescribeSourceServers takes no RegionId: the client's region picks the endpoint.
        request = smc_models.DescribeSourceServersRequest(
            source_id=list(source_ids), page_number=1, page_size=wire.DESCRIBE_MAX_PAGE_SIZE
        )

        async def call() -> SourceServersOutcome:
            client = self._client(region_id, access_key)
            response = await client.describe_source_servers_with_options_async(
                request, self._runtime()
            )
            body = response.body
            request_id = _text(getattr(body, "request_id", None))
            if request_id is None:
                return SmcFailure(code=None, message="SMC answered without a RequestId")
            container = getattr(body, "source_servers", None)
            items = getattr(container, "source_server", None) or []
            servers = {
                item.source_id: source_server_report(item)
                for item in items
                if getattr(item, "source_id", None)
            }
            return SourceServersReport(request_id=request_id, servers=servers)

        return await self._observed(wire.DESCRIBE_SOURCE_SERVERS, call, access_key)

    async def _describe_jobs(
        self,
        request: smc_models.DescribeReplicationJobsRequest,
        region_id: str,
        access_key: AccessKey | None,
    ) -> DescribeOutcome:
        async def call() -> DescribeOutcome:
            client = self._client(region_id, access_key)
            response = await client.describe_replication_jobs_with_options_async(
                request, self._runtime()
            )
            body = response.body
            request_id = getattr(body, "request_id", None)
            if not request_id:
                return SmcFailure(code=None, message="SMC answered without a RequestId")
            container = getattr(body, "replication_jobs", None)
            items = getattr(container, "replication_job", None) or []
            jobs = {
                item.job_id: job_report(item) for item in items if getattr(item, "job_id", None)
            }
            return JobsReport(request_id=str(request_id), jobs=jobs)

        return await self._observed(wire.DESCRIBE_REPLICATION_JOBS, call, access_key)

    async def close(self) -> None:
        """Close the connections to SMC (the operator's cleanup). Safe to call twice."""
        await self._transport.close()

    async def __aenter__(self) -> SmcClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def forget(self, access_key: AccessKey) -> None:
        """Drop cached clients of ``access_key`` (after a Secret changed or was deleted)."""
        self._forget(access_key.fingerprint)

    def remember_secret(self, secret: tuple[str, str], access_key: AccessKey | None) -> None:
        """Note the key ``secret`` (namespace, name) holds now (None: none, or gone).

        A key the Secret no longer holds (rotated out, or the Secret deleted) is forgotten at once:
        its clients, and the key in them, leave memory without waiting to become idle.
        """
        previous = self._secret_keys.pop(secret, None)
        if access_key is not None:
            self._secret_keys[secret] = access_key.fingerprint
        if previous is not None and previous not in self._secret_keys.values():
            self._forget(previous)

    def drop_idle(self) -> None:
        """Drop clients unused for ``CLIENT_IDLE_SECONDS`` (also done on every call)."""
        now = self._clock()
        while self._clients:
            oldest_key, (_oldest, used) = next(iter(self._clients.items()))
            if now - used <= CLIENT_IDLE_SECONDS:
                break
            del self._clients[oldest_key]

    def _forget(self, fingerprint: str) -> None:
        for key in [k for k in self._clients if k[0] == fingerprint]:
            del self._clients[key]

    async def _observed(
        self,
        action: str,
        call: Callable[[], Awaitable[_Outcome]],
        access_key: AccessKey | None,
    ) -> _Outcome | SmcFailure:
        waited = await self._limiter.acquire()
        started = time.perf_counter()
        outcome: _Outcome | SmcFailure
        try:
            with self._transport.bound():
                outcome = await call()
        except Exception as exc:  # every SDK failure becomes an outcome, never an exception
            outcome = failure_from(exc, access_key)
        elapsed = time.perf_counter() - started
        code = "Success" if not isinstance(outcome, SmcFailure) else (outcome.code or "NoAnswer")
        self._observer(action, code, elapsed, waited)
        return outcome

    def prepare(self) -> None:
        """At start-up: what the first call would otherwise build on the event loop."""
        self._transport.prepare()

    def _runtime(self) -> util_models.RuntimeOptions:
        return util_models.RuntimeOptions(
            read_timeout=self._timeout_ms,
            connect_timeout=min(self._timeout_ms, 5000),
            autoretry=False,
            max_attempts=1,
        )

    def _client(self, region_id: str, access_key: AccessKey | None) -> SdkClient:
        self.drop_idle()
        now = self._clock()
        key = (access_key.fingerprint if access_key else "default-chain", region_id)
        cached = self._clients.get(key)
        if cached is not None:
            self._clients[key] = (cached[0], now)
            self._clients.move_to_end(key)
            return cached[0]
        config = openapi_models.Config(
            endpoint=self._endpoint.host,
            protocol=self._endpoint.protocol,
            region_id=region_id,
            read_timeout=self._timeout_ms,
            connect_timeout=min(self._timeout_ms, 5000),
        )
        if access_key is not None:
            config.access_key_id = access_key.access_key_id
            config.access_key_secret = access_key.access_key_secret
            config.security_token = access_key.security_token
        else:
            config.credential = self._default_credential()
        client = SdkClient(config)
        self._clients[key] = (client, now)
        while len(self._clients) > CLIENT_CACHE_SIZE:
            self._clients.popitem(last=False)
        return client


def create_request(
    template: JobTemplate,
    *,
    name: str,
    client_token: str,
    tags: Mapping[str, str],
    region_id: str,
) -> smc_models.CreateReplicationJobRequest:
    """CreateReplicationJob's parameters for ``template`` (None fields are not sent)."""
    return smc_models.CreateReplicationJobRequest(
        source_id=template.source_id,
        name=name,
        description=template.description,
        target_type=template.target_type,
        image_name=template.image_name,
        instance_id=template.instance_id,
        system_disk_size=template.system_disk_size,
        data_disk=[
            smc_models.CreateReplicationJobRequestDataDisk(index=disk.index, size=disk.size)
            for disk in template.data_disks
        ]
        or None,
        net_mode=template.net_mode,
        vpc_id=template.vpc_id,
        v_switch_id=template.v_switch_id,
        instance_type=template.instance_type,
        run_once=template.run_once,
        frequency=template.frequency,
        max_number_of_image_to_keep=template.max_number_of_image_to_keep,
        valid_time=template.valid_time,
        tag=[
            smc_models.CreateReplicationJobRequestTag(key=key, value=value)
            for key, value in tags.items()
        ]
        or None,
        region_id=region_id,
        client_token=client_token,
    )


def job_report(item: Any) -> JobReport:
    """One ReplicationJob of a DescribeReplicationJobs answer (an SDK model) as plain data."""
    tag_container = getattr(item, "tags", None)
    tags = {
        str(tag.key): str(tag.value or "")
        for tag in (getattr(tag_container, "tag", None) or [])
        if getattr(tag, "key", None)
    }
    progress = getattr(item, "progress", None)
    return JobReport(
        job_id=item.job_id,
        status=getattr(item, "status", None),
        business_status=getattr(item, "business_status", None),
        progress=float(progress) if progress is not None else None,
        error_code=_text(getattr(item, "error_code", None)),
        status_info=_text(getattr(item, "status_info", None)),
        name=_text(getattr(item, "name", None)),
        description=_text(getattr(item, "description", None)),
        source_id=_text(getattr(item, "source_id", None)),
        run_once=_flag(getattr(item, "run_once", None)),
        frequency=_number(getattr(item, "frequency", None)),
        max_number_of_image_to_keep=_number(getattr(item, "max_number_of_image_to_keep", None)),
        valid_time=_text(getattr(item, "valid_time", None)),
        image_id=_text(getattr(item, "image_id", None)),
        instance_id=_text(getattr(item, "instance_id", None)),
        tags=tags,
    )


def source_server_report(item: Any) -> SourceServerReport:
    """One SourceServer of a DescribeSourceServers answer (an SDK model) as plain data."""
    return SourceServerReport(
        source_id=str(item.source_id),
        state=_text(getattr(item, "state", None)),
        name=_text(getattr(item, "name", None)),
        platform=_text(getattr(item, "platform", None)),
        agent_version=_text(getattr(item, "agent_version", None)),
        error_code=_text(getattr(item, "error_code", None)),
        status_info=_text(getattr(item, "status_info", None)),
    )


def _accepted(response: Any, unsure: str) -> SmcAccepted | SmcFailure:
    """A 2xx answer to an action: accepted when it names its request (else we cannot tell)."""
    request_id = _text(getattr(response.body, "request_id", None))
    if request_id is None:
        return SmcFailure(
            code=None,
            message=f"SMC answered without a RequestId; {unsure}",
            http_status=getattr(response, "status_code", None),
        )
    return SmcAccepted(request_id=request_id)


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _number(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def failure_from(exc: BaseException, access_key: AccessKey | None) -> SmcFailure:
    """Translate anything the SDK raised into one :class:`SmcFailure` without secrets."""
    if isinstance(exc, AlibabaCloudException):
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("Message") or data.get("message") or exc.message or "")
        retry_after_ms = getattr(exc, "retry_after", None)
        return SmcFailure(
            code=_text(exc.code),
            message=_scrub(message, access_key),
            request_id=_text(getattr(exc, "request_id", None)),
            http_status=getattr(exc, "status_code", None),
            retry_after=retry_after_ms / 1000 if retry_after_ms else None,
        )
    if isinstance(exc, UnretryableException):
        inner = getattr(exc, "inner_exception", None)
        if isinstance(inner, CredentialException):
            return _credential_failure(inner, access_key)
        if inner is not None and inner is not exc:
            nested = failure_from(inner, access_key)
            if nested.code is not None:
                return nested
        return SmcFailure(
            code=None,
            message=_scrub(f"no usable answer from SMC: {_describe(inner or exc)}", access_key),
        )
    if isinstance(exc, CredentialException) or (access_key is None and isinstance(exc, ValueError)):
        # The default chain failed (the SDK raises ValueError for some empty configurations).
        return _credential_failure(exc, access_key)
    return SmcFailure(
        code=None, message=_scrub(f"no usable answer from SMC: {_describe(exc)}", access_key)
    )


def _credential_failure(exc: BaseException, access_key: AccessKey | None) -> SmcFailure:
    return SmcFailure(
        code=INVALID_CREDENTIALS,
        message=_scrub(
            "the operator could not obtain Alibaba Cloud credentials from its default chain "
            "(ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET, RRSA via ALIBABA_CLOUD_ROLE_ARN and "
            "ALIBABA_CLOUD_OIDC_*, or an ECS RAM role); set one up or use "
            f"spec.credentialsSecretRef: {exc}",
            access_key,
        ),
    )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    if text and text != name:
        return f"{name}: {text}"
    return name


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return None if text in ("", "None") else text


def _scrub(message: str, access_key: AccessKey | None) -> str:
    """Remove secrets from a message, defence in depth: SDK messages should never hold them."""
    if access_key is not None:
        for secret in (access_key.access_key_secret, access_key.security_token):
            if secret:
                message = message.replace(secret, "****")
    return message
