"""The unmodified Alibaba SDK against the SMC emulator on 127.0.0.1.

These tests pin down both sides: what the emulator sends, and what the SDK (tea-openapi 0.4.6,
darabonba-core) makes of it. Notably, any answer whose body is not JSON (an HTML page, an empty
or truncated body), whatever its HTTP status, surfaces as ``UnretryableException`` with no code
and no status: the caller cannot tell "SMC did it" from "SMC refused".
"""

from __future__ import annotations

import logging
import re

import aiohttp
import pytest
from alibabacloud_smc20190601 import models
from alibabacloud_smc20190601.client import Client
from alibabacloud_tea_openapi.exceptions import (
    ClientException,
    ServerException,
    ThrottlingException,
)
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from alibabacloud_tea_util.models import RuntimeOptions
from darabonba.exceptions import RetryError, UnretryableException

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator

from .conftest import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    STS_ACCESS_KEY_ID,
    STS_ACCESS_KEY_SECRET,
    STS_TOKEN,
    FakeClock,
    SdkClientFactory,
)

JOB = "j-bw526m1vi6x21q0001"
REQUEST_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")


def start_request(job_id: str = JOB) -> models.StartReplicationJobRequest:
    return models.StartReplicationJobRequest(job_id=job_id)


async def start(client: Client, job_id: str = JOB) -> models.StartReplicationJobResponse:
    return await client.start_replication_job_async(start_request(job_id))


def start_count(smc: SmcEmulator, job_id: str = JOB) -> int:
    job = smc.state.job(job_id)
    assert job is not None
    return job.start_count


async def test_start_succeeds_with_a_request_id(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    smc_emulator.state.seed_job(JOB)
    response = await start(sdk_client)
    assert response.status_code == 200
    assert REQUEST_ID.match(response.body.request_id)
    assert response.headers[wire.REQUEST_ID_HEADER] == response.body.request_id
    assert start_count(smc_emulator) == 1
    (call,) = smc_emulator.state.calls.all()
    assert (call.action, call.access_key_id, call.http_status, call.code) == (
        wire.START_REPLICATION_JOB,
        ACCESS_KEY_ID,
        200,
        None,
    )
    assert call.request_id == response.body.request_id
    assert dict(call.params) == {"JobId": JOB}


async def test_start_of_a_running_job_names_its_status(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    smc_emulator.state.seed_job(JOB, status=wire.JOB_RUNNING)
    with pytest.raises(ClientException) as caught:
        await start(sdk_client)
    error = caught.value
    assert (error.code, error.status_code) == (wire.INVALID_STATUS, 400)
    assert (
        "The specified replication job status: Running is invalid. This operation can only be "
        "performed in the following status: Ready, Stopped, InError." in error.message
    )
    assert REQUEST_ID.match(error.request_id)
    assert error.data["Code"] == wire.INVALID_STATUS
    assert start_count(smc_emulator) == 0


async def test_start_needs_an_available_source_server(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    smc_emulator.state.seed_source_server("s-offline", wire.SOURCE_UNAVAILABLE)
    smc_emulator.state.seed_job(JOB, "s-offline")
    with pytest.raises(ClientException) as caught:
        await start(sdk_client)
    assert (caught.value.code, caught.value.status_code) == (wire.SOURCE_SERVER_STATE_INVALID, 400)
    assert "source server status: Unavailable is invalid" in caught.value.message


async def test_unknown_job(sdk_client: Client) -> None:
    with pytest.raises(ClientException) as caught:
        await start(sdk_client, "j-neverseeded0001")
    assert (caught.value.code, caught.value.status_code) == (wire.JOB_NOT_FOUND, 404)


async def test_internal_error(smc_emulator: SmcEmulator, sdk_client: Client) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, code=wire.INTERNAL_ERROR)
    with pytest.raises(ServerException) as caught:
        await start(sdk_client)
    error = caught.value
    assert (error.code, error.status_code) == (wire.INTERNAL_ERROR, 500)
    assert REQUEST_ID.match(error.request_id)
    assert start_count(smc_emulator) == 0  # a code fault refuses the call
    (call,) = smc_emulator.state.calls.all()
    assert (call.http_status, call.code, call.request_id) == (
        500,
        "InternalError",
        error.request_id,
    )
    # The fault was used up: the next call goes through.
    await start(sdk_client)
    assert start_count(smc_emulator) == 1


async def test_internal_error_after_the_start_happened(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, code=wire.INTERNAL_ERROR, apply_before_delay=True
    )
    with pytest.raises(ServerException):
        await start(sdk_client)
    assert start_count(smc_emulator) == 1


async def test_throttling_user(smc_emulator: SmcEmulator, sdk_client: Client) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, code=wire.THROTTLING_USER)
    with pytest.raises(ClientException) as caught:
        await start(sdk_client)
    assert (caught.value.code, caught.value.status_code) == (wire.THROTTLING_USER, 400)
    assert wire.THROTTLING_USER_MESSAGE in caught.value.message


async def test_retry_after_makes_the_sdk_raise_throttling(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, retry_after=3)
    with pytest.raises(ThrottlingException) as caught:
        await start(sdk_client)
    error = caught.value
    assert (error.code, error.status_code, error.retry_after) == (wire.THROTTLING_USER, 400, 3)
    assert not isinstance(error, ClientException)  # a sibling, not a subclass


async def test_service_unavailable(smc_emulator: SmcEmulator, sdk_client: Client) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, code=wire.SERVICE_UNAVAILABLE)
    with pytest.raises(ServerException) as caught:
        await start(sdk_client)
    assert (caught.value.code, caught.value.status_code) == (wire.SERVICE_UNAVAILABLE, 503)


