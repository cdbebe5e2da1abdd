"""Fixtures for the security tests: the emulated Kubernetes API, the SMC emulator and the operator.

Like ``tests/integration`` but with credentials of their own, distinctive enough that a scan for
them cannot match by accident, and an operator factory that also takes command-line arguments
(``--namespace``), extra environment variables (the default credential chain, ``SSL_CERT_FILE``)
and another SMC endpoint (the emulator behind TLS). Every server and process started here is
stopped at the end of the test.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from urllib.parse import quote

import pytest

from smc_testbed.emulator import SmcEmulator
from smc_testbed.emulator.tls import TlsFiles
from smc_testbed.kubemock import EmulatedKubeApi
from testkit.running import OperatorFactory, operator_factory

# The credentials library reads its environment at import time (see tests/integration/conftest).
os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")

#: An AccessKey pair accepted by the emulator.
KEY_ID = "LTAIsecScanKeyId0001"
KEY_SECRET = "secScan-AK-secret-7Hq2Lm9Zx4Vb"
#: The same AccessKeyId's secret after a rotation.
ROTATED_SECRET = "secScan-AK-rotated-3Np8Wc1Ks6Jd"
#: An STS credential: AccessKeyId, secret and security token.
STS_KEY_ID = "STS.secScanStsKeyId01"
STS_SECRET = "secScan-STS-secret-5Rt0Yu2Io4Pa"
STS_TOKEN = "secScanSTStoken-CAIS-9Df3Gh5Jk7Lz1Xc"
#: The operator's own identity (the default chain, from its environment).
ENV_KEY_ID = "LTAIsecScanEnvKey0001"
ENV_SECRET = "secScan-ENV-secret-8Bn6Mq4We2Rt"
#: Values that are wrong but still secret: a scan must not find them either.
WRONG_SECRET = "secScan-wrong-secret-1Aa2Bb3Cc4Dd"
WRONG_TOKEN = "secScanWrongToken-CAIS-6Ee7Ff8Gg9Hh"

#: Every value that must never appear in anything the operator produces.
SECRET_VALUES = (
    KEY_SECRET,
    ROTATED_SECRET,
    STS_SECRET,
    STS_TOKEN,
    ENV_SECRET,
    WRONG_SECRET,
    WRONG_TOKEN,
)


def leak_forms(value: str) -> dict[str, str]:
    """The ways a value could show up in text: as is, base64 (as in a Secret), URL-encoded, and
    its first 16 characters (a truncated or partly masked copy)."""
    raw = value.encode()
    return {
        "plain": value,
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "url-encoded": quote(value, safe=""),
        "prefix": value[:16],
    }


def find_leaks(texts: Mapping[str, str], values: tuple[str, ...] = SECRET_VALUES) -> list[str]:
    """Where any form of any value occurs, as ``source: form of value`` lines."""
    found = []
    for source, text in texts.items():
        for value in values:
            for form, needle in leak_forms(value).items():
                if needle in text:
                    found.append(f"{source}: {form} of {value[:8]}...")
    return found


def new_emulator(tls: TlsFiles | None = None) -> SmcEmulator:
    return SmcEmulator(
        access_keys={KEY_ID: KEY_SECRET, STS_KEY_ID: STS_SECRET, ENV_KEY_ID: ENV_SECRET},
        sts_tokens={STS_KEY_ID: STS_TOKEN},
        tls=tls,
    )


@pytest.fixture
async def smc(smc_tls: TlsFiles) -> AsyncIterator[SmcEmulator]:
    """The SMC emulator on 127.0.0.1 over HTTPS (the operator trusts its CA)."""
    async with new_emulator(tls=smc_tls) as emulator:
        yield emulator


@pytest.fixture
async def start_operator(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, tmp_path: Path
) -> AsyncIterator[OperatorFactory]:
    """Start ``smc-operator run``; ``settings`` are ``SMC_OPERATOR_*`` values by short name."""
    async with operator_factory(
        kubeconfig=kube_api.kubeconfig, smc_url=smc.url, log_dir=tmp_path, ca_file=smc.ca_file
    ) as start:
        yield start
