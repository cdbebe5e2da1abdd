"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from smc_testbed.kubemock import EmulatedKubeApi


@pytest.fixture
async def kube_api() -> AsyncIterator[EmulatedKubeApi]:
    """The emulated Kubernetes API on 127.0.0.1 (kmock with the fidelity layer), stopped after."""
    async with EmulatedKubeApi() as api:
        yield api
