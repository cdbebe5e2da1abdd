"""The operator across API server restarts and an expired watch (410 Gone after compaction).

The API server is stopped and started again over the same etcd, on the same port with the same
certificates (``scripts/kube-down DIR --apiserver``, then ``scripts/kube-up DIR``), so the
operator's kubeconfig stays valid and only its connections break.
"""

from __future__ import annotations

import asyncio
import signal

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator
from testkit.kube import KubeServer
from testkit.running import OperatorFactory

from .conftest import rj, seed, start_calls, started, wait_reason


async def test_an_api_server_restart_under_a_running_operator_loses_nothing(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    before, during, after = "j-kuberestart001", "j-kuberestart002", "j-kuberestart003"
    for job in (before, during, after):
        seed(smc, job)
    # The second start is answered only after the API server went away: its outcome cannot be
    # written at first.
    smc.state.add_fault(wire.START_REPLICATION_JOB, job_id=during, latency_ms=3000, count=1)
    operator = await start_operator(args=("--namespace", namespace))
    kube.apply(rj(namespace, "before", before))
    await wait_reason(kube, namespace, "before", "Started")
    kube.apply(rj(namespace, "during", during))
    async with asyncio.timeout(60):
        await smc.wait_for_calls(1, action=wire.START_REPLICATION_JOB, job_id=during)

    await asyncio.to_thread(kube.stop_apiserver)
    async with asyncio.timeout(60):
        await smc.wait_for_calls(1, action=wire.START_REPLICATION_JOB, job_id=during, decided=True)
    await asyncio.to_thread(kube.start_apiserver)

    obj = await wait_reason(kube, namespace, "during", "Started")
    assert obj["status"]["attempts"] == 1
    kube.apply(rj(namespace, "after", after))  # the watch reconnected: a new object is seen
    await wait_reason(kube, namespace, "after", "Started")
    for job in (before, during, after):
        assert smc.state.job(job).start_count == 1  # type: ignore[union-attr]
        assert len(start_calls(smc, job)) == 1
    assert len(start_calls(smc, before)) == 1  # no second start for what was settled
    assert operator.process is not None and operator.process.returncode is None


async def test_a_watch_expired_by_compaction_recovers_with_a_fresh_list(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    first, missed = "j-kubecompact001", "j-kubecompact002"
    seed(smc, first)
    seed(smc, missed)
    operator = await start_operator(args=("--namespace", namespace))
    kube.apply(rj(namespace, "first", first))
    await wait_reason(kube, namespace, "first", "Started")
    assert operator.process is not None
    operator.process.send_signal(signal.SIGSTOP)  # frozen: it keeps its last resourceVersion
    try:
        # A restart drops the operator's watch connection before anything new happens ...
        await asyncio.to_thread(kube.restart_apiserver)
        # ... then an object it has never seen, more history, and compaction of all of it ...
        kube.apply(rj(namespace, "missed", missed))
        for index in range(5):
            kube.kubectl(
                "-n", namespace, "annotate", "rj", "first", "--overwrite", f"churn={index}"
            )
        revision = await asyncio.to_thread(kube.etcd_compact)
        assert revision > 0
        # ... and a fresh watch cache that begins after it.
        await asyncio.to_thread(kube.restart_apiserver)
    finally:
        operator.process.send_signal(signal.SIGCONT)

    obj = await wait_reason(kube, namespace, "missed", "Started")
    assert started(obj)["status"] == "True"
    assert smc.state.job(missed).start_count == 1  # type: ignore[union-attr]
    assert len(start_calls(smc, first)) == 1  # the re-list did not start the settled one again
    # kopf resumed from its old resourceVersion, got 410 Gone, and listed afresh.
    assert "Restarting the watch-stream for replicationjobs" in operator.log()