async def test_unknown_access_key(
    smc_emulator: SmcEmulator, make_sdk_client: SdkClientFactory
) -> None:
    smc_emulator.state.seed_job(JOB)
    with pytest.raises(ClientException) as caught:
        await start(make_sdk_client("LTAIunknownKey000", ACCESS_KEY_SECRET))
    assert (caught.value.code, caught.value.status_code) == (wire.INVALID_ACCESS_KEY_NOT_FOUND, 404)
    assert start_count(smc_emulator) == 0
    (call,) = smc_emulator.state.calls.all()
    assert call.access_key_id == "LTAIunknownKey000"


async def test_wrong_secret(smc_emulator: SmcEmulator, make_sdk_client: SdkClientFactory) -> None:
    smc_emulator.state.seed_job(JOB)
    with pytest.raises(ClientException) as caught:
        await start(make_sdk_client(ACCESS_KEY_ID, "not-the-secret"))
    assert (caught.value.code, caught.value.status_code) == (wire.SIGNATURE_DOES_NOT_MATCH, 400)
    assert start_count(smc_emulator) == 0


async def test_sts_token_accepted(
    smc_emulator: SmcEmulator, make_sdk_client: SdkClientFactory
) -> None:
    smc_emulator.state.seed_job(JOB)
    client = make_sdk_client(STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET, STS_TOKEN)
    await start(client)
    assert start_count(smc_emulator) == 1
    assert smc_emulator.state.calls[0].access_key_id == STS_ACCESS_KEY_ID


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("a-stale-token", wire.INVALID_SECURITY_TOKEN_EXPIRED),
        (None, wire.INVALID_SECURITY_TOKEN_MALFORMED),
    ],
)
async def test_sts_token_refused(
    smc_emulator: SmcEmulator, make_sdk_client: SdkClientFactory, token: str | None, code: str
) -> None:
    smc_emulator.state.seed_job(JOB)
    client = make_sdk_client(STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET, token)
    with pytest.raises(ClientException) as caught:
        await start(client)
    assert (caught.value.code, caught.value.status_code) == (code, 400)
    assert start_count(smc_emulator) == 0


