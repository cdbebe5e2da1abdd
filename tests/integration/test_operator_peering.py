"""Two operators with kopf peering: only the higher-priority one starts jobs and polls SMC."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import CUSTOM_RESOURCE_DEFINITIONS, EmulatedKubeApi
from testkit.cluster import create_rj, reason_is, seed, start_calls, wait_rj
from testkit.running import OperatorProcess

PEERING_CRDS = (
    Path(__file__).resolve().parents[2]
    / "deploy/helm/smc-operator/charts/kopf-peering/crds/kopf-peering.yaml"
)


async def test_a_standby_neither_starts_nor_polls(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, tmp_path: Path, credentials: None
) -> None:
    for crd in yaml.safe_load_all(PEERING_CRDS.read_text()):
        if crd and crd["spec"]["scope"] == "Cluster":
            await kube_api.create(CUSTOM_RESOURCE_DEFINITIONS, crd)
    await kube_api.request(
        "POST",
        "/apis/kopf.dev/v1/clusterkopfpeerings",
        body={
            "apiVersion": "kopf.dev/v1",
            "kind": "ClusterKopfPeering",
            "metadata": {"name": "smc"},
        },
    )
    operators = [
        OperatorProcess(
            kubeconfig=kube_api.kubeconfig,
            smc_url=live_emulator.url,
            log_path=tmp_path / f"operator-{priority}.log",
            settings={
                "SMC_OPERATOR_POLL_INTERVAL_SECONDS": "0.3",
                "SMC_OPERATOR_CA_FILE": str(live_emulator.ca_file),
            },
            args=("--peering", "smc", "--priority", str(priority)),
        )
        for priority in (100, 200)
    ]
    standby, active = operators
    try:
        # kopf starts every operator paused until it has read the peering object: the active one
        # then resumes, and the standby, started after it, finds it there and stays paused.
        await active.start()
        async with asyncio.timeout(20):
            while "Resuming operations after the pause" not in active.log():
                await asyncio.sleep(0.1)
        await standby.start()
        async with asyncio.timeout(20):
            while "Job refresh skipped: another operator is active" not in standby.log():
                await asyncio.sleep(0.1)
        seed(live_emulator, "j-peering0000001", run_seconds=1.0)
        await create_rj(kube_api, "web", "j-peering0000001")
        await wait_rj(kube_api, "web", reason_is("Started"))
        await live_emulator.wait_for_calls(2, action=wire.DESCRIBE_REPLICATION_JOBS)
        assert len(start_calls(live_emulator, "j-peering0000001")) == 1
        assert "Handler 'start' succeeded" in active.log()
        assert "Handler 'start'" not in standby.log()
        assert "Resuming operations" not in standby.log()
        assert "Job refresh skipped" not in active.log()
    finally:
        for operator in operators:
            await operator.stop()
