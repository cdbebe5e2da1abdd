"""One measured phase: fresh servers, the system under test, N objects, and what it all cost.

A phase is one of:

- ``operator``: the real operator (``python -m smc_operator.cli run``);
- ``system``: the system floor (:mod:`bench.floors`, a minimal client without kopf);
- ``smc``: the SMC floor (N Start calls with the async SDK; no Kubernetes API at all).

For ``operator`` and ``system`` the driver (this process) starts the emulated Kubernetes API and the
SMC emulator (each a fresh process), seeds N Ready jobs, starts the target and waits until the
target's watch on ReplicationJobs is open (seen in the API's counters), resets the counters and
reads every process's CPU, opens its own watch, creates the N objects (``--create-concurrency``
at a time), and waits until its watch has seen every object's ``Started`` condition settle. Then
it waits until the API has been quiet for a moment (trailing Events are part of the cost), and
reads the counters, the SMC call log and every process's CPU and peak memory again.

Latency of an object: the moment its create was answered → the moment the driver's watch saw
``Started=True`` (or a final ``False``). "Time to all Started": the first create sent → the last
object settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import aiohttp

from bench import procs
from bench.kubeapi import (
    PLURAL,
    KubeApiError,
    KubeHttp,
    count_requests,
    count_watch_events,
)
from bench.realkube import RealKube
from bench.servers import READY_PREFIX as KUBE_READY_PREFIX
from bench.smcapi import SmcControl

Kind = Literal["operator", "kopf", "system", "smc"]

ROOT: Final = Path(__file__).resolve().parents[1]
#: The ``sitecustomize`` that applies what-if kopf settings (``--kopf-setting``).
WHATIF: Final = Path(__file__).resolve().parent / "whatif"
NAMESPACE: Final = "bench"
REGION: Final = "cn-hangzhou"
ACCESS_KEY_ID: Final = "LTAIbenchAccessKey001"
ACCESS_KEY_SECRET: Final = "bench-secret-0123456789abcdef"
SECRET_NAME: Final = "smc-credentials"
SMC_READY_PREFIX: Final = "SMC emulator listening on"
DRIVER_AGENT: Final = "bench-driver"
#: User-Agent products of the system under test, per phase.
TARGET_AGENTS: Final[Mapping[str, frozenset[str]]] = {
    "operator": frozenset({"kopf", "smc-operator"}),
    "system": frozenset({"bench-floor"}),
    # The kopf floor: kopf's own requests, and its write-ahead PATCH as the system floor's.
    "kopf": frozenset({"kopf", "bench-floor"}),
}
#: The operator's settings for the benchmark (docs/design.md, "Settings"); QPS comes from --qps.
OPERATOR_SETTINGS: Final[Mapping[str, str]] = {
    "SMC_OPERATOR_POLL_INTERVAL_SECONDS": "0",  # no job refresher: it is not part of starting
    "SMC_OPERATOR_METRICS_PORT": "0",
    "SMC_OPERATOR_HEALTH_PORT": "0",
    "SMC_OPERATOR_LOG_LEVEL": "WARNING",
    "SMC_OPERATOR_REQUEST_TIMEOUT_SECONDS": "10",
}
WRITE_VERBS: Final = frozenset({"create", "update", "patch", "delete"})
READ_VERBS: Final = frozenset({"get", "list", "watch"})


def job_prefix(kind: str) -> str:
    """Job IDs per phase: ``j-`` + lowercase letters/digits (the CRD's pattern)."""
    prefixes = {"operator": "j-benchop", "kopf": "j-benchkopf", "system": "j-benchsys"}
    return {**prefixes, "smc": "j-benchsmc"}[kind]


def job_ids(kind: str, count: int) -> list[str]:
    return [f"{job_prefix(kind)}{n:08d}" for n in range(count)]


def base_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMC_OPERATOR_", "ALIBABA_CLOUD_", "KUBECONFIG"))
    }
    env.update(
        {
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
            "PYTHONPATH": os.pathsep.join(
                part for part in (str(ROOT), env.get("PYTHONPATH", "")) if part
            ),
        }
    )
    return env


