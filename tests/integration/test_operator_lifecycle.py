"""End to end: restarts while a start is in flight, job status refresh, deletion, API writes."""

from __future__ import annotations

import asyncio

import pytest

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import REPLICATION_JOBS, EmulatedKubeApi
from testkit.cluster import (
    NAMESPACE,
    create_rj,
    describe_calls,
    reason_is,
    seed,
    start_calls,
    started,
    wait_rj,
)

from .conftest import OperatorFactory

JOB = "j-life0000000001"

pytestmark = pytest.mark.usefixtures("credentials")


def is_starting(obj: object) -> bool:
    return reason_is("Starting")(obj)  # type: ignore[arg-type]


@pytest.mark.parametrize("applied_before_kill", [True, False], ids=["started", "not-yet"])
async def test_killed_while_a_start_is_in_flight_starts_exactly_once(
    kube_api: EmulatedKubeApi,
    live_emulator: SmcEmulator,
    start_operator: OperatorFactory,
    applied_before_kill: bool,
) -> None:
    seed(live_emulator, JOB)
    # SMC holds the answer for 2 s; with applyBeforeDelay the job is started before that.
    live_emulator.state.add_fault(
        wire.START_REPLICATION_JOB,
        job_id=JOB,
        latency_ms=2000,
        apply_before_delay=applied_before_kill,
        count=1,
    )
    operator = await start_operator()
    await create_rj(kube_api, "web", JOB)
    await live_emulator.wait_for_calls(1, action=wire.START_REPLICATION_JOB)
    # The intent was written before the call: a restarted operator knows a call may be in flight.
    async with asyncio.timeout(1):
        obj = await kube_api.wait_for(REPLICATION_JOBS, "web", is_starting, namespace=NAMESPACE)
    assert obj["status"]["attempts"] == 1
    await operator.kill()

    await start_operator()
    obj = await wait_rj(kube_api, "web", reason_is("Started"))
    job = live_emulator.state.job(JOB)
    assert job is not None
    assert job.start_count == 1
    successes = [
        c for c in start_calls(live_emulator, JOB) if c.code is None and c.http_status == 200
    ]
    assert len(successes) <= 1
    assert describe_calls(live_emulator), "the restarted operator must confirm before calling again"
    if applied_before_kill:
        # Describe showed the job Running: no second StartReplicationJob call at all.
        assert len(start_calls(live_emulator, JOB)) == 1
        assert "confirmed by DescribeReplicationJobs" in started(obj)["message"]
        assert started(obj)["requestId"] == describe_calls(live_emulator)[0].request_id
        assert obj["status"]["attempts"] == 1
    else:
        assert obj["status"]["attempts"] in (1, 2)


async def test_job_status_is_refreshed_in_batches_and_written_only_on_change(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    jobs = [f"j-life00000000a{n}" for n in range(3)]
    for job_id in jobs:
        seed(live_emulator, job_id, run_seconds=1.0)
    await start_operator(poll_interval_seconds="0.3")
    for n, job_id in enumerate(jobs):
        await create_rj(kube_api, f"web-{n}", job_id)

    def finished(obj: object) -> bool:
        job = (obj.get("status") or {}).get("job") or {}  # type: ignore[attr-defined]
        return job.get("status") == wire.JOB_FINISHED

    for n in range(3):
        obj = await wait_rj(kube_api, f"web-{n}", finished)
        assert obj["status"]["job"]["progress"] == 100
        assert obj["status"]["job"]["observedTime"].endswith("Z")

    # One DescribeReplicationJobs call covers all three jobs (same credentials and region).
    describes = describe_calls(live_emulator)
    assert describes
    assert max(len([k for k, _ in c.params if k.startswith("JobId")]) for c in describes) == 3

    # Nothing changes any more: further refresh cycles write nothing.
    writes = kube_api.counters.writes(resource=REPLICATION_JOBS)
    calls = len(describe_calls(live_emulator))
    await live_emulator.wait_for_calls(calls + 3, action=wire.DESCRIBE_REPLICATION_JOBS)
    assert kube_api.counters.writes(resource=REPLICATION_JOBS) == writes


async def test_two_writes_per_object_and_no_finalizer_on_the_success_path(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    await start_operator()
    await create_rj(kube_api, "web", JOB)
    obj = await wait_rj(kube_api, "web", reason_is("Started"))
    await asyncio.sleep(1)  # anything the operator would still write, it would have by now
    counts = kube_api.counters.per_object(REPLICATION_JOBS)[(NAMESPACE, "web")]
    main = kube_api.counters.count(
        verb="patch", resource=REPLICATION_JOBS, name="web", subresource=None
    )
    assert main == 0, "no finalizer, no progress annotations on the success path"
    creates = 1  # the test's own create
    assert counts.writes - creates == 2  # the write-ahead and the outcome, both to /status
    assert "finalizers" not in obj["metadata"]


async def test_deleting_an_object_while_its_call_is_in_flight_harms_nothing(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    live_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, job_id=JOB, code=wire.INTERNAL_ERROR, latency_ms=1000, count=1
    )
    operator = await start_operator()
    await create_rj(kube_api, "web", JOB)
    await live_emulator.wait_for_calls(1, action=wire.START_REPLICATION_JOB)
    await kube_api.delete(REPLICATION_JOBS, "web", namespace=NAMESPACE)
    await live_emulator.wait_for_calls(1, action=wire.START_REPLICATION_JOB, decided=True)

    # The operator carries on: another object is started, the deleted one is not retried.
    other = "j-life0000000002"
    seed(live_emulator, other)
    await create_rj(kube_api, "next", other)
    await wait_rj(kube_api, "next", reason_is("Started"))
    await asyncio.sleep(1)
    assert len(start_calls(live_emulator, JOB)) == 1
    assert operator.process is not None and operator.process.returncode is None
    assert "Traceback" not in operator.log()


async def test_a_restart_neither_calls_smc_nor_writes_for_settled_objects(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    seed(live_emulator, "j-life0000000003", status=wire.JOB_RUNNING)
    operator = await start_operator()
    await create_rj(kube_api, "web", JOB)
    await create_rj(kube_api, "app", "j-life0000000003")
    await wait_rj(kube_api, "web", reason_is("Started"))
    await wait_rj(kube_api, "app", reason_is("InvalidStatus"))
    await operator.stop()
    writes = kube_api.counters.writes(resource=REPLICATION_JOBS)
    calls = len(live_emulator.state.calls.all())

    restarted = await start_operator()
    # The restarted operator has listed the objects and resumed them once it watches them.
    async with asyncio.timeout(10):
        while "Handler 'start' succeeded" not in restarted.log():
            await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    assert kube_api.counters.writes(resource=REPLICATION_JOBS) == writes
    assert len(live_emulator.state.calls.all()) == calls
