"""The real-API-server tier: one etcd + kube-apiserver per pytest run, from ``scripts/kube-up``.

The server is started once per session (``kube``) and stopped in its finalizer by
``scripts/kube-down``, whatever the tests did. If it cannot start, every test here errors with
kube-up's message (no Go, a build failure, a start-up failure): CI fails, nothing is skipped.
Each test gets its own namespace (without kube-controller-manager a deleted namespace would stay
Terminating forever, so namespaces are simply left to die with the server), its own SMC emulator
and its own operator processes (``smc-operator run --namespace NS``, all stopped at the end).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from smc_operator import model, wire
from smc_testbed.emulator import SmcEmulator
from testkit.kube import CRD_DIR, KubeServer, kube_server, unique
from testkit.running import OperatorFactory, operator_factory

os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")

ACCESS_KEY_ID = "LTAIkubeTierKey00001"
ACCESS_KEY_SECRET = "kube-tier-secret-0123456789"
SECRET = "creds"
CRD_NAME = "replicationjobs.smcoperator.io"


@pytest.fixture(scope="session")
def kube(request: pytest.FixtureRequest) -> Iterator[KubeServer]:
    # Not under pytest's basetemp: another pytest run on the machine may prune that meanwhile.
    directory = Path(tempfile.mkdtemp(prefix="smc-operator-kube-"))
    with kube_server(directory) as server:
        server.kubectl("apply", "-f", str(CRD_DIR))
        server.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
        wait_until_servable(server)
        yield server
    if request.session.testsfailed:
        print(f"\nkube-apiserver and etcd logs: {directory / 'logs'}")
    else:
        shutil.rmtree(directory, ignore_errors=True)


def wait_until_servable(server: KubeServer) -> None:
    """Established is not yet servable: for a moment the server answers 429 "storage is
    (re)initializing". kubectl waits that out with a watch on nothing: a bounded list retry."""
    path = "/apis/smcoperator.io/v1alpha1/replicationjobs"
    for _ in range(300):
        status, _answer = server.request("GET", path, query="limit=1")
        if status == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"GET {path} never answered 200 after the CRD was Established")


@pytest.fixture
def namespace(kube: KubeServer) -> str:
    name = unique("t")
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": name},
            "stringData": {"accessKeyId": ACCESS_KEY_ID, "accessKeySecret": ACCESS_KEY_SECRET},
        }
    )
    return name


@pytest.fixture
async def smc() -> AsyncIterator[SmcEmulator]:
    async with SmcEmulator(access_keys={ACCESS_KEY_ID: ACCESS_KEY_SECRET}) as emulator:
        yield emulator


@pytest.fixture
async def start_operator(
    kube: KubeServer, smc: SmcEmulator, tmp_path: Path
) -> AsyncIterator[OperatorFactory]:
    """``smc-operator run`` against the real API server (admin); all stopped at the end."""
    async with operator_factory(
        kubeconfig=kube.kubeconfig, smc_url=smc.url, log_dir=tmp_path
    ) as start:
        yield start


# --- helpers ---------------------------------------------------------------------------------


def rj(namespace: str, name: str, job_id: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobId": job_id,
        "start": True,
        "credentialsSecretRef": {"name": SECRET},
    }
    body.update(spec)
    return {
        "apiVersion": model.API_VERSION,
        "kind": model.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {k: v for k, v in body.items() if v is not None},
    }


def seed(smc: SmcEmulator, job_id: str, **kwargs: Any) -> None:
    source = "s-" + job_id.removeprefix("j-")
    smc.state.seed_source_server(source, kwargs.pop("source_state", wire.SOURCE_AVAILABLE))
    smc.state.seed_job(job_id, source, **kwargs)


def started(obj: dict[str, Any]) -> dict[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Started":
            return dict(condition)
    return {}


async def wait_reason(
    kube: KubeServer,
    namespace: str,
    name: str,
    reason: str,
    timeout: int = 60,
    *,
    condition: str = "Started",
) -> dict[str, Any]:
    """``kubectl wait`` (a watch: no polling here) until ``condition``'s reason is ``reason``."""
    path = f'{{.status.conditions[?(@.type=="{condition}")].reason}}'
    await asyncio.to_thread(
        kube.kubectl,
        "-n",
        namespace,
        "wait",
        f"--for=jsonpath={path}={reason}",
        f"replicationjob/{name}",
        f"--timeout={timeout}s",
        timeout=timeout + 30,
    )
    return await asyncio.to_thread(kube.get, "rj", name, namespace)


def start_calls(smc: SmcEmulator, job_id: str) -> list[Any]:
    return smc.state.calls.select(action=wire.START_REPLICATION_JOB, job_id=job_id)


def events_for(kube: KubeServer, namespace: str, name: str) -> list[dict[str, Any]]:
    result = kube.kubectl(
        "-n",
        namespace,
        "get",
        "events",
        "--field-selector",
        f"involvedObject.name={name}",
        "-o",
        "json",
    )
    items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
    return items
