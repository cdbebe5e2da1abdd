"""The SMC adapter's lifecycle actions (the real SDK) against the emulator: every outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from smc_operator import wire
from smc_operator.credentials import AccessKey
from smc_operator.model import JobAttributes, JobTemplate
from smc_operator.outcomes import (
    JobCreated,
    JobsReport,
    SmcAccepted,
    SmcFailure,
    SourceServersReport,
)
from smc_operator.smc import SmcClient
from smc_testbed.emulator import SmcEmulator
from smc_testbed.emulator.serving import parser, time_scale
from smc_testbed.emulator.tls import TlsFiles

from .conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, FakeClock, new_emulator
from .test_smc_client import client_for

SOURCE = "s-lifecycle0001"
KEY = AccessKey(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
REGION = "cn-hangzhou"
TAGS = {"smcoperator.io/uid": "uid-1"}


@pytest.fixture
async def smc(smc_emulator: SmcEmulator) -> AsyncIterator[SmcClient]:
    smc_emulator.state.seed_source_server(SOURCE)
    async with client_for(smc_emulator) as client:
        yield client


def template(**fields: object) -> JobTemplate:
    return JobTemplate.model_validate({"sourceId": SOURCE, **fields})


async def create(
    smc: SmcClient, *, name: str = "team-a-web", token: str = "smc-operator-uid-1", **fields: object
) -> JobCreated | SmcFailure:
    return await smc.create_replication_job(
        template(**fields),
        name=name,
        client_token=token,
        tags=TAGS,
        region_id=REGION,
        access_key=KEY,
    )


async def created(
    smc: SmcClient, *, name: str = "team-a-web", token: str = "smc-operator-uid-1", **fields: object
) -> str:
    outcome = await create(smc, name=name, token=token, **fields)
    assert isinstance(outcome, JobCreated), outcome
    return outcome.job_id


def refused(outcome: object, code: str) -> SmcFailure:
    assert isinstance(outcome, SmcFailure), outcome
    assert outcome.code == code, outcome
    assert outcome.request_id
    return outcome


async def test_create_is_accepted_with_the_template_and_our_tags(
    smc: SmcClient, smc_emulator: SmcEmulator
) -> None:
    outcome = await create(smc, description="web", dataDisks=[{"index": 1, "size": 40}])
    assert isinstance(outcome, JobCreated) and outcome.job_id.startswith("j-")
    (call,) = smc_emulator.state.calls.select(action=wire.CREATE_REPLICATION_JOB)
    assert call.request_id == outcome.request_id
    assert dict(call.params)["SourceId"] == SOURCE and dict(call.params)["Name"] == "team-a-web"
    assert dict(call.params)["ClientToken"] == "smc-operator-uid-1"
    assert dict(call.params)["Tag.1.Key"] == "smcoperator.io/uid"
    report = await smc.describe_replication_jobs([outcome.job_id], region_id=REGION, access_key=KEY)
    assert isinstance(report, JobsReport)
    job = report.jobs[outcome.job_id]
    assert (job.status, job.name, job.description, job.source_id, job.run_once) == (
        wire.JOB_READY,
        "team-a-web",
        "web",
        SOURCE,
        True,
    )
    assert job.tags == TAGS


async def test_the_same_token_creates_nothing_more(
    smc: SmcClient, smc_emulator: SmcEmulator
) -> None:
    first = await created(smc)
    assert await created(smc) == first
    assert len(smc_emulator.state.jobs) == 1
    refused(await create(smc, description="other"), wire.IDEMPOTENT_PARAMETER_MISMATCH)
    assert len(smc_emulator.state.jobs) == 1


async def test_create_refusals(smc: SmcClient, smc_emulator: SmcEmulator) -> None:
    await created(smc)
    # The source server holds the first job.
    refused(await create(smc, name="other", token="t2"), wire.SOURCE_SERVER_STATE_INVALID)
    smc_emulator.state.seed_source_server("s-lifecycle0002")
    refused(await create(smc, token="t3", sourceId="s-lifecycle0002"), wire.NAME_DUPLICATE)
    smc_emulator.state.seed_source_server("s-lifecycle0003", wire.SOURCE_UNAVAILABLE)
    failure = refused(
        await create(smc, name="n4", token="t4", sourceId="s-lifecycle0003"),
        wire.SOURCE_SERVER_STATE_INVALID,
    )
    assert wire.SOURCE_UNAVAILABLE in failure.message
    refused(
        await create(smc, name="n5", token="t5", sourceId="s-neverseeded01"),
        wire.INVALID_PARAMETER,
    )
    smc_emulator.state.max_jobs = 1
    refused(
        await create(smc, name="n6", token="t6", sourceId="s-lifecycle0002"), wire.QUOTA_EXCEEDED
    )
    assert len(smc_emulator.state.jobs) == 1


async def test_find_by_name_and_tag_finds_exactly_the_tagged_job(
    smc: SmcClient, smc_emulator: SmcEmulator
) -> None:
    ours = await created(smc)
    smc_emulator.state.seed_job("j-untagged00000001", name="team-a-web-2")
    found = await smc.find_replication_jobs(
        name="team-a-web", tags=TAGS, region_id=REGION, access_key=KEY
    )
    assert isinstance(found, JobsReport) and list(found.jobs) == [ours]
    other = await smc.find_replication_jobs(
        name="team-a-web-2", tags=TAGS, region_id=REGION, access_key=KEY
    )
    assert isinstance(other, JobsReport) and other.jobs == {}
    (call, _) = smc_emulator.state.calls.select(action=wire.DESCRIBE_REPLICATION_JOBS)
    assert dict(call.params)["Name"] == "team-a-web" and dict(call.params)["Tag.1.Value"] == "uid-1"


async def test_stop_only_while_syncing(
    smc: SmcClient, smc_emulator: SmcEmulator, fake_clock: FakeClock
) -> None:
    job_id = await created(smc)
    refused(
        await smc.stop_replication_job(job_id, region_id=REGION, access_key=KEY),
        wire.INVALID_STATUS,
    )
    assert isinstance(
        await smc.start_replication_job(job_id, region_id=REGION, access_key=KEY), SmcAccepted
    )
    fake_clock.advance(10)
    assert isinstance(
        await smc.stop_replication_job(job_id, region_id=REGION, access_key=KEY), SmcAccepted
    )
    assert smc_emulator.state.job(job_id).status == wire.JOB_STOPPED  # type: ignore[union-attr]


async def test_delete_frees_the_source(
    smc: SmcClient, smc_emulator: SmcEmulator, fake_clock: FakeClock
) -> None:
    job_id = await created(smc)
    assert isinstance(
        await smc.start_replication_job(job_id, region_id=REGION, access_key=KEY), SmcAccepted
    )
    refused(
        await smc.delete_replication_job(job_id, region_id=REGION, access_key=KEY),
        wire.INVALID_STATUS,
    )
    fake_clock.advance(60)  # Finished
    assert isinstance(
        await smc.delete_replication_job(job_id, region_id=REGION, access_key=KEY), SmcAccepted
    )
    report = await smc.describe_replication_jobs([job_id], region_id=REGION, access_key=KEY)
    assert isinstance(report, JobsReport) and report.jobs[job_id].status == wire.JOB_DELETING
    fake_clock.advance(smc_emulator.state.delete_seconds)
    report = await smc.describe_replication_jobs([job_id], region_id=REGION, access_key=KEY)
    assert isinstance(report, JobsReport) and report.jobs == {}
    # The source takes a new job again.
    assert isinstance(await create(smc, token="t2"), JobCreated)


async def test_cut_over_only_a_waiting_incremental_job(
    smc: SmcClient, smc_emulator: SmcEmulator, fake_clock: FakeClock
) -> None:
    full = await created(smc)
    refused(
        await smc.cut_over_replication_job(full, sync_data=False, region_id=REGION, access_key=KEY),
        wire.INVALID_STATUS,
    )
    smc_emulator.state.seed_source_server("s-lifecycle0002")
    incremental = await created(
        smc,
        name="incremental",
        token="t2",
        sourceId="s-lifecycle0002",
        runOnce=False,
        frequency=1,
        maxNumberOfImageToKeep=2,
    )
    refused(
        await smc.cut_over_replication_job(
            incremental, sync_data=False, region_id=REGION, access_key=KEY
        ),
        wire.INVALID_STATUS,
    )
    assert isinstance(
        await smc.start_replication_job(incremental, region_id=REGION, access_key=KEY), SmcAccepted
    )
    fake_clock.advance(60)  # Waiting
    outcome = await smc.cut_over_replication_job(
        incremental, sync_data=False, region_id=REGION, access_key=KEY
    )
    assert isinstance(outcome, SmcAccepted)
    *_, call = smc_emulator.state.calls.select(
        action=wire.CUT_OVER_REPLICATION_JOB, job_id=incremental
    )
    # The SDK writes a bool as Python does ("False"); SMC reads it case-insensitively.
    assert dict(call.params)["SyncData"].lower() == "false"
    assert smc_emulator.state.job(incremental).status == wire.JOB_FINISHED  # type: ignore[union-attr]


async def test_modify_sends_only_what_changes_and_is_refused_by_status(
    smc: SmcClient, smc_emulator: SmcEmulator, fake_clock: FakeClock
) -> None:
    job_id = await created(smc)
    outcome = await smc.modify_replication_job_attribute(
        job_id, JobAttributes(description="new"), region_id=REGION, access_key=KEY
    )
    assert isinstance(outcome, SmcAccepted)
    (call,) = smc_emulator.state.calls.select(action=wire.MODIFY_REPLICATION_JOB_ATTRIBUTE)
    assert {
        k: v for k, v in dict(call.params).items() if k in ("Name", "Description", "Frequency")
    } == {"Description": "new"}
    assert isinstance(
        await smc.start_replication_job(job_id, region_id=REGION, access_key=KEY), SmcAccepted
    )
    fake_clock.advance(60)  # Finished
    refused(
        await smc.modify_replication_job_attribute(
            job_id, JobAttributes(frequency=2), region_id=REGION, access_key=KEY
        ),
        wire.INVALID_STATUS,
    )


async def test_describe_source_servers(smc: SmcClient, smc_emulator: SmcEmulator) -> None:
    outcome = await smc.describe_source_servers(
        [SOURCE, "s-neverseeded01"], region_id=REGION, access_key=KEY
    )
    assert isinstance(outcome, SourceServersReport)
    assert list(outcome.servers) == [SOURCE]
    server = outcome.servers[SOURCE]
    assert (server.source_id, server.state, server.name) == (
        SOURCE,
        wire.SOURCE_AVAILABLE,
        SOURCE,
    )


ACTIONS = [
    wire.CREATE_REPLICATION_JOB,
    wire.STOP_REPLICATION_JOB,
    wire.DELETE_REPLICATION_JOB,
    wire.CUT_OVER_REPLICATION_JOB,
    wire.MODIFY_REPLICATION_JOB_ATTRIBUTE,
    wire.DESCRIBE_REPLICATION_JOBS,
    wire.DESCRIBE_SOURCE_SERVERS,
]


@pytest.mark.parametrize("action", ACTIONS)
async def test_an_internal_error_surfaces_on_every_action(
    action: str, smc: SmcClient, smc_emulator: SmcEmulator
) -> None:
    job_id = await created(smc)
    smc_emulator.state.add_fault(action, code=wire.INTERNAL_ERROR, count=1)
    calls = {
        wire.CREATE_REPLICATION_JOB: lambda: create(smc, token="t2", name="n2"),
        wire.STOP_REPLICATION_JOB: lambda: smc.stop_replication_job(
            job_id, region_id=REGION, access_key=KEY
        ),
        wire.DELETE_REPLICATION_JOB: lambda: smc.delete_replication_job(
            job_id, region_id=REGION, access_key=KEY
        ),
        wire.CUT_OVER_REPLICATION_JOB: lambda: smc.cut_over_replication_job(
            job_id, sync_data=True, region_id=REGION, access_key=KEY
        ),
        wire.MODIFY_REPLICATION_JOB_ATTRIBUTE: lambda: smc.modify_replication_job_attribute(
            job_id, JobAttributes(name="renamed"), region_id=REGION, access_key=KEY
        ),
        wire.DESCRIBE_REPLICATION_JOBS: lambda: smc.find_replication_jobs(
            name="team-a-web", tags=TAGS, region_id=REGION, access_key=KEY
        ),
        wire.DESCRIBE_SOURCE_SERVERS: lambda: smc.describe_source_servers(
            [SOURCE], region_id=REGION, access_key=KEY
        ),
    }
    failure = refused(await calls[action](), wire.INTERNAL_ERROR)  # type: ignore[no-untyped-call]
    assert failure.http_status == 500
    (call,) = smc_emulator.state.calls.select(action=action)[-1:]
    assert call.request_id == failure.request_id


async def test_source_servers_report_what_was_seeded(
    smc: SmcClient, smc_emulator: SmcEmulator
) -> None:
    smc_emulator.state.seed_source_server(
        SOURCE,
        wire.SOURCE_UNAVAILABLE,
        platform="Windows Server 2019",
        agent_version="2.9.0",
        error_code="SourceServer.Offline",
        status_info="the agent stopped answering",
    )
    outcome = await smc.describe_source_servers([SOURCE], region_id=REGION, access_key=KEY)
    assert isinstance(outcome, SourceServersReport)
    server = outcome.servers[SOURCE]
    assert (server.state, server.platform, server.agent_version) == (
        wire.SOURCE_UNAVAILABLE,
        "Windows Server 2019",
        "2.9.0",
    )
    assert (server.error_code, server.status_info) == (
        "SourceServer.Offline",
        "the agent stopped answering",
    )


def test_the_emulator_flags_set_its_time_scale_and_quota() -> None:
    args = parser("emulator").parse_args(
        ["--hour-seconds", "2", "--delete-seconds", "0.5", "--max-jobs", "3"]
    )
    state = time_scale(args).state()
    assert (state.hour_seconds, state.delete_seconds, state.max_jobs) == (2.0, 0.5, 3)
    defaults = time_scale(parser("emulator").parse_args([])).state()
    assert defaults.max_jobs == wire.MAX_JOBS_PER_ACCOUNT
    with pytest.raises(SystemExit):
        parser("emulator").parse_args(["--max-jobs", "0"])


async def test_create_and_find_over_https(smc_tls: TlsFiles) -> None:
    async with new_emulator(tls=smc_tls) as emulator:
        emulator.state.seed_source_server(SOURCE)
        async with client_for(emulator, ca_file=str(emulator.ca_file)) as smc:
            job_id = await created(smc)
            found = await smc.find_replication_jobs(
                name="team-a-web", tags=TAGS, region_id=REGION, access_key=KEY
            )
    assert isinstance(found, JobsReport) and list(found.jobs) == [job_id]
    assert [c.action for c in emulator.state.calls.select()] == [
        wire.CREATE_REPLICATION_JOB,
        wire.DESCRIBE_REPLICATION_JOBS,
    ]
