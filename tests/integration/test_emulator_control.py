"""The emulator's /_emulator/ control API over HTTP, and running it as a process."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from alibabacloud_smc20190601 import models
from alibabacloud_smc20190601.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from alibabacloud_tea_openapi.models import Config
from darabonba.exceptions import UnretryableException

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator

from .conftest import FakeClock, SdkClientFactory

JOB = "j-control00000001"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    smc: SmcEmulator,
    method: str,
    path: str,
    body: object = None,
    status: int = 200,
) -> Any:
    async with http.request(method, f"{smc.url}/_emulator{path}", json=body) as response:
        data = await response.json()
        assert response.status == status, data
        return data


async def test_seed_start_and_read_back(
    smc_emulator: SmcEmulator,
    sdk_client: Client,
    http: aiohttp.ClientSession,
    fake_clock: FakeClock,
) -> None:
    server = await call(http, smc_emulator, "POST", "/source-servers", {"sourceId": "s-ctl"})
    assert server == {
        "sourceId": "s-ctl",
        "name": "s-ctl",
        "state": "Available",
        "platform": "CentOS Linux 7",
        "agentVersion": "2.8.5",
        "errorCode": "",
        "statusInfo": "",
        "jobIds": [],
        "creationTime": server["creationTime"],
    }
    job = await call(
        http,
        smc_emulator,
        "POST",
        "/jobs",
        {"jobId": JOB, "sourceId": "s-ctl", "jobType": 1, "runSeconds": 20},
    )
    assert (job["status"], job["startCount"], job["jobType"], job["runSeconds"]) == (
        "Ready",
        0,
        1,
        20.0,
    )
    await sdk_client.start_replication_job_async(models.StartReplicationJobRequest(job_id=JOB))
    fake_clock.advance(20)
    job = await call(http, smc_emulator, "GET", f"/jobs/{JOB}")
    assert (job["status"], job["startCount"], job["progress"]) == ("Waiting", 1, 100.0)
    listed = await call(http, smc_emulator, "GET", "/jobs")
    assert [j["jobId"] for j in listed] == [JOB]
    await call(http, smc_emulator, "GET", "/jobs/j-nope0000", status=404)


async def test_batch_seeding_and_bad_documents(
    smc_emulator: SmcEmulator, http: aiohttp.ClientSession
) -> None:
    jobs = [{"jobId": f"j-batch{n:05d}", "status": "Stopped"} for n in range(100)]
    seeded = await call(http, smc_emulator, "POST", "/jobs", jobs)
    assert len(seeded) == 100
    assert len(smc_emulator.state.jobs) == 100
    for bad in (
        {"sourceId": "s-1"},
        {"jobId": JOB, "status": "Paused"},
        {"jobId": JOB, "runSecs": 5},
        {"jobId": JOB, "jobType": "1"},
        [1, 2],
    ):
        problem = await call(http, smc_emulator, "POST", "/jobs", bad, status=400)
        assert "error" in problem
    await call(http, smc_emulator, "POST", "/faults", {"action": "X"}, status=400)


async def test_faults_over_http(
    smc_emulator: SmcEmulator, sdk_client: Client, http: aiohttp.ClientSession
) -> None:
    smc_emulator.state.seed_job(JOB)
    fault = await call(
        http,
        smc_emulator,
        "POST",
        "/faults",
        {"action": wire.START_REPLICATION_JOB, "jobId": JOB, "code": "InternalError", "count": 2},
    )
    assert (fault["faultId"], fault["httpStatus"], fault["remaining"]) == (1, None, 2)
    request = models.StartReplicationJobRequest(job_id=JOB)
    for _ in range(2):
        with pytest.raises(ServerException):
            await sdk_client.start_replication_job_async(request)
    await sdk_client.start_replication_job_async(request)
    assert await call(http, smc_emulator, "GET", "/faults") == []

    await call(
        http,
        smc_emulator,
        "POST",
        "/faults",
        {"action": "*", "code": "Forbidden.RAM", "probability": 1.0},
    )
    with pytest.raises(ClientException) as caught:
        await sdk_client.describe_replication_jobs_async(models.DescribeReplicationJobsRequest())
    assert (caught.value.code, caught.value.status_code) == ("Forbidden.RAM", 403)
    assert await call(http, smc_emulator, "DELETE", "/faults") == {"cleared": 1}
    await sdk_client.describe_replication_jobs_async(models.DescribeReplicationJobsRequest())


async def test_call_log_filters(
    smc_emulator: SmcEmulator, sdk_client: Client, http: aiohttp.ClientSession
) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.seed_job("j-other0000001")
    await sdk_client.start_replication_job_async(models.StartReplicationJobRequest(job_id=JOB))
    await sdk_client.describe_replication_jobs_async(
        models.DescribeReplicationJobsRequest(job_id=[JOB, "j-other0000001"])
    )
    with pytest.raises(ClientException):
        await sdk_client.start_replication_job_async(models.StartReplicationJobRequest(job_id=JOB))
    await sdk_client.start_replication_job_async(
        models.StartReplicationJobRequest(job_id="j-other0000001")
    )

    calls = await call(http, smc_emulator, "GET", "/calls")
    assert [(c["index"], c["action"], c["httpStatus"], c["code"]) for c in calls] == [
        (0, "StartReplicationJob", 200, None),
        (1, "DescribeReplicationJobs", 200, None),
        (2, "StartReplicationJob", 400, wire.INVALID_STATUS),
        (3, "StartReplicationJob", 200, None),
    ]
    assert set(calls[0]) >= {
        "action",
        "params",
        "accessKeyId",
        "httpStatus",
        "code",
        "requestId",
        "time",
    }
    assert calls[1]["params"] == {"JobId.1": JOB, "JobId.2": "j-other0000001"}
    for_job = await call(http, smc_emulator, "GET", f"/calls?jobId={JOB}")
    assert [c["index"] for c in for_job] == [0, 1, 2]
    starts = await call(http, smc_emulator, "GET", f"/calls?action=StartReplicationJob&jobId={JOB}")
    assert [c["index"] for c in starts] == [0, 2]
    later = await call(http, smc_emulator, "GET", "/calls?since=2")
    assert [c["index"] for c in later] == [2, 3]
    await call(http, smc_emulator, "GET", "/calls?since=-1", status=400)

    assert await call(http, smc_emulator, "POST", "/reset") == {"reset": True}
    assert await call(http, smc_emulator, "GET", "/calls") == []
    assert await call(http, smc_emulator, "GET", "/jobs") == []


async def test_credentials_can_change_while_running(
    smc_emulator: SmcEmulator, make_sdk_client: SdkClientFactory
) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.access_keys["LTAIaddedLater0001"] = "added-secret"
    client = make_sdk_client("LTAIaddedLater0001", "added-secret")
    await client.start_replication_job_async(models.StartReplicationJobRequest(job_id=JOB))


async def _first_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    return line.decode()


@pytest.mark.parametrize("with_key", [True, False])
async def test_runs_as_a_process(with_key: bool) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_ACCESS_KEY")}
    args = [sys.executable, "-m", "smc_testbed.emulator", "--port", "0"]
    if with_key:
        args += ["--access-key", "LTAIprocessKey01:process-secret"]
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        line = await _first_line(process)
        match = re.match(r"SMC emulator listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        assert "process-secret" not in line
        assert ("demo AccessKeyId LTAIdemo" in line) is not with_key
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{match[1]}/_emulator/jobs") as response,
        ):
            assert await response.json() == []
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.communicate()


async def test_stopping_drops_delayed_calls(fake_clock: FakeClock) -> None:
    emulator = SmcEmulator(access_keys={"LTAIstopKey00001": "stop-secret"}, clock=fake_clock)
    await emulator.start()
    try:
        emulator.state.seed_job(JOB)
        emulator.state.add_fault(wire.START_REPLICATION_JOB, latency_ms=60_000)
        client = Client(
            Config(
                access_key_id="LTAIstopKey00001",
                access_key_secret="stop-secret",
                endpoint=emulator.endpoint,
                protocol="http",
            )
        )
        pending = asyncio.create_task(
            client.start_replication_job_async(models.StartReplicationJobRequest(job_id=JOB))
        )
        async with asyncio.timeout(30):
            await emulator.wait_for_calls(1, action=wire.START_REPLICATION_JOB, job_id=JOB)
    finally:
        await emulator.stop()
    with pytest.raises(UnretryableException):
        await pending
    (delayed,) = emulator.state.calls.all()
    assert (delayed.dropped, delayed.http_status) == (True, None)
    job = emulator.state.job(JOB)
    assert job is not None
    assert job.start_count == 0


async def test_wait_for_decided_calls(smc_emulator: SmcEmulator, sdk_client: Client) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, code="InternalError", latency_ms=50)
    pending = asyncio.create_task(
        sdk_client.start_replication_job_async(models.StartReplicationJobRequest(job_id=JOB))
    )
    async with asyncio.timeout(30):
        (decided,) = await smc_emulator.wait_for_calls(1, decided=True)
    assert (decided.http_status, decided.code) == (500, "InternalError")
    with pytest.raises(ServerException):
        await pending
