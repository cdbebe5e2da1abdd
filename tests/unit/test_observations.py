from datetime import UTC, datetime, timedelta

import pytest

from smc_operator.conditions import set_condition, started_condition
from smc_operator.model import JobObservation, ReplicationJobSpec, ReplicationJobStatus
from smc_operator.observations import Watched, batches, changed, observe, updates, watched
from smc_operator.outcomes import JobReport
from smc_operator.reasons import Reason

T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def obj(
    n: int,
    *,
    namespace: str = "a",
    secret: str | None = "s",
    region: str = "cn-hangzhou",
    job: JobObservation | None = None,
) -> Watched:
    return Watched(namespace, f"rj-{n}", f"j-{n:010d}", region, secret, job)


def test_objects_sharing_credentials_and_region_share_calls_of_up_to_50_jobs() -> None:
    objects = [obj(n) for n in range(120)]
    objects += [obj(n, region="cn-shanghai") for n in range(3)]
    objects += [obj(n, namespace="b") for n in range(2)]  # same Secret name, other namespace
    objects += [obj(n, secret=None) for n in range(4)]  # the operator's own identity
    result = batches(objects)
    sizes = sorted((b.namespace, b.secret_name or "", b.region_id, len(b.job_ids)) for b in result)
    assert sizes == [
        ("", "", "cn-hangzhou", 4),
        ("a", "s", "cn-hangzhou", 20),
        ("a", "s", "cn-hangzhou", 50),
        ("a", "s", "cn-hangzhou", 50),
        ("a", "s", "cn-shanghai", 3),
        ("b", "s", "cn-hangzhou", 2),
    ]


def test_two_objects_for_one_job_ask_once_and_both_get_the_answer() -> None:
    twins = [obj(1), Watched("a", "twin", "j-0000000001", "cn-hangzhou", "s", None)]
    (batch,) = batches(twins)
    assert batch.job_ids == ["j-0000000001"]
    report = JobReport("j-0000000001", status="Running", progress=5.0)
    assert [u.obj.name for u in updates(batch, {"j-0000000001": report}, T0)] == ["rj-1", "twin"]


@pytest.mark.parametrize(
    ("reason", "polled"),
    [
        (None, True),
        (Reason.STARTED, True),
        (Reason.INVALID_STATUS, True),
        (Reason.RETRYING, True),
        (Reason.CREDENTIALS_NOT_FOUND, False),
        (Reason.ACCESS_DENIED, False),
        (Reason.JOB_NOT_FOUND, False),
        (Reason.INVALID_SPEC, False),
        (Reason.DUPLICATE_JOB_ID, False),
    ],
)
def test_objects_whose_polling_cannot_succeed_are_not_polled(
    reason: Reason | None, polled: bool
) -> None:
    status = ReplicationJobStatus()
    if reason is not None:
        condition = started_condition(reason, "m", generation=1, now=T0)
        status = status.model_copy(update={"conditions": set_condition((), condition)})
    spec = ReplicationJobSpec(job_id="j-0000000001", start=True)
    result = watched("a", "rj", spec, status, "cn-hangzhou")
    assert (result is not None) is polled


def test_only_real_changes_are_written() -> None:
    report = JobReport("j-0000000001", status="Running", business_status="Syncing", progress=40.0)
    first = observe(report, T0)
    later = observe(report, T0 + timedelta(minutes=1))
    assert changed(None, first)
    assert not changed(first, later)  # only observedTime moved
    assert changed(first, observe(JobReport("j-0000000001", status="Finished"), T0))
    (batch,) = batches([obj(1, job=first)])
    assert updates(batch, {"j-0000000001": report}, T0 + timedelta(minutes=1)) == []


def test_a_job_describe_does_not_know_is_explained_once() -> None:
    (batch,) = batches([obj(1, region="cn-beijing")])
    (update,) = updates(batch, {}, T0)
    new = update.job
    assert new is not None
    assert new.status is None
    assert new.status_info is not None and "region cn-beijing" in new.status_info
    (again,) = batches([obj(1, region="cn-beijing", job=new)])
    assert updates(again, {}, T0 + timedelta(minutes=5)) == []
