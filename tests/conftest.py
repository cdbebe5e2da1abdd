"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from smc_testbed.emulator.tls import TlsFiles, generate
from smc_testbed.kubemock import EmulatedKubeApi


@pytest.fixture(scope="session")
def smc_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA and a certificate for 127.0.0.1 the SMC emulator serves HTTPS with (``ca`` is what
    the operator trusts: ``SMC_OPERATOR_CA_FILE``), as SMC is served over HTTPS."""
    return generate(tmp_path_factory.mktemp("smc-tls"))


@pytest.fixture
async def kube_api() -> AsyncIterator[EmulatedKubeApi]:
    """The emulated Kubernetes API on 127.0.0.1 (kmock with the fidelity layer), stopped after."""
    async with EmulatedKubeApi() as api:
        yield api