async def test_dropped_connection(smc_emulator: SmcEmulator, sdk_client: Client) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, drop=True)
    with pytest.raises(UnretryableException) as caught:
        await start(sdk_client)
    assert isinstance(caught.value.inner_exception, aiohttp.ServerDisconnectedError)
    assert caught.value.code is None
    assert start_count(smc_emulator) == 0
    (call,) = smc_emulator.state.calls.all()
    assert (call.dropped, call.http_status, call.fault_id) == (True, None, 1)


async def test_dropped_connection_after_the_start_happened(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, drop=True, apply_before_delay=True, job_id=JOB
    )
    with pytest.raises(UnretryableException):
        await start(sdk_client)
    assert start_count(smc_emulator) == 1


async def test_timeout_after_the_start_happened(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, latency_ms=30_000, apply_before_delay=True
    )
    with pytest.raises(UnretryableException) as caught:
        await sdk_client.start_replication_job_with_options_async(
            start_request(), RuntimeOptions(read_timeout=200)
        )
    # aiohttp's read timeout is an OSError, which darabonba flattens into RetryError(str(e)).
    assert isinstance(caught.value.inner_exception, RetryError)
    assert "Timeout" in caught.value.inner_exception.message
    assert start_count(smc_emulator) == 1
    (call,) = smc_emulator.state.calls.all()
    assert (call.http_status, call.fault_id) == (200, 1)  # decided before the delay


async def test_timeout_before_the_start_happened(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, latency_ms=30_000)
    with pytest.raises(UnretryableException):
        await sdk_client.start_replication_job_with_options_async(
            start_request(), RuntimeOptions(read_timeout=200)
        )
    # By default the delay comes first: nothing happened yet (stopping the emulator drops it).
    assert start_count(smc_emulator) == 0
    assert smc_emulator.state.calls[0].http_status is None


async def test_describe_filters_and_pages_through_the_sdk_models(
    smc_emulator: SmcEmulator, sdk_client: Client, fake_clock: FakeClock
) -> None:
    state = smc_emulator.state
    for n in range(12):
        state.seed_job(f"j-page{n:04d}", f"s-{n % 2}", run_seconds=100)
    await start(sdk_client, "j-page0004")
    fake_clock.advance(55)

    picked = await sdk_client.describe_replication_jobs_async(
        models.DescribeReplicationJobsRequest(job_id=["j-page0004", "j-page0007", "j-none0000"])
    )
    body = picked.body
    assert (body.total_count, body.page_number, body.page_size) == (2, 1, 10)
    assert REQUEST_ID.match(body.request_id)
    first, second = body.replication_jobs.replication_job
    assert (first.job_id, first.status, first.business_status, first.progress) == (
        "j-page0004",
        "Running",
        "Syncing",
        50.0,
    )
    assert (first.source_id, first.job_type, first.region_id) == ("s-0", 0, "cn-hangzhou")
    assert (second.job_id, second.status, second.progress) == ("j-page0007", "Ready", 0.0)

    paged = await sdk_client.describe_replication_jobs_async(
        models.DescribeReplicationJobsRequest(source_id=["s-1"], page_size=4, page_number=2)
    )
    assert paged.body.total_count == 6
    assert [j.job_id for j in paged.body.replication_jobs.replication_job] == [
        "j-page0009",
        "j-page0011",
    ]
    running = await sdk_client.describe_replication_jobs_async(
        models.DescribeReplicationJobsRequest(status="Running")
    )
    assert [j.job_id for j in running.body.replication_jobs.replication_job] == ["j-page0004"]

    fake_clock.advance(45)
    done = await sdk_client.describe_replication_jobs_async(
        models.DescribeReplicationJobsRequest(job_id=["j-page0004"])
    )
    (job,) = done.body.replication_jobs.replication_job
    assert (job.status, job.progress, job.business_status) == ("Finished", 100.0, "")

    with pytest.raises(ClientException) as caught:
        await sdk_client.describe_replication_jobs_async(
            models.DescribeReplicationJobsRequest(page_size=51)
        )
    assert (caught.value.code, caught.value.status_code) == (wire.INVALID_PARAMETER, 400)


