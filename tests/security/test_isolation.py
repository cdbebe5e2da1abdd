"""Tenant isolation: an operator scoped to a namespace list reads and writes nothing outside it.

``smc-operator run --namespace team-a --namespace team-c`` against the emulated API, with
ReplicationJobs and a credentials Secret in ``team-b`` too (created before and while the operator
runs, and changed while it runs). The API's request counters show every request the operator's two clients (kopf's
and its own) made; the objects and the SMC emulator's call log show that nothing in ``team-b`` was
touched. The namespace field a ReplicationJob might use to reach another namespace's Secret is
refused too (the CRD has no such field; the operator refuses it defensively).
"""

from __future__ import annotations

import asyncio

from smc_operator import model, wire
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import EVENTS, REPLICATION_JOBS, SECRETS, EmulatedKubeApi
from testkit.cluster import (
    SECRET,
    create_rj,
    create_secret,
    describe_calls,
    reason_is,
    seed,
    start_calls,
    started,
    wait_rj,
)
from testkit.crdschema import admission_errors

from .conftest import KEY_ID, KEY_SECRET, OperatorFactory

WATCHED = "team-a"
ALSO_WATCHED = "team-c"
OTHER = "team-b"
#: The clients of the operator process (kopf's and the operator's own), by User-Agent product.
OPERATOR_AGENTS = ("kopf", "smc-operator")


def operator_requests(kube: EmulatedKubeApi) -> list[tuple[str, str | None, str | None, str]]:
    """(verb, resource, namespace, agent) of every request the operator process made."""
    return sorted(
        {
            (key.verb, key.resource, key.namespace, key.agent)
            for key in kube.counters.requests
            if key.agent in OPERATOR_AGENTS
        },
        key=str,
    )


async def test_a_namespace_scoped_operator_touches_nothing_outside_its_namespaces(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    jobs = {
        "web": "j-isoa00000000001",
        "sneaky": "j-isoa00000000002",
        "also": "j-isoc00000000001",
        "before": "j-isob00000000001",
        "after": "j-isob00000000002",
    }
    for job_id in jobs.values():
        seed(smc, job_id)
    for namespace in (WATCHED, ALSO_WATCHED, OTHER):
        await create_secret(kube_api, KEY_ID, KEY_SECRET, namespace=namespace)
    await create_rj(kube_api, "before", jobs["before"], namespace=OTHER)

    await start_operator(
        args=("--namespace", WATCHED, "--namespace", ALSO_WATCHED), poll_interval_seconds="0.2"
    )
    await create_rj(kube_api, "after", jobs["after"], namespace=OTHER)
    await create_rj(kube_api, "web", jobs["web"], namespace=WATCHED)
    # The CRD has no namespace field (admission refuses it); the emulated API stores it anyway.
    sneaky_spec = {"jobId": jobs["sneaky"], "start": True}
    sneaky_spec["credentialsSecretRef"] = {"name": SECRET, "namespace": OTHER}
    assert admission_errors(
        {"apiVersion": model.API_VERSION, "kind": model.KIND, "metadata": {}, "spec": sneaky_spec}
    )
    await create_rj(
        kube_api,
        "sneaky",
        jobs["sneaky"],
        namespace=WATCHED,
        secret=None,
        credentialsSecretRef={"name": SECRET, "namespace": OTHER},
    )
    await create_rj(kube_api, "also", jobs["also"], namespace=ALSO_WATCHED)
    web = await wait_rj(kube_api, "web", reason_is("Started"), namespace=WATCHED)
    await wait_rj(kube_api, "also", reason_is("Started"), namespace=ALSO_WATCHED)
    sneaky = await wait_rj(kube_api, "sneaky", reason_is("CredentialsNotFound"), namespace=WATCHED)
    assert "may only use a Secret in its own namespace" in started(sneaky)["message"]
    assert web["status"]["attempts"] == 1

    # Changes in the other namespace while the operator runs: still nothing.
    await kube_api.patch(
        REPLICATION_JOBS, "before", {"spec": {"regionId": "cn-shanghai"}}, namespace=OTHER
    )
    await kube_api.patch(
        SECRETS, SECRET, {"metadata": {"labels": {"rotated": "yes"}}}, namespace=OTHER
    )
    # The refresher polls team-a's job several times meanwhile (0.2 s interval).
    calls = len(describe_calls(smc))
    async with asyncio.timeout(10):
        await smc.wait_for_calls(calls + 3, action=wire.DESCRIBE_REPLICATION_JOBS)
    await asyncio.sleep(0.5)

    # 1. No request of the operator process names another namespace...
    requests = operator_requests(kube_api)
    assert requests, "the counters saw the operator"
    elsewhere = [r for r in requests if r[2] not in (None, WATCHED, ALSO_WATCHED)]
    assert elsewhere == [], elsewhere
    # ... nor reads anything cluster-wide: with named namespaces, kopf's scanning of namespaces
    # and CRDs is off, and only API discovery (non-resource paths) remains.
    cluster_scoped = {r[:2] for r in requests if r[2] is None}
    assert cluster_scoped <= {("get", None)}, cluster_scoped
    # The Secrets it may use are read only by the operator's own client, by name.
    assert kube_api.counters.count(verb="get", resource="secrets", agent="kopf") == 0
    assert kube_api.counters.count(verb=("list", "watch"), resource="secrets") == 0

    # 2. The objects elsewhere are untouched: no status, annotations, finalizers or Events.
    for name in ("before", "after"):
        obj = await kube_api.get(REPLICATION_JOBS, name, namespace=OTHER)
        assert "status" not in obj, obj
        assert not obj["metadata"].get("annotations"), obj
        assert not obj["metadata"].get("finalizers"), obj
    assert (await kube_api.list(EVENTS, namespace=OTHER))["items"] == []

    # 3. SMC never heard of the other namespace's jobs.
    for name in ("before", "after"):
        assert start_calls(smc, jobs[name]) == []
        assert smc.state.calls.select(job_id=jobs[name]) == []
        assert smc.state.job(jobs[name]).start_count == 0  # type: ignore[union-attr]
    assert start_calls(smc, jobs["sneaky"]) == []
