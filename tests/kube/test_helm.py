"""The Helm chart in a real API server: RBAC for real, the release lifecycle, Pod Security.

``helm install`` the chart (no kubelet here, so its pod never runs: fine), then run the operator
process as the chart's ServiceAccount (a token from ``kubectl create token``) with exactly the
arguments the chart's Deployment gives it, in both scopes. It must work with exactly the chart's
grants, with no 403 anywhere in its log, and that identity must be refused outside them.
The all-namespaces operator also sees the objects earlier tests left in their namespaces (the
session shares one server); it may act on them, which changes nothing asserted here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from smc_testbed.emulator import SmcEmulator
from testkit.kube import CHART, KubeServer, unique
from testkit.running import operator_factory

from .conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECRET, rj, seed, start_calls, wait_reason

SMC_VALUES = ("--set", "image.repository=registry.example.com/smc-operator")


def make_namespace(kube: KubeServer, name: str, labels: dict[str, str] | None = None) -> str:
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": labels or {}},
        }
    )
    return name


def with_secret(kube: KubeServer, namespace: str) -> str:
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": namespace},
            "stringData": {"accessKeyId": ACCESS_KEY_ID, "accessKeySecret": ACCESS_KEY_SECRET},
        }
    )
    return namespace


def service_account_kubeconfig(kube: KubeServer, release_ns: str, name: str, path: Path) -> Path:
    token = kube.kubectl("-n", release_ns, "create", "token", name, "--duration=1h").stdout.strip()
    kube.token_kubeconfig(token, path)
    whoami = kube.kubectl(
        "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", kubeconfig=path
    )
    assert whoami.stdout == f"system:serviceaccount:{release_ns}:{name}"
    return path


def can_i(kube: KubeServer, kubeconfig: Path, *args: str) -> bool:
    result = kube.kubectl("auth", "can-i", *args, kubeconfig=kubeconfig, check=False)
    return result.stdout.strip() == "yes"


def deployment_args(kube: KubeServer, release_ns: str, name: str) -> list[str]:
    deployment = kube.get("deployment", name, release_ns)
    args: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


async def run_as_chart(
    kube: KubeServer,
    smc: SmcEmulator,
    tmp_path: Path,
    kubeconfig: Path,
    args: list[str],
    namespaces: list[str],
) -> None:
    """The operator, as the chart's ServiceAccount with the chart's args, starts a job in each."""
    async with operator_factory(kubeconfig=kubeconfig, smc_url=smc.url, log_dir=tmp_path) as start:
        operator = await start(args=tuple(args))
        for index, namespace in enumerate(namespaces):
            job = f"j-kubehelm{index:06d}{len(args):02d}"
            seed(smc, job)
            kube.apply(rj(namespace, "web", job))
            obj = await wait_reason(kube, namespace, "web", "Started")
            assert obj["status"]["attempts"] == 1
            assert len(start_calls(smc, job)) == 1
        log = operator.log()
    # A 403 from the API server; not a log timestamp's milliseconds (",403").
    refusal = re.search(r"(?<![,:.])\b403\b|[Ff]orbidden(?!\.RAM)", log)
    assert refusal is None, log[max(0, refusal.start() - 1500) : refusal.end() + 500]
    assert "Traceback" not in log


async def test_all_namespaces_with_exactly_the_charts_grants(
    kube: KubeServer, smc: SmcEmulator, tmp_path: Path
) -> None:
    release_ns = make_namespace(kube, unique("rel"))
    team_a = with_secret(kube, make_namespace(kube, unique("team")))
    team_b = with_secret(kube, make_namespace(kube, unique("team")))
    kube.helm("install", "smc-all", str(CHART), "-n", release_ns, *SMC_VALUES)
    name = "smc-all-smc-operator"
    kubeconfig = service_account_kubeconfig(kube, release_ns, name, tmp_path / "sa.kubeconfig")
    args = deployment_args(kube, release_ns, name)
    assert "--namespace" not in args  # all namespaces

    await run_as_chart(kube, smc, tmp_path, kubeconfig, args, [team_a, team_b])

    # Refused outside the grants: no get/create/delete of ReplicationJobs, no listing Secrets, no
    # Pods, no writing the CRD, no RBAC.
    for refused in (
        ("get", "replicationjobs.smcoperator.io", "-n", team_a),
        ("create", "replicationjobs.smcoperator.io", "-n", team_a),
        ("delete", "replicationjobs.smcoperator.io", "-n", team_a),
        ("list", "secrets", "-n", team_a),
        ("watch", "secrets", "-A"),
        ("create", "pods", "-n", team_a),
        ("update", "customresourcedefinitions.apiextensions.k8s.io"),
        ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
    ):
        assert not can_i(kube, kubeconfig, *refused), refused
    result = kube.kubectl("-n", team_a, "get", "rj", "web", kubeconfig=kubeconfig, check=False)
    assert result.returncode == 1 and "Forbidden" in result.stderr
    result = kube.kubectl("-n", team_a, "get", "secrets", kubeconfig=kubeconfig, check=False)
    assert result.returncode == 1 and "Forbidden" in result.stderr

    # helm upgrade (a changed value reaches the Deployment), rollback, uninstall.
    kube.helm(
        "upgrade",
        "smc-all",
        str(CHART),
        "-n",
        release_ns,
        "--reuse-values",
        "--set",
        "config.maxAttempts=3",
    )
    env = kube.get("deployment", name, release_ns)["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    assert {"name": "SMC_OPERATOR_MAX_ATTEMPTS", "value": "3"} in env
    kube.helm("rollback", "smc-all", "1", "-n", release_ns)
    env = kube.get("deployment", name, release_ns)["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    assert {"name": "SMC_OPERATOR_MAX_ATTEMPTS", "value": "10"} in env
    history = json.loads(kube.helm("history", "smc-all", "-n", release_ns, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2, 3]
    kube.helm("uninstall", "smc-all", "-n", release_ns)
    assert not can_i(
        kube, kubeconfig, "patch", "replicationjobs.smcoperator.io/status", "-n", team_a
    )
    assert kube.kubectl("get", "clusterrole", name, check=False).returncode == 1
    # The CRD, and every ReplicationJob, is kept (README: Uninstall).
    assert kube.get("rj", "web", team_a)["spec"]["jobId"]


async def test_named_namespaces_with_exactly_the_charts_grants(
    kube: KubeServer, smc: SmcEmulator, tmp_path: Path
) -> None:
    release_ns = make_namespace(kube, unique("rel"))
    watched = with_secret(kube, make_namespace(kube, unique("team")))
    outside = with_secret(kube, make_namespace(kube, unique("team")))
    kube.helm(
        "install",
        "smc-ns",
        str(CHART),
        "-n",
        release_ns,
        *SMC_VALUES,
        "--set",
        f"watch.namespaces={{{watched}}}",
    )
    name = "smc-ns-smc-operator"
    kubeconfig = service_account_kubeconfig(kube, release_ns, name, tmp_path / "sa.kubeconfig")
    args = deployment_args(kube, release_ns, name)
    assert args[:2] == ["--namespace", watched]

    await run_as_chart(kube, smc, tmp_path, kubeconfig, args, [watched])

    # Nothing cluster-scoped, nothing in another namespace.
    assert can_i(kube, kubeconfig, "patch", "replicationjobs.smcoperator.io/status", "-n", watched)
    assert can_i(kube, kubeconfig, "get", f"secrets/{SECRET}", "-n", watched)
    for refused in (
        ("list", "replicationjobs.smcoperator.io", "-n", outside),
        ("list", "replicationjobs.smcoperator.io", "-A"),
        ("get", f"secrets/{SECRET}", "-n", outside),
        ("list", "customresourcedefinitions.apiextensions.k8s.io"),
        ("list", "namespaces"),
    ):
        assert not can_i(kube, kubeconfig, *refused), refused
    # The operator pointed at a namespace the chart did not grant cannot watch it.
    kube.apply(rj(outside, "web", "j-kubehelmoutside"))
    result = kube.kubectl(
        "-n",
        outside,
        "get",
        "rj",
        "--watch-only",
        "--request-timeout=5s",
        kubeconfig=kubeconfig,
        check=False,
    )
    assert result.returncode == 1 and "Forbidden" in result.stderr

    # README's upgrade step: the CRD first (helm never changes CRDs), then the release.
    applied = kube.kubectl("apply", "-f", str(CHART / "crds"))
    assert "replicationjobs.smcoperator.io" in applied.stdout
    kube.helm("upgrade", "smc-ns", str(CHART), "-n", release_ns, "--reuse-values")
    kube.helm("uninstall", "smc-ns", "-n", release_ns)
    assert not can_i(
        kube, kubeconfig, "patch", "replicationjobs.smcoperator.io/status", "-n", watched
    )


def test_every_object_the_chart_renders_passes_server_dry_run_in_a_restricted_namespace(
    kube: KubeServer,
) -> None:
    namespace = make_namespace(
        kube,
        unique("restricted"),
        {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
        },
    )
    rendered = kube.helm(
        "template", "smc-operator", str(CHART), "-n", namespace, *SMC_VALUES
    ).stdout
    objects: list[dict[str, Any]] = [d for d in yaml.safe_load_all(rendered) if d]
    assert {o["kind"] for o in objects} >= {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
    }
    result = kube.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=rendered)
    assert "Warning" not in result.stderr, (
        result.stderr
    )  # PodSecurity warns on a violating template
    assert result.stdout.count("(server dry run)") == len(objects)
    # Pods are what "enforce" admits or refuses: the Deployment's pod itself, admitted.
    (deployment,) = (o for o in objects if o["kind"] == "Deployment")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "operator", "namespace": namespace},
        "spec": deployment["spec"]["template"]["spec"],
    }
    result = kube.kubectl(
        "apply", "--dry-run=server", "-f", "-", stdin=json.dumps(pod), check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr
    # And the check is real: a privileged variant is refused by the same namespace.
    pod["spec"] = json.loads(json.dumps(pod["spec"]))
    pod["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    result = kube.kubectl(
        "apply", "--dry-run=server", "-f", "-", stdin=json.dumps(pod), check=False
    )
    assert result.returncode == 1 and "violates PodSecurity" in result.stderr