async def test_incremental_job_waits_and_stop(
    smc_emulator: SmcEmulator, sdk_client: Client, fake_clock: FakeClock
) -> None:
    smc_emulator.state.seed_job(JOB, job_type=wire.JOB_TYPE_INCREMENTAL, run_seconds=100)
    smc_emulator.state.seed_job("j-stopme000001", run_seconds=100)
    await start(sdk_client)
    await start(sdk_client, "j-stopme000001")
    with pytest.raises(ClientException) as preparing:
        await sdk_client.stop_replication_job_async(
            models.StopReplicationJobRequest(job_id="j-stopme000001")
        )
    assert "status: Running/Preparing is invalid" in preparing.value.message
    fake_clock.advance(50)
    stopped = await sdk_client.stop_replication_job_async(
        models.StopReplicationJobRequest(job_id="j-stopme000001")
    )
    assert REQUEST_ID.match(stopped.body.request_id)
    fake_clock.advance(50)
    response = await sdk_client.describe_replication_jobs_async(
        models.DescribeReplicationJobsRequest(job_id=[JOB, "j-stopme000001"])
    )
    statuses = {j.job_id: j.status for j in response.body.replication_jobs.replication_job}
    assert statuses == {JOB: "Waiting", "j-stopme000001": "Stopped"}


async def test_describe_source_servers(smc_emulator: SmcEmulator, sdk_client: Client) -> None:
    smc_emulator.state.seed_source_server("s-web1", wire.SOURCE_AVAILABLE, name="web-1")
    smc_emulator.state.seed_job(JOB, "s-web1")
    response = await sdk_client.describe_source_servers_async(
        models.DescribeSourceServersRequest(source_id=["s-web1"])
    )
    (server,) = response.body.source_servers.source_server
    assert (server.source_id, server.name, server.state, server.job_id) == (
        "s-web1",
        "web-1",
        "Available",
        JOB,
    )


def _raw_params(action: str, version: str = wire.API_VERSION) -> Params:
    return Params(
        action=action,
        version=version,
        protocol="HTTPS",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )


async def test_unknown_action(sdk_client: Client) -> None:
    with pytest.raises(ClientException) as caught:
        await sdk_client.call_api_async(
            _raw_params("DescribeNoSuchThing"), OpenApiRequest(query={}), RuntimeOptions()
        )
    assert (caught.value.code, caught.value.status_code) == (wire.INVALID_ACTION_NOT_FOUND, 404)


async def test_wrong_version(sdk_client: Client) -> None:
    with pytest.raises(ClientException) as caught:
        await sdk_client.call_api_async(
            _raw_params(wire.START_REPLICATION_JOB, "2016-01-01"),
            OpenApiRequest(query={"JobId": JOB}),
            RuntimeOptions(),
        )
    assert (caught.value.code, caught.value.status_code) == (wire.INVALID_VERSION, 400)


async def test_unsigned_call_gets_an_smc_error_body(smc_emulator: SmcEmulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{smc_emulator.url}/?JobId={JOB}",
            headers={"x-acs-action": wire.START_REPLICATION_JOB, "x-acs-version": wire.API_VERSION},
        ) as response,
    ):
        body = await response.json()
    assert response.status == 400
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["Code"] == wire.MISSING_PARAMETER
    assert "Authorization" in body["Message"]
    assert response.headers[wire.REQUEST_ID_HEADER] == body["RequestId"]


