"""The SMC adapter (our async client over the real SDK) against the emulator: every outcome row."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from smc_operator import wire
from smc_operator.credentials import AccessKey
from smc_operator.errors import classify
from smc_operator.outcomes import JobsReport, SmcAccepted, SmcFailure
from smc_operator.reasons import Reason
from smc_operator.settings import load_settings
from smc_operator.smc import INVALID_CREDENTIALS, SmcClient
from smc_testbed.emulator import SmcEmulator

from .conftest import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    STS_ACCESS_KEY_ID,
    STS_ACCESS_KEY_SECRET,
    STS_TOKEN,
)

JOB = "j-bw526m1vi6x21qa001"
SOURCE = "s-bw526m1vi6x21qs001"
KEY = AccessKey(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
REQUEST_ID = r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$"


def client_for(emulator: SmcEmulator, **settings: str) -> SmcClient:
    environ = {
        "SMC_OPERATOR_ENDPOINT": emulator.url,
        "SMC_OPERATOR_QPS": "0",
        **{f"SMC_OPERATOR_{k.upper()}": v for k, v in settings.items()},
    }
    return SmcClient(load_settings(environ))


@pytest.fixture
async def smc(smc_emulator: SmcEmulator) -> AsyncIterator[SmcClient]:
    smc_emulator.state.seed_source_server(SOURCE)
    smc_emulator.state.seed_job(JOB, SOURCE)
    async with client_for(smc_emulator) as client:
        yield client


async def start(smc: SmcClient, access_key: AccessKey | None = KEY) -> SmcAccepted | SmcFailure:
    return await smc.start_replication_job(JOB, region_id="cn-hangzhou", access_key=access_key)


async def test_success_returns_smc_request_id(smc: SmcClient, smc_emulator: SmcEmulator) -> None:
    outcome = await start(smc)
    assert isinstance(outcome, SmcAccepted)
    assert re.match(REQUEST_ID, outcome.request_id)
    (call,) = smc_emulator.state.calls.select(action=wire.START_REPLICATION_JOB)
    assert call.request_id == outcome.request_id
    assert smc_emulator.state.job(JOB).start_count == 1  # type: ignore[union-attr]


async def test_invalid_status_names_the_current_and_allowed_states(smc: SmcClient) -> None:
    assert isinstance(await start(smc), SmcAccepted)
    outcome = await start(smc)
    assert isinstance(outcome, SmcFailure)
    assert outcome.code == wire.INVALID_STATUS
    assert outcome.http_status == 400
    assert "Running" in outcome.message
    assert "Ready" in outcome.message and "Stopped" in outcome.message
    assert outcome.request_id
    assert classify(outcome) is Reason.INVALID_STATUS


async def test_source_server_state_invalid(smc: SmcClient, smc_emulator: SmcEmulator) -> None:
    smc_emulator.state.seed_source_server(SOURCE, wire.SOURCE_UNAVAILABLE)
    outcome = await start(smc)
    assert isinstance(outcome, SmcFailure)
    assert (outcome.code, outcome.http_status) == (wire.SOURCE_SERVER_STATE_INVALID, 400)
    assert wire.SOURCE_UNAVAILABLE in outcome.message


async def test_internal_error(smc: SmcClient, smc_emulator: SmcEmulator) -> None:
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, code=wire.INTERNAL_ERROR, count=1)
    outcome = await start(smc)
    assert isinstance(outcome, SmcFailure)
    assert (outcome.code, outcome.http_status) == (wire.INTERNAL_ERROR, 500)
    assert outcome.message == wire.INTERNAL_ERROR_MESSAGE
    assert outcome.request_id
    assert classify(outcome) is Reason.RETRYING
    assert smc_emulator.state.job(JOB).start_count == 0  # type: ignore[union-attr]


async def test_throttling_and_retry_after(smc: SmcClient, smc_emulator: SmcEmulator) -> None:
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, code=wire.THROTTLING_USER, count=1)
    outcome = await start(smc)
    assert isinstance(outcome, SmcFailure)
    assert (outcome.code, outcome.http_status, outcome.retry_after) == (
        wire.THROTTLING_USER,
        400,
        None,
    )
    assert classify(outcome) is Reason.THROTTLED

    smc_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, code=wire.THROTTLING_API, count=1, retry_after=1500
    )
    outcome = await start(smc)
    assert isinstance(outcome, SmcFailure)
    assert outcome.code == wire.THROTTLING_API
    assert outcome.retry_after == pytest.approx(1.5)


async def test_unknown_access_key(smc: SmcClient) -> None:
    outcome = await start(smc, AccessKey("LTAIunknownKeyId0000", "whatever-secret-value"))
    assert isinstance(outcome, SmcFailure)
    assert outcome.code == wire.INVALID_ACCESS_KEY_NOT_FOUND
    assert classify(outcome) is Reason.ACCESS_DENIED


async def test_wrong_secret_is_a_signature_mismatch_and_never_echoed(smc: SmcClient) -> None:
    wrong = AccessKey(ACCESS_KEY_ID, "definitely-the-wrong-secret-123")
    outcome = await start(smc, wrong)
    assert isinstance(outcome, SmcFailure)
    assert (outcome.code, outcome.http_status) == (wire.SIGNATURE_DOES_NOT_MATCH, 400)
    assert wrong.access_key_secret not in repr(outcome)


async def test_sts_token_is_accepted_and_a_wrong_one_refused(smc: SmcClient) -> None:
    good = AccessKey(STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET, STS_TOKEN)
    assert isinstance(await start(smc, good), SmcAccepted)
    bad = AccessKey(STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET, "forged-token-value-000")
    outcome = await smc.describe_replication_jobs([JOB], region_id="cn-hangzhou", access_key=bad)
    assert isinstance(outcome, SmcFailure)
    assert outcome.code is not None and outcome.code.startswith("InvalidSecurityToken.")
    assert classify(outcome) is Reason.ACCESS_DENIED
    assert "forged-token-value-000" not in repr(outcome)


async def test_job_not_found(smc: SmcClient) -> None:
    outcome = await smc.start_replication_job(
        "j-doesnotexist00000", region_id="cn-hangzhou", access_key=KEY
    )
    assert isinstance(outcome, SmcFailure)
    assert (outcome.code, outcome.http_status) == (wire.JOB_NOT_FOUND, 404)
    assert classify(outcome) is Reason.JOB_NOT_FOUND


async def test_dropped_connection_has_no_code(smc: SmcClient, smc_emulator: SmcEmulator) -> None:
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, drop=True, count=1)
    outcome = await start(smc)
    assert isinstance(outcome, SmcFailure)
    assert (outcome.code, outcome.http_status, outcome.request_id) == (None, None, None)
    assert classify(outcome) is Reason.RETRYING


async def test_timeout_has_no_code(smc_emulator: SmcEmulator) -> None:
    smc_emulator.state.seed_source_server(SOURCE)
    smc_emulator.state.seed_job(JOB, SOURCE)
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, latency_ms=3000, count=1)
    async with client_for(smc_emulator, request_timeout_seconds="0.3") as smc:
        outcome = await start(smc)
    assert isinstance(outcome, SmcFailure)
    assert outcome.code is None
    assert "Timeout" in outcome.message or "timeout" in outcome.message.lower()


@pytest.mark.parametrize("body", ["html", "empty", "malformed", "no-request-id"])
async def test_unreadable_success_bodies_are_ambiguous_failures(
    smc: SmcClient, smc_emulator: SmcEmulator, body: str
) -> None:
    smc_emulator.state.add_fault(wire.START_REPLICATION_JOB, body=body, http_status=200, count=1)
    outcome = await start(smc)
    assert isinstance(outcome, SmcFailure)
    assert outcome.code is None
    assert classify(outcome) is Reason.RETRYING


async def test_describe_batches_and_parses_the_sdk_shape(
    smc: SmcClient, smc_emulator: SmcEmulator
) -> None:
    others = [f"j-bw526m1vi6x21qb{n:03d}" for n in range(49)]
    for job_id in others:
        smc_emulator.state.seed_job(job_id, SOURCE, status=wire.JOB_STOPPED)
    assert isinstance(await start(smc), SmcAccepted)
    report = await smc.describe_replication_jobs(
        [JOB, *others], region_id="cn-hangzhou", access_key=KEY
    )
    assert isinstance(report, JobsReport)
    assert len(report.jobs) == 50
    assert report.jobs[JOB].status == wire.JOB_RUNNING
    assert report.jobs[others[0]].status == wire.JOB_STOPPED
    assert len(smc_emulator.state.calls.select(action=wire.DESCRIBE_REPLICATION_JOBS)) == 1
    with pytest.raises(ValueError, match=r"1\.\.50"):
        await smc.describe_replication_jobs(["j-x"] * 51, region_id="cn-hangzhou", access_key=KEY)


async def test_clients_are_cached_per_credential_and_region(smc: SmcClient) -> None:
    first = smc._client("cn-hangzhou", KEY)
    assert smc._client("cn-hangzhou", KEY) is first
    assert smc._client("cn-shanghai", KEY) is not first
    rotated = AccessKey(ACCESS_KEY_ID, ACCESS_KEY_SECRET + "-rotated")
    assert smc._client("cn-hangzhou", rotated) is not first
    smc.forget(KEY)
    assert smc._client("cn-hangzhou", KEY) is not first


async def test_idle_clients_and_their_keys_are_dropped(smc_emulator: SmcEmulator) -> None:
    from smc_operator.smc import CLIENT_IDLE_SECONDS

    now = [0.0]
    environ = {"SMC_OPERATOR_ENDPOINT": smc_emulator.url}
    smc = SmcClient(load_settings(environ), clock=lambda: now[0])
    first = smc._client("cn-hangzhou", KEY)
    now[0] += CLIENT_IDLE_SECONDS / 2
    assert smc._client("cn-hangzhou", KEY) is first  # in use: kept, and its idle time restarts
    now[0] += CLIENT_IDLE_SECONDS + 1
    other = AccessKey("LTAIanotherKey000001", "another-secret")
    smc._client("cn-hangzhou", other)
    assert [k for k, _r in smc._clients] == [other.fingerprint]
    assert smc._client("cn-hangzhou", KEY) is not first


async def test_a_secrets_old_key_is_forgotten_when_it_changes_unless_shared(
    smc: SmcClient,
) -> None:
    rotated = AccessKey(ACCESS_KEY_ID, ACCESS_KEY_SECRET + "-rotated")
    smc.remember_secret(("a", "creds"), KEY)
    smc.remember_secret(("b", "creds"), KEY)  # the same key in another Secret
    smc._client("cn-hangzhou", KEY)
    smc.remember_secret(("a", "creds"), rotated)
    assert [k for k, _r in smc._clients] == [KEY.fingerprint]  # b still holds it
    smc.remember_secret(("b", "creds"), None)  # b's Secret is gone
    assert list(smc._clients) == []


@pytest.mark.parametrize("chain", ["default", "empty"])
async def test_no_default_credentials_is_a_clear_failure(
    smc_emulator: SmcEmulator, chain: str
) -> None:
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_credentials.models import Config

    def broken_chain() -> CredentialClient:
        # This machine has no Alibaba credentials: the default chain finds none (the ECS
        # metadata lookup is disabled for tests); an empty explicit configuration fails earlier.
        return (
            CredentialClient()
            if chain == "default"
            else CredentialClient(Config(type="access_key"))
        )

    smc_emulator.state.seed_source_server(SOURCE)
    smc_emulator.state.seed_job(JOB, SOURCE)
    environ = {"SMC_OPERATOR_ENDPOINT": smc_emulator.url, "SMC_OPERATOR_QPS": "0"}
    async with SmcClient(load_settings(environ), default_credential=broken_chain) as smc:
        outcome = await start(smc, None)
    assert isinstance(outcome, SmcFailure)
    assert outcome.code == INVALID_CREDENTIALS
    assert "credentialsSecretRef" in outcome.message
    assert classify(outcome) is Reason.ACCESS_DENIED
    assert smc_emulator.state.calls.select(action=wire.START_REPLICATION_JOB) == []


@pytest.mark.looptime
async def test_all_calls_share_one_rate_limit(smc_emulator: SmcEmulator) -> None:
    smc_emulator.state.seed_source_server(SOURCE)
    seen: list[tuple[str, str, float]] = []
    environ = {"SMC_OPERATOR_ENDPOINT": smc_emulator.url, "SMC_OPERATOR_QPS": "2"}
    ids = [f"j-bw526m1vi6x21qc{n:03d}" for n in range(4)]
    for job_id in ids:
        smc_emulator.state.seed_job(job_id, SOURCE)
    async with SmcClient(
        load_settings(environ),
        observer=lambda action, code, _s, waited: seen.append((action, code, waited)),
    ) as smc:
        await asyncio.gather(
            *(
                smc.start_replication_job(j, region_id="cn-hangzhou", access_key=KEY)
                for j in ids[:2]
            ),
            *(
                smc.describe_replication_jobs([j], region_id="cn-hangzhou", access_key=KEY)
                for j in ids[2:]
            ),
        )
    waits = sorted(w for _a, _c, w in seen)
    assert waits == pytest.approx([0.0, 0.5, 1.0, 1.5])
    assert {code for _a, code, _w in seen} == {"Success"}
