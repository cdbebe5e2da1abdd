"""A small Kubernetes API client for the driver and the system floor (aiohttp, keep-alive).

Only what the benchmark needs: create, list, a resumable watch, merge-patch of ``/status``, and
the ``/_bench/`` control API of :mod:`bench.servers`. Each client names itself in its User-Agent
(``bench-driver``, ``bench-floor``) so the API's counters tell its requests from the operator's.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Final

import aiohttp

GROUP: Final = "smcoperator.io"
VERSION: Final = "v1alpha1"
PLURAL: Final = "replicationjobs"
MERGE_PATCH: Final = "application/merge-patch+json"
#: With the real API server (``--kube real``): the directory of scripts/kube-up's certificates.
REAL_KUBE_CERTS: Final = "BENCH_REAL_KUBE_CERTS"


class KubeApiError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status}: {text[:300]}")
        self.status = status


def rj_path(namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
    path = f"/apis/{GROUP}/{VERSION}"
    if namespace is not None:
        path += f"/namespaces/{namespace}"
    path += f"/{PLURAL}"
    if name is not None:
        path += f"/{name}"
        if sub is not None:
            path += f"/{sub}"
    return path


class KubeHttp:
    """One keep-alive session to the API server; use ``async with``."""

    def __init__(self, url: str, *, agent: str, connections: int = 64) -> None:
        self.url = url.rstrip("/")
        self.agent = agent
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _tls(self) -> ssl.SSLContext | bool:
        """For the real API server (https): scripts/kube-up's CA and admin client certificate."""
        if not self.url.startswith("https:"):
            return True
        certs = Path(os.environ[REAL_KUBE_CERTS])
        context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        context.load_cert_chain(str(certs / "admin.crt"), str(certs / "admin.key"))
        return context

    async def __aenter__(self) -> KubeHttp:
        self._session = aiohttp.ClientSession(
            base_url=self.url,
            headers={"User-Agent": f"{self.agent}/1", "Accept": "application/json"},
            connector=aiohttp.TCPConnector(limit=self._connections, ssl=self._tls()),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use `async with KubeHttp(...)`")
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
        seconds: float = 60.0,
    ) -> Any:
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        headers = {"Content-Type": content_type} if body is not None else None
        async with self.session.request(
            method,
            path,
            data=data,
            headers=headers,
            params=params,
            timeout=aiohttp.ClientTimeout(total=seconds),
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise KubeApiError(response.status, text)
            return json.loads(text) if text else None

    # --- the Kubernetes API ----------------------------------------------------------------------

    async def ensure_namespace(self, name: str) -> None:
        try:
            await self.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name}})
        except KubeApiError as exc:
            if exc.status != 409:
                raise

    async def create_rj(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", rj_path(namespace), body=dict(body))
        return result

    async def list_rj(self, namespace: str | None) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", rj_path(namespace))
        return result

    async def patch_rj(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "PATCH", rj_path(namespace, name), body=dict(patch), content_type=MERGE_PATCH
        )
        return result

    async def patch_rj_status(
        self, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "PATCH", rj_path(namespace, name, "status"), body=dict(patch), content_type=MERGE_PATCH
        )
        return result

    async def watch_rj(
        self, namespace: str | None, resource_version: str
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """ReplicationJob events from ``resource_version`` on, for ever: a closed stream is
        resumed from the last version seen; an expired version (410) re-lists and yields the
        listed objects as ``ADDED``."""
        version = resource_version
        while True:
            params = {"watch": "true", "resourceVersion": version, "allowWatchBookmarks": "true"}
            try:
                async with self.session.get(
                    rj_path(namespace),
                    params=params,
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
                ) as response:
                    if response.status >= 400:
                        raise KubeApiError(response.status, await response.text())
                    expired = False
                    async for line in response.content:
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        kind = event.get("type")
                        obj = event.get("object") or {}
                        if kind == "ERROR":
                            expired = obj.get("code") == 410
                            break
                        rv = (obj.get("metadata") or {}).get("resourceVersion")
                        if rv:
                            version = rv
                        if kind != "BOOKMARK":
                            yield kind, obj
            except (TimeoutError, aiohttp.ClientError):
                await asyncio.sleep(0.1)
                continue
            if expired:
                listing = await self.list_rj(namespace)
                for item in listing.get("items", []):
                    yield "ADDED", item
                version = listing["metadata"]["resourceVersion"]

    # --- the /_bench/ control API ----------------------------------------------------------------

    async def counters(self, agents: set[str] | frozenset[str] | None = None) -> dict[str, Any]:
        params = {"agents": ",".join(sorted(agents))} if agents else None
        result: dict[str, Any] = await self.request("GET", "/_bench/counters", params=params)
        return result

    async def reset_counters(self) -> None:
        await self.request("POST", "/_bench/counters/reset")

    async def add_fault(self, **fault: Any) -> None:
        await self.request("POST", "/_bench/faults", body=fault)

    async def clear_faults(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = await self.request("GET", "/_bench/faults")
        await self.request("DELETE", "/_bench/faults")
        return faults

    async def close_watches(self, *, gone: bool = False) -> int:
        result = await self.request(
            "POST", "/_bench/close-watches", body={"resource": PLURAL, "gone": gone}
        )
        return int(result["closed"])


def count_requests(
    counters: Mapping[str, Any],
    *,
    agents: set[str],
    verbs: set[str] | None = None,
    resource: str | None = None,
    subresource: str | bool | None = True,
) -> int:
    """Sum of the summed request counts matching the filters (``subresource=True``: any)."""
    total = 0
    for row in counters["requests"]:
        if row["agent"] not in agents:
            continue
        if verbs is not None and row["verb"] not in verbs:
            continue
        if resource is not None and row["resource"] != resource:
            continue
        if subresource is not True and row["subresource"] != subresource:
            continue
        total += int(row["count"])
    return total


def count_watch_events(
    counters: Mapping[str, Any], *, agents: set[str], resource: str = PLURAL
) -> int:
    return sum(
        int(row["count"])
        for row in counters["watchEvents"]
        if row["agent"] in agents and row["resource"] == resource and row["type"] != "BOOKMARK"
    )