# What the SDK makes of garbled bodies. Success (200) answers to a start that did happen:
@pytest.mark.parametrize("body", ["html", "empty", "malformed"])
@pytest.mark.parametrize("http_status", [None, 500, 502])
async def test_unparseable_bodies_are_unretryable_and_codeless(
    smc_emulator: SmcEmulator, sdk_client: Client, body: str, http_status: int | None
) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, body=body, http_status=http_status)
    with pytest.raises(UnretryableException) as caught:
        await start(sdk_client)
    error = caught.value
    assert error.code is None
    assert not hasattr(error, "status_code")
    assert isinstance(error.inner_exception, RuntimeError)
    assert "Failed to parse the value as json format" in str(error.inner_exception)
    assert start_count(smc_emulator) == 1  # the call happened; only its answer was garbled
    (call,) = smc_emulator.state.calls.all()
    assert call.http_status == (http_status or 200)


async def test_success_without_request_id_parses_to_none(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, body="no-request-id")
    response = await start(sdk_client)
    assert response.status_code == 200
    assert response.body.request_id is None
    assert start_count(smc_emulator) == 1


async def test_error_without_request_id_has_the_string_none(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, code=wire.INTERNAL_ERROR, body="no-request-id"
    )
    with pytest.raises(ServerException) as caught:
        await start(sdk_client)
    assert (caught.value.code, caught.value.status_code) == (wire.INTERNAL_ERROR, 500)
    assert caught.value.request_id == "None"  # the SDK formats a missing id with f"{None}"


async def test_huge_bodies_parse(smc_emulator: SmcEmulator, sdk_client: Client) -> None:
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(wire.DESCRIBE_REPLICATION_JOBS, body="huge")
    response = await sdk_client.describe_replication_jobs_async(
        models.DescribeReplicationJobsRequest(job_id=[JOB])
    )
    assert REQUEST_ID.match(response.body.request_id)
    assert response.body.replication_jobs.replication_job[0].job_id == JOB


async def test_error_status_without_code_or_request_id(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    # An error status with a JSON body lacking Code and RequestId: the SDK reports "None" for both.
    smc_emulator.state.seed_job(JOB)
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, body="no-request-id", http_status=503)
    with pytest.raises(ServerException) as caught:
        await start(sdk_client)
    assert (caught.value.code, caught.value.status_code, caught.value.request_id) == (
        "None",
        503,
        "None",
    )


async def test_no_secret_reaches_answers_logs_or_the_call_log(
    smc_emulator: SmcEmulator,
    make_sdk_client: SdkClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    smc_emulator.state.seed_job(JOB)
    texts: list[str] = []
    clients = [
        make_sdk_client(),
        make_sdk_client(ACCESS_KEY_ID, "wrong-secret"),
        make_sdk_client(STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET, STS_TOKEN),
        make_sdk_client(STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET, "wrong-token"),
    ]
    for client in clients:
        try:
            response = await start(client)
            texts.append(str(response.to_map()))
        except ClientException as error:
            texts.append(f"{error} {error.data}")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{smc_emulator.url}/_emulator/calls") as calls,
    ):
        texts.append(await calls.text())
    texts.append(caplog.text)
    everything = "\n".join(texts)
    assert "SignatureDoesNotMatch" in everything
    for secret in (ACCESS_KEY_SECRET, STS_ACCESS_KEY_SECRET, STS_TOKEN, "wrong-token"):
        assert secret not in everything


async def test_awkward_parameter_values_keep_the_signature_valid(
    smc_emulator: SmcEmulator, sdk_client: Client
) -> None:
    smc_emulator.state.seed_job(JOB, name="web 1+2/ä~*'()")
    response = await sdk_client.describe_replication_jobs_async(
        models.DescribeReplicationJobsRequest(name="web 1+2/ä~*'()", region_id="cn-hangzhou")
    )
    assert [j.job_id for j in response.body.replication_jobs.replication_job] == [JOB]
    assert dict(smc_emulator.state.calls[0].params)["Name"] == "web 1+2/ä~*'()"
