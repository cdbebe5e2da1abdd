"""The kopf floor: the system floor's work, done by a kopf operator with no code of ours in it.

``python -m bench.kopffloor --kube URL --endpoint URL --namespace NS --qps Q --concurrency C``
runs kopf (configured as the operator configures it: its progress and diffbase storages, worker
limit and idle timeout; no Events, as the system floor posts none) with one creation handler
that does what the system floor does per object: the write-ahead merge-PATCH of ``/status``
(``Starting``, with the object's resourceVersion as precondition, User-Agent ``bench-floor``),
one StartReplicationJob through the same SDK client and transport, and the outcome
(``Started`` with the RequestId) in kopf's own patch. No decision, no registry, no pydantic
models, no metrics: what it costs is kopf's per-object machinery plus the unavoidable work, so
the operator's CPU per object against it is what our own code adds, and it against the system
floor is what kopf adds. Serves until SIGTERM. Emulated Kubernetes API only (plain HTTP, no
credentials).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any, Final

import kopf

from bench.floors import (
    FLOOR_AGENT,
    add_watching_floor_arguments,
    intent_patch,
    outcome_conditions,
    sdk_client,
    start_job,
    transport,
)
from bench.kubeapi import KubeHttp
from smc_operator import model
from smc_operator.handlers import (
    DIFFBASE_FIELD,
    PROGRESS_PREFIX,
    ProgressAnnotations,
    StatusDiffBase,
)
from smc_operator.ratelimit import TokenBucket

RESOURCE: Final = (model.GROUP, model.VERSION, model.PLURAL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kopffloor")
    add_watching_floor_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    registry = kopf.OperatorRegistry()
    state: dict[str, Any] = {}

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=args.kube, insecure=True)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.progress_storage = ProgressAnnotations(
            prefix=PROGRESS_PREFIX, v1=False
        )
        settings.persistence.diffbase_storage = StatusDiffBase(field=DIFFBASE_FIELD)
        settings.posting.enabled = False
        settings.queueing.worker_limit = args.concurrency
        settings.queueing.idle_timeout = 0.5
        state["kube"] = await KubeHttp(
            args.kube, agent=FLOOR_AGENT, connections=max(args.concurrency, 16)
        ).__aenter__()
        state["pool"] = transport(args.ca_file)
        state["client"] = sdk_client(args.endpoint, args.region)
        state["limiter"] = TokenBucket(args.qps)

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await state["pool"].close()
        await state["kube"].__aexit__(None, None, None)

    @kopf.on.create(*RESOURCE, registry=registry)
    async def start(spec: kopf.Spec, meta: kopf.Meta, patch: kopf.Patch, **_: Any) -> None:
        if not spec.get("start"):
            return
        await state["kube"].patch_rj_status(args.namespace, meta["name"], intent_patch(meta))
        request_id = await start_job(
            state["client"], spec["jobId"], state["limiter"], state["pool"]
        )
        patch.status["conditions"] = outcome_conditions(meta, request_id)

    asyncio.run(
        kopf.operator(
            registry=registry,
            standalone=True,
            namespaces=[args.namespace],
            clusterwide=False,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
