"""Small helpers for end-to-end tests against the emulated Kubernetes API and the SMC emulator."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping
from typing import Any

from smc_operator import model, wire
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import EVENTS, REPLICATION_JOBS, SECRETS, EmulatedKubeApi

NAMESPACE = "team-a"
SECRET = "smc-credentials"


def started(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The ``Started`` condition of an object ({} when there is none)."""
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Started":
            return dict(condition)
    return {}


def reason_is(*reasons: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda obj: started(obj).get("reason") in reasons


def seed(
    smc: SmcEmulator,
    job_id: str,
    *,
    status: str = wire.JOB_READY,
    source_state: str = wire.SOURCE_AVAILABLE,
    run_seconds: float | None = None,
    job_type: int = wire.JOB_TYPE_FULL,
) -> None:
    source = "s-" + job_id.removeprefix("j-")
    smc.state.seed_source_server(source, source_state)
    smc.state.seed_job(job_id, source, status=status, run_seconds=run_seconds, job_type=job_type)


async def create_secret(
    kube: EmulatedKubeApi,
    access_key_id: str,
    access_key_secret: str,
    *,
    name: str = SECRET,
    namespace: str = NAMESPACE,
    security_token: str | None = None,
    raw: Mapping[str, bytes] | None = None,
) -> None:
    if raw is not None:
        data = {key: base64.b64encode(value).decode() for key, value in raw.items()}
    else:
        values = {"accessKeyId": access_key_id, "accessKeySecret": access_key_secret}
        if security_token is not None:
            values["securityToken"] = security_token
        data = {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}
    await kube.ensure_namespace(namespace)
    await kube.create(SECRETS, {"metadata": {"name": name, "namespace": namespace}, "data": data})


async def create_rj(
    kube: EmulatedKubeApi,
    name: str,
    job_id: str,
    *,
    namespace: str = NAMESPACE,
    start: bool = True,
    secret: str | None = SECRET,
    annotations: Mapping[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body_spec: dict[str, Any] = {"jobId": job_id, "start": start, **spec}
    if secret is not None:
        body_spec["credentialsSecretRef"] = {"name": secret}
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = dict(annotations)
    await kube.ensure_namespace(namespace)
    return await kube.create(
        REPLICATION_JOBS,
        {
            "apiVersion": model.API_VERSION,
            "kind": model.KIND,
            "metadata": metadata,
            "spec": body_spec,
        },
    )


async def wait_rj(
    kube: EmulatedKubeApi,
    name: str,
    predicate: Callable[[Mapping[str, Any]], bool],
    *,
    namespace: str = NAMESPACE,
    timeout: float = 20.0,
) -> Mapping[str, Any]:
    async with asyncio.timeout(timeout):
        return await kube.wait_for(REPLICATION_JOBS, name, predicate, namespace=namespace)


async def events_of(
    kube: EmulatedKubeApi, name: str, *, namespace: str = NAMESPACE
) -> list[dict[str, Any]]:
    listing = await kube.list(EVENTS, namespace=namespace)
    return [
        e
        for e in listing.get("items", [])
        if (e.get("involvedObject") or {}).get("name") == name
        and (e.get("involvedObject") or {}).get("kind") == model.KIND
    ]


async def wait_events(
    kube: EmulatedKubeApi,
    name: str,
    predicate: Callable[[list[dict[str, Any]]], bool],
    *,
    namespace: str = NAMESPACE,
    timeout: float = 10.0,
) -> list[dict[str, Any]]:
    """Wait until the object's Events (oldest first) satisfy ``predicate``; event-driven."""
    changed = asyncio.Event()

    def on_commit(resource: Any, _event: Any) -> None:
        if resource.key == EVENTS.key:
            changed.set()

    kube.store.add_listener(on_commit)
    try:
        async with asyncio.timeout(timeout):
            while True:
                changed.clear()
                events = sorted(
                    await events_of(kube, name, namespace=namespace),
                    key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["resourceVersion"]),
                )
                if predicate(events):
                    return events
                await changed.wait()
    finally:
        kube.store.remove_listener(on_commit)


def start_calls(smc: SmcEmulator, job_id: str) -> list[Any]:
    return smc.state.calls.select(action=wire.START_REPLICATION_JOB, job_id=job_id)


def describe_calls(smc: SmcEmulator) -> list[Any]:
    return smc.state.calls.select(action=wire.DESCRIBE_REPLICATION_JOBS)
