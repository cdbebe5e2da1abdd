"""The emulated Kubernetes API in a process of its own, so that its CPU is measured apart.

::

    python -m bench.servers kube [--host 127.0.0.1] [--port 0] --kubeconfig FILE [--crd FILE]

It serves :class:`smc_testbed.kubemock.ApiServerEmulator` (kmock plus the fidelity layer) with
the ReplicationJob CRD registered from ``crds/`` (so status pruning applies, as in a cluster),
writes a kubeconfig pointing at itself, prints ``kube API listening on <url>`` and serves until
SIGTERM/SIGINT. Besides the Kubernetes API it answers a small JSON control API for the driver:

=======  ===========================  ==========================================================
GET      /_bench/counters             requests by verb/resource/subresource/code/agent (summed
                                      over objects), a histogram of writes per ReplicationJob
                                      (``?agents=a,b``: only theirs), and watch events sent by
                                      resource/type/agent
POST     /_bench/counters/reset       forget all counts
POST     /_bench/faults               add a :class:`~smc_testbed.kubemock.Fault`: ``{"verb",
                                      "resource", "subresource", "status", "delay", "count",
                                      "probability", "after"}``
GET      /_bench/faults               the faults and their hits
DELETE   /_bench/faults               clear them
POST     /_bench/close-watches        ``{"resource"?: plural, "gone"?: bool}``: end the streams
GET      /_bench/ping                 ``{"ok": true}``
=======  ===========================  ==========================================================

The emulator counts watch events by resource and type only; this process also counts them by the
watching client's User-Agent (the driver watches the same objects as the operator, and only the
operator's share is the operator's cost).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import contextvars
import json
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import aiohttp.web
import yaml

from smc_testbed.kubemock import (
    CUSTOM_RESOURCE_DEFINITIONS,
    REPLICATION_JOBS,
    ApiServerEmulator,
    EmulatedKubeApi,
    Fault,
)

PREFIX: Final = "/_bench/"
READY_PREFIX: Final = "kube API listening on"
DEFAULT_CRD: Final = (
    Path(__file__).resolve().parents[1] / "crds" / "replicationjobs.smcoperator.io.yaml"
)

_agent: contextvars.ContextVar[str] = contextvars.ContextVar("agent", default="unknown")


def agent_of(user_agent: str) -> str:
    """The product token of a User-Agent (``kopf/1.45.2`` -> ``kopf``), as the emulator does."""
    token = user_agent.split("/", 1)[0].split(" ", 1)[0].strip().lower()
    return token or "unknown"


class AgentWatchEvents(collections.Counter[tuple[str, str]]):
    """The emulator's watch-event counter, also counting per watching client (``by_agent``).

    The emulator increments ``counter[plural, type]`` in the task serving the watch, in which
    :data:`_agent` holds that client's User-Agent product.
    """

    def __init__(self) -> None:
        super().__init__()
        self.by_agent: collections.Counter[tuple[str, str, str]] = collections.Counter()

    def __setitem__(self, key: tuple[str, str], value: int) -> None:
        delta = value - self.get(key, 0)
        super().__setitem__(key, value)
        if delta > 0:
            self.by_agent[(key[0], key[1], _agent.get())] += delta

    def clear(self) -> None:
        super().clear()
        self.by_agent.clear()


class BenchApiServer(ApiServerEmulator):
    """The emulator with the ``/_bench/`` control API and per-client watch-event counts."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.watch_events_by_agent = AgentWatchEvents()
        self.counters.watch_events = self.watch_events_by_agent

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        if raw_request.path.startswith(PREFIX):
            return await self._control(raw_request)
        _agent.set(agent_of(raw_request.headers.get("User-Agent", "")))
        return await super().__call__(raw_request)

    # --- the control API -------------------------------------------------------------------------

    async def _control(self, request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        route = (request.method, request.path[len(PREFIX) :].rstrip("/"))
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            return _json({"error": "the body is not JSON"}, 400)
        if route == ("GET", "ping"):
            return _json({"ok": True})
        if route == ("GET", "counters"):
            agents = request.query.get("agents")
            return _json(self.counter_document(set(agents.split(",")) if agents else None))
        if route == ("POST", "counters/reset"):
            self.counters.reset()
            return _json({"reset": True})
        if route == ("POST", "faults"):
            try:
                fault = self.faults.add(fault_from(body))
            except (TypeError, ValueError) as exc:
                return _json({"error": str(exc)}, 400)
            return _json(fault_document(fault))
        if route == ("GET", "faults"):
            return _json([fault_document(f) for f in self.faults.faults])
        if route == ("DELETE", "faults"):
            cleared = len(self.faults.faults)
            self.faults.clear()
            return _json({"cleared": cleared})
        if route == ("POST", "close-watches"):
            plural = body.get("resource")
            resource = REPLICATION_JOBS if plural == REPLICATION_JOBS.plural else None
            if plural is not None and resource is None:
                return _json({"error": f"unknown resource {plural!r}"}, 400)
            closed = self.close_watches(resource, gone=bool(body.get("gone")))
            return _json({"closed": closed})
        return _json({"error": f"no route {route}"}, 404)

    def counter_document(self, agents: set[str] | None = None) -> dict[str, Any]:
        """The counts; ``agents``: whose writes to each ReplicationJob the histogram adds up."""
        summed: collections.Counter[tuple[Any, ...]] = collections.Counter()
        per_object: collections.Counter[tuple[str | None, str]] = collections.Counter()
        for key, hits in self.counters.requests.items():
            row = (key.verb, key.group, key.resource, key.subresource, key.code, key.agent)
            summed[row] += hits
            if (
                key.name is not None
                and key.resource == REPLICATION_JOBS.plural
                and key.verb in ("create", "update", "patch", "delete")
                and (agents is None or key.agent in agents)
            ):
                per_object[(key.namespace, key.name)] += hits
        histogram = collections.Counter(per_object.values())
        return {
            "requests": [
                {
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    "subresource": subresource,
                    "code": code,
                    "agent": agent,
                    "count": count,
                }
                for (verb, group, resource, subresource, code, agent), count in sorted(
                    summed.items(), key=lambda kv: tuple(str(part) for part in kv[0])
                )
            ],
            # {writes to one ReplicationJob by ``agents``: how many objects got that many}
            "replicationJobWritesPerObject": {
                str(writes): objects for writes, objects in sorted(histogram.items())
            },
            "watchEvents": [
                {"resource": plural, "type": kind, "agent": agent, "count": count}
                for (plural, kind, agent), count in sorted(
                    self.watch_events_by_agent.by_agent.items()
                )
            ],
            "openWatches": len(self.store.watches()),
            "retainedRequests": self.retained_requests,
            "objects": self.store.count(REPLICATION_JOBS),
        }


def fault_from(doc: Mapping[str, Any]) -> Fault:
    known = {"verb", "resource", "subresource", "status", "delay", "count", "probability", "after"}
    unknown = set(doc) - known
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    resource = doc.get("resource")
    return Fault(
        verb=doc.get("verb", "patch"),
        resource=REPLICATION_JOBS if resource == REPLICATION_JOBS.plural else resource,
        subresource=doc.get("subresource"),
        status=doc.get("status"),
        delay=float(doc.get("delay", 0.0)),
        count=doc.get("count"),
        probability=float(doc.get("probability", 1.0)),
        after=bool(doc.get("after", False)),
    )


def fault_document(fault: Fault) -> dict[str, Any]:
    resource = fault.resource
    return {
        "verb": fault.verb,
        "resource": resource.plural if not isinstance(resource, str | None) else resource,
        "subresource": fault.subresource,
        "status": fault.status,
        "delay": fault.delay,
        "count": fault.count,
        "probability": fault.probability,
        "after": fault.after,
        "hits": fault.hits,
    }


def _json(data: object, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.Response(
        status=status, text=json.dumps(data), content_type="application/json"
    )


def crd_document(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


async def serve_kube(
    host: str, port: int, kubeconfig: Path, crd: Path | None, history_limit: int
) -> None:
    emulator = BenchApiServer(history_limit=history_limit)
    if crd is not None:
        emulator.store.create(CUSTOM_RESOURCE_DEFINITIONS, None, crd_document(crd))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with EmulatedKubeApi(emulator, host=host, port=port, kubeconfig=kubeconfig) as api:
        print(f"{READY_PREFIX} {api.url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    commands = parser.add_subparsers(dest="command", required=True)
    kube = commands.add_parser("kube", help="the emulated Kubernetes API")
    kube.add_argument("--host", default="127.0.0.1")
    kube.add_argument("--port", type=int, default=0)
    kube.add_argument("--kubeconfig", type=Path, required=True)
    kube.add_argument("--crd", type=Path, default=DEFAULT_CRD, help="'' for no CRD (no pruning)")
    kube.add_argument(
        "--history-limit",
        type=int,
        default=100_000,
        help="watch events kept per resource for resumed watches",
    )
    args = parser.parse_args(argv)
    crd = args.crd if str(args.crd) else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_kube(args.host, args.port, args.kubeconfig, crd, args.history_limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
