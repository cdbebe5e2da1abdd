"""Opt-in tests against a real Kubernetes cluster: they run only when ``KUBECONFIG`` is set.

They install the CRD (``kubectl apply``), create a throwaway namespace, run ``smc-operator run``
locally against the cluster (so it can reach the SMC emulator on 127.0.0.1), and check the same
outcomes as the end-to-end tests, plus what only a real API server does (schema validation at
admission, the status subresource, generation). The namespace is deleted afterwards; the CRD is
left in place (other namespaces may use it).

Never point ``KUBECONFIG`` at a cluster you care about while running the test suite.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from smc_testbed.emulator import SmcEmulator

ROOT = Path(__file__).resolve().parents[2]
ACCESS_KEY_ID = "LTAIclusterTestKey01"
ACCESS_KEY_SECRET = "cluster-test-secret-" + secrets.token_hex(8)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("KUBECONFIG"):
        return
    skip = pytest.mark.skip(reason="needs a real cluster: set KUBECONFIG to run")
    for item in items:
        if "tests/cluster/" in str(item.fspath):
            item.add_marker(skip)


def kubectl(
    *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", *args], input=stdin, capture_output=True, text=True, check=check, timeout=120
    )


def apply(manifest: dict[str, Any], check: bool = True) -> subprocess.CompletedProcess[str]:
    return kubectl("apply", "-f", "-", stdin=json.dumps(manifest), check=check)


@pytest.fixture(scope="session")
def crd_installed() -> None:
    kubectl("apply", "-f", str(ROOT / "crds" / "replicationjobs.smcoperator.io.yaml"))
    kubectl(
        "wait",
        "--for=condition=Established",
        "crd/replicationjobs.smcoperator.io",
        "--timeout=60s",
    )


@pytest.fixture
def namespace(crd_installed: None) -> Iterator[str]:
    name = "smc-operator-test-" + secrets.token_hex(4)
    apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        yield name
    finally:
        kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
async def smc() -> AsyncIterator[SmcEmulator]:
    async with SmcEmulator(access_keys={ACCESS_KEY_ID: ACCESS_KEY_SECRET}) as emulator:
        yield emulator
