"""The SMC client's one transport, against the emulator over HTTPS (its own generated CA).

What a user sees: calls succeed over verified TLS when ``SMC_OPERATOR_CA_FILE`` names the CA, and
fail with no call reaching SMC when it does not; calls share kept-alive connections (the emulator
counts the connections calls arrive on); a kept-alive connection the server closes under a call
is an ambiguous outcome (no code) with exactly one StartReplicationJob in SMC's log, never a
second one sent behind the operator's back; closing the client leaves no open session (pytest
turns an unclosed one into an error).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from smc_operator import wire
from smc_operator.credentials import AccessKey
from smc_operator.errors import classify
from smc_operator.outcomes import JobsReport, SmcAccepted, SmcFailure
from smc_operator.reasons import Reason
from smc_operator.settings import load_settings
from smc_operator.smc import SmcClient
from smc_testbed.emulator import SmcEmulator
from smc_testbed.emulator.tls import TlsFiles, generate

from .conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, new_emulator

KEY = AccessKey(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
SOURCE = "s-bw526m1vi6x21qs001"
JOBS = [f"j-bw526m1vi6x21tr{n:03d}" for n in range(30)]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return generate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def https_smc(tls_files: TlsFiles) -> AsyncIterator[SmcEmulator]:
    async with new_emulator(tls=tls_files) as emulator:
        emulator.state.seed_source_server(SOURCE)
        for job in JOBS:
            emulator.state.seed_job(job, SOURCE)
        yield emulator


def client(emulator: SmcEmulator, ca_file: Path | None, **settings: str) -> SmcClient:
    environ = {"SMC_OPERATOR_ENDPOINT": emulator.url, "SMC_OPERATOR_QPS": "0"}
    if ca_file is not None:
        environ["SMC_OPERATOR_CA_FILE"] = str(ca_file)
    environ.update({f"SMC_OPERATOR_{k.upper()}": v for k, v in settings.items()})
    return SmcClient(load_settings(environ))


async def start(smc: SmcClient, job: str) -> SmcAccepted | SmcFailure:
    return await smc.start_replication_job(job, region_id="cn-hangzhou", access_key=KEY)


async def test_https_with_the_ca_file_verifies_and_reuses_connections(
    https_smc: SmcEmulator,
) -> None:
    assert https_smc.url.startswith("https://127.0.0.1:")
    async with client(https_smc, https_smc.ca_file) as smc:
        for job in JOBS[:5]:  # one after another: one connection, kept alive
            assert isinstance(await start(smc, job), SmcAccepted)
        assert https_smc.connections == 1
        outcomes = await asyncio.gather(*(start(smc, job) for job in JOBS[5:25]))
        described = await smc.describe_replication_jobs(
            JOBS[:5], region_id="cn-hangzhou", access_key=KEY
        )
    assert all(isinstance(o, SmcAccepted) for o in outcomes)
    assert isinstance(described, JobsReport)
    assert set(described.jobs) == set(JOBS[:5])
    # Twenty at once need at most twenty connections, whatever the SDK's own path would do
    # (one new connection and TLS handshake per call: 26 here).
    assert 1 < https_smc.connections <= 21
    assert len(https_smc.state.calls.select(action=wire.START_REPLICATION_JOB)) == 25


async def test_the_ssl_context_is_built_at_start_up_not_by_the_first_call(
    https_smc: SmcEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loading the CA bundles blocks the event loop (~0.1 s): prepare() does it before any call.
    built: list[object] = []
    create = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(args)
        return create(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    async with client(https_smc, https_smc.ca_file) as smc:
        smc.prepare()
        assert len(built) == 1
        outcomes = await asyncio.gather(*(start(smc, job) for job in JOBS[:3]))
        assert all(isinstance(o, SmcAccepted) for o in outcomes)
        assert len(built) == 1  # the calls used the context built at start-up


async def test_https_without_the_ca_is_refused_before_smc_sees_a_call(
    https_smc: SmcEmulator,
) -> None:
    async with client(https_smc, None) as smc:
        outcome = await start(smc, JOBS[0])
    assert isinstance(outcome, SmcFailure)
    assert outcome.code is None
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.message
    assert https_smc.state.calls.select() == []


async def test_a_kept_alive_connection_closed_under_a_start_is_ambiguous_never_resent(
    https_smc: SmcEmulator,
) -> None:
    job = JOBS[0]
    async with client(https_smc, https_smc.ca_file) as smc:
        warm = await smc.describe_replication_jobs([job], region_id="cn-hangzhou", access_key=KEY)
        assert isinstance(warm, JobsReport)
        # The server closes the pooled connection as the start arrives on it.
        https_smc.state.add_fault(wire.START_REPLICATION_JOB, drop=True, count=1)
        outcome = await start(smc, job)
        assert https_smc.connections == 1  # the start went out on the kept-alive connection
        assert isinstance(outcome, SmcFailure)
        assert outcome.code is None  # no answer: SMC may or may not have acted
        assert classify(outcome) is Reason.RETRYING
        (call,) = https_smc.state.calls.select(action=wire.START_REPLICATION_JOB)
        assert call.dropped
        # The next call opens a new connection and works.
        again = await smc.describe_replication_jobs([job], region_id="cn-hangzhou", access_key=KEY)
    assert isinstance(again, JobsReport)
    assert https_smc.connections == 2
    assert len(https_smc.state.calls.select(action=wire.START_REPLICATION_JOB)) == 1


async def test_waiting_for_a_pooled_connection_counts_against_the_request_timeout(
    https_smc: SmcEmulator,
) -> None:
    from smc_operator.transport import Transport

    settings = load_settings(
        {
            "SMC_OPERATOR_ENDPOINT": https_smc.url,
            "SMC_OPERATOR_QPS": "0",
            "SMC_OPERATOR_CA_FILE": str(https_smc.ca_file),
            "SMC_OPERATOR_REQUEST_TIMEOUT_SECONDS": "0.5",
        }
    )
    one = Transport(request_timeout_seconds=0.5, ca_file=settings.ca_file, connection_limit=1)
    https_smc.state.add_fault(wire.START_REPLICATION_JOB, job_id=JOBS[0], latency_ms=2000)
    async with SmcClient(settings, transport=one) as smc:
        held, queued = await asyncio.gather(start(smc, JOBS[0]), start(smc, JOBS[1]))
    assert isinstance(held, SmcFailure)
    assert isinstance(queued, SmcFailure)  # it never got the one connection in time
    assert queued.code is None
    assert "0.5 s" in queued.message
    assert len(https_smc.state.calls.select(job_id=JOBS[0])) == 1
    assert https_smc.state.calls.select(job_id=JOBS[1]) == []  # it never left the client
