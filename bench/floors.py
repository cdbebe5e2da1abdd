"""The two floors the operator is compared with, each a process of its own.

``python -m bench.floors smc --endpoint URL --job-prefix P --count N --qps Q --concurrency C
--result FILE``: the **SMC floor**: the same N StartReplicationJob calls, made directly with the
async Alibaba SDK (one client, built as the operator builds its clients: the default credential
chain from ``ALIBABA_CLOUD_ACCESS_KEY_*``, the same timeouts, no SDK retries, the operator's
transport, ``--ca-file`` trusted as ``SMC_OPERATOR_CA_FILE``), limited by the
same token bucket at the same QPS and by a semaphore of the same concurrency as the operator's
worker limit. Writes ``{"elapsed", "calls", "failures", "durations"}`` to FILE and exits.

``python -m bench.floors system --kube URL --endpoint URL --namespace NS --qps Q --concurrency
C``: the **system floor**: a minimal client without kopf doing only the unavoidable work per
object against the same two emulators: list and watch the ReplicationJobs of NS, and for each new
one with ``spec.start: true``: one write-ahead merge-PATCH of ``/status`` (``Starting``, with the
object's resourceVersion as precondition), one StartReplicationJob call, one outcome
merge-PATCH of ``/status`` (``Started`` with the RequestId). Serves until SIGTERM, then prints a
summary line. Its User-Agent is ``bench-floor``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import resource
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_smc20190601 import models as smc_models
from alibabacloud_smc20190601.client import Client as SdkClient
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_util import models as util_models

from bench.kubeapi import KubeHttp
from smc_operator.ratelimit import TokenBucket
from smc_operator.transport import Transport

FLOOR_AGENT: Final = "bench-floor"
TIMEOUT_MS: Final = 10_000


def sdk_client(endpoint: str, region: str) -> SdkClient:
    """An SDK client configured as the operator configures its own (see smc_operator.smc)."""
    protocol, _, host = endpoint.partition("://")
    config = openapi_models.Config(
        endpoint=host,
        protocol=protocol,
        region_id=region,
        read_timeout=TIMEOUT_MS,
        connect_timeout=min(TIMEOUT_MS, 5000),
    )
    config.credential = CredentialClient()
    return SdkClient(config)


def runtime_options() -> util_models.RuntimeOptions:
    return util_models.RuntimeOptions(
        read_timeout=TIMEOUT_MS,
        connect_timeout=min(TIMEOUT_MS, 5000),
        autoretry=False,
        max_attempts=1,
    )


def transport(ca_file: Path | None) -> Transport:
    """The operator's own transport (pooled, SSL contexts built once), so that the floors pay
    for HTTPS what the operator pays and the ratios compare like with like."""
    return Transport(request_timeout_seconds=TIMEOUT_MS / 1000, ca_file=ca_file)


async def start_job(client: SdkClient, job_id: str, limiter: TokenBucket, pool: Transport) -> str:
    """One StartReplicationJob through the rate limit and the shared transport; the RequestId."""
    await limiter.acquire()
    request = smc_models.StartReplicationJobRequest(job_id=job_id)
    with pool.bound():
        response = await client.start_replication_job_with_options_async(request, runtime_options())
    return str(response.body.request_id)


# --- the SMC floor -------------------------------------------------------------------------------


async def smc_floor(
    endpoint: str,
    region: str,
    job_ids: list[str],
    qps: float,
    concurrency: int,
    ca_file: Path | None = None,
) -> dict[str, Any]:
    client = sdk_client(endpoint, region)
    pool = transport(ca_file)
    limiter = TokenBucket(qps)
    semaphore = asyncio.Semaphore(concurrency)
    durations: list[float] = []
    failures: list[str] = []

    async def one(job_id: str) -> None:
        async with semaphore:
            began = time.perf_counter()
            try:
                await start_job(client, job_id, limiter, pool)
            except Exception as exc:  # the floor reports failures, it does not retry
                failures.append(f"{job_id}: {type(exc).__name__}: {exc}")
            durations.append(time.perf_counter() - began)

    began = time.perf_counter()
    cpu_before = time.process_time()
    await asyncio.gather(*(one(job_id) for job_id in job_ids))
    elapsed = time.perf_counter() - began
    cpu_seconds = time.process_time() - cpu_before

    async def describe(job_id: str) -> None:
        async with semaphore:
            await limiter.acquire()
            request = smc_models.DescribeReplicationJobsRequest(
                job_id=[job_id], region_id=region, page_number=1, page_size=50
            )
            try:
                with pool.bound():
                    await client.describe_replication_jobs_with_options_async(
                        request, runtime_options()
                    )
            except Exception as exc:
                failures.append(f"describe {job_id}: {type(exc).__name__}: {exc}")

    # The same number of DescribeReplicationJobs (one JobId each): the client's cost of the other
    # call the operator makes. Not part of the floor's time.
    cpu_before = time.process_time()
    await asyncio.gather(*(describe(job_id) for job_id in job_ids))
    describe_cpu_seconds = time.process_time() - cpu_before
    await pool.close()
    return {
        "elapsed": elapsed,
        "cpuSeconds": cpu_seconds,
        "describeCpuSeconds": describe_cpu_seconds,
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "calls": len(job_ids),
        "failures": failures[:20],
        "failureCount": len(failures),
        "durations": durations,
    }


# --- the system floor ----------------------------------------------------------------------------


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def floor_condition(
    status: str, reason: str, message: str, generation: int, request_id: str | None = None
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": "Started",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": _now(),
        "observedGeneration": generation,
    }
    if request_id is not None:
        condition["requestId"] = request_id
    return condition


def intent_patch(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The floors' write-ahead: ``Starting``, on the object's resourceVersion as precondition."""
    generation = int(meta.get("generation") or 1)
    return {
        "metadata": {"resourceVersion": meta["resourceVersion"]},
        "status": {
            "observedGeneration": generation,
            "attempts": 1,
            "conditions": [floor_condition("Unknown", "Starting", "calling Start", generation)],
        },
    }


