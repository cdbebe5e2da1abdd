"""``smc-operator run`` against the real API server and the SMC emulator: the Started table.

What a user sees: the Started condition, ``errorCode``, ``requestId`` and ``attempts`` as
``kubectl get -o json`` shows them, the Events, and what SMC received. Every wait is a
``kubectl wait`` (a watch), never a sleep. ``InvalidSpec`` has no row here: on a real server such
an object never gets past admission (``test_crd.py``), which is the point.
"""

from __future__ import annotations

import asyncio
from typing import Any

from smc_operator import model, wire
from smc_testbed.emulator import SmcEmulator
from testkit.kube import KubeServer
from testkit.running import OperatorFactory

from .conftest import events_for, rj, seed, start_calls, started, wait_reason

#: (name, job, seeding, fault for StartReplicationJob, spec changes) -> (reason, status, code, attempts)
ROWS: list[
    tuple[
        str, dict[str, Any], dict[str, Any] | None, dict[str, Any], tuple[str, str, str | None, int]
    ]
] = [
    ("ok", {}, None, {}, ("Started", "True", None, 1)),
    ("retried", {}, {"code": wire.INTERNAL_ERROR, "count": 2}, {}, ("Started", "True", None, 3)),
    ("throttled", {}, {"code": wire.THROTTLING_USER, "count": 1}, {}, ("Started", "True", None, 2)),
    (
        "running",
        {"status": wire.JOB_RUNNING},
        None,
        {},
        ("InvalidStatus", "False", wire.INVALID_STATUS, 1),
    ),
    (
        "unavailable",
        {"source_state": wire.SOURCE_UNAVAILABLE},
        None,
        {},
        ("SourceServerStateInvalid", "False", wire.SOURCE_SERVER_STATE_INVALID, 1),
    ),
    (
        "badkey",
        {},
        None,
        {"credentialsSecretRef": {"name": "wrong"}},
        ("AccessDenied", "False", wire.SIGNATURE_DOES_NOT_MATCH, 1),
    ),
    (
        "nocreds",
        {},
        None,
        {"credentialsSecretRef": {"name": "missing"}},
        ("CredentialsNotFound", "False", None, 0),
    ),
    (
        "exhausted",
        {},
        {"code": wire.INTERNAL_ERROR, "count": 100},
        {},
        ("RetriesExhausted", "False", wire.INTERNAL_ERROR, 5),
    ),
    (
        "refused",
        {},
        {"code": "InvalidParameter", "http_status": 400, "count": 1},
        {},
        ("Failed", "False", "InvalidParameter", 1),
    ),
    ("later", {}, None, {"start": False}, ("NotRequested", "False", None, 0)),
]


async def test_every_row_of_the_started_table(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    jobs = {}
    for index, (name, seeding, fault, _spec, _) in enumerate(ROWS):
        job = f"j-kuberow{index:08d}"
        jobs[name] = job
        seed(smc, job, **seeding)
        if fault:
            smc.state.add_fault(wire.START_REPLICATION_JOB, job_id=job, **fault)
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "wrong", "namespace": namespace},
            "stringData": {
                "accessKeyId": "LTAIkubeTierKey00001",
                "accessKeySecret": "not-the-secret",
            },
        }
    )
    operator = await start_operator(args=("--namespace", namespace))
    for name, _seeding, _fault, spec, _ in ROWS:
        kube.apply(rj(namespace, name, jobs[name], **spec))
    unknown = "j-kubenotknown01"  # never seeded: SMC answers InvalidJobId.NotFound
    kube.apply(rj(namespace, "unknown", unknown))

    results = await asyncio.gather(
        *(wait_reason(kube, namespace, name, expected[0]) for name, *_, expected in ROWS),
        wait_reason(kube, namespace, "unknown", "JobNotFound"),
    )
    for (name, _seeding, _fault, _spec, (reason, status, code, attempts)), obj in zip(
        ROWS, results, strict=False
    ):
        condition = started(obj)
        assert (condition["reason"], condition["status"]) == (reason, status), name
        assert condition.get("errorCode") == code, name
        assert obj["status"]["attempts"] == attempts, name
        assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"], name
        assert condition["observedGeneration"] == obj["metadata"]["generation"], name
        assert "finalizers" not in obj["metadata"], name
        calls = start_calls(smc, jobs[name])
        assert len(calls) == attempts, name
        if attempts:
            assert condition["requestId"] == calls[-1].request_id, name
    assert started(results[-1])["errorCode"] == wire.JOB_NOT_FOUND
    for name in ("ok", "retried", "throttled"):
        assert smc.state.job(jobs[name]).start_count == 1  # type: ignore[union-attr]

    # Events: one per SMC outcome, Normal for a start, Warning for a failure.
    ok_events = events_for(kube, namespace, "ok")
    assert [(e["type"], e["reason"]) for e in ok_events] == [("Normal", "Started")]
    assert started(results[0])["requestId"] in ok_events[0]["message"]
    retried = sorted((e["type"], e["reason"]) for e in events_for(kube, namespace, "retried"))
    assert retried == [("Normal", "Started"), ("Warning", "Retrying"), ("Warning", "Retrying")]

    # start: false -> true is a new generation and a new request.
    kube.kubectl(
        "-n", namespace, "patch", "rj", "later", "--type=merge", "-p", '{"spec": {"start": true}}'
    )
    later = await wait_reason(kube, namespace, "later", "Started")
    assert later["status"]["observedGeneration"] == 2
    assert operator.process is not None and operator.process.returncode is None
    assert "Traceback" not in operator.log()


