"""The end-to-end scenarios against a real API server (opt-in; see conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from smc_operator import model, wire
from smc_testbed.emulator import SmcEmulator
from testkit.running import OperatorProcess

from .conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, apply, kubectl

pytestmark = pytest.mark.cluster


def rj(namespace: str, name: str, job_id: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": model.API_VERSION,
        "kind": model.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"jobId": job_id, "start": True, "credentialsSecretRef": {"name": "creds"}, **spec},
    }


def seed(smc: SmcEmulator, job_id: str, **kwargs: Any) -> None:
    source = "s-" + job_id.removeprefix("j-")
    smc.state.seed_source_server(source, kwargs.pop("source_state", wire.SOURCE_AVAILABLE))
    smc.state.seed_job(job_id, source, **kwargs)


async def wait_reason(namespace: str, name: str, reason: str, timeout: int = 60) -> dict[str, Any]:
    path = '{.status.conditions[?(@.type=="Started")].reason}'
    await asyncio.to_thread(
        kubectl,
        "-n",
        namespace,
        "wait",
        f"--for=jsonpath={path}={reason}",
        f"replicationjob/{name}",
        f"--timeout={timeout}s",
    )
    result = await asyncio.to_thread(kubectl, "-n", namespace, "get", "rj", name, "-o", "json")
    obj: dict[str, Any] = json.loads(result.stdout)
    return obj


def started(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Started")


@pytest.fixture
async def operator(namespace: str, smc: SmcEmulator, tmp_path: Path) -> Any:
    apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": namespace},
            "stringData": {"accessKeyId": ACCESS_KEY_ID, "accessKeySecret": ACCESS_KEY_SECRET},
        }
    )
    process = OperatorProcess(
        kubeconfig=Path(os.environ["KUBECONFIG"]),
        smc_url=smc.url,
        log_path=tmp_path / "operator.log",
        args=("--namespace", namespace),
    )
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


def test_admission_rejects_what_the_schema_forbids(namespace: str) -> None:
    bad = [
        {"jobId": "J-UPPER"},
        {"jobId": "j-bw526m1vi6x21qxxxx", "start": "yes"},
        {"jobId": "j-bw526m1vi6x21qxxxx", "credentialsSecretRef": {"name": "c", "namespace": "x"}},
        {"jobId": "j-bw526m1vi6x21qxxxx", "surprise": 1},
    ]
    for spec in bad:
        manifest = rj(namespace, "bad", "j-placeholder00")
        manifest["spec"] = spec
        result = apply(manifest, check=False)
        assert result.returncode != 0, spec
        assert "invalid" in result.stderr.lower() or "unknown field" in result.stderr.lower()
    result = kubectl(
        "apply",
        "--dry-run=server",
        "-f",
        "-",
        stdin=json.dumps(rj(namespace, "ok", "j-bw526m1vi6x21qxxxx")),
    )
    assert result.returncode == 0


async def test_outcomes_on_a_real_api_server(
    namespace: str, smc: SmcEmulator, operator: OperatorProcess
) -> None:
    seed(smc, "j-cluster00000001")
    seed(smc, "j-cluster00000002")
    seed(smc, "j-cluster00000003", status=wire.JOB_RUNNING)
    seed(smc, "j-cluster00000004", source_state=wire.SOURCE_UNAVAILABLE)
    smc.state.add_fault(
        wire.START_REPLICATION_JOB, job_id="j-cluster00000002", code=wire.INTERNAL_ERROR, count=2
    )
    apply(rj(namespace, "ok", "j-cluster00000001"))
    apply(rj(namespace, "retried", "j-cluster00000002"))
    apply(rj(namespace, "running", "j-cluster00000003"))
    apply(rj(namespace, "unavailable", "j-cluster00000004"))
    apply(rj(namespace, "nocreds", "j-cluster00000001", credentialsSecretRef={"name": "missing"}))

    ok = await wait_reason(namespace, "ok", "Started")
    assert started(ok)["status"] == "True"
    assert ok["status"]["attempts"] == 1
    assert ok["status"]["observedGeneration"] == ok["metadata"]["generation"]
    assert "finalizers" not in ok["metadata"]
    retried = await wait_reason(namespace, "retried", "Started")
    assert retried["status"]["attempts"] == 3
    running = await wait_reason(namespace, "running", "InvalidStatus")
    assert started(running)["errorCode"] == wire.INVALID_STATUS
    unavailable = await wait_reason(namespace, "unavailable", "SourceServerStateInvalid")
    assert started(unavailable)["errorCode"] == wire.SOURCE_SERVER_STATE_INVALID
    await wait_reason(namespace, "nocreds", "CredentialsNotFound")
    for job_id in ("j-cluster00000001", "j-cluster00000002"):
        assert smc.state.job(job_id).start_count == 1  # type: ignore[union-attr]

    columns = kubectl("-n", namespace, "get", "rj", "-o", "wide").stdout
    for header in (
        "JOB ID",
        "STARTED",
        "REASON",
        "JOB STATUS",
        "REQUEST ID",
        "ERROR CODE",
        "ATTEMPTS",
    ):
        assert header in columns
    events = kubectl("-n", namespace, "get", "events", "--field-selector", "involvedObject.name=ok")
    assert "Started" in events.stdout


async def test_restart_while_a_start_is_in_flight(
    namespace: str, smc: SmcEmulator, operator: OperatorProcess
) -> None:
    seed(smc, "j-cluster00000010")
    smc.state.add_fault(
        wire.START_REPLICATION_JOB,
        job_id="j-cluster00000010",
        latency_ms=3000,
        apply_before_delay=True,
        count=1,
    )
    apply(rj(namespace, "inflight", "j-cluster00000010"))
    async with asyncio.timeout(60):
        await smc.wait_for_calls(1, action=wire.START_REPLICATION_JOB)
    await operator.kill()
    await operator.start()
    obj = await wait_reason(namespace, "inflight", "Started")
    assert smc.state.job("j-cluster00000010").start_count == 1  # type: ignore[union-attr]
    assert len(smc.state.calls.select(action=wire.START_REPLICATION_JOB)) == 1
    assert "confirmed by DescribeReplicationJobs" in started(obj)["message"]