def outcome_conditions(meta: Mapping[str, Any], request_id: str) -> list[dict[str, Any]]:
    """The floors' outcome: ``Started`` with SMC's RequestId."""
    generation = int(meta.get("generation") or 1)
    return [floor_condition("True", "Started", "accepted", generation, request_id)]


class SystemFloor:
    def __init__(
        self,
        kube: KubeHttp,
        client: SdkClient,
        namespace: str,
        qps: float,
        concurrency: int,
        pool: Transport,
    ) -> None:
        self.kube = kube
        self.client = client
        self.pool = pool
        self.namespace = namespace
        self.limiter = TokenBucket(qps)
        self.semaphore = asyncio.Semaphore(concurrency)
        self.seen: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.started = 0
        self.failures: list[str] = []

    def consider(self, obj: Mapping[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        if not name or name in self.seen or not spec.get("start") or status.get("conditions"):
            return
        self.seen.add(name)
        task = asyncio.create_task(self.handle(obj))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def handle(self, obj: Mapping[str, Any]) -> None:
        meta = obj["metadata"]
        name = meta["name"]
        async with self.semaphore:
            try:
                await self.kube.patch_rj_status(self.namespace, name, intent_patch(meta))
                request_id = await start_job(
                    self.client, obj["spec"]["jobId"], self.limiter, self.pool
                )
                await self.kube.patch_rj_status(
                    self.namespace,
                    name,
                    {"status": {"conditions": outcome_conditions(meta, request_id)}},
                )
                self.started += 1
            except Exception as exc:  # the floor reports failures, it does not retry
                self.failures.append(f"{name}: {type(exc).__name__}: {exc}")

    async def run(self) -> None:
        listing = await self.kube.list_rj(self.namespace)
        for item in listing.get("items", []):
            self.consider(item)
        version = listing["metadata"]["resourceVersion"]
        async for kind, obj in self.kube.watch_rj(self.namespace, version):
            if kind in ("ADDED", "MODIFIED"):
                self.consider(obj)


async def system_floor(
    kube_url: str,
    endpoint: str,
    region: str,
    namespace: str,
    qps: float,
    concurrency: int,
    ca_file: Path | None = None,
) -> dict[str, Any]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with KubeHttp(kube_url, agent=FLOOR_AGENT, connections=max(concurrency, 16)) as kube:
        pool = transport(ca_file)
        floor = SystemFloor(kube, sdk_client(endpoint, region), namespace, qps, concurrency, pool)
        running = asyncio.create_task(floor.run())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait((running, stopping), return_when=asyncio.FIRST_COMPLETED)
        running.cancel()
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        for task in list(floor.tasks):
            task.cancel()
        await pool.close()
    return {
        "started": floor.started,
        "failureCount": len(floor.failures),
        "failures": floor.failures[:20],
    }


def add_watching_floor_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a floor that watches ReplicationJobs (the system floor, the kopf floor)."""
    parser.add_argument("--kube", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--region", default="cn-hangzhou")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--qps", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--ca-file", type=Path, help="an extra CA to trust (the emulator's)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floors")
    commands = parser.add_subparsers(dest="command", required=True)
    smc = commands.add_parser("smc", help="the SMC floor: N Start calls with the async SDK")
    smc.add_argument("--endpoint", required=True)
    smc.add_argument("--region", default="cn-hangzhou")
    smc.add_argument("--job-prefix", required=True)
    smc.add_argument("--count", type=int, required=True)
    smc.add_argument("--qps", type=float, default=0.0)
    smc.add_argument("--concurrency", type=int, default=200)
    smc.add_argument("--result", type=Path, required=True)
    smc.add_argument("--ca-file", type=Path, help="an extra CA to trust (the emulator's)")
    system = commands.add_parser("system", help="the system floor: a minimal client, no kopf")
    add_watching_floor_arguments(system)
    args = parser.parse_args(argv)
    if args.command == "smc":
        job_ids = [f"{args.job_prefix}{n:08d}" for n in range(args.count)]
        result = asyncio.run(
            smc_floor(args.endpoint, args.region, job_ids, args.qps, args.concurrency, args.ca_file)
        )
        args.result.write_text(json.dumps(result), encoding="utf-8")
        return 0 if not result["failureCount"] else 1
    summary = asyncio.run(
        system_floor(
            args.kube,
            args.endpoint,
            args.region,
            args.namespace,
            args.qps,
            args.concurrency,
            args.ca_file,
        )
    )
    print("system floor stopped:", json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
