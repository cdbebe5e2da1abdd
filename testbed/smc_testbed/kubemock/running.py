"""Serving the emulator on a local port, with a kubeconfig and a small HTTP client for tests.

::

    async with EmulatedKubeApi() as api:
        # api.url, api.kubeconfig: for kopf (login) and `kubectl --kubeconfig`
        await api.create(REPLICATION_JOBS, {"metadata": {"name": "job-1"}, "spec": {...}})
        obj = await api.wait_for(REPLICATION_JOBS, "job-1", lambda o: "status" in o)

The helpers talk HTTP to the served emulator, so every fidelity rule (conflicts, status
isolation, generations) applies to them exactly as to kopf and kubectl. Failures raise
:class:`~smc_testbed.kubemock.errors.ApiError` with the server's code and reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
import shutil
import socket
import tempfile
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp
import aiohttp.web
import yaml

from smc_testbed.kubemock.counters import RequestCounters
from smc_testbed.kubemock.emulating import ApiServerEmulator
from smc_testbed.kubemock.errors import ApiError
from smc_testbed.kubemock.faults import FaultPlan
from smc_testbed.kubemock.objects import ObjectStore, WatchEvent
from smc_testbed.kubemock.patches import JSON_PATCH, MERGE_PATCH
from smc_testbed.kubemock.resources import NAMESPACES, Resource

#: The User-Agent of the helpers, so the counters can tell their requests from kopf's.
HELPER_AGENT = "kubemock-client/1"
#: The kubeconfig context, cluster and user names.
CONTEXT = "kubemock"

Predicate = Callable[[Mapping[str, Any]], bool]


class EmulatedKubeApi:
    """An :class:`ApiServerEmulator` served on ``host`` (a free port by default).

    On entry: serves HTTP, writes a kubeconfig (to ``kubeconfig`` if given, else into a temporary
    directory removed on exit) whose current context points at it. On exit: closes every watch
    stream, stops serving, and removes what it created.
    """

    def __init__(
        self,
        emulator: ApiServerEmulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig: str | pathlib.Path | None = None,
        namespace: str = "default",
        access_log: bool = False,
    ) -> None:
        self.emulator = emulator if emulator is not None else ApiServerEmulator()
        self.namespace = namespace
        #: Log every request to the ``aiohttp.access`` logger (off: the counters keep the tally,
        #: and a benchmark's thousands of requests would drown the demo's output).
        self.access_log = access_log
        self._host = host
        self._port = port
        self._kubeconfig_path = pathlib.Path(kubeconfig) if kubeconfig is not None else None
        self._tempdir: pathlib.Path | None = None
        self._runner: aiohttp.web.ServerRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._socket: socket.socket | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.emulator.__aenter__()
        try:
            await self._start()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _start(self) -> None:
        # Bind first and keep the socket: no window in which another process takes the port.
        sock = self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        # Cancelling the handler when a client disconnects is what ends an abandoned watch.
        server = aiohttp.web.Server(
            self.emulator,
            handler_cancellation=True,
            access_log=logging.getLogger("aiohttp.access") if self.access_log else None,
        )
        # Watches are closed before shutting down; do not wait long for anything else.
        self._runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
        await self._runner.setup()
        site = aiohttp.web.SockSite(self._runner, sock)
        await site.start()
        self._port = sock.getsockname()[1]
        self._session = aiohttp.ClientSession(
            base_url=self.url,
            headers={"User-Agent": HELPER_AGENT},
            # One connection per request, closed after it: no idle keep-alive connection whose
            # server-side task kopf.operator() (in the same loop) would take for its own "hung"
            # task at exit, wait 5 s for, and then cancel.
            connector=aiohttp.TCPConnector(force_close=True),
        )
        if self._kubeconfig_path is None:
            self._tempdir = pathlib.Path(tempfile.mkdtemp(prefix="kubemock-"))
            self._kubeconfig_path = self._tempdir / "kubeconfig"
        self._kubeconfig_path.write_text(self.kubeconfig_text(), encoding="utf-8")

    async def _stop(self) -> None:
        # Open watches would hold the shutdown below for its whole timeout.
        self.emulator.close_watches()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        await self.emulator.__aexit__(None, None, None)
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None
            self._kubeconfig_path = None

    # --- where it is -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._runner is None:
            raise RuntimeError("The API is not served yet: use `async with`.")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def kubeconfig(self) -> pathlib.Path:
        if self._kubeconfig_path is None:
            raise RuntimeError("The API is not served yet: use `async with`.")
        return self._kubeconfig_path

    def kubeconfig_text(self) -> str:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url}}],
            "users": [{"name": CONTEXT, "user": {}}],
            "contexts": [
                {
                    "name": CONTEXT,
                    "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": self.namespace},
                }
            ],
            "current-context": CONTEXT,
        }
        return yaml.safe_dump(config, sort_keys=False)

    # --- shortcuts to the emulator ---------------------------------------------------------------

    @property
    def store(self) -> ObjectStore:
        return self.emulator.store

    @property
    def counters(self) -> RequestCounters:
        return self.emulator.counters

    @property
    def faults(self) -> FaultPlan:
        return self.emulator.faults

    def close_watches(self, resource: Resource | None = None, *, gone: bool = False) -> int:
        return self.emulator.close_watches(resource, gone=gone)

    # --- HTTP helpers ----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """One API call; the decoded JSON answer, or :class:`ApiError` for a failure status."""
        if self._session is None:
            raise RuntimeError("The API is not served yet: use `async with`.")
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if body is not None else {}
        async with self._session.request(
            method, path, data=data, headers=headers, params=params
        ) as response:
            text = await response.text()
            payload = json.loads(text) if text else None
            if response.status >= 400:
                raise ApiError.from_status(response.status, payload)
            return payload

    def _namespace(self, resource: Resource, namespace: str | None) -> str | None:
        if not resource.namespaced:
            return None
        return namespace if namespace is not None else self.namespace

    async def create(
        self, resource: Resource, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]:
        body_namespace = (body.get("metadata") or {}).get("namespace")
        namespace = self._namespace(resource, namespace or body_namespace)
        result: dict[str, Any] = await self.request(
            "POST", resource.path(namespace), body=dict(body)
        )
        return result

    async def get(
        self, resource: Resource, name: str, *, namespace: str | None = None
    ) -> dict[str, Any]:
        path = resource.path(self._namespace(resource, namespace), name)
        result: dict[str, Any] = await self.request("GET", path)
        return result

    async def list(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> dict[str, Any]:
        """The list object (``kind``, ``metadata.resourceVersion``, ``items``); all namespaces by
        default."""
        params = {"labelSelector": label_selector} if label_selector else None
        namespace = namespace if resource.namespaced else None
        result: dict[str, Any] = await self.request("GET", resource.path(namespace), params=params)
        return result

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        content_type: str = MERGE_PATCH,
    ) -> dict[str, Any]:
        """A merge patch by default; a list of operations is sent as a JSON patch."""
        if isinstance(patch, list) and content_type == MERGE_PATCH:
            content_type = JSON_PATCH
        path = resource.path(self._namespace(resource, namespace), name, subresource)
        result: dict[str, Any] = await self.request(
            "PATCH", path, body=patch, content_type=content_type
        )
        return result

    async def replace(
        self,
        resource: Resource,
        name: str,
        body: Mapping[str, Any],
        *,
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        path = resource.path(self._namespace(resource, namespace), name, subresource)
        result: dict[str, Any] = await self.request("PUT", path, body=dict(body))
        return result

    async def delete(
        self, resource: Resource, name: str, *, namespace: str | None = None
    ) -> dict[str, Any]:
        path = resource.path(self._namespace(resource, namespace), name)
        result: dict[str, Any] = await self.request("DELETE", path)
        return result

    async def ensure_namespace(self, name: str) -> None:
        """Create the namespace unless it exists (namespaced objects need one, as in a cluster)."""
        try:
            await self.create(NAMESPACES, {"metadata": {"name": name}})
        except ApiError as exc:
            if exc.code != 409:
                raise

    # --- waiting (in-process, event-driven) ------------------------------------------------------

    async def wait_for(
        self,
        resource: Resource,
        name: str,
        predicate: Predicate,
        *,
        namespace: str | None = None,
    ) -> Mapping[str, Any]:
        """Wait until the stored object satisfies the predicate; return it (read-only).

        Event-driven: checks the current state, then every committed change of that object. It
        waits for as long as it takes: bound it with ``async with asyncio.timeout(...)``.
        """
        namespace = self._namespace(resource, namespace)
        changed = asyncio.Event()

        def on_commit(committed: Resource, event: WatchEvent) -> None:
            meta = event.object.get("metadata") or {}
            if committed.key == resource.key and meta.get("name") == name:
                changed.set()

        self.store.add_listener(on_commit)
        try:
            while True:
                current = self.store.find(resource, namespace, name)
                if current is not None and predicate(current):
                    return current
                changed.clear()
                await changed.wait()
        finally:
            self.store.remove_listener(on_commit)
