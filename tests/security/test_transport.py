"""Transport safety: HTTPS with certificate verification, plain http only to loopback.

- A plain-http endpoint that is not loopback stops the operator at start-up, before it contacts
  anything, with one line naming ``SMC_OPERATOR_ENDPOINT`` and what to do.
- An HTTPS endpoint whose certificate does not verify (the SMC emulator served behind TLS on
  127.0.0.1 with a self-signed certificate made by ``cryptography``) is refused by the TLS
  handshake: the request never reaches it (no start), and the object says ``Retrying`` with the
  certificate problem in its message. Trusting that certificate (``SSL_CERT_FILE``) is the only
  change needed for the same object to start: verification, not the server, was the obstacle.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import re
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smc_testbed.emulator.server import Gateway, build_app
from smc_testbed.emulator.state import EmulatorState
from smc_testbed.kubemock import REPLICATION_JOBS, EmulatedKubeApi
from testkit.cluster import (
    NAMESPACE,
    create_rj,
    create_secret,
    events_of,
    reason_is,
    started,
    wait_rj,
)

from .conftest import KEY_ID, KEY_SECRET, OperatorFactory, new_emulator

JOB = "j-tls000000000001"


@pytest.mark.parametrize(
    "endpoint", ["http://10.0.0.1:9090", "http://smc.aliyuncs.com", "http://localhost.example.com"]
)
async def test_plain_http_to_a_remote_endpoint_is_refused_at_start_up(
    kube_api: EmulatedKubeApi, tmp_path: Path, endpoint: str
) -> None:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMC_OPERATOR_", "ALIBABA_CLOUD_"))
    }
    environ["SMC_OPERATOR_ENDPOINT"] = endpoint
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "smc_operator.cli",
        "run",
        "--kubeconfig",
        str(kube_api.kubeconfig),
        env=environ,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        stdout, stderr = await process.communicate()
    assert process.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines  # one clear line, no traceback
    (line,) = lines
    assert "SMC_OPERATOR_ENDPOINT" in line
    assert "plain http is only allowed to a loopback host" in line
    assert "use https://" in line
    assert stdout == b""
    # It stopped before talking to anything, the Kubernetes API included.
    assert kube_api.counters.count(agent="kopf") == 0
    assert kube_api.counters.count(agent="smc-operator") == 0


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smc-emulator.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smc.crt", directory / "smc.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class TlsSmc:
    state: EmulatorState
    url: str
    certificate: Path


@pytest.fixture
async def tls_smc(tmp_path: Path) -> AsyncIterator[TlsSmc]:
    """The SMC emulator's application served over HTTPS with a self-signed certificate."""
    cert_path, key_path = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    emulator = new_emulator()
    gateway = Gateway(emulator.access_keys, emulator.sts_tokens)
    runner = web.AppRunner(build_app(emulator.state, gateway), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = runner.addresses[0][1]
        yield TlsSmc(emulator.state, f"https://127.0.0.1:{port}", cert_path)
    finally:
        gateway.stopping.set()
        await runner.cleanup()


async def test_a_self_signed_certificate_is_refused_by_verification(
    kube_api: EmulatedKubeApi, tls_smc: TlsSmc, start_operator: OperatorFactory
) -> None:
    tls_smc.state.seed_job(JOB)
    await create_secret(kube_api, KEY_ID, KEY_SECRET)
    operator = await start_operator(smc_url=tls_smc.url)
    await create_rj(kube_api, "web", JOB)
    await wait_rj(kube_api, "web", reason_is("Retrying"))
    await asyncio.sleep(1.0)  # several more rounds (0.2 s backoff): none may get through
    obj = await kube_api.get(REPLICATION_JOBS, "web", namespace=NAMESPACE)
    condition = started(obj)
    assert condition["status"] == "Unknown"
    assert "CERTIFICATE_VERIFY_FAILED" in condition["message"]
    assert re.search(r"self[- ]signed certificate", condition["message"])
    assert "errorCode" not in condition  # no answer from SMC at all
    assert obj["status"]["attempts"] == 1
    # Not one request got past the handshake: nothing reached SMC, nothing started.
    assert tls_smc.state.calls.all() == []
    assert tls_smc.state.job(JOB).start_count == 0  # type: ignore[union-attr]
    events = await events_of(kube_api, "web")
    assert events and all(e["reason"] == "Retrying" for e in events)
    assert "Traceback" not in operator.log()
    await operator.stop()

    # Trusting the certificate is the only change needed for the same object to start.
    await start_operator(smc_url=tls_smc.url, environ={"SSL_CERT_FILE": str(tls_smc.certificate)})
    obj = await wait_rj(kube_api, "web", reason_is("Started"))
    assert tls_smc.state.job(JOB).start_count == 1  # type: ignore[union-attr]
