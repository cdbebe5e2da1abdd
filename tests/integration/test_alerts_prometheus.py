"""The chart's alerts and dashboard in a real Prometheus (Debian's, on 127.0.0.1) that scrapes the
real operator process while the SMC emulator fails: the expected alerts fire, and no other; every
query of the Grafana dashboard evaluates and returns data.

The rules are the chart's as rendered, with every ``for`` set to 0s and Prometheus scraping and
evaluating every second, so that the test does not wait minutes; the expressions are unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import EmulatedKubeApi
from testkit.cluster import create_rj, reason_is, seed, wait_rj
from testkit.helm import rendered_prometheus_rule
from testkit.ports import free_port
from testkit.running import OperatorFactory

pytestmark = pytest.mark.usefixtures("credentials")

DASHBOARD = (
    Path(__file__).resolve().parents[2] / "deploy/helm/smc-operator/dashboards/smc-operator.json"
)


def rules_without_waiting() -> dict[str, Any]:
    groups = rendered_prometheus_rule()["spec"]["groups"]
    for group in groups:
        for alert in group["rules"]:
            alert["for"] = "0s"
    return {"groups": groups}


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - 127.0.0.1 only
        return json.loads(response.read())


@pytest.fixture
def metrics_port() -> int:
    return free_port()


@pytest.fixture
def prometheus(tmp_path: Path, metrics_port: int) -> Iterator[str]:
    """A real Prometheus scraping the operator's metrics port; stopped after the test."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: install Debian's prometheus package (scripts/tools)")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules_without_waiting()))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yaml")],
        "scrape_configs": [
            {
                "job_name": "smc-operator",
                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{url}/-/ready", timeout=1).close()  # noqa: S310
                break
            if process.poll() is not None:
                pytest.fail(f"prometheus exited: {(tmp_path / 'prometheus.log').read_text()}")
            time.sleep(0.1)
        else:
            pytest.fail("prometheus did not become ready in 30 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def firing(url: str) -> set[tuple[str, str]]:
    body = await asyncio.to_thread(get_json, f"{url}/api/v1/alerts")
    return {
        (alert["labels"]["alertname"], alert["labels"].get("reason", ""))
        for alert in body["data"]["alerts"]
        if alert["state"] == "firing"
    }


@pytest.fixture
async def operator(start_operator: OperatorFactory, metrics_port: int, prometheus: str) -> None:
    """The operator process, its metrics scraped by ``prometheus``; stopped by start_operator."""
    await start_operator(metrics_port=str(metrics_port), poll_interval_seconds="0.5")


async def test_the_expected_alerts_fire_no_other_and_every_dashboard_query_has_data(
    kube_api: EmulatedKubeApi, live_emulator: SmcEmulator, prometheus: str, operator: None
) -> None:
    # One job starts; then SMC answers InternalError to every DescribeReplicationJobs the job
    # mirror makes. Another object names a Secret that does not exist.
    seed(live_emulator, "j-alerts000000001")
    live_emulator.state.add_fault(
        wire.START_REPLICATION_JOB, job_id="j-alerts000000001", code=wire.INTERNAL_ERROR, count=1
    )
    await create_rj(kube_api, "web", "j-alerts000000001")
    await wait_rj(kube_api, "web", reason_is("Started"))
    live_emulator.state.add_fault(
        wire.DESCRIBE_REPLICATION_JOBS, code=wire.INTERNAL_ERROR, probability=1.0
    )
    await create_rj(kube_api, "lost-secret", "j-alerts000000002", secret="no-such-secret")
    await wait_rj(kube_api, "lost-secret", reason_is("CredentialsNotFound"))

    expected = {
        ("SmcOperatorReplicationJobsFailed", "CredentialsNotFound"),
        ("SmcOperatorSmcErrors", ""),
    }
    seen: set[tuple[str, str]] = set()
    async with asyncio.timeout(60):
        while seen != expected:
            await asyncio.sleep(0.5)
            seen = await firing(prometheus)
    # Stable: nothing else fires on the next evaluations either.
    await asyncio.sleep(3)
    assert await firing(prometheus) == expected

    # The dashboard: every panel's query, as Grafana sends it, answers with data.
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            query = target["expr"].replace("$job", ".+").replace("$__rate_interval", "30s")
            answer = await asyncio.to_thread(
                get_json, f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": query})
            )
            assert answer["status"] == "success", (panel["title"], answer)
            assert answer["data"]["result"], f"{panel['title']}: no data for {query}"
