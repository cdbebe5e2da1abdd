"""Fixtures for integration tests: the SMC emulator on 127.0.0.1 and real SDK clients for it.

``smc_emulator`` starts an :class:`~smc_testbed.emulator.SmcEmulator` on a free port with one
known AccessKey pair (:data:`ACCESS_KEY_ID` / :data:`ACCESS_KEY_SECRET`) and one STS credential
(:data:`STS_ACCESS_KEY_ID` / :data:`STS_ACCESS_KEY_SECRET` / :data:`STS_TOKEN`), driven by the
``fake_clock`` fixture so tests move jobs along without sleeping; it always stops the emulator.
``sdk_client`` is the unmodified Alibaba SDK client pointed at it (``make_sdk_client`` builds
others, e.g. with a wrong secret).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from smc_testbed.emulator import SmcEmulator
from smc_testbed.emulator.tls import TlsFiles
from smc_testbed.kubemock import EmulatedKubeApi
from testkit.cluster import create_secret
from testkit.running import OperatorFactory, operator_factory

if TYPE_CHECKING:
    from alibabacloud_smc20190601.client import Client

# The credentials library reads its environment at import time: keep it away from the ECS
# metadata service before anything imports the SDK (test modules import it after this file).
os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")

ACCESS_KEY_ID = "LTAItestAccessKey0001"
ACCESS_KEY_SECRET = "test-secret-0123456789abcdef"
STS_ACCESS_KEY_ID = "STS.testStsAccessKey01"
STS_ACCESS_KEY_SECRET = "test-sts-secret-fedcba9876543210"
STS_TOKEN = "test-sts-token-CAIS0123456789"


def new_emulator(**options: Any) -> SmcEmulator:
    """The SMC emulator (on 127.0.0.1, a free port) knowing this suite's AccessKey and STS pair."""
    return SmcEmulator(
        access_keys={ACCESS_KEY_ID: ACCESS_KEY_SECRET, STS_ACCESS_KEY_ID: STS_ACCESS_KEY_SECRET},
        sts_tokens={STS_ACCESS_KEY_ID: STS_TOKEN},
        **options,
    )


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def smc_emulator(fake_clock: FakeClock) -> AsyncIterator[SmcEmulator]:
    async with new_emulator(clock=fake_clock) as emulator:
        yield emulator


SdkClientFactory = Callable[..., "Client"]


@pytest.fixture
def make_sdk_client(smc_emulator: SmcEmulator, monkeypatch: pytest.MonkeyPatch) -> SdkClientFactory:
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")

    def make(
        access_key_id: str = ACCESS_KEY_ID,
        access_key_secret: str = ACCESS_KEY_SECRET,
        security_token: str | None = None,
    ) -> Client:
        from alibabacloud_smc20190601.client import Client
        from alibabacloud_tea_openapi.models import Config

        return Client(
            Config(
                access_key_id=access_key_id,
                access_key_secret=access_key_secret,
                security_token=security_token,
                endpoint=smc_emulator.endpoint,
                protocol="http",
                region_id="cn-hangzhou",
            )
        )

    return make


@pytest.fixture
def sdk_client(make_sdk_client: SdkClientFactory) -> Client:
    return make_sdk_client()


# --- end-to-end: the emulated Kubernetes API and the operator process ---------------------------


@pytest.fixture
async def live_emulator(smc_tls: TlsFiles) -> AsyncIterator[SmcEmulator]:
    """The SMC emulator on the real clock over HTTPS, for tests where another process calls it."""
    async with new_emulator(tls=smc_tls) as emulator:
        yield emulator


@pytest.fixture
async def credentials(kube_api: EmulatedKubeApi) -> None:
    """The Secret ``team-a/smc-credentials`` with the emulator's AccessKey pair."""
    await create_secret(kube_api, ACCESS_KEY_ID, ACCESS_KEY_SECRET)


@pytest.fixture
async def start_operator(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, tmp_path: Path
) -> AsyncIterator[OperatorFactory]:
    """Start ``smc-operator run`` (as many as a test needs); all are stopped at the end."""
    async with operator_factory(
        kubeconfig=kube_api.kubeconfig,
        smc_url=live_emulator.url,
        log_dir=tmp_path,
        ca_file=live_emulator.ca_file,
    ) as start:
        yield start
