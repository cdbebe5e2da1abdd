"""``smc-operator demo --kubeconfig FILE``: the demo on a real cluster, and nothing left behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from testkit.kube import KubeServer


def test_the_demo_runs_on_a_real_cluster_and_cleans_up(kube: KubeServer) -> None:
    env = {**os.environ, "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}
    env = {k: v for k, v in env.items() if not k.startswith(("SMC_OPERATOR_", "KUBECONFIG"))}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smc_operator.cli",
            "demo",
            "--kubeconfig",
            str(kube.kubeconfig),
            "--timeout",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (
        "Every sample ended as expected; no job was started twice or created twice."
        in result.stdout
    )
    match = re.search(r"namespace (smc-demo-[0-9a-f]+)\)", result.stdout)
    assert match, result.stdout[:1000]
    namespace = match.group(1)
    # Cleaned up: its objects are gone and the namespace is being deleted (this server has no
    # kube-controller-manager to finish that; a real cluster does).
    listing = json.loads(kube.kubectl("-n", namespace, "get", "rj,secrets", "-o", "json").stdout)
    assert listing["items"] == []
    ns = kube.kubectl("get", "namespace", namespace, "-o", "json", check=False)
    assert ns.returncode != 0 or json.loads(ns.stdout)["status"]["phase"] == "Terminating"
