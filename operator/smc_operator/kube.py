"""The Kubernetes adapter: the operator's own small API client, beside kopf's (``KubeApi``).

kopf applies the outcome of each handler; this client does the few writes that must land *during*
a handler (the write-ahead intent, before an SMC call) or outside one (job status refreshes), and
reads credentials Secrets. One aiohttp session is reused for every request; credentials come from
the same place kopf's come from (in-cluster service account, else kubeconfig), and bearer tokens are
re-read on every request so rotated service-account tokens keep working.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

import aiohttp

from smc_operator import model
from smc_operator.apis import KubeConflictError, KubeError, KubeNotFoundError
from smc_operator.credentials import AccessKey, CredentialsError, parse_secret

MERGE_PATCH: Final = "application/merge-patch+json"
USER_AGENT: Final = "smc-operator"


@dataclass(frozen=True)
class KubeConnection:
    """Where the API server is and how to authenticate; ``authorization`` refreshes tokens."""

    server: str
    ca_path: str | None = None
    insecure: bool = False
    certificate_path: str | None = None
    private_key_path: str | None = None
    authorization: Callable[[], str | None] = field(default=lambda: None, repr=False)


def load_connection(kubeconfig: str | None = None) -> KubeConnection:
    """The in-cluster service account if there is one, else the kubeconfig (``$KUBECONFIG``)."""
    from kubernetes import client, config  # slow to import; only the running operator needs it

    configuration = client.Configuration()
    try:
        if kubeconfig is not None:
            raise config.ConfigException("a kubeconfig was given")
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=configuration
        )

    def authorization() -> str | None:
        header: str | None = configuration.get_api_key_with_prefix(
            "BearerToken"
        ) or configuration.get_api_key_with_prefix("authorization")
        if header is None and configuration.username:
            header = aiohttp.BasicAuth(
                configuration.username, configuration.password or ""
            ).encode()
        return header

    return KubeConnection(
        server=configuration.host.rstrip("/"),
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
        authorization=authorization,
    )


def status_path(namespace: str, name: str) -> str:
    return (
        f"/apis/{model.GROUP}/{model.VERSION}/namespaces/{quote(namespace, safe='')}"
        f"/{model.PLURAL}/{quote(name, safe='')}/status"
    )


def peering_path(name: str, namespace: str | None) -> str:
    """kopf's peering object: cluster-wide, or one per served namespace."""
    if namespace is None:
        return f"/apis/kopf.dev/v1/clusterkopfpeerings/{quote(name, safe='')}"
    return (
        f"/apis/kopf.dev/v1/namespaces/{quote(namespace, safe='')}"
        f"/kopfpeerings/{quote(name, safe='')}"
    )


def secret_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/secrets/{quote(name, safe='')}"


class KubeClient:
    """A reused aiohttp session speaking to the API server; create inside the running loop."""

    def __init__(self, connection: KubeConnection, *, timeout: float = 30.0) -> None:
        self._connection = connection
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()

    async def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            async with self._lock:
                if self._session is None or self._session.closed:
                    self._session = aiohttp.ClientSession(
                        base_url=self._connection.server,
                        headers={"User-Agent": USER_AGENT},
                        connector=aiohttp.TCPConnector(ssl=self._ssl(), limit=64),
                        timeout=self._timeout,
                    )
        return self._session

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self._connection.server.startswith("https:"):
            return False
        if self._connection.insecure:
            return False
        context = ssl.create_default_context(cafile=self._connection.ca_path)
        if self._connection.certificate_path:
            context.load_cert_chain(
                self._connection.certificate_path, self._connection.private_key_path
            )
        return context

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_secret(self, namespace: str, name: str) -> Mapping[str, Any]:
        """The Secret object; raises :class:`KubeNotFoundError` or :class:`KubeError` otherwise."""
        return await self._request("GET", secret_path(namespace, name))

    async def get_peering(self, name: str, namespace: str | None) -> Mapping[str, Any]:
        """kopf's peering object (``clusterkopfpeerings``, or ``kopfpeerings`` in ``namespace``)."""
        return await self._request("GET", peering_path(name, namespace))

    async def read_access_key(self, namespace: str, secret_name: str) -> AccessKey:
        """The AccessKey in a Secret; raises :class:`CredentialsError` saying what is wrong."""
        where = f"{namespace}/{secret_name}"
        try:
            secret = await self.get_secret(namespace, secret_name)
        except KubeNotFoundError:
            raise CredentialsError(f"Secret {where} not found") from None
        except KubeError as exc:
            raise CredentialsError(f"Secret {where} could not be read: {exc}") from None
        return parse_secret(secret, where=where)

    async def patch_status(
        self,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        *,
        resource_version: str | None = None,
    ) -> Mapping[str, Any]:
        """Merge-patch a ReplicationJob's ``status``; with ``resource_version``, only if unchanged.

        A stale ``resource_version`` raises :class:`KubeConflictError`: someone else changed the
        object (another operator replica, or the user) since it was read.
        """
        patch: dict[str, Any] = {"status": dict(status)}
        if resource_version is not None:
            patch["metadata"] = {"resourceVersion": resource_version}
        return await self._request(
            "PATCH",
            status_path(namespace, name),
            body=json.dumps(patch, separators=(",", ":")),
            content_type=MERGE_PATCH,
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: str | None = None,
        content_type: str | None = None,
    ) -> Mapping[str, Any]:
        session = await self._open()
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        authorization = self._connection.authorization()
        if authorization:
            headers["Authorization"] = authorization
        try:
            async with session.request(method, path, data=body, headers=headers) as response:
                text = await response.text()
                if response.status >= 400:
                    raise _error(response.status, text)
                loaded = json.loads(text) if text else {}
                return loaded if isinstance(loaded, dict) else {}
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise KubeError(0, "Unreachable", f"{type(exc).__name__}: {exc}") from None


def _error(status: int, text: str) -> KubeError:
    reason, message = "", text[:500]
    try:
        body = json.loads(text)
        if isinstance(body, dict):
            reason = str(body.get("reason") or "")
            message = str(body.get("message") or message)[:500]
    except ValueError:
        pass
    if status == 409:
        return KubeConflictError(status, reason or "Conflict", message)
    if status == 404:
        return KubeNotFoundError(status, reason or "NotFound", message)
    return KubeError(status, reason or "Error", message)
