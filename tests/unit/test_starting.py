"""The real Starter over in-memory fakes of SMC and Kubernetes: the I/O steps in their order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smc_operator import wire
from smc_operator.apis import KubeError
from smc_operator.conditions import STARTED
from smc_operator.credentials import AccessKey
from smc_operator.decide import Limits, Observed, Verdict
from smc_operator.model import (
    CutOverRequest,
    JobTemplate,
    ReplicationJobSpec,
    ReplicationJobStatus,
    SecretReference,
)
from smc_operator.outcomes import SmcFailure
from smc_operator.starting import ObjectRef, Starter, status_patch
from testkit.fakes import Act, Crash, FakeKube, FakeSmc, Script
from testkit.verdicts import half

T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
JOB = "j-starter000000000001"
NS, NAME = "team-a", "web-01"
LIMITS = Limits(max_attempts=3, backoff_base_seconds=1.0, backoff_max_seconds=8.0)
INTERNAL = SmcFailure(wire.INTERNAL_ERROR, "try again", "R-err", 500)


def world(job_status: str = wire.JOB_READY) -> tuple[FakeSmc, FakeKube, Starter]:
    smc = FakeSmc(jobs={JOB: job_status})
    kube = FakeKube()
    kube.add(NS, NAME)
    starter = Starter(smc, kube, LIMITS, "cn-hangzhou", clock=lambda: T0, random=half)
    return smc, kube, starter


async def run(kube: FakeKube, starter: Starter, *, secret: str | None = None) -> Verdict:
    """One handler run: observe the stored object, attempt, and record the verdict as kopf does."""
    stored = kube.objects[(NS, NAME)]
    ref = SecretReference(name=secret) if secret else None
    observed = Observed(
        generation=1,
        retry_requested_at=None,
        spec=ReplicationJobSpec(job_id=JOB, start=True, credentials_secret_ref=ref),
        status=ReplicationJobStatus.model_validate(stored.status),
    )
    verdict = await starter.attempt(ObjectRef(NS, NAME, str(stored.resource_version)), observed)
    if verdict.write is not None:
        kube.apply(NS, NAME, status_patch(verdict.write))
    return verdict


def started(kube: FakeKube) -> dict[str, object]:
    status = ReplicationJobStatus.model_validate(kube.objects[(NS, NAME)].status)
    condition = status.condition(STARTED)
    assert condition is not None
    return {**condition.to_wire(), "attempts": status.attempts}


async def test_a_start_writes_the_intent_first_then_calls_start_once() -> None:
    smc, kube, starter = world()
    verdict = await run(kube, starter)
    assert smc.actions(JOB) == [wire.START_REPLICATION_JOB]
    # The write-ahead landed before the call; kopf's patch records the outcome.
    assert [w[1]["conditions"][0]["reason"] for w in kube.writes] == ["Starting", "Started"]
    assert started(kube)["requestId"] == smc.accepted[JOB][0]
    assert verdict.final and not verdict.failed and verdict.retry_in is None
    assert [(e.type, e.reason) for e in verdict.events] == [("Normal", "Started")]


async def test_a_retry_asks_describe_before_calling_start_again() -> None:
    smc, kube, starter = world()
    scripts = iter([Script(Act.REFUSED, INTERNAL)])
    smc.start_script = lambda: next(scripts, Script())
    first = await run(kube, starter)
    assert first.retry_in is not None and first.metric == "Retrying"
    assert started(kube)["reason"] == "Retrying"
    await run(kube, starter)
    assert smc.actions(JOB) == [
        wire.START_REPLICATION_JOB,
        wire.DESCRIBE_REPLICATION_JOBS,
        wire.START_REPLICATION_JOB,
    ]
    assert started(kube)["reason"] == "Started" and started(kube)["attempts"] == 2


async def test_a_crash_after_smc_started_the_job_is_confirmed_not_repeated() -> None:
    smc, kube, starter = world()
    smc.start_script = lambda: Script(Act.CRASH_AFTER)
    with pytest.raises(Crash, match="after StartReplicationJob"):
        await run(kube, starter)
    assert started(kube)["reason"] == "Starting"  # only the intent landed
    smc.start_script = lambda: Script()
    restarted = Starter(smc, kube, LIMITS, "cn-hangzhou", clock=lambda: T0, random=half)
    await run(kube, restarted)
    assert smc.starts[JOB] == 1
    assert smc.actions(JOB) == [wire.START_REPLICATION_JOB, wire.DESCRIBE_REPLICATION_JOBS]
    assert "confirmed by DescribeReplicationJobs" in str(started(kube)["message"])


async def test_a_lost_outcome_write_is_recorded_again_with_smcs_request_id() -> None:
    smc, kube, starter = world()
    stored = kube.objects[(NS, NAME)]
    observed = Observed(1, None, ReplicationJobSpec(job_id=JOB, start=True), ReplicationJobStatus())
    await starter.attempt(ObjectRef(NS, NAME, str(stored.resource_version)), observed)
    # kopf's patch with the outcome was lost: the object still shows the intent.
    verdict = await run(kube, starter)
    assert smc.actions(JOB) == [wire.START_REPLICATION_JOB]  # no Describe, no second Start
    assert started(kube)["requestId"] == smc.accepted[JOB][0]
    assert verdict.events == ()  # announced the first time


async def test_a_lost_outcome_write_keeps_smcs_request_id_when_a_later_step_goes_on() -> None:
    # After the accepted Start the cut-over step looks at the job (a second call in the same
    # run): the start is settled by a verdict before the last one, and still remembered.
    smc, kube, starter = world()
    stored = kube.objects[(NS, NAME)]
    spec = ReplicationJobSpec(job_id=JOB, start=True, cut_over=CutOverRequest())
    observed = Observed(1, None, spec, ReplicationJobStatus())
    first = await starter.attempt(ObjectRef(NS, NAME, str(stored.resource_version)), observed)
    assert smc.actions(JOB) == [wire.START_REPLICATION_JOB, wire.DESCRIBE_REPLICATION_JOBS]
    assert first.final
    # kopf's patch with the outcome was lost: the object still shows the intent.
    again = Observed(1, None, spec, ReplicationJobStatus.model_validate(stored.status))
    await starter.attempt(ObjectRef(NS, NAME, str(stored.resource_version)), again)
    assert smc.actions(JOB).count(wire.START_REPLICATION_JOB) == 1
    written = await starter.attempt(ObjectRef(NS, NAME, str(stored.resource_version)), again)
    assert written.write is not None
    condition = written.write.condition(STARTED)
    assert condition is not None and condition.request_id == smc.accepted[JOB][0]


async def test_a_failed_intent_keeps_what_the_calls_before_it_settled() -> None:
    # The job is created; the start's intent then fails (the object changed meanwhile): the
    # created job's ID, the create's RequestId and its Event are still recorded.
    smc = FakeSmc()
    kube = FakeKube()
    stored = kube.add(NS, NAME)
    starter = Starter(smc, kube, LIMITS, "cn-hangzhou", clock=lambda: T0, random=half)
    writes = iter([None, KubeError(409, "Conflict", "changed")])
    kube.write_failure = lambda: next(writes, None)
    spec = ReplicationJobSpec(job=JobTemplate(source_id="s-starter000000001"), start=True)
    observed = Observed(1, None, spec, ReplicationJobStatus(), namespace=NS, name=NAME, uid="uid-1")
    verdict = await starter.attempt(ObjectRef(NS, NAME, str(stored.resource_version)), observed)
    assert [action for action, _ in smc.calls] == [wire.CREATE_REPLICATION_JOB]
    assert verdict.write is not None and verdict.write.job_id in smc.jobs
    created = verdict.write.condition("Created")
    assert created is not None and created.reason == "Created" and created.request_id
    assert ("Normal", "Created") in [(e.type, e.reason) for e in verdict.events]


async def test_an_unreadable_secret_is_final_and_calls_nothing() -> None:
    smc, kube, starter = world()
    kube.secrets[(NS, "creds")] = "Secret team-a/creds has no key accessKeySecret"
    verdict = await run(kube, starter, secret="creds")
    assert smc.calls == []
    assert started(kube)["reason"] == "CredentialsNotFound"
    assert verdict.failed and "accessKeySecret" in verdict.message


async def test_the_secrets_key_signs_the_call() -> None:
    smc, kube, starter = world()
    key = AccessKey("LTAIfake0000000001", "s3cret")
    kube.secrets[(NS, "creds")] = key
    await run(kube, starter, secret="creds")
    assert smc.secrets_seen == {(NS, "creds"): key}
    assert started(kube)["reason"] == "Started"


@pytest.mark.parametrize(
    ("failure", "retry_in"),
    [
        (KubeError(500, "InternalError", "etcd timeout"), 5.0),
        (KubeError(0, "Unreachable", "connection refused"), 5.0),
    ],
)
async def test_an_intent_that_does_not_land_calls_nothing(
    failure: KubeError, retry_in: float
) -> None:
    smc, kube, starter = world()
    kube.write_failure = lambda: failure
    verdict = await run(kube, starter)
    assert smc.calls == []
    assert verdict.write is None and verdict.retry_in == retry_in
    assert "could not record the intent" in verdict.message


async def test_a_changed_object_is_decided_again_and_a_deleted_one_left_alone() -> None:
    smc, kube, starter = world()
    stored = kube.objects[(NS, NAME)]
    observed = Observed(1, None, ReplicationJobSpec(job_id=JOB, start=True), ReplicationJobStatus())
    stale = await starter.attempt(ObjectRef(NS, NAME, str(stored.resource_version - 1)), observed)
    assert stale.retry_in == 1.0 and stale.write is None
    del kube.objects[(NS, NAME)]
    gone = await starter.attempt(ObjectRef(NS, NAME, "1"), observed)
    assert gone.retry_in is None and gone.write is None and not gone.failed
    assert smc.calls == []
