"""``smc-operator demo``: the whole product on one machine, with nothing but the installed package.

It starts the SMC emulator, an in-process Kubernetes API (kmock with the fidelity layer of
:mod:`smc_testbed.kubemock`) and the operator, applies sample ReplicationJobs that show each kind
of outcome, and prints a live table like ``kubectl get rj -o wide`` until they settle:

- ``web-01``: a Ready job: started at once;
- ``db-01``: SMC answers InternalError twice: retried with backoff, then started;
- ``app-01``: the job is already Running: InvalidStatus, no retry;
- ``files-01``: the source server is Unavailable: SourceServerStateInvalid, no retry;
- ``later-01``: ``start: false``: NotRequested, no call;
- ``migrate-01``: no job yet: the operator creates an incremental one (``spec.job``, exactly once),
  starts it, lets it cycle, and cuts it over (``spec.cutOver``, set by the demo once the job
  waits between cycles) until it is Finished.

With ``--kubeconfig FILE`` the samples go to that real cluster instead of the in-process API:
into a namespace of their own (``smc-demo-<random>``), watched by the operator alone, and deleted
afterwards with everything in it. The CRD must be installed there (``kubectl apply -f crds/``).

Exit status 0 when every sample ends as described, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

import aiohttp

from smc_operator import model, wire
from smc_operator.conditions import STARTED
from smc_operator.handlers import RunOptions, operate
from smc_operator.reasons import Reason, row_of
from smc_operator.settings import Settings
from smc_testbed.emulator import SmcEmulator, tls
from smc_testbed.emulator.tls import TlsFiles
from smc_testbed.kubemock import REPLICATION_JOBS, SECRETS, EmulatedKubeApi

NAMESPACE: Final = "smc-demo"
SECRET_NAME: Final = "smc-credentials"
#: How long a started job runs in the emulator before it is Finished.
JOB_RUN_SECONDS: Final = 6.0
#: How long an SMC hour lasts in the demo: an incremental job with frequency 1 waits this long.
HOUR_SECONDS: Final = 2.0
#: The created sample: its name and source server (the job ID comes from SMC).
MIGRATION: Final = "migrate-01"
MIGRATION_SOURCE: Final = "s-demo0migrate01f"
MIGRATION_STORY: Final = "created (incremental), started, cycled, cut over: Finished"


@dataclass(frozen=True)
class Sample:
    name: str
    job_id: str
    expected: Reason
    start: bool = True
    job_status: str = wire.JOB_READY
    source_state: str = wire.SOURCE_AVAILABLE
    internal_errors: int = 0
    story: str = ""


SAMPLES: Final = (
    Sample("web-01", "j-demo0web01aaaa", Reason.STARTED, story="Ready: started at once"),
    Sample(
        "db-01",
        "j-demo0db01bbbbb",
        Reason.STARTED,
        internal_errors=2,
        story="InternalError twice: retried with backoff, then started",
    ),
    Sample(
        "app-01",
        "j-demo0app01cccc",
        Reason.INVALID_STATUS,
        job_status=wire.JOB_RUNNING,
        story="already Running: InvalidStatus, not retried",
    ),
    Sample(
        "files-01",
        "j-demo0files01dd",
        Reason.SOURCE_SERVER_STATE_INVALID,
        source_state=wire.SOURCE_UNAVAILABLE,
        story="source server Unavailable: SourceServerStateInvalid, not retried",
    ),
    Sample(
        "later-01",
        "j-demo0later01ee",
        Reason.NOT_REQUESTED,
        start=False,
        story="start: false: nothing is called",
    ),
)

COLUMNS: Final = (
    "NAME",
    "JOB ID",
    "START",
    "STARTED",
    "REASON",
    "JOB STATUS",
    "PROGRESS",
    "AGE",
    "REQUEST ID",
    "ERROR CODE",
    "ATTEMPTS",
)


def demo_settings(endpoint: str, ca_file: Path | None = None) -> Settings:
    """Fast, local settings: the emulator's endpoint (and the CA it serves HTTPS with), short
    backoff, quick job refreshes."""
    return Settings.model_validate(
        {
            "endpoint": endpoint,
            "ca_file": ca_file,
            "region": "cn-hangzhou",
            "max_attempts": 5,
            "backoff_base_seconds": 1.0,
            "backoff_max_seconds": 3.0,
            "qps": 20,
            "poll_interval_seconds": 1.0,
            "request_timeout_seconds": 5.0,
            "metrics_port": 0,
            "health_port": 0,
        }
    )


def run_demo(
    timeout: float = 120.0, out: TextIO = sys.stdout, kubeconfig: str | None = None
) -> int:
    """Run the demo (against the cluster of ``kubeconfig`` if given); the exit status."""
    log_dir = Path(tempfile.mkdtemp(prefix="smc-operator-demo-"))
    log_file = log_dir / "operator.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s [%(name)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        return asyncio.run(
            _demo(timeout, out, log_file, tls.generate(log_dir / "smc-tls"), kubeconfig)
        )
    except KeyboardInterrupt:
        print("\ninterrupted", file=out)
        return 130


async def _demo(
    settle_seconds: float,
    out: TextIO,
    log_file: Path,
    tls_files: TlsFiles,
    kubeconfig: str | None = None,
) -> int:
    access_key_id = "LTAIdemo" + secrets.token_hex(6)
    access_key_secret = secrets.token_urlsafe(24)
    namespace = NAMESPACE if kubeconfig is None else f"{NAMESPACE}-{secrets.token_hex(3)}"
    kube_api: EmulatedKubeApi | ClusterApi = (
        EmulatedKubeApi() if kubeconfig is None else ClusterApi(kubeconfig, namespace)
    )
    async with (
        SmcEmulator(
            access_keys={access_key_id: access_key_secret},
            default_run_seconds=JOB_RUN_SECONDS,
            tls=tls_files,  # HTTPS, as SMC is served; the operator trusts the generated CA
        ) as smc,
        kube_api as kube,
    ):
        smc.state.hour_seconds = HOUR_SECONDS
        _seed(smc)
        print(f"SMC emulator:    {smc.url} (CA {smc.ca_file})", file=out)
        where = "" if kubeconfig is None else f", namespace {namespace}"
        print(f"Kubernetes API:  {kube.url} (kubeconfig {kube.kubeconfig}{where})", file=out)
        print(f"operator log:    {log_file}\n", file=out)
        try:
            await kube.ensure_namespace(namespace)
        except ClusterApiError as exc:
            print(f"smc-operator demo: {exc}", file=out)
            return 1
        await kube.create(
            SECRETS,
            {
                "metadata": {"name": SECRET_NAME, "namespace": namespace},
                "stringData": {"accessKeyId": access_key_id, "accessKeySecret": access_key_secret},
            },
        )
        stop = asyncio.Event()
        options = RunOptions(
            settings=demo_settings(smc.url, smc.ca_file),
            kubeconfig=str(kube.kubeconfig),
            workers=20,
            namespaces=() if kubeconfig is None else (namespace,),
        )
        operator = asyncio.create_task(operate(options, stop_flag=stop), name="operator")
        try:
            for sample in SAMPLES:
                await kube.create(REPLICATION_JOBS, _manifest(sample, namespace))
            await kube.create(REPLICATION_JOBS, _migration(namespace))
            objects = await _watch_until_settled(kube, out, settle_seconds, namespace)
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(operator, timeout=15)
        return _report(objects, smc, out)


class ClusterApiError(RuntimeError):
    """The real cluster refused or lacks what the demo needs; the message says what."""


class ClusterApi:
    """The few calls the demo makes, against a real cluster (``--kubeconfig``), and the cleanup.

    On exit it deletes the demo's namespace and, first, everything the demo put in it (a cluster
    without kube-controller-manager never empties a deleted namespace by itself).
    """

    def __init__(self, kubeconfig: str, namespace: str) -> None:
        from smc_operator.kube import load_connection

        self.kubeconfig = Path(kubeconfig)
        self.namespace = namespace
        self._connection = load_connection(kubeconfig)
        self.url = self._connection.server
        self._session: aiohttp.ClientSession | None = None
        self._created_namespace = False

    async def __aenter__(self) -> ClusterApi:
        connection = self._connection
        context: ssl.SSLContext | bool = False
        if connection.server.startswith("https:"):
            context = ssl.create_default_context(cafile=connection.ca_path)
            if connection.insecure:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if connection.certificate_path:
                context.load_cert_chain(connection.certificate_path, connection.private_key_path)
        self._session = aiohttp.ClientSession(
            base_url=connection.server,
            connector=aiohttp.TCPConnector(ssl=context),
            timeout=aiohttp.ClientTimeout(total=30),
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            if self._created_namespace:
                for resource in (REPLICATION_JOBS, SECRETS):
                    await self._call("DELETE", _collection(resource, self.namespace), ok=(404,))
                await self._call("DELETE", f"/api/v1/namespaces/{self.namespace}", ok=(404,))
        finally:
            if self._session is not None:
                await self._session.close()

    async def _call(
        self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        assert self._session is not None, "use async with"
        headers = {"Content-Type": "application/json"}
        authorization = self._connection.authorization()
        if authorization:
            headers["Authorization"] = authorization
        for _ in range(30):
            async with self._session.request(method, path, json=body, headers=headers) as response:
                answer: dict[str, Any] = await response.json(content_type=None) or {}
                retry_after = response.headers.get("Retry-After", "1")
            # A real API server answers 429 while a just-established CRD's storage initialises.
            if response.status != 429:
                break
            await asyncio.sleep(min(float(retry_after) if retry_after.isdigit() else 1.0, 5.0))
        if response.status >= 400 and response.status not in ok:
            message = answer.get("message", response.reason)
            raise ClusterApiError(f"{method} {path}: HTTP {response.status}: {message}")
        return answer

    async def ensure_namespace(self, name: str) -> None:
        await self._call("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
        self._created_namespace = True
        try:
            await self._call("GET", _collection(REPLICATION_JOBS, name))
        except ClusterApiError as exc:
            raise ClusterApiError(
                f"{exc}; is the ReplicationJob CRD installed? kubectl apply -f crds/"
            ) from None

    async def create(self, resource: Any, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._call("POST", _collection(resource, self.namespace), dict(body))

    async def list(self, resource: Any, *, namespace: str) -> dict[str, Any]:
        return await self._call("GET", _collection(resource, namespace))

    async def patch(
        self, resource: Any, name: str, body: Mapping[str, Any], *, namespace: str
    ) -> dict[str, Any]:
        assert self._session is not None, "use async with"
        headers = {"Content-Type": "application/merge-patch+json"}
        authorization = self._connection.authorization()
        if authorization:
            headers["Authorization"] = authorization
        path = f"{_collection(resource, namespace)}/{name}"
        async with self._session.patch(path, json=dict(body), headers=headers) as response:
            answer: dict[str, Any] = await response.json(content_type=None) or {}
            if response.status >= 400:
                raise ClusterApiError(f"PATCH {path}: HTTP {response.status}")
        return answer


def _collection(resource: Any, namespace: str) -> str:
    """The namespaced collection path of a kmock ``Resource`` (group, version, plural)."""
    prefix = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
    return f"{prefix}/namespaces/{namespace}/{resource.plural}"


def _seed(smc: SmcEmulator) -> None:
    smc.state.seed_source_server(MIGRATION_SOURCE, wire.SOURCE_AVAILABLE, name="demo-migrate")
    for sample in SAMPLES:
        source = "s-" + sample.job_id.removeprefix("j-")
        smc.state.seed_source_server(source, sample.source_state)
        smc.state.seed_job(sample.job_id, source, status=sample.job_status, name=sample.name)
        if sample.internal_errors:
            smc.state.add_fault(
                wire.START_REPLICATION_JOB,
                job_id=sample.job_id,
                code=wire.INTERNAL_ERROR,
                count=sample.internal_errors,
            )


def _manifest(sample: Sample, namespace: str = NAMESPACE) -> dict[str, Any]:
    return {
        "apiVersion": model.API_VERSION,
        "kind": model.KIND,
        "metadata": {"name": sample.name, "namespace": namespace},
        "spec": {
            "jobId": sample.job_id,
            "regionId": "cn-hangzhou",
            "start": sample.start,
            "credentialsSecretRef": {"name": SECRET_NAME},
        },
    }


def _migration(namespace: str = NAMESPACE) -> dict[str, Any]:
    """The created sample: an incremental job from a source server, started at once."""
    return {
        "apiVersion": model.API_VERSION,
        "kind": model.KIND,
        "metadata": {"name": MIGRATION, "namespace": namespace},
        "spec": {
            "job": {
                "sourceId": MIGRATION_SOURCE,
                "runOnce": False,
                "frequency": 1,
                "maxNumberOfImageToKeep": 2,
            },
            "regionId": "cn-hangzhou",
            "start": True,
            "credentialsSecretRef": {"name": SECRET_NAME},
        },
    }


def _condition(obj: Mapping[str, Any], type_: str = STARTED) -> Mapping[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == type_:
            return dict(condition)
    return {}


def _cut_over_due(obj: Mapping[str, Any]) -> bool:
    """The created job has cycled once and waits: the moment an application team cuts over."""
    job = (obj.get("status") or {}).get("job") or {}
    return "cutOver" not in (obj.get("spec") or {}) and job.get("status") == wire.JOB_WAITING


def settled(obj: Mapping[str, Any]) -> bool:
    """Final condition, and a started job seen through to its end by the job refresher."""
    if obj.get("metadata", {}).get("name") == MIGRATION:
        job = (obj.get("status") or {}).get("job") or {}
        cut = _condition(obj, "CutOver").get("reason") == Reason.CUT_OVER
        return cut and job.get("status") == wire.JOB_FINISHED
    reason = _condition(obj).get("reason")
    row = row_of(reason)
    if row is None or row.in_progress:
        return False
    if reason == Reason.STARTED:
        job = (obj.get("status") or {}).get("job") or {}
        return job.get("status") in (wire.JOB_FINISHED, wire.JOB_WAITING)
    return True


def rows(objects: list[Mapping[str, Any]], now: datetime) -> list[tuple[str, ...]]:
    result: list[tuple[str, ...]] = []
    for obj in sorted(objects, key=lambda o: o["metadata"]["name"]):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        condition = _condition(obj)
        job = status.get("job") or {}
        progress = job.get("progress")
        result.append(
            (
                obj["metadata"]["name"],
                spec.get("jobId") or status.get("jobId", ""),
                str(spec.get("start", False)).lower(),
                condition.get("status", ""),
                condition.get("reason", ""),
                job.get("status", ""),
                f"{progress:g}" if isinstance(progress, int | float) else "",
                _age(obj, now),
                condition.get("requestId", ""),
                condition.get("errorCode", ""),
                str(status.get("attempts", "")),
            )
        )
    return result


def table(objects: list[Mapping[str, Any]], now: datetime) -> str:
    lines = [COLUMNS, *rows(objects, now)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return ""
    seconds = int((now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m"


async def _watch_until_settled(
    kube: EmulatedKubeApi | ClusterApi,
    out: TextIO,
    settle_seconds: float,
    namespace: str = NAMESPACE,
) -> list[Mapping[str, Any]]:
    interactive = out.isatty()
    shown = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle_seconds
    while True:
        listing = await kube.list(REPLICATION_JOBS, namespace=namespace)
        objects: list[Mapping[str, Any]] = listing.get("items", [])
        for obj in objects:
            if obj["metadata"]["name"] == MIGRATION and _cut_over_due(obj):
                patch = {"spec": {"cutOver": {"syncData": False}}}
                await kube.patch(REPLICATION_JOBS, MIGRATION, patch, namespace=namespace)
        text = table(objects, datetime.now(UTC))
        done = len(objects) == len(SAMPLES) + 1 and all(settled(o) for o in objects)
        if interactive:
            # Redraw in place: restore the saved cursor position, clear below, print.
            out.write("\x1b[u\x1b[J" if shown else "\x1b[s")
            out.write(text + "\n")
            out.flush()
            shown = text
        elif _milestones(objects) != shown or done:
            # Not a terminal: print a table at each change of outcome or job status only.
            print(text + "\n", file=out)
            shown = _milestones(objects)
        if done or loop.time() > deadline:
            return objects
        await asyncio.sleep(0.5)


def _milestones(objects: list[Mapping[str, Any]]) -> str:
    """What a reader of a log wants a new table for: outcomes and job states, not progress."""
    return repr([(row[0], row[3], row[4], row[5]) for row in rows(objects, datetime.now(UTC))])


def _report(objects: list[Mapping[str, Any]], smc: SmcEmulator, out: TextIO) -> int:
    by_name = {o["metadata"]["name"]: o for o in objects}
    failures = 0
    width = max(len(name) for name in (*(sample.name for sample in SAMPLES), MIGRATION))
    print("\nWhat happened:", file=out)
    for sample in SAMPLES:
        obj = by_name.get(sample.name, {})
        reason = _condition(obj).get("reason", "(none)")
        calls = len(smc.state.calls.select(action=wire.START_REPLICATION_JOB, job_id=sample.job_id))
        job = smc.state.job(sample.job_id)
        starts = job.start_count if job is not None else 0
        ok = reason == sample.expected and settled(obj)
        failures += not ok
        mark = "ok " if ok else "NOT"
        print(
            f"  {mark} {sample.name:<{width}} {reason:<26} {sample.story}; "
            f"StartReplicationJob calls: {calls}, successful starts: {starts}",
            file=out,
        )
    migration = by_name.get(MIGRATION, {})
    job_id = (migration.get("status") or {}).get("jobId")
    created = len(smc.state.calls.select(action=wire.CREATE_REPLICATION_JOB))
    mine = [j for j in smc.state.jobs.values() if j.source_id == MIGRATION_SOURCE]
    ok = settled(migration) and len(mine) == 1 and mine[0].job_id == job_id
    failures += not ok
    cut_over = _condition(migration, "CutOver").get("reason", "(none)")
    print(
        f"  {'ok ' if ok else 'NOT'} {MIGRATION:<{width}} {cut_over:<26} "
        f"{MIGRATION_STORY}; CreateReplicationJob calls: {created}, jobs created: {len(mine)}",
        file=out,
    )
    if failures:
        print(f"\n{failures} sample(s) did not end as expected or did not settle.", file=out)
        return 1
    print("\nEvery sample ended as expected; no job was started twice or created twice.", file=out)
    return 0