async def test_killed_with_a_start_in_flight_starts_exactly_once(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    job = "j-kubeinflight01"
    seed(smc, job)
    # SMC applies the start at once but answers late: the operator dies before it hears.
    smc.state.add_fault(
        wire.START_REPLICATION_JOB, job_id=job, latency_ms=30_000, apply_before_delay=True, count=1
    )
    operator = await start_operator(args=("--namespace", namespace))
    kube.apply(rj(namespace, "inflight", job))
    starting = await wait_reason(kube, namespace, "inflight", "Starting")
    assert started(starting)["status"] == "Unknown"
    assert starting["status"]["attempts"] == 1
    async with asyncio.timeout(60):
        await smc.wait_for_calls(1, action=wire.START_REPLICATION_JOB)
    await operator.kill()
    await operator.start()
    obj = await wait_reason(kube, namespace, "inflight", "Started")
    assert smc.state.job(job).start_count == 1  # type: ignore[union-attr]
    assert len(start_calls(smc, job)) == 1
    assert "confirmed by DescribeReplicationJobs" in started(obj)["message"]


async def test_the_retry_annotation_starts_a_new_request(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    job = "j-kuberetry0001"
    seed(smc, job, status=wire.JOB_RUNNING)
    await start_operator(args=("--namespace", namespace))
    kube.apply(rj(namespace, "web", job))
    await wait_reason(kube, namespace, "web", "InvalidStatus")
    seed(smc, job, status=wire.JOB_STOPPED)  # somebody fixed the job in SMC
    kube.kubectl(
        "-n",
        namespace,
        "annotate",
        "rj",
        "web",
        "--overwrite",
        f"{model.RETRY_ANNOTATION}=2026-12-01T12:00:00Z",
    )
    obj = await wait_reason(kube, namespace, "web", "Started")
    assert obj["status"]["attempts"] == 1
    assert obj["metadata"]["generation"] == 1  # an annotation is not a new generation
    assert len(start_calls(smc, job)) == 2
    assert smc.state.job(job).start_count == 1  # type: ignore[union-attr]


async def test_a_second_object_for_the_same_job_never_starts_it_twice(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    job = "j-kubeduplicate1"
    seed(smc, job)
    await start_operator(args=("--namespace", namespace))
    kube.apply(rj(namespace, "first", job))
    await wait_reason(kube, namespace, "first", "Started")
    kube.apply(rj(namespace, "second", job))
    path = '{.status.conditions[?(@.type=="Started")].status}'
    await asyncio.to_thread(
        kube.kubectl,
        "-n",
        namespace,
        "wait",
        f"--for=jsonpath={path}=False",
        "rj/second",
        "--timeout=60s",
    )
    obj = kube.get("rj", "second", namespace)
    assert started(obj)["reason"] in ("DuplicateJobId", "InvalidStatus")
    if started(obj)["reason"] == "DuplicateJobId":
        assert f"{namespace}/first" in started(obj)["message"]
    assert smc.state.job(job).start_count == 1  # type: ignore[union-attr]


async def test_deleting_an_object_while_its_call_is_in_flight_harms_nothing(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    job, other = "j-kubedeleted001", "j-kubedeleted002"
    seed(smc, job)
    seed(smc, other)
    smc.state.add_fault(
        wire.START_REPLICATION_JOB, job_id=job, code=wire.INTERNAL_ERROR, latency_ms=1000, count=1
    )
    operator = await start_operator(args=("--namespace", namespace))
    kube.apply(rj(namespace, "web", job))
    async with asyncio.timeout(60):
        await smc.wait_for_calls(1, action=wire.START_REPLICATION_JOB)
    kube.kubectl(
        "-n", namespace, "delete", "rj", "web", "--wait=true", "--timeout=30s"
    )  # no finalizer
    async with asyncio.timeout(60):
        await smc.wait_for_calls(1, action=wire.START_REPLICATION_JOB, decided=True)
    # The operator carries on: another object is started; the deleted one is not retried.
    kube.apply(rj(namespace, "next", other))
    await wait_reason(kube, namespace, "next", "Started")
    assert len(start_calls(smc, job)) == 1
    assert operator.process is not None and operator.process.returncode is None
    assert "Traceback" not in operator.log()
