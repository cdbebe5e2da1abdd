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
from collections.abc import Awaitable, Callable, Sequence
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
from smc_operator.outcomes import (
    DescribeOutcome,
    JobReport,
    JobsReport,
    SmcAccepted,
    SmcFailure,
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
            request_id = getattr(response.body, "request_id", None)
            if not request_id:
                return SmcFailure(
                    code=None,
                    message="SMC answered without a RequestId; the start may have happened or not",
                    http_status=getattr(response, "status_code", None),
                )
            return SmcAccepted(request_id=str(request_id))

        return await self._observed(wire.START_REPLICATION_JOB, call, access_key)

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
                item.job_id: JobReport(
                    job_id=item.job_id,
                    status=item.status,
                    business_status=item.business_status,
                    progress=float(item.progress) if item.progress is not None else None,
                    error_code=item.error_code or None,
                    status_info=item.status_info or None,
                )
                for item in items
                if getattr(item, "job_id", None)
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
