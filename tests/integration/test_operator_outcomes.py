"""End to end, one test per row of the ``Started`` table (docs/design.md).

The real operator process (``smc-operator run``) against the emulated Kubernetes API and the SMC
emulator. Each test asserts what a user sees: the condition, ``errorCode``, ``requestId`` and
``attempts`` in the object, the Events, and the calls SMC received (no hot loop after a final
outcome).
"""

from __future__ import annotations

import asyncio

import pytest

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import EmulatedKubeApi
from testkit.cluster import (
    NAMESPACE,
    SECRET,
    create_rj,
    create_secret,
    describe_calls,
    reason_is,
    seed,
    start_calls,
    started,
    wait_events,
    wait_rj,
)

from .conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, OperatorFactory

JOB = "j-e2e00000000001"


pytestmark = pytest.mark.usefixtures("credentials")


async def settle(seconds: float = 1.0) -> None:
    """Give a (wrong) extra call time to happen before asserting that none did."""
    await asyncio.sleep(seconds)


async def test_success_records_the_request_id(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    await start_operator()
    await create_rj(kube_api, "web", JOB)
    obj = await wait_rj(kube_api, "web", reason_is("Started"))
    condition = started(obj)
    (call,) = start_calls(live_emulator, JOB)
    assert condition["status"] == "True"
    assert condition["requestId"] == call.request_id
    assert "errorCode" not in condition
    assert obj["status"]["attempts"] == 1
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    assert condition["observedGeneration"] == obj["metadata"]["generation"]
    assert live_emulator.state.job(JOB).start_count == 1  # type: ignore[union-attr]
    assert describe_calls(live_emulator) == []  # a fresh request calls Start directly
    assert "finalizers" not in obj["metadata"]
    events = await wait_events(kube_api, "web", bool)
    assert [(e["type"], e["reason"]) for e in events] == [("Normal", "Started")]
    assert call.request_id in events[0]["message"]


async def test_internal_error_is_retried_with_backoff_until_started(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    live_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, job_id=JOB, code=wire.INTERNAL_ERROR, count=2
    )
    await start_operator()
    await create_rj(kube_api, "db", JOB)
    obj = await wait_rj(kube_api, "db", reason_is("Started"))
    calls = start_calls(live_emulator, JOB)
    assert [c.code for c in calls] == [wire.INTERNAL_ERROR, wire.INTERNAL_ERROR, None]
    assert started(obj)["requestId"] == calls[-1].request_id
    assert obj["status"]["attempts"] == 3
    # Every repeat call was preceded by a DescribeReplicationJobs (exactly-once).
    assert len(describe_calls(live_emulator)) == 2
    assert live_emulator.state.job(JOB).start_count == 1  # type: ignore[union-attr]
    events = await wait_events(kube_api, "db", lambda es: len(es) == 3)
    assert [(e["type"], e["reason"]) for e in events] == [
        ("Warning", "Retrying"),
        ("Warning", "Retrying"),
        ("Normal", "Started"),
    ]


async def test_the_retrying_status_lands_with_the_failed_attempt(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    live_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, job_id=JOB, code=wire.INTERNAL_ERROR, count=1
    )
    # Hold the confirmation before the second attempt, to look at the object in between.
    live_emulator.state.add_fault(wire.DESCRIBE_REPLICATION_JOBS, latency_ms=3000, count=1)
    await start_operator()
    await create_rj(kube_api, "db", JOB)
    await live_emulator.wait_for_calls(1, action=wire.DESCRIBE_REPLICATION_JOBS)
    (failed,) = start_calls(live_emulator, JOB)
    obj = await wait_rj(kube_api, "db", lambda o: bool(started(o)), timeout=1)
    condition = started(obj)
    assert (condition["reason"], condition["status"]) == ("Retrying", "Unknown")
    assert condition["errorCode"] == wire.INTERNAL_ERROR
    assert condition["requestId"] == failed.request_id
    assert wire.INTERNAL_ERROR_MESSAGE in condition["message"]
    assert obj["status"]["attempts"] == 1
    await wait_rj(kube_api, "db", reason_is("Started"))


async def test_throttling_retries_on_the_slower_curve(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    live_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, job_id=JOB, code=wire.THROTTLING_USER, count=1
    )
    await start_operator()
    await create_rj(kube_api, "web", JOB)
    throttled = await wait_rj(kube_api, "web", reason_is("Throttled", "Started"))
    if started(throttled)["reason"] == "Throttled":
        assert started(throttled)["errorCode"] == wire.THROTTLING_USER
        assert started(throttled)["status"] == "Unknown"
    obj = await wait_rj(kube_api, "web", reason_is("Started"))
    assert obj["status"]["attempts"] == 2
    assert [c.code for c in start_calls(live_emulator, JOB)] == [wire.THROTTLING_USER, None]


@pytest.mark.parametrize(
    ("seeding", "reason", "code"),
    [
        ({"status": wire.JOB_RUNNING}, "InvalidStatus", wire.INVALID_STATUS),
        ({"status": wire.JOB_FINISHED}, "InvalidStatus", wire.INVALID_STATUS),
        (
            {"source_state": wire.SOURCE_UNAVAILABLE},
            "SourceServerStateInvalid",
            wire.SOURCE_SERVER_STATE_INVALID,
        ),
    ],
)
async def test_smc_refusals_are_final_and_not_retried(
    kube_api: EmulatedKubeApi,
    live_emulator: SmcEmulator,
    start_operator: OperatorFactory,
    seeding: dict[str, str],
    reason: str,
    code: str,
) -> None:
    seed(live_emulator, JOB, **seeding)  # type: ignore[arg-type]
    await start_operator()
    await create_rj(kube_api, "app", JOB)
    obj = await wait_rj(kube_api, "app", reason_is(reason))
    condition = started(obj)
    (call,) = start_calls(live_emulator, JOB)
    assert condition["status"] == "False"
    assert condition["errorCode"] == code
    assert condition["requestId"] == call.request_id
    assert obj["status"]["attempts"] == 1
    assert "is invalid" in condition["message"]
    await settle()
    assert len(start_calls(live_emulator, JOB)) == 1
    events = await wait_events(kube_api, "app", bool)
    assert [(e["type"], e["reason"]) for e in events] == [("Warning", reason)]


async def test_a_client_error_without_a_reason_of_its_own_is_failed_with_smcs_code(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    live_emulator.state.add_fault(
        wire.START_REPLICATION_JOB,
        job_id=JOB,
        code="InvalidParameter.Unexpected",
        http_status=400,
        message="The parameter is not valid for this job.",
        count=1,
    )
    await start_operator()
    await create_rj(kube_api, "odd", JOB)
    obj = await wait_rj(kube_api, "odd", reason_is("Failed"))
    condition = started(obj)
    (call,) = start_calls(live_emulator, JOB)
    assert (condition["status"], condition["errorCode"]) == ("False", "InvalidParameter.Unexpected")
    assert condition["requestId"] == call.request_id
    await settle()
    assert len(start_calls(live_emulator, JOB)) == 1
    events = await wait_events(kube_api, "odd", bool)
    assert [(e["type"], e["reason"]) for e in events] == [("Warning", "Failed")]


@pytest.mark.parametrize(
    ("secret", "code"),
    [
        (("LTAIunknownKeyId0000", "any-secret-value"), wire.INVALID_ACCESS_KEY_NOT_FOUND),
        ((ACCESS_KEY_ID, "the-wrong-secret-value"), wire.SIGNATURE_DOES_NOT_MATCH),
    ],
)
async def test_refused_credentials_are_access_denied(
    kube_api: EmulatedKubeApi,
    live_emulator: SmcEmulator,
    start_operator: OperatorFactory,
    secret: tuple[str, str],
    code: str,
) -> None:
    seed(live_emulator, JOB)
    await create_secret(kube_api, *secret, name="other-credentials")
    await start_operator()
    await create_rj(kube_api, "web", JOB, secret="other-credentials")
    obj = await wait_rj(kube_api, "web", reason_is("AccessDenied"))
    assert started(obj)["errorCode"] == code
    assert started(obj)["status"] == "False"
    await settle()
    assert len(start_calls(live_emulator, JOB)) == 1
    assert live_emulator.state.job(JOB).start_count == 0  # type: ignore[union-attr]


async def test_unknown_job_is_job_not_found(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    await start_operator()
    await create_rj(kube_api, "ghost", "j-neverseeded0001")
    obj = await wait_rj(kube_api, "ghost", reason_is("JobNotFound"))
    assert started(obj)["errorCode"] == wire.JOB_NOT_FOUND
    assert started(obj)["requestId"]


async def test_missing_secret_is_credentials_not_found_without_any_call(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    await start_operator()
    await create_rj(kube_api, "web", JOB, secret="no-such-secret")
    obj = await wait_rj(kube_api, "web", reason_is("CredentialsNotFound"))
    condition = started(obj)
    assert condition["status"] == "False"
    assert f"Secret {NAMESPACE}/no-such-secret not found" in condition["message"]
    assert "retry-requested-at" in condition["message"]
    assert live_emulator.state.calls.all() == []


async def test_retries_exhausted_after_max_attempts(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    live_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, job_id=JOB, code=wire.INTERNAL_ERROR, count=100
    )
    await start_operator(max_attempts="3")
    await create_rj(kube_api, "web", JOB)
    obj = await wait_rj(kube_api, "web", reason_is("RetriesExhausted"))
    calls = start_calls(live_emulator, JOB)
    condition = started(obj)
    assert condition["status"] == "False"
    assert condition["errorCode"] == wire.INTERNAL_ERROR
    assert condition["requestId"] == calls[-1].request_id
    assert obj["status"]["attempts"] == 3
    assert len(calls) == 3
    await settle()
    assert len(start_calls(live_emulator, JOB)) == 3


async def test_start_false_is_not_requested_until_it_is_true(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    from smc_testbed.kubemock import REPLICATION_JOBS

    seed(live_emulator, JOB)
    await start_operator()
    await create_rj(kube_api, "later", JOB, start=False)
    obj = await wait_rj(kube_api, "later", reason_is("NotRequested"))
    assert started(obj)["status"] == "False"
    assert obj["status"]["attempts"] == 0
    assert live_emulator.state.calls.all() == []
    await kube_api.patch(REPLICATION_JOBS, "later", {"spec": {"start": True}}, namespace=NAMESPACE)
    obj = await wait_rj(kube_api, "later", reason_is("Started"))
    assert obj["status"]["observedGeneration"] == 2
    assert len(start_calls(live_emulator, JOB)) == 1


async def test_invalid_spec_past_admission_is_reported_without_a_call(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    await start_operator()
    await create_rj(kube_api, "bad", "J-NOT-A-JOB-ID")
    obj = await wait_rj(kube_api, "bad", reason_is("InvalidSpec"))
    assert "spec.jobId" in started(obj)["message"]
    assert live_emulator.state.calls.all() == []


async def test_retry_annotation_starts_a_new_request(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    from smc_testbed.kubemock import REPLICATION_JOBS

    seed(live_emulator, JOB, status=wire.JOB_RUNNING)
    await start_operator()
    await create_rj(kube_api, "web", JOB)
    await wait_rj(kube_api, "web", reason_is("InvalidStatus"))
    seed(live_emulator, JOB, status=wire.JOB_STOPPED)  # somebody fixed the job in SMC
    await kube_api.patch(
        REPLICATION_JOBS,
        "web",
        {
            "metadata": {
                "annotations": {"smcoperator.io/retry-requested-at": "2026-11-29T12:00:00Z"}
            }
        },
        namespace=NAMESPACE,
    )
    obj = await wait_rj(kube_api, "web", reason_is("Started"))
    assert obj["status"]["attempts"] == 1
    assert obj["status"]["startRequest"]["retryRequestedAt"] == "2026-11-29T12:00:00Z"
    assert len(start_calls(live_emulator, JOB)) == 2
    assert live_emulator.state.job(JOB).start_count == 1  # type: ignore[union-attr]


async def test_a_second_object_for_the_same_job_never_starts_it_twice(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    await start_operator()
    await create_rj(kube_api, "first", JOB)
    await wait_rj(kube_api, "first", reason_is("Started"))
    await create_rj(kube_api, "second", JOB)
    obj = await wait_rj(kube_api, "second", reason_is("DuplicateJobId", "InvalidStatus"))
    assert started(obj)["status"] == "False"
    if started(obj)["reason"] == "DuplicateJobId":
        assert f"{NAMESPACE}/first" in started(obj)["message"]
    assert live_emulator.state.job(JOB).start_count == 1  # type: ignore[union-attr]


async def test_a_secret_in_another_namespace_is_refused_without_reading_it(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    await create_secret(kube_api, ACCESS_KEY_ID, ACCESS_KEY_SECRET, namespace="team-b")
    await start_operator()
    # The CRD has no such field; the emulated API does not prune, like an edited schema would not.
    await create_rj(
        kube_api,
        "sneaky",
        JOB,
        secret=None,
        credentialsSecretRef={"name": SECRET, "namespace": "team-b"},
    )
    obj = await wait_rj(kube_api, "sneaky", reason_is("CredentialsNotFound"))
    assert "may only use a Secret in its own namespace" in started(obj)["message"]
    assert live_emulator.state.calls.all() == []
    reads = kube_api.counters.count(
        verb="get", resource="secrets", namespace="team-b", agent="smc-operator"
    )
    assert reads == 0