@dataclass
class PhaseOptions:
    kind: Kind
    objects: int
    qps: float = 0.0
    concurrency: int = 200
    create_concurrency: int = 20
    #: ``env``: the operator's default credential chain; ``secret``: a credentialsSecretRef.
    credentials: str = "env"
    profile: bool = False
    profile_rate: int = 100
    timeout: float | None = None
    quiet_seconds: float = 1.0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="smc-bench-")))
    operator_settings: Mapping[str, str] = field(default_factory=dict)
    #: Import ``smc_operator`` for the operator process from here (e.g. an unpacked
    #: ``git archive`` of another commit), ahead of the installed package.
    operator_path: Path | None = None
    #: What-if kopf settings (``{"queueing.idle_timeout": 0.5}``), see ``bench/whatif``.
    kopf_settings: Mapping[str, Any] = field(default_factory=dict)
    #: ``kmock``: the emulated Kubernetes API; ``real``: a real kube-apiserver (bench.realkube).
    kube: str = "kmock"
    #: SMC over HTTPS (as production) with the emulator's generated CA; False: plain HTTP.
    tls: bool = True

    @property
    def deadline_seconds(self) -> float:
        return self.timeout if self.timeout is not None else 120.0 + self.objects * 0.2


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def started_condition(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Started":
            return dict(condition)
    return {}


#: Reasons under which a request is still under way (docs/design.md).
IN_PROGRESS: Final = frozenset({"Starting", "Retrying", "Throttled"})


def settled(obj: Mapping[str, Any]) -> bool:
    """Started=True, or a final False (anything but the in-progress reasons)."""
    condition = started_condition(obj)
    return (
        condition.get("status") in ("True", "False") and condition.get("reason") not in IN_PROGRESS
    )


# --- the servers ---------------------------------------------------------------------------------


class Stack:
    """The emulated Kubernetes API and the SMC emulator, each in a process of its own."""

    def __init__(
        self,
        workdir: Path,
        *,
        kube: bool = True,
        real: bool = False,
        tls: bool = True,
        run_seconds: float = 86400.0,
        hour_seconds: float | None = None,
    ) -> None:
        self.workdir = workdir
        #: How long a job the operator creates runs, and an SMC hour on the emulator's clock.
        self.run_seconds = run_seconds
        self.hour_seconds = hour_seconds
        self.with_kube = kube
        #: Over HTTPS (the default, as production), the CA the emulator generated.
        self.ca_file: Path | None = workdir / "smc-tls" / "ca.pem" if tls else None
        self.kubeconfig = workdir / "kubeconfig"
        self.kube: procs.Child | RealKube | None = None
        #: ``--kube real``: a real kube-apiserver (scripts/kube-up) instead of the emulated API.
        self.real: RealKube | None = RealKube(workdir / "kube") if real and kube else None
        self.smc: procs.Child | None = None
        self.kube_url = ""
        self.smc_url = ""

    async def __aenter__(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = base_env()
        try:
            self.smc = procs.Child(
                "smc-emulator",
                [
                    procs.python(),
                    "-m",
                    "smc_testbed.emulator",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--access-key",
                    f"{ACCESS_KEY_ID}:{ACCESS_KEY_SECRET}",
                    "--run-seconds",
                    f"{self.run_seconds:g}",
                    *(["--hour-seconds", f"{self.hour_seconds:g}"] if self.hour_seconds else []),
                    *(["--tls-dir", str(self.ca_file.parent)] if self.ca_file else []),
                ],
                log_path=self.workdir / "smc-emulator.log",
                env=env,
            )
            await self.smc.start(ready_prefix=SMC_READY_PREFIX)
            self.smc_url = self.smc.ready_line.split()[0]
            if self.real is not None:
                self.kube = await self.real.__aenter__()
                self.kubeconfig = self.real.kubeconfig
                self.kube_url = self.real.url
            elif self.with_kube:
                self.kube = procs.Child(
                    "kube-api",
                    [
                        procs.python(),
                        "-m",
                        "bench.servers",
                        "kube",
                        "--kubeconfig",
                        str(self.kubeconfig),
                    ],
                    log_path=self.workdir / "kube-api.log",
                    env=env,
                    cwd=ROOT,
                )
                await self.kube.start(ready_prefix=KUBE_READY_PREFIX)
                self.kube_url = self.kube.ready_line.split()[0]
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.real is not None:
            await self.real.__aexit__()
        for child in (self.kube, self.smc):
            if isinstance(child, procs.Child):
                await child.stop(limit=5)


# --- the target ----------------------------------------------------------------------------------


def operator_child(
    stack: Stack,
    options: PhaseOptions,
    *,
    log_name: str = "operator.log",
    settings: Mapping[str, str] | None = None,
) -> procs.Child:
    env = base_env()
    env.update(OPERATOR_SETTINGS)
    env["SMC_OPERATOR_ENDPOINT"] = stack.smc_url
    if stack.ca_file is not None:
        env["SMC_OPERATOR_CA_FILE"] = str(stack.ca_file)
    env["SMC_OPERATOR_QPS"] = f"{options.qps:g}"
    env.update(options.operator_settings)
    env.update(settings or {})
    if options.operator_path is not None:
        env["PYTHONPATH"] = os.pathsep.join((str(options.operator_path), env["PYTHONPATH"]))
    if options.kopf_settings:
        env["PYTHONPATH"] = os.pathsep.join((str(WHATIF), env["PYTHONPATH"]))
        env["BENCH_KOPF_SETTINGS"] = json.dumps(dict(options.kopf_settings))
    argv = [
        procs.python(),
        "-m",
        "smc_operator.cli",
        "run",
        "--kubeconfig",
        str(stack.kubeconfig),
        "--workers",
        str(options.concurrency),
    ]
    if options.profile:
        spy = procs.py_spy()
        if spy is None:
            raise RuntimeError("--profile needs py-spy (pip install py-spy)")
        argv = [
            spy,
            "record",
            "--format",
            "raw",
            "--rate",
            str(options.profile_rate),
            "--output",
            str(options.workdir / "operator.pyspy.txt"),
            "--",
            *argv,
        ]
    return procs.Child("operator", argv, log_path=options.workdir / log_name, env=env, cwd=ROOT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


LAG_METRIC: Final = "smc_operator_event_loop_lag_seconds_bucket"


async def loop_lag_buckets(kind: str, port: int) -> dict[float, float]:
    """The operator's ``smc_operator_event_loop_lag_seconds`` buckets (cumulative counts by
    upper bound), read from its ``/metrics``; empty for the floors."""
    if kind != "operator":
        return {}
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            try:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    text = await response.text()
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        else:
            return {}
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(LAG_METRIC + "{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(line.rsplit(" ", 1)[1])
    return buckets


def loop_lag(before: Mapping[float, float], after: Mapping[float, float]) -> dict[str, Any]:
    """The phase's event-loop lag from the histogram's growth: the bucket bounds holding the
    99th percentile and the largest tick (upper bounds, ``inf`` past the last bucket)."""
    delta = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    ticks = delta.get(float("inf"), 0.0)
    if not ticks:
        return {"ticks": 0, "p99Seconds": None, "maxSeconds": None}
    p99 = next(bound for bound, count in delta.items() if count >= 0.99 * ticks)
    largest = next(bound for bound, count in delta.items() if count >= ticks)
    return {"ticks": int(ticks), "p99Seconds": p99, "maxSeconds": largest}


def ca_args(stack: Stack) -> list[str]:
    """The floors trust the emulator's CA as the operator does (``SMC_OPERATOR_CA_FILE``)."""
    return ["--ca-file", str(stack.ca_file)] if stack.ca_file is not None else []


def floor_child(stack: Stack, options: PhaseOptions) -> procs.Child:
    """The system floor (``bench.floors system``) or the kopf floor (``bench.kopffloor``)."""
    module = ["bench.kopffloor"] if options.kind == "kopf" else ["bench.floors", "system"]
    argv = [
        procs.python(),
        "-m",
        *module,
        "--kube",
        stack.kube_url,
        "--endpoint",
        stack.smc_url,
        "--namespace",
        NAMESPACE,
        "--qps",
        f"{options.qps:g}",
        "--concurrency",
        str(options.concurrency),
        *ca_args(stack),
    ]
    return procs.Child(
        f"{options.kind}-floor",
        argv,
        log_path=options.workdir / f"{options.kind}-floor.log",
        env=base_env(),
        cwd=ROOT,
    )


async def find_profiled_pid(child: procs.Child, limit: float = 10.0) -> None:
    """Under py-spy, measure the Python process py-spy started, not py-spy."""
    async with asyncio.timeout(limit):
        while True:
            found = procs.children(child.pid)
            if found:
                child.measured_pid = found[0]
                return
            await asyncio.sleep(0.05)


async def wait_for_watch(kube: KubeHttp, agents: frozenset[str], limit: float = 60.0) -> None:
    """Until a client with one of ``agents`` has a watch on ReplicationJobs open (it is ready)."""
    async with asyncio.timeout(limit):
        while True:
            counters = await kube.counters()
            if count_requests(counters, agents=set(agents), verbs={"watch"}, resource=PLURAL):
                return
            await asyncio.sleep(0.1)


async def wait_until_quiet(kube: KubeHttp, quiet: float, limit: float = 30.0) -> None:
    """Until the API served no request for ``quiet`` seconds (bounded by ``limit``)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + limit
    last = -1
    last_change = loop.time()
    while loop.time() < give_up:
        counters = await kube.counters()
        total = sum(int(r["count"]) for r in counters["requests"] if r["agent"] != DRIVER_AGENT)
        total += sum(int(r["count"]) for r in counters["watchEvents"])
        if total != last:
            last, last_change = total, loop.time()
        elif loop.time() - last_change >= quiet:
            return
        await asyncio.sleep(0.2)


def manifest(name: str, job_id: str, credentials: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"jobId": job_id, "regionId": REGION, "start": True}
    if credentials == "secret":
        spec["credentialsSecretRef"] = {"name": SECRET_NAME}
    return {
        "apiVersion": "smcoperator.io/v1alpha1",
        "kind": "ReplicationJob",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


class Observer:
    """The driver's own watch: when each object was created and when it settled."""

    def __init__(self) -> None:
        self.created: dict[str, float] = {}
        self.settled: dict[str, float] = {}
        self.outcomes: dict[str, Mapping[str, Any]] = {}
        self.events = 0
        self.expected = 0
        self.all_settled = asyncio.Event()

    def see(self, obj: Mapping[str, Any]) -> None:
        name = (obj.get("metadata") or {}).get("name")
        if not name or name in self.settled or not settled(obj):
            return
        self.settled[name] = time.perf_counter()
        self.outcomes[name] = started_condition(obj)
        if self.expected and len(self.settled) >= self.expected:
            self.all_settled.set()

    async def follow(self, kube: KubeHttp, version: str) -> None:
        async for _kind, obj in kube.watch_rj(NAMESPACE, version):
            self.events += 1
            self.see(obj)


async def create_objects(
    kube: KubeHttp, observer: Observer, names_and_jobs: list[tuple[str, str]], options: PhaseOptions
) -> float:
    """Create the objects, ``create_concurrency`` at a time; the moment the first was sent."""
    semaphore = asyncio.Semaphore(options.create_concurrency)
    first = time.perf_counter()

    async def one(name: str, job_id: str) -> None:
        async with semaphore:
            for attempt in range(5):
                try:
                    await kube.create_rj(NAMESPACE, manifest(name, job_id, options.credentials))
                    break
                except KubeApiError as exc:
                    if exc.status == 409 or attempt == 4:  # AlreadyExists: an earlier try landed
                        break
                    await asyncio.sleep(0.2)
            observer.created[name] = time.perf_counter()

    await asyncio.gather(*(one(name, job) for name, job in names_and_jobs))
    return first


def self_usage() -> procs.Usage:
    return procs.usage(os.getpid())


# --- a phase -------------------------------------------------------------------------------------


async def run_smc_floor(options: PhaseOptions) -> dict[str, Any]:
    options.workdir.mkdir(parents=True, exist_ok=True)
    result_file = options.workdir / "smc-floor.json"
    async with (
        Stack(options.workdir, kube=False, tls=options.tls) as stack,
        SmcControl(stack.smc_url, stack.ca_file) as smc,
    ):
        assert stack.smc is not None
        jobs = job_ids("smc", options.objects)
        await smc.seed_jobs(jobs)
        smc_before = stack.smc.usage()
        floor = procs.Child(
            "smc-floor",
            [
                procs.python(),
                "-m",
                "bench.floors",
                "smc",
                "--endpoint",
                stack.smc_url,
                "--job-prefix",
                job_prefix("smc"),
                "--count",
                str(options.objects),
                "--qps",
                f"{options.qps:g}",
                "--concurrency",
                str(options.concurrency),
                "--result",
                str(result_file),
                *ca_args(stack),
            ],
            log_path=options.workdir / "smc-floor.log",
            env=base_env(),
            cwd=ROOT,
        )
        await floor.start()
        assert floor.process is not None
        await floor.process.wait()
        await floor.stop()
        smc_after = stack.smc.usage()
        if not result_file.exists():
            raise RuntimeError(f"the SMC floor failed; see {floor.log_path}")
        outcome = json.loads(result_file.read_text())
        calls = await smc.calls(action="StartReplicationJob")
        describe_calls = await smc.calls(action="DescribeReplicationJobs")
    durations = outcome.pop("durations")
    n = options.objects
    return {
        "kind": "smc",
        "objects": n,
        "qps": options.qps,
        "concurrency": options.concurrency,
        "allStartedSeconds": outcome["elapsed"],
        "callSeconds": {
            "p50": percentile(durations, 0.50),
            "p95": percentile(durations, 0.95),
            "p99": percentile(durations, 0.99),
        },
        "startCalls": len(calls),
        "describeCalls": len(describe_calls),
        "failures": outcome["failureCount"],
        "target": {
            "cpuSeconds": outcome["cpuSeconds"],
            "cpuMsPerObject": 1000 * outcome["cpuSeconds"] / n,
            "describeCpuMsPerCall": 1000 * outcome["describeCpuSeconds"] / n,
            "peakRssBytes": outcome["peakRssBytes"],
        },
        "smcEmulator": {"cpuSeconds": smc_after.cpu_seconds - smc_before.cpu_seconds},
    }


async def run_phase(options: PhaseOptions) -> dict[str, Any]:
    """Run one ``operator`` or ``system`` phase; the result document (see :mod:`bench.report`)."""
    if options.kind == "smc":
        return await run_smc_floor(options)
    options.workdir.mkdir(parents=True, exist_ok=True)
    agents = TARGET_AGENTS[options.kind]
    n = options.objects
    names_and_jobs = [(f"rj-{i:05d}", job) for i, job in enumerate(job_ids(options.kind, n))]
    async with (
        Stack(options.workdir, real=options.kube == "real", tls=options.tls) as stack,
        SmcControl(stack.smc_url, stack.ca_file) as smc,
        KubeHttp(stack.kube_url, agent=DRIVER_AGENT, connections=64) as kube,
    ):
        assert stack.kube is not None
        assert stack.smc is not None
        counting = stack.real if stack.real is not None else kube  # who counts the requests
        await smc.seed_jobs([job for _, job in names_and_jobs])
        await kube.ensure_namespace(NAMESPACE)
        if options.credentials == "secret":
            await kube.request(
                "POST",
                f"/api/v1/namespaces/{NAMESPACE}/secrets",
                body={
                    "metadata": {"name": SECRET_NAME, "namespace": NAMESPACE},
                    "stringData": {
                        "accessKeyId": ACCESS_KEY_ID,
                        "accessKeySecret": ACCESS_KEY_SECRET,
                    },
                },
            )
        metrics_port = free_port()
        target = (
            operator_child(
                stack, options, settings={"SMC_OPERATOR_METRICS_PORT": str(metrics_port)}
            )
            if options.kind == "operator"
            else floor_child(stack, options)
        )
        began_start = time.perf_counter()
        await target.start()
        try:
            if options.profile and options.kind == "operator":
                await find_profiled_pid(target)
            await wait_for_watch(counting, agents)
            ready_seconds = time.perf_counter() - began_start
            startup = target.usage()
            await counting.reset_counters()
            lag_before = await loop_lag_buckets(options.kind, metrics_port)
            before = {
                "target": target.usage(),
                "kube": stack.kube.usage(),
                "smc": stack.smc.usage(),
                "driver": self_usage(),
            }

            observer = Observer()
            observer.expected = n
            listing = await kube.list_rj(NAMESPACE)
            watching = asyncio.create_task(
                observer.follow(kube, listing["metadata"]["resourceVersion"])
            )
            first_sent = await create_objects(kube, observer, names_and_jobs, options)
            created_all = time.perf_counter()
            timed_out = False
            try:
                async with asyncio.timeout(options.deadline_seconds):
                    await observer.all_settled.wait()
            except TimeoutError:
                timed_out = True
            last_settled = max(observer.settled.values(), default=time.perf_counter())
            await wait_until_quiet(counting, options.quiet_seconds)
            after = {
                "target": target.usage(),
                "kube": stack.kube.usage(),
                "smc": stack.smc.usage(),
                "driver": self_usage(),
            }
            counters = await counting.counters(agents)
            lag_after = await loop_lag_buckets(options.kind, metrics_port)
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
            start_calls = await smc.calls(action="StartReplicationJob")
            describe_calls = await smc.calls(action="DescribeReplicationJobs")
            jobs = await smc.jobs()
            final = await kube.list_rj(NAMESPACE)
        finally:
            if options.profile:
                # py-spy writes its profile on SIGINT (and ends the operator with it).
                await target.stop(sig=2, limit=30)
            else:
                await target.stop()

    latencies = [
        observer.settled[name] - observer.created[name]
        for name in observer.settled
        if name in observer.created
    ]
    not_true = {name: dict(c) for name, c in observer.outcomes.items() if c.get("status") != "True"}
    starts_by_job = {job["jobId"]: int(job["startCount"]) for job in jobs}
    result: dict[str, Any] = {
        "kind": options.kind,
        "objects": n,
        "qps": options.qps,
        "concurrency": options.concurrency,
        "createConcurrency": options.create_concurrency,
        "credentials": options.credentials,
        "timedOut": timed_out,
        "settledObjects": len(observer.settled),
        "startedTrue": len(observer.settled) - len(not_true),
        "notStarted": dict(list(not_true.items())[:10]),
        "readySeconds": ready_seconds,
        "createSeconds": created_all - first_sent,
        "allStartedSeconds": last_settled - first_sent,
        "latencySeconds": {
            "p50": percentile(latencies, 0.50),
            "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99),
            "max": max(latencies, default=0.0),
            "mean": statistics.fmean(latencies) if latencies else 0.0,
        },
        "startCalls": len(start_calls),
        "startCallsFailed": sum(1 for c in start_calls if c["code"] is not None),
        "describeCalls": len(describe_calls),
        "doubleStarts": sum(1 for count in starts_by_job.values() if count > 1),
        "requestIds": request_id_sources(final.get("items", []), start_calls),
        "jobsStarted": sum(1 for count in starts_by_job.values() if count >= 1),
        "kube": kube_costs(counters, agents, n, observer.events),
        "target": {
            "startupCpuSeconds": startup.cpu_seconds,
            "cpuSeconds": after["target"].cpu_seconds - before["target"].cpu_seconds,
            "cpuMsPerObject": 1000
            * (after["target"].cpu_seconds - before["target"].cpu_seconds)
            / n,
            "rssBeforeBytes": before["target"].rss_bytes,
            "rssAfterBytes": after["target"].rss_bytes,
            "peakRssBytes": after["target"].peak_rss_bytes,
        },
        "kubeApi": {
            "cpuSeconds": after["kube"].cpu_seconds - before["kube"].cpu_seconds,
            "peakRssBytes": after["kube"].peak_rss_bytes,
        },
        "smcEmulator": {
            "cpuSeconds": after["smc"].cpu_seconds - before["smc"].cpu_seconds,
            "peakRssBytes": after["smc"].peak_rss_bytes,
        },
        "driver": {"cpuSeconds": after["driver"].cpu_seconds - before["driver"].cpu_seconds},
        "eventLoopLag": loop_lag(lag_before, lag_after),
        "workdir": str(options.workdir),
    }
    if options.profile and options.kind == "operator":
        from bench.profiles import summarize

        profile_file = options.workdir / "operator.pyspy.txt"
        if profile_file.exists():
            result["profile"] = summarize(profile_file.read_text(encoding="utf-8"))
            result["profile"]["file"] = str(profile_file)
    return result


def request_id_sources(
    objects: Sequence[Mapping[str, Any]], start_calls: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """Where each Started=True object's RequestId came from: the Start call SMC accepted, or a
    later confirmation (DescribeReplicationJobs) that replaced it."""
    accepted = {
        (call.get("params") or {}).get("JobId"): call["requestId"]
        for call in start_calls
        if call.get("httpStatus") == 200 and not call.get("code") and not call.get("dropped")
    }
    sources: dict[str, int] = {"startCall": 0, "replaced": 0, "other": 0}
    for obj in objects:
        condition = started_condition(obj)
        if condition.get("status") != "True":
            continue
        job_id = (obj.get("spec") or {}).get("jobId")
        if condition.get("requestId") == accepted.get(job_id):
            sources["startCall"] += 1
        elif job_id in accepted:
            sources["replaced"] += 1
        else:
            sources["other"] += 1
    return sources


def kube_costs(
    counters: Mapping[str, Any], agents: frozenset[str], n: int, driver_events: int
) -> dict[str, Any]:
    """The target's Kubernetes requests and watch events, in total and per object."""
    who = set(agents)
    rj_status_patches = count_requests(
        counters, agents=who, verbs={"patch"}, resource=PLURAL, subresource="status"
    )
    rj_main_patches = count_requests(
        counters, agents=who, verbs={"patch", "update"}, resource=PLURAL, subresource=None
    )
    rj_writes = count_requests(counters, agents=who, verbs=set(WRITE_VERBS), resource=PLURAL)
    rj_reads = count_requests(counters, agents=who, verbs=set(READ_VERBS), resource=PLURAL)
    event_creates = count_requests(counters, agents=who, verbs={"create"}, resource="events")
    secret_reads = count_requests(counters, agents=who, verbs={"get"}, resource="secrets")
    all_writes = count_requests(counters, agents=who, verbs=set(WRITE_VERBS))
    all_reads = count_requests(counters, agents=who, verbs=set(READ_VERBS))
    failed = sum(
        int(r["count"]) for r in counters["requests"] if r["agent"] in who and r["code"] >= 400
    )
    events = count_watch_events(counters, agents=who)
    histogram: dict[str, int] = counters.get("replicationJobWritesPerObject", {})
    return {
        "rjStatusPatches": rj_status_patches,
        "rjMainPatches": rj_main_patches,
        "rjWrites": rj_writes,
        "rjReads": rj_reads,
        "eventCreates": event_creates,
        "secretReads": secret_reads,
        "allWrites": all_writes,
        "allReads": all_reads,
        "failedRequests": failed,
        "watchEvents": events,
        "driverWatchEvents": driver_events,
        "perObject": {
            "rjWrites": rj_writes / n,
            "rjStatusPatches": rj_status_patches / n,
            "rjMainPatches": rj_main_patches / n,
            "eventCreates": event_creates / n,
            "rjReads": rj_reads / n,
            "allReads": all_reads / n,
            "watchEvents": events / n,
        },
        "rjWritesHistogram": dict(sorted(histogram.items(), key=lambda kv: int(kv[0]))),
        "requests": [r for r in counters["requests"] if r["agent"] in who],
    }


def phase_options_dict(options: PhaseOptions) -> dict[str, Any]:
    document = asdict(options)
    document["workdir"] = str(options.workdir)
    document["operator_settings"] = dict(options.operator_settings)
    document["operator_path"] = str(options.operator_path) if options.operator_path else None
    document["kopf_settings"] = dict(options.kopf_settings)
    return document


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
