"""The FakeSmc's lifecycle actions: truthful by default, scriptable per action, calls logged."""

from __future__ import annotations

from smc_operator import wire
from smc_operator.apis import SmcApi
from smc_operator.model import JobAttributes, JobTemplate
from smc_operator.outcomes import JobCreated, JobsReport, SmcAccepted, SmcFailure
from testkit.fakes import Act, FakeSmc, Script

REGION = "cn-hangzhou"
TEMPLATE = JobTemplate.model_validate({"sourceId": "s-fakesource01"})
BOOM = SmcFailure(wire.INTERNAL_ERROR, "boom", "R-x", 500)


async def create(smc: FakeSmc, token: str = "t1") -> JobCreated | SmcFailure:
    return await smc.create_replication_job(
        TEMPLATE,
        name="web",
        client_token=token,
        tags={"uid": "1"},
        region_id=REGION,
        access_key=None,
    )


async def test_a_fake_is_an_smc_api_with_a_truthful_lifecycle() -> None:
    smc = FakeSmc()
    api: SmcApi = smc
    created = await create(smc)
    assert isinstance(created, JobCreated)
    again = await create(smc)  # the same ClientToken: the same job, nothing new
    assert isinstance(again, JobCreated) and again.job_id == created.job_id
    assert len(smc.jobs) == 1
    found = await api.find_replication_jobs(
        name="web", tags={"uid": "1"}, region_id=REGION, access_key=None
    )
    assert isinstance(found, JobsReport) and list(found.jobs) == [created.job_id]
    stop = await api.stop_replication_job(created.job_id, region_id=REGION, access_key=None)
    assert isinstance(stop, SmcFailure) and stop.code == wire.INVALID_STATUS
    modified = await api.modify_replication_job_attribute(
        created.job_id, JobAttributes(description="d"), region_id=REGION, access_key=None
    )
    assert isinstance(modified, SmcAccepted)
    assert isinstance(
        await api.delete_replication_job(created.job_id, region_id=REGION, access_key=None),
        SmcAccepted,
    )
    assert created.job_id not in smc.jobs
    assert smc.actions(created.job_id) == [
        wire.STOP_REPLICATION_JOB,
        wire.MODIFY_REPLICATION_JOB_ATTRIBUTE,
        wire.DELETE_REPLICATION_JOB,
    ]


async def test_scripts_per_action() -> None:
    smc = FakeSmc(scripts={wire.CREATE_REPLICATION_JOB: lambda: Script(Act.LOST, BOOM)})
    assert await create(smc) == BOOM
    assert len(smc.jobs) == 1  # SMC acted; the answer was lost
    smc.scripts[wire.DELETE_REPLICATION_JOB] = lambda: Script(Act.REFUSED, BOOM)
    (job_id,) = smc.jobs
    assert await smc.delete_replication_job(job_id, region_id=REGION, access_key=None) == BOOM
    assert job_id in smc.jobs
