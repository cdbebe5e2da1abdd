"""The running operator's HTTP endpoints: Prometheus metrics and kopf's liveness probe."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import EmulatedKubeApi
from testkit.cluster import create_rj, create_secret, reason_is, seed, wait_rj
from testkit.ports import free_port

from .conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, OperatorFactory

#: Every metric the README documents.
DOCUMENTED = (
    "smc_operator_smc_calls_total",
    "smc_operator_smc_call_duration_seconds",
    "smc_operator_start_attempts_total",
    "smc_operator_start_retries_total",
    "smc_operator_replicationjobs",
    "smc_operator_rate_limiter_wait_seconds",
    "smc_operator_event_loop_lag_seconds",
)


async def get(url: str) -> tuple[int, str]:
    """GET with retries while the operator is still starting up."""
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            try:
                async with session.get(url) as response:
                    return response.status, await response.text()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    pytest.fail(f"{url} never answered")


def value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in metrics:\n{text}")


async def test_metrics_and_liveness_are_served(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    await create_secret(kube_api, ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    seed(live_emulator, "j-metrics00000001")
    seed(live_emulator, "j-metrics00000002", status=wire.JOB_RUNNING)
    live_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, job_id="j-metrics00000001", code=wire.INTERNAL_ERROR, count=1
    )
    metrics_port, health_port = free_port(), free_port()
    await start_operator(metrics_port=str(metrics_port), health_port=str(health_port))
    await create_rj(kube_api, "ok", "j-metrics00000001")
    await create_rj(kube_api, "refused", "j-metrics00000002")
    await wait_rj(kube_api, "ok", reason_is("Started"))
    await wait_rj(kube_api, "refused", reason_is("InvalidStatus"))

    # The gauge follows the operator's view of the objects, which trails the API by a watch event.
    async with asyncio.timeout(10):
        while True:
            status, text = await get(f"http://127.0.0.1:{metrics_port}/metrics")
            if 'smc_operator_replicationjobs{reason="Started"} 1.0' in text:
                break
            await asyncio.sleep(0.1)
    assert status == 200
    for name in DOCUMENTED:
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    calls = 'smc_operator_smc_calls_total{action="StartReplicationJob",code="%s"}'
    assert value(text, calls % "Success") == 1
    assert value(text, calls % "InternalError") == 1
    assert value(text, calls % "ReplicationJob.InvalidStatus") == 1
    assert value(text, "smc_operator_start_attempts_total") == 3
    assert value(text, 'smc_operator_start_retries_total{reason="Retrying"}') == 1
    assert value(text, 'smc_operator_replicationjobs{reason="Started"}') == 1
    assert value(text, 'smc_operator_replicationjobs{reason="InvalidStatus"}') == 1
    assert value(text, "smc_operator_event_loop_lag_seconds_count") > 0  # the ticker runs
    assert ACCESS_KEY_ID not in text and ACCESS_KEY_SECRET not in text

    status, _ = await get(f"http://127.0.0.1:{health_port}/healthz")
    assert status == 200
