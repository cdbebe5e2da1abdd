"""End to end: the operator process manages the whole job (create, adopt, suspend, cut over,
modify, delete) against the SMC emulator over HTTPS and the Kubernetes API stand-in.

Each test asserts what a user sees: the conditions (with SMC's RequestId), ``status.jobId``, the
Events, and the calls the emulator received.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from smc_operator import model, wire
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import REPLICATION_JOBS, EmulatedKubeApi
from testkit.cluster import NAMESPACE, SECRET, seed, wait_events, wait_rj

from .conftest import OperatorFactory

pytestmark = pytest.mark.usefixtures("credentials")

SOURCE = "s-manage0000000001"
#: Fast waits: the operator looks at SMC again every second.
FAST = {"poll_interval_seconds": "1", "backoff_base_seconds": "0.2"}


def condition(obj: Mapping[str, Any], type_: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return {}


def has(type_: str, *reasons: str) -> Any:
    return lambda obj: condition(obj, type_).get("reason") in reasons


async def create_managed(
    kube: EmulatedKubeApi, name: str, job: Mapping[str, Any], **spec: Any
) -> dict[str, Any]:
    await kube.ensure_namespace(NAMESPACE)
    body_spec = {"job": dict(job), "credentialsSecretRef": {"name": SECRET}, **spec}
    return await kube.create(
        REPLICATION_JOBS,
        {
            "apiVersion": model.API_VERSION,
            "kind": model.KIND,
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": body_spec,
        },
    )


async def patch_spec(kube: EmulatedKubeApi, name: str, spec: Mapping[str, Any]) -> None:
    await kube.patch(REPLICATION_JOBS, name, {"spec": dict(spec)}, namespace=NAMESPACE)


def calls(smc: SmcEmulator, action: str) -> list[Any]:
    return smc.state.calls.select(action=action)


async def test_create_then_start_then_finished(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    live_emulator.state.seed_source_server(SOURCE)
    live_emulator.state.default_run_seconds = 1.0
    await start_operator(**FAST)
    created = await create_managed(
        kube_api, "web", {"sourceId": SOURCE, "description": "web tier"}, start=True
    )
    uid = created["metadata"]["uid"]
    obj = await wait_rj(kube_api, "web", has("Started", "Started"))
    job_id = obj["status"]["jobId"]
    created_condition = condition(obj, "Created")
    assert (created_condition["status"], created_condition["reason"]) == ("True", "Created")
    assert created_condition["requestId"]
    assert condition(obj, "Synced")["reason"] == "Synced"
    (create,) = calls(live_emulator, wire.CREATE_REPLICATION_JOB)
    assert dict(create.params)["ClientToken"] == f"smc-operator-{uid}"
    assert dict(create.params)["Name"] == f"{NAMESPACE}-web"
    assert dict(create.params)["SourceId"] == SOURCE
    job = live_emulator.state.jobs[job_id]
    assert job.tags[model.UID_TAG] == uid
    assert len(calls(live_emulator, wire.START_REPLICATION_JOB)) == 1
    finished = await wait_rj(
        kube_api,
        "web",
        lambda o: ((o.get("status") or {}).get("job") or {}).get("status") == "Finished",
    )
    assert finished["status"]["job"]["imageId"].startswith("m-")
    assert finished["status"]["sourceServer"]["state"] == wire.SOURCE_AVAILABLE
    events = await wait_events(
        kube_api, "web", lambda es: {"Created", "Started"} <= {e["reason"] for e in es}
    )
    assert all(e["type"] == "Normal" for e in events if e["reason"] in ("Created", "Started"))


async def test_a_refused_create_says_why_with_smc_code(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    live_emulator.state.seed_source_server(SOURCE, wire.SOURCE_UNAVAILABLE)
    await start_operator(**FAST)
    await create_managed(kube_api, "web", {"sourceId": SOURCE}, start=True)
    obj = await wait_rj(kube_api, "web", has("Created", "SourceServerStateInvalid"))
    refused = condition(obj, "Created")
    assert refused["status"] == "False"
    assert refused["errorCode"] == wire.SOURCE_SERVER_STATE_INVALID
    assert refused["requestId"]
    assert "jobId" not in obj["status"]
    assert calls(live_emulator, wire.START_REPLICATION_JOB) == []


async def test_adopting_an_existing_job(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, "j-adopt0000000001")
    await start_operator(**FAST)
    await kube_api.ensure_namespace(NAMESPACE)
    await kube_api.create(
        REPLICATION_JOBS,
        {
            "apiVersion": model.API_VERSION,
            "kind": model.KIND,
            "metadata": {"name": "old", "namespace": NAMESPACE},
            "spec": {
                "jobId": "j-adopt0000000001",
                "start": True,
                "credentialsSecretRef": {"name": SECRET},
            },
        },
    )
    obj = await wait_rj(kube_api, "old", has("Created", "Adopted"))
    assert obj["status"]["jobId"] == "j-adopt0000000001"
    (start,) = calls(live_emulator, wire.START_REPLICATION_JOB)
    # The accepted start is what showed SMC knows the job: no call of its own.
    assert condition(obj, "Created")["requestId"] == start.request_id
    assert condition(obj, "Started")["reason"] == "Started"
    assert calls(live_emulator, wire.CREATE_REPLICATION_JOB) == []
    assert calls(live_emulator, wire.DESCRIBE_REPLICATION_JOBS) == [] or all(
        "Name" not in dict(c.params) for c in calls(live_emulator, wire.DESCRIBE_REPLICATION_JOBS)
    )


async def test_incremental_job_cycles_then_is_cut_over_and_finishes(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    live_emulator.state.seed_source_server(SOURCE)
    live_emulator.state.default_run_seconds = 0.5
    live_emulator.state.hour_seconds = 0.5  # an SMC hour between cycles lasts half a second
    await start_operator(**FAST)
    job = {"sourceId": SOURCE, "runOnce": False, "frequency": 1, "maxNumberOfImageToKeep": 2}
    await create_managed(kube_api, "db", job, start=True)
    obj = await wait_rj(kube_api, "db", has("Started", "Started"))
    job_id = obj["status"]["jobId"]
    await wait_rj(
        kube_api, "db", lambda o: live_emulator.state.jobs[job_id].cycles >= 1, timeout=20
    )
    await patch_spec(kube_api, "db", {"cutOver": {"syncData": True}})
    obj = await wait_rj(kube_api, "db", has("CutOver", "CutOver"), timeout=30)
    assert condition(obj, "CutOver")["requestId"]
    (cut,) = calls(live_emulator, wire.CUT_OVER_REPLICATION_JOB)
    assert dict(cut.params)["SyncData"].lower() == "true"
    await wait_rj(
        kube_api,
        "db",
        lambda o: ((o.get("status") or {}).get("job") or {}).get("status") == "Finished",
        timeout=30,
    )
    assert len(calls(live_emulator, wire.CUT_OVER_REPLICATION_JOB)) == 1


async def test_suspend_while_syncing_then_resume(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    live_emulator.state.seed_source_server(SOURCE)
    live_emulator.state.default_run_seconds = 40.0  # Preparing 4 s, then Syncing
    await start_operator(**FAST)
    await create_managed(kube_api, "app", {"sourceId": SOURCE}, start=True)
    obj = await wait_rj(kube_api, "app", has("Started", "Started"))
    job_id = obj["status"]["jobId"]
    await patch_spec(kube_api, "app", {"suspend": True})
    # SMC stops a job only while Syncing: Stopping while it prepares, then Stopped.
    await wait_rj(kube_api, "app", has("Suspended", "Stopping"))
    obj = await wait_rj(kube_api, "app", has("Suspended", "Stopped"), timeout=30)
    assert condition(obj, "Suspended")["status"] == "True"
    assert condition(obj, "Started")["reason"] == "Suspended"
    assert live_emulator.state.jobs[job_id].snapshot(live_emulator.state.now()).status == "Stopped"
    assert len(calls(live_emulator, wire.STOP_REPLICATION_JOB)) == 1
    await patch_spec(kube_api, "app", {"suspend": False})
    obj = await wait_rj(kube_api, "app", has("Started", "Started"))
    assert condition(obj, "Suspended")["reason"] == "Resumed"
    assert len(calls(live_emulator, wire.START_REPLICATION_JOB)) == 2
    assert live_emulator.state.jobs[job_id].snapshot(live_emulator.state.now()).status == "Running"


async def test_modify_allowed_and_refused_by_the_job_status(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    live_emulator.state.seed_source_server(SOURCE)
    live_emulator.state.default_run_seconds = 600.0
    await start_operator(**FAST)
    job = {"sourceId": SOURCE, "runOnce": False, "frequency": 2, "maxNumberOfImageToKeep": 2}
    await create_managed(kube_api, "mod", job, start=True)
    obj = await wait_rj(kube_api, "mod", has("Started", "Started"))
    job_id = obj["status"]["jobId"]
    # A description changes in any status.
    await patch_spec(kube_api, "mod", {"job": {**job, "description": "now with a description"}})
    await wait_rj(
        kube_api, "mod", lambda o: live_emulator.state.jobs[job_id].description != "", timeout=20
    )
    obj = await wait_rj(kube_api, "mod", has("Synced", "Synced"))
    assert live_emulator.state.jobs[job_id].description == "now with a description"
    # The frequency only while Ready or Waiting: the job is Running.
    await patch_spec(
        kube_api, "mod", {"job": {**job, "description": "now with a description", "frequency": 6}}
    )
    obj = await wait_rj(kube_api, "mod", has("Synced", "NotModifiableInStatus"))
    refused = condition(obj, "Synced")
    assert refused["status"] == "False"
    assert "Running" in refused["message"] and "Frequency" in refused["message"]
    assert live_emulator.state.jobs[job_id].frequency == 2
    assert len(calls(live_emulator, wire.MODIFY_REPLICATION_JOB_ATTRIBUTE)) == 1


async def test_delete_policy_delete_removes_the_job_then_the_object(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    live_emulator.state.seed_source_server(SOURCE)
    live_emulator.state.delete_seconds = 1.0
    await start_operator(**FAST)
    await create_managed(kube_api, "tmp", {"sourceId": SOURCE}, deletionPolicy="Delete")
    obj = await wait_rj(kube_api, "tmp", has("Created", "Created"))
    job_id = obj["status"]["jobId"]
    obj = await wait_rj(
        kube_api, "tmp", lambda o: model.FINALIZER in (o["metadata"].get("finalizers") or [])
    )
    await kube_api.delete(REPLICATION_JOBS, "tmp", namespace=NAMESPACE)
    async with asyncio.timeout(30):
        while True:
            listing = await kube_api.list(REPLICATION_JOBS, namespace=NAMESPACE)
            if not [o for o in listing["items"] if o["metadata"]["name"] == "tmp"]:
                break
            await asyncio.sleep(0.2)
    assert job_id not in live_emulator.state.jobs
    assert len(calls(live_emulator, wire.DELETE_REPLICATION_JOB)) == 1
    assert live_emulator.state.source_servers[SOURCE].state == wire.SOURCE_AVAILABLE


async def test_delete_policy_orphan_keeps_the_job(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    live_emulator.state.seed_source_server(SOURCE)
    await start_operator(**FAST)
    await create_managed(kube_api, "keep", {"sourceId": SOURCE})
    obj = await wait_rj(kube_api, "keep", has("Created", "Created"))
    assert not obj["metadata"].get("finalizers")
    job_id = obj["status"]["jobId"]
    await kube_api.delete(REPLICATION_JOBS, "keep", namespace=NAMESPACE)
    async with asyncio.timeout(10):
        while [
            o
            for o in (await kube_api.list(REPLICATION_JOBS, namespace=NAMESPACE))["items"]
            if o["metadata"]["name"] == "keep"
        ]:
            await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # a poll interval: nothing may reach SMC
    assert job_id in live_emulator.state.jobs
    assert calls(live_emulator, wire.DELETE_REPLICATION_JOB) == []


async def test_killed_while_a_create_is_in_flight_creates_exactly_one_job(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    live_emulator.state.seed_source_server(SOURCE)
    # SMC creates the job at once but holds its answer: the operator dies without it.
    live_emulator.state.add_fault(
        wire.CREATE_REPLICATION_JOB, latency_ms=3000, apply_before_delay=True, count=1
    )
    first = await start_operator(**FAST)
    created = await create_managed(kube_api, "once", {"sourceId": SOURCE}, start=True)
    await wait_rj(kube_api, "once", has("Created", "Creating"))
    async with asyncio.timeout(10):
        while not calls(live_emulator, wire.CREATE_REPLICATION_JOB):
            await asyncio.sleep(0.05)
    await first.kill()
    await start_operator(**FAST)
    obj = await wait_rj(kube_api, "once", has("Started", "Started"), timeout=30)
    uid = created["metadata"]["uid"]
    mine = [j for j in live_emulator.state.jobs.values() if j.tags.get(model.UID_TAG) == uid]
    assert len(mine) == 1
    assert obj["status"]["jobId"] == mine[0].job_id
    assert "name and tag" in condition(obj, "Created")["message"]
