"""Fixtures shared by every suite."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from smc_testbed.emulator.tls import TlsFiles, generate
from smc_testbed.kubemock import REPLICATION_JOBS, EmulatedKubeApi


@pytest.fixture(scope="session")
def smc_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA and a certificate for 127.0.0.1 the SMC emulator serves HTTPS with (``ca`` is what
    the operator trusts: ``SMC_OPERATOR_CA_FILE``), as SMC is served over HTTPS."""
    return generate(tmp_path_factory.mktemp("smc-tls"))


@pytest.fixture
async def kube_api() -> AsyncIterator[EmulatedKubeApi]:
    """The emulated Kubernetes API on 127.0.0.1 (kmock with the fidelity layer), stopped after.

    With ``SMC_OPERATOR_RECORD_OBJECTS=DIR``, every ReplicationJob state the operator writes for
    the object's current generation is kept, the last one per ``Started`` reason, in ``DIR/<Reason>.json`` (how the objects of
    ``tests/data/replicationjobs/`` were recorded from the end-to-end runs).
    """
    async with EmulatedKubeApi() as api:
        record = os.environ.get("SMC_OPERATOR_RECORD_OBJECTS")
        if record:
            api.store.add_listener(functools.partial(_record, Path(record)))
        yield api


def _record(directory: Path, resource: Any, event: Any) -> None:
    if resource.key != REPLICATION_JOBS.key:
        return
    status = event.object.get("status") or {}
    if status.get("observedGeneration") != event.object["metadata"].get("generation"):
        return  # the user changed the spec since: not the operator's verdict on this object
    conditions = status.get("conditions") or []
    reason = next((c.get("reason") for c in conditions if c.get("type") == "Started"), None)
    if reason:
        directory.mkdir(parents=True, exist_ok=True)
        text = json.dumps(event.object, indent=2, sort_keys=True) + "\n"
        (directory / f"{reason}.json").write_text(text)
