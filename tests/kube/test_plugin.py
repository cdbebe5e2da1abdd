"""``kubectl smc`` (the kubectl-smc plugin) through the real kubectl against the real API server,
on objects the real operator wrote: get, explain, retry, with --namespace, --context, KUBECONFIG."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator
from testkit.kube import KubeServer
from testkit.ports import free_port
from testkit.running import OperatorFactory

from .conftest import rj, seed, start_calls, wait_reason

STARTED_JOB = "j-plugin00000000001"
FAILING_JOB = "j-plugin00000000002"


def kubectl_smc(
    kube: KubeServer, *args: str, kubeconfig: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``kubectl smc ...`` as a user runs it: kubectl finds kubectl-smc on PATH."""
    env = kube.env(kubeconfig)
    env["PATH"] = f"{kube.bin}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    return subprocess.run(
        [str(kube.bin / "kubectl"), "smc", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def table(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


async def test_get_explain_and_retry_on_objects_the_operator_wrote(
    kube: KubeServer,
    namespace: str,
    smc: SmcEmulator,
    start_operator: OperatorFactory,
    tmp_path: Path,
) -> None:
    seed(smc, STARTED_JOB)
    seed(smc, FAILING_JOB)
    smc.state.add_fault(
        wire.START_REPLICATION_JOB, job_id=FAILING_JOB, code=wire.INTERNAL_ERROR, count=5
    )
    await start_operator()
    kube.apply(rj(namespace, "web", STARTED_JOB))
    kube.apply(rj(namespace, "db", FAILING_JOB))
    web = await wait_reason(kube, namespace, "web", "Started")
    db = await wait_reason(kube, namespace, "db", "RetriesExhausted")

    # get: across namespaces, with the RequestIds and error codes.
    result = kubectl_smc(kube, "get", "-A")
    assert result.returncode == 0, result.stderr
    rows = {row[1]: row for row in table(result.stdout)[1:] if row[0] == namespace}
    web_id = web["status"]["conditions"][0]["requestId"]
    db_condition = db["status"]["conditions"][0]
    assert rows["web"][:5] == [namespace, "web", STARTED_JOB, "True", "Started"]
    assert rows["web"][-1] == web_id
    assert rows["db"][:5] == [namespace, "db", FAILING_JOB, "False", "RetriesExhausted"]
    assert rows["db"][-2:] == [wire.INTERNAL_ERROR, db_condition["requestId"]]
    assert table(result.stdout)[0][:3] == ["NAMESPACE", "NAME", "JOB"]

    # explain: the condition, SMC's code, what it means and what to do.
    result = kubectl_smc(kube, "explain", "db", "-n", namespace)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"ReplicationJob {namespace}/db (SMC job {FAILING_JOB})"
    assert "Started: False (RetriesExhausted)" in lines
    assert f"SMC error code: {wire.INTERNAL_ERROR}" in lines
    assert any(line.startswith("What to do: ") for line in lines)
    assert lines[-1] == f"Then: kubectl smc retry db -n {namespace}"

    # retry: a new start request; SMC answers again, so the operator starts the job.
    result = kubectl_smc(kube, "retry", "db", "-n", namespace)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"replicationjob {namespace}/db: retry requested")
    db = await wait_reason(kube, namespace, "db", "Started")
    assert "smcoperator.io/retry-requested-at" in db["metadata"]["annotations"]
    assert [c.code for c in start_calls(smc, FAILING_JOB)][-1] is None

    # --context picks the context, and its namespace is the default one.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kube.kubeconfig.read_text())
    current = kube.kubectl("config", "current-context", kubeconfig=kubeconfig).stdout.strip()
    cluster = kube.kubectl(
        "config", "view", "-o", "jsonpath={.contexts[0].context.cluster}", kubeconfig=kubeconfig
    ).stdout
    user = kube.kubectl(
        "config", "view", "-o", "jsonpath={.contexts[0].context.user}", kubeconfig=kubeconfig
    ).stdout
    kube.kubectl(
        "config",
        "set-context",
        "team",
        f"--cluster={cluster}",
        f"--user={user}",
        f"--namespace={namespace}",
        kubeconfig=kubeconfig,
    )
    assert current != "team"
    result = kubectl_smc(kube, "get", "--context", "team", kubeconfig=kubeconfig)
    assert result.returncode == 0, result.stderr
    assert sorted(row[1] for row in table(result.stdout)[1:]) == ["db", "web"]
    result = kubectl_smc(kube, "get", "web", "--kubeconfig", str(kubeconfig), "-n", namespace)
    assert [row[1] for row in table(result.stdout)[1:]] == ["web"]


async def test_unknown_objects_and_unreachable_servers_are_one_clear_line(
    kube: KubeServer, namespace: str, tmp_path: Path
) -> None:
    result = kubectl_smc(kube, "explain", "nope", "-n", namespace)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: not found: replicationjob {namespace}/nope"
    broken = tmp_path / "kubeconfig"
    nowhere = f"https://127.0.0.1:{free_port()}"
    broken.write_text(re.sub(r"https://127\.0\.0\.1:[0-9]+", nowhere, kube.kubeconfig.read_text()))
    result = kubectl_smc(kube, "get", "-n", namespace, kubeconfig=broken)
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach the API server")
    assert len(result.stderr.strip().splitlines()) == 1
