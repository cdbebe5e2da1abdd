"""The short fault-injection soak (run by CI), and the Kubernetes conflicts it exposed.

``test_short_soak_keeps_every_invariant`` runs ``python -m bench.soak`` (see its docstring for the
fault mix and the invariants) with 100 objects, two SIGKILL restarts, SMC errors, throttling,
latency and dropped connections, Kubernetes PATCH failures (500, 500 after applying, slow) and
closed watch streams, and asserts that no invariant is violated. The long soak is the same
command with ``--objects 1000 --kills 5`` (docs/performance.md).

The 409 Conflict answers to PATCH are left out of the soak here: kopf neither retries a 409 nor
re-schedules the object after one, and the two deterministic tests below show what that costs.
The long soak found a third problem: an operator that starts while more ReplicationJobs exist
than it has workers (``--workers``, default 200) handles none of them. These three tests are
marked ``xfail(strict=True)`` until the operator defends against them: they fail today.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import REPLICATION_JOBS, EmulatedKubeApi, Fault
from testkit.cluster import (
    create_rj,
    create_secret,
    reason_is,
    seed,
    start_calls,
    started,
    wait_rj,
)
from testkit.running import OperatorProcess

from .conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, OperatorFactory

ROOT = Path(__file__).resolve().parents[2]
JOB = "j-soak0000000001"
#: kopf's main-resource PATCHes before the one the retry test fails (see the test).
PASSING_MAIN_PATCHES = 2


def test_short_soak_keeps_every_invariant(tmp_path: Path) -> None:
    result_file = tmp_path / "soak.json"
    command = [
        sys.executable,
        "-m",
        "bench.soak",
        "--objects",
        "100",
        "--kills",
        "2",
        "--fault-seconds",
        "12",
        "--short",
        "--no-kube-conflicts",
        "--settle-seconds",
        "30",
        "--workdir",
        str(tmp_path / "work"),
        "--result",
        str(result_file),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    completed = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=150, check=False
    )
    assert result_file.exists(), completed.stdout + completed.stderr[-4000:]
    result = json.loads(result_file.read_text(encoding="utf-8"))

    assert result["violations"] == [], json.dumps(result["violations"][:3], indent=1)
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert result["objects"] == 100
    assert result["kills"] == 2
    assert set(result["outcomes"]) <= {"True/Started", "False/RetriesExhausted"}
    # The faults did fire: the soak tested something.
    outcomes = result["smc"]["byOutcome"]
    assert outcomes.get(wire.INTERNAL_ERROR, 0) > 0
    assert outcomes.get(wire.THROTTLING_USER, 0) > 0
    assert sum(f["hits"] for f in result["kube"]["faults"]) > 0
    # One start per start request: two for a suspended and resumed object.
    assert result["smc"]["maxStartCount"] <= 2
    # A tenth of the objects had the operator create their jobs, under the same faults.
    assert result["created"]["objects"] == 10
    assert result["created"]["maxJobsPerObject"] <= 1
    assert result["smc"]["byAction"].get("CreateReplicationJob", 0) >= 10
    # Four adopted objects were suspended (one Stop each) and resumed; five created incremental
    # jobs were cut over once each; Stops and cut-overs met the faults too.
    lifecycle = result["lifecycle"]
    assert lifecycle["stoppedOnceAndStartedTwice"] == lifecycle["suspendedObjects"] == 4
    assert lifecycle["cutOverOnce"] == lifecycle["cutOverObjects"] == 5
    assert lifecycle["maxStopsPerJob"] == lifecycle["maxCutOversPerJob"] == 1
    assert lifecycle["stopCalls"] >= 4 and lifecycle["cutOverCalls"] >= 5


@pytest.fixture
async def credentials(kube_api: EmulatedKubeApi) -> None:
    await create_secret(kube_api, ACCESS_KEY_ID, ACCESS_KEY_SECRET)


@pytest.mark.usefixtures("credentials")
async def test_a_conflict_on_the_outcome_patch_loses_no_request_id(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    # The object's first status PATCH (the operator's write-ahead) passes; the second (kopf's
    # outcome patch, carrying the RequestId) answers 409 Conflict.
    for status, count in ((None, 1), (409, 1)):
        kube_api.faults.add(
            Fault(
                verb="patch",
                resource=REPLICATION_JOBS,
                subresource="status",
                name="web",
                status=status,
                count=count,
            )
        )
    await start_operator()
    await create_rj(kube_api, "web", JOB)

    obj = await wait_rj(kube_api, "web", reason_is("Started"), timeout=10)
    accepted = [c for c in start_calls(live_emulator, JOB) if c.http_status == 200]
    assert len(accepted) == 1
    assert started(obj)["requestId"] == accepted[0].request_id


@pytest.mark.usefixtures("credentials")
@pytest.mark.xfail(
    strict=True,
    reason="kopf does not retry a 409 on the patch that schedules a retry and drops it; after a "
    "failed DescribeReplicationJobs (no write-ahead, so no other event is pending) nothing wakes "
    "the object again until an unrelated event or a restart (docs/performance.md)",
)
async def test_a_conflict_on_the_retry_patch_does_not_strand_the_object(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(live_emulator, JOB)
    # Attempt 1 fails (InternalError, Retrying); the confirmation before attempt 2 fails too
    # (DescribeReplicationJobs InternalError: Retrying again, nothing written ahead).
    for action in (wire.START_REPLICATION_JOB, wire.DESCRIBE_REPLICATION_JOBS):
        live_emulator.state.add_fault(action, job_id=JOB, code=wire.INTERNAL_ERROR, count=1)
    # kopf's PATCHes of the main resource: the retry after attempt 1 and the touch that ends its
    # delay pass; the one storing the retry after the failed Describe answers 409 Conflict.
    for status, count in ((None, PASSING_MAIN_PATCHES), (409, 1)):
        kube_api.faults.add(
            Fault(
                verb="patch",
                resource=REPLICATION_JOBS,
                subresource="",
                name="web",
                status=status,
                count=count,
            )
        )
    await start_operator()
    await create_rj(kube_api, "web", JOB)

    await wait_rj(kube_api, "web", reason_is("Started"), timeout=10)
    assert live_emulator.state.job(JOB).start_count == 1  # type: ignore[union-attr]


@pytest.mark.usefixtures("credentials")
async def test_an_operator_starting_with_more_objects_than_workers_handles_them(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, tmp_path: Path
) -> None:
    workers, objects = 3, 5
    for n in range(objects):
        job_id = f"j-soakworkers{n:04d}"
        seed(live_emulator, job_id)
        await create_rj(kube_api, f"web-{n}", job_id)
    operator = OperatorProcess(
        kubeconfig=kube_api.kubeconfig,
        smc_url=live_emulator.url,
        log_path=tmp_path / "operator.log",
        settings={"SMC_OPERATOR_CA_FILE": str(live_emulator.ca_file)},
        args=("--workers", str(workers)),
    )
    await operator.start()
    try:
        for n in range(objects):
            await wait_rj(kube_api, f"web-{n}", reason_is("Started"), timeout=10)
    finally:
        await operator.stop()
