"""``smc-operator run`` against the real API server: the whole lifecycle of a created job.

The API server enforces the CRD (defaults, CEL) and keeps the finalizer: what a user sees is
``kubectl`` output, the conditions, and what SMC received. Every wait is a ``kubectl wait``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from smc_operator import model, wire
from smc_testbed.emulator import SmcEmulator
from testkit.kube import KubeServer
from testkit.running import OperatorFactory

from .conftest import SECRET, events_for, wait_reason

SOURCE = "s-kubelife00000001"
FAST = {"poll_interval_seconds": "1", "backoff_base_seconds": "0.2"}


def managed(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": model.API_VERSION,
        "kind": model.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"credentialsSecretRef": {"name": SECRET}, **spec},
    }


async def wait_condition(
    kube: KubeServer, namespace: str, name: str, type_: str, reason: str
) -> dict[str, Any]:
    return await wait_reason(kube, namespace, name, reason, condition=type_)


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return dict(c)
    return {}


def patch(kube: KubeServer, namespace: str, name: str, spec: dict[str, Any]) -> None:
    kube.kubectl(
        "-n", namespace, "patch", "rj", name, "--type", "merge", "-p", json.dumps({"spec": spec})
    )


async def test_create_cycle_cut_over_and_delete_an_incremental_job(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    smc.state.seed_source_server(SOURCE)
    smc.state.default_run_seconds = 1.0
    smc.state.hour_seconds = 1.0
    smc.state.delete_seconds = 1.0
    await start_operator(args=("--namespace", namespace), **FAST)
    job = {"sourceId": SOURCE, "runOnce": False, "frequency": 1, "maxNumberOfImageToKeep": 2}
    kube.apply(managed(namespace, "db", job=job, start=True, deletionPolicy="Delete"))
    obj = await wait_condition(kube, namespace, "db", "Started", "Started")
    uid = obj["metadata"]["uid"]
    job_id = obj["status"]["jobId"]
    assert condition(obj, "Created")["reason"] == "Created"
    assert obj["spec"]["job"]["targetType"] == "Image"  # the API server's default
    assert model.FINALIZER in obj["metadata"]["finalizers"]
    (create,) = smc.state.calls.select(action=wire.CREATE_REPLICATION_JOB)
    assert dict(create.params)["ClientToken"] == f"smc-operator-{uid}"
    wide = kube.kubectl("-n", namespace, "get", "rj", "db", "-o", "wide").stdout
    assert job_id in wide and "True" in wide

    # Kubernetes refuses what SMC would never allow: the source of a created job is fixed.
    refused = kube.kubectl(
        "-n",
        namespace,
        "patch",
        "rj",
        "db",
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": {"job": {**job, "sourceId": "s-kubelife00000002"}}}),
        check=False,
    )
    assert refused.returncode != 0 and "sourceId" in refused.stderr

    patch(kube, namespace, "db", {"cutOver": {"syncData": False}})
    obj = await wait_condition(kube, namespace, "db", "CutOver", "CutOver")
    assert condition(obj, "CutOver")["requestId"]
    assert len(smc.state.calls.select(action=wire.CUT_OVER_REPLICATION_JOB)) == 1

    kube.kubectl("-n", namespace, "delete", "rj", "db", "--wait=false")
    await asyncio.to_thread(
        kube.kubectl,
        "-n",
        namespace,
        "wait",
        "--for=delete",
        "replicationjob/db",
        "--timeout=60s",
        timeout=90,
    )
    assert job_id not in smc.state.jobs
    assert len(smc.state.calls.select(action=wire.DELETE_REPLICATION_JOB)) == 1


async def test_create_start_finish_and_a_refused_create_with_smcs_code(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    smc.state.seed_source_server(SOURCE)
    smc.state.seed_source_server("s-kubelife00000005", wire.SOURCE_UNAVAILABLE)
    smc.state.default_run_seconds = 1.0
    await start_operator(args=("--namespace", namespace), **FAST)
    kube.apply(managed(namespace, "web", job={"sourceId": SOURCE}, start=True))
    kube.apply(managed(namespace, "down", job={"sourceId": "s-kubelife00000005"}, start=True))

    obj = await wait_condition(kube, namespace, "web", "Started", "Started")
    job_id = obj["status"]["jobId"]
    assert condition(obj, "Created")["requestId"]
    # The job mirror shows it Finished once its run is over; no second start, no second job.
    async with asyncio.timeout(30):
        while (kube.get("rj", "web", namespace)["status"].get("job") or {}).get(
            "status"
        ) != wire.JOB_FINISHED:
            await asyncio.sleep(0.5)
    assert len(smc.state.calls.select(action=wire.START_REPLICATION_JOB, job_id=job_id)) == 1
    reasons = {(e["type"], e["reason"]) for e in events_for(kube, namespace, "web")}
    assert {("Normal", "Created"), ("Normal", "Started")} <= reasons

    refused = await wait_condition(kube, namespace, "down", "Created", "SourceServerStateInvalid")
    created = condition(refused, "Created")
    assert created["status"] == "False"
    assert created["errorCode"] == wire.SOURCE_SERVER_STATE_INVALID and created["requestId"]
    assert "jobId" not in refused["status"]
    warnings = [e for e in events_for(kube, namespace, "down") if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["SourceServerStateInvalid"]
    assert created["requestId"] in warnings[0]["message"]


async def test_suspend_and_resume_and_orphan_deletion(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    smc.state.seed_source_server(SOURCE)
    smc.state.default_run_seconds = 20.0  # Preparing 2 s, then Syncing
    await start_operator(args=("--namespace", namespace), **FAST)
    kube.apply(managed(namespace, "app", job={"sourceId": SOURCE}, start=True))
    obj = await wait_condition(kube, namespace, "app", "Started", "Started")
    assert not obj["metadata"].get("finalizers")  # Orphan: no finalizer
    job_id = obj["status"]["jobId"]
    patch(kube, namespace, "app", {"suspend": True})
    obj = await wait_condition(kube, namespace, "app", "Suspended", "Stopped")
    assert condition(obj, "Started")["reason"] == "Suspended"
    assert len(smc.state.calls.select(action=wire.STOP_REPLICATION_JOB)) == 1
    patch(kube, namespace, "app", {"suspend": False})
    await wait_condition(kube, namespace, "app", "Suspended", "Resumed")
    obj = await wait_condition(kube, namespace, "app", "Started", "Started")
    assert len(smc.state.calls.select(action=wire.START_REPLICATION_JOB)) == 2
    kube.kubectl("-n", namespace, "delete", "rj", "app")
    assert job_id in smc.state.jobs
    assert smc.state.calls.select(action=wire.DELETE_REPLICATION_JOB) == []


async def test_modify_and_adopt_on_the_real_server(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    smc.state.seed_source_server(SOURCE)
    smc.state.seed_source_server("s-kubeadopt0000001")
    smc.state.seed_job("j-kubeadopt0000001", "s-kubeadopt0000001")
    smc.state.default_run_seconds = 600.0
    await start_operator(args=("--namespace", namespace), **FAST)
    job = {"sourceId": SOURCE, "runOnce": False, "frequency": 2, "maxNumberOfImageToKeep": 2}
    kube.apply(managed(namespace, "mod", job=job, start=True))
    kube.apply(
        {
            "apiVersion": model.API_VERSION,
            "kind": model.KIND,
            "metadata": {"name": "old", "namespace": namespace},
            "spec": {
                "jobId": "j-kubeadopt0000001",
                "start": True,
                "credentialsSecretRef": {"name": SECRET},
            },
        }
    )
    adopted = await wait_condition(kube, namespace, "old", "Created", "Adopted")
    assert adopted["status"]["jobId"] == "j-kubeadopt0000001"
    obj = await wait_condition(kube, namespace, "mod", "Started", "Started")
    job_id = obj["status"]["jobId"]
    # A description changes in any status; the frequency only while Ready or Waiting.
    patch(kube, namespace, "mod", {"job": {**job, "description": "payments database"}})
    await wait_condition(kube, namespace, "mod", "Synced", "Synced")
    assert smc.state.jobs[job_id].description == "payments database"
    patch(
        kube, namespace, "mod", {"job": {**job, "description": "payments database", "frequency": 6}}
    )
    obj = await wait_condition(kube, namespace, "mod", "Synced", "NotModifiableInStatus")
    refused = condition(obj, "Synced")
    assert refused["status"] == "False" and "Running" in refused["message"]
    assert smc.state.jobs[job_id].frequency == 2


async def test_killed_while_a_create_is_in_flight_creates_exactly_one_job(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    source = "s-kubelife00000004"
    smc.state.seed_source_server(source)
    # SMC creates the job at once but holds its answer: the operator is SIGKILLed without it.
    smc.state.add_fault(
        wire.CREATE_REPLICATION_JOB, latency_ms=3000, apply_before_delay=True, count=1
    )
    first = await start_operator(args=("--namespace", namespace), **FAST)
    kube.apply(managed(namespace, "once", job={"sourceId": source}, start=True))
    async with asyncio.timeout(30):
        while not smc.state.calls.select(action=wire.CREATE_REPLICATION_JOB):
            await asyncio.sleep(0.05)
    # The intent was written ahead, through the real API server, before the call.
    written = kube.get("rj", "once", namespace)
    assert condition(written, "Created")["reason"] == "Creating"
    assert written["status"]["actionAttempts"]["Created"] == 1
    await first.kill()
    await start_operator(args=("--namespace", namespace), **FAST)
    obj = await wait_condition(kube, namespace, "once", "Started", "Started")
    uid = obj["metadata"]["uid"]
    mine = [j for j in smc.state.jobs.values() if j.tags.get(model.UID_TAG) == uid]
    assert len(mine) == 1
    assert obj["status"]["jobId"] == mine[0].job_id
    assert "name and tag" in condition(obj, "Created")["message"]
    assert len(smc.state.calls.select(action=wire.START_REPLICATION_JOB)) == 1
