"""The emulator's job lifecycle (create, cycles, cut-over, modify, delete) through the real SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from alibabacloud_smc20190601 import models
from alibabacloud_tea_openapi.exceptions import ClientException

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator

from .conftest import FakeClock

if TYPE_CHECKING:
    from alibabacloud_smc20190601.client import Client

SOURCE = "s-lifecycle0001"


def create_request(**overrides: Any) -> models.CreateReplicationJobRequest:
    fields: dict[str, Any] = {
        "region_id": "cn-hangzhou",
        "source_id": SOURCE,
        "name": "team-a-web-01",
        "client_token": "smc-operator-5f0c3d1e-uid",
        "tag": [models.CreateReplicationJobRequestTag(key="smcoperator.io/uid", value="uid-1")],
    }
    fields.update(overrides)
    return models.CreateReplicationJobRequest(**fields)


async def create(sdk_client: Client, **overrides: Any) -> str:
    response = await sdk_client.create_replication_job_async(create_request(**overrides))
    assert response.body.request_id
    job_id: str = response.body.job_id
    return job_id


async def describe(sdk_client: Client, **filters: Any) -> list[Any]:
    response = await sdk_client.describe_replication_jobs_async(
        models.DescribeReplicationJobsRequest(region_id="cn-hangzhou", **filters)
    )
    return list(response.body.replication_jobs.replication_job)


async def refused(call: Any) -> tuple[int, str]:
    with pytest.raises(ClientException) as caught:
        await call
    return caught.value.status_code, caught.value.code


@pytest.fixture(autouse=True)
def source(smc_emulator: SmcEmulator) -> None:
    smc_emulator.state.seed_source_server(SOURCE)


async def test_create_is_idempotent_by_client_token(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    first = await create(sdk_client)
    again = await create(sdk_client)
    assert first == again and first.startswith("j-")
    assert len(smc_emulator.state.jobs) == 1
    # The same token with other parameters is refused, and creates nothing.
    status, code = await refused(
        sdk_client.create_replication_job_async(create_request(description="other"))
    )
    assert (status, code) == (400, wire.IDEMPOTENT_PARAMETER_MISMATCH)
    (job,) = await describe(sdk_client, job_id=[first])
    assert (job.status, job.name, job.source_id) == ("Ready", "team-a-web-01", SOURCE)
    assert [(t.key, t.value) for t in job.tags.tag] == [("smcoperator.io/uid", "uid-1")]


async def test_create_refusals(smc_emulator: SmcEmulator, sdk_client: Client) -> None:
    await create(sdk_client)
    # The source already holds an unfinished job.
    status, code = await refused(
        sdk_client.create_replication_job_async(create_request(client_token="t2", name="n2"))
    )
    assert (status, code) == (400, wire.SOURCE_SERVER_STATE_INVALID)
    smc_emulator.state.seed_source_server("s-other")
    status, code = await refused(
        sdk_client.create_replication_job_async(
            create_request(client_token="t3", source_id="s-other")
        )
    )
    assert (status, code) == (400, wire.NAME_DUPLICATE)
    smc_emulator.state.seed_source_server("s-down", wire.SOURCE_UNAVAILABLE)
    status, code = await refused(
        sdk_client.create_replication_job_async(
            create_request(client_token="t4", source_id="s-down", name="n4")
        )
    )
    assert (status, code) == (400, wire.SOURCE_SERVER_STATE_INVALID)
    status, code = await refused(
        sdk_client.create_replication_job_async(
            create_request(client_token="t5", source_id="s-other", name="n5", run_once=False)
        )
    )
    assert (status, code) == (400, wire.MISSING_PARAMETER)
    smc_emulator.state.max_jobs = 1
    status, code = await refused(
        sdk_client.create_replication_job_async(
            create_request(client_token="t6", source_id="s-other", name="n6")
        )
    )
    assert (status, code) == (400, wire.QUOTA_EXCEEDED)


async def test_an_incremental_job_cycles_until_cut_over(
    smc_emulator: SmcEmulator, sdk_client: Client, fake_clock: FakeClock
) -> None:
    smc_emulator.state.hour_seconds = 10.0  # one Frequency hour = 10 s of the fake clock
    job_id = await create(sdk_client, run_once=False, frequency=2, max_number_of_image_to_keep=3)
    await sdk_client.start_replication_job_async(models.StartReplicationJobRequest(job_id=job_id))
    run = smc_emulator.state.jobs[job_id].run_seconds
    fake_clock.advance(run)
    (job,) = await describe(sdk_client, job_id=[job_id])
    assert (job.status, job.run_once, job.frequency, job.image_id) == (
        "Waiting",
        False,
        2,
        "m-" + job_id.removeprefix("j-"),
    )
    fake_clock.advance(20.0)  # the next cycle begins after Frequency hours
    (job,) = await describe(sdk_client, job_id=[job_id])
    assert job.status == "Running"
    status, code = await refused(
        sdk_client.cut_over_replication_job_async(
            models.CutOverReplicationJobRequest(job_id=job_id)
        )
    )
    assert (status, code) == (400, wire.INVALID_STATUS)
    fake_clock.advance(run)
    await sdk_client.cut_over_replication_job_async(
        models.CutOverReplicationJobRequest(job_id=job_id, sync_data=True)
    )
    (job,) = await describe(sdk_client, job_id=[job_id])
    assert job.status == "Running"  # the last sync
    fake_clock.advance(run)
    (job,) = await describe(sdk_client, job_id=[job_id])
    assert job.status == "Finished"
    assert smc_emulator.state.jobs[job_id].cycles == 2


async def test_a_full_job_cannot_be_cut_over(sdk_client: Client) -> None:
    job_id = await create(sdk_client)
    status, code = await refused(
        sdk_client.cut_over_replication_job_async(
            models.CutOverReplicationJobRequest(job_id=job_id)
        )
    )
    assert (status, code) == (400, wire.INVALID_STATUS)


async def test_modify_follows_the_per_field_status_rules(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    job_id = await create(sdk_client, run_once=False, frequency=2, max_number_of_image_to_keep=3)
    await sdk_client.modify_replication_job_attribute_async(
        models.ModifyReplicationJobAttributeRequest(job_id=job_id, frequency=4, description="d")
    )
    await sdk_client.start_replication_job_async(models.StartReplicationJobRequest(job_id=job_id))
    # Running: the name may change, the frequency may not.
    await sdk_client.modify_replication_job_attribute_async(
        models.ModifyReplicationJobAttributeRequest(job_id=job_id, name="renamed")
    )
    status, code = await refused(
        sdk_client.modify_replication_job_attribute_async(
            models.ModifyReplicationJobAttributeRequest(job_id=job_id, frequency=6)
        )
    )
    assert (status, code) == (400, wire.INVALID_STATUS)
    (job,) = await describe(sdk_client, job_id=[job_id])
    assert (job.name, job.description, job.frequency) == ("renamed", "d", 4)
    smc_emulator.state.seed_source_server("s-second")
    other = await create(sdk_client, client_token="t-other", source_id="s-second", name="other")
    status, code = await refused(
        sdk_client.modify_replication_job_attribute_async(
            models.ModifyReplicationJobAttributeRequest(job_id=other, name="renamed")
        )
    )
    assert (status, code) == (400, wire.NAME_DUPLICATE)


async def test_delete_shows_deleting_then_the_job_is_gone(
    smc_emulator: SmcEmulator, sdk_client: Client, fake_clock: FakeClock
) -> None:
    job_id = await create(sdk_client)
    await sdk_client.start_replication_job_async(models.StartReplicationJobRequest(job_id=job_id))
    status, code = await refused(
        sdk_client.delete_replication_job_async(models.DeleteReplicationJobRequest(job_id=job_id))
    )
    assert (status, code) == (400, wire.INVALID_STATUS)  # not while Running
    fake_clock.advance(smc_emulator.state.jobs[job_id].run_seconds)
    await sdk_client.delete_replication_job_async(models.DeleteReplicationJobRequest(job_id=job_id))
    (job,) = await describe(sdk_client, job_id=[job_id])
    assert job.status == "Deleting"
    fake_clock.advance(smc_emulator.state.delete_seconds)
    assert await describe(sdk_client, job_id=[job_id]) == []
    # The source takes a new job again.
    assert await create(sdk_client, client_token="t-new", name="again") != job_id


async def test_describe_filters_by_tag_and_name(sdk_client: Client) -> None:
    job_id = await create(sdk_client)
    tagged = await describe(
        sdk_client,
        tag=[models.DescribeReplicationJobsRequestTag(key="smcoperator.io/uid", value="uid-1")],
    )
    assert [job.job_id for job in tagged] == [job_id]
    assert (
        await describe(
            sdk_client,
            tag=[models.DescribeReplicationJobsRequestTag(key="smcoperator.io/uid", value="other")],
        )
        == []
    )
    assert [job.job_id for job in await describe(sdk_client, name="team-a-web-01")] == [job_id]


async def test_a_create_whose_answer_is_lost_is_found_by_its_token_name_and_tag(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    # SMC creates the job, then answers InternalError: the operator cannot know the JobId.
    smc_emulator.state.add_fault(
        wire.CREATE_REPLICATION_JOB, code=wire.INTERNAL_ERROR, apply=True, count=1
    )
    with pytest.raises(Exception, match=wire.INTERNAL_ERROR):
        await create(sdk_client)
    (job_id,) = smc_emulator.state.jobs
    # Found by name and tag before any repeat, and a repeat with the token creates nothing new.
    (found,) = await describe(
        sdk_client,
        name="team-a-web-01",
        tag=[models.DescribeReplicationJobsRequestTag(key="smcoperator.io/uid", value="uid-1")],
    )
    assert found.job_id == job_id
    assert await create(sdk_client) == job_id
    assert len(smc_emulator.state.jobs) == 1
    assert [c.action for c in smc_emulator.state.calls.select()] == [
        wire.CREATE_REPLICATION_JOB,
        wire.DESCRIBE_REPLICATION_JOBS,
        wire.CREATE_REPLICATION_JOB,
    ]
