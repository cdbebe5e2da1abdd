"""The README's Helm path (between ``<!-- helm:begin -->`` and ``<!-- helm:end -->``), command by
command, as far as a machine without a cluster allows.

- ``kubectl create namespace`` / ``create secret``: run as written plus ``--dry-run=client -o
  yaml``, validated offline, the Secret parsed by the operator's own parser, then applied to the
  emulated Kubernetes API (kmock answers only JSON, and ``kubectl create`` sends protobuf for
  built-in kinds, so the objects go through ``kubectl apply``).
- ``helm install``: run as written plus ``--dry-run=client`` (Helm 4 renders, checks the schema and
  the templates and prints the notes without a cluster; Helm 3 would need one), and ``helm
  template`` with the same arguments, every object validated offline.
- ``kubectl apply -f deploy/helm/smc-operator/crds/`` (what Helm installs, and the upgrade step),
  ``kubectl apply -f deploy/samples/...`` and ``kubectl delete crd``: run as written against the
  emulated API.
- ``helm upgrade`` and ``helm uninstall`` need a release stored in a cluster; here their flags are
  checked and test_helm_chart checks that the CRD is outside the release manifest (so uninstall
  keeps it).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from smc_operator import model, wire
from smc_operator.credentials import parse_secret
from smc_testbed.kubemock import REPLICATION_JOBS, SECRETS, EmulatedKubeApi
from testkit.helm import CHART, KUBE_VERSION, ROOT, helm_major, kubectl_binary, run_helm

README = ROOT / "README.md"
BEGIN, END = "<!-- helm:begin -->", "<!-- helm:end -->"


def helm_section() -> str:
    text = README.read_text()
    assert BEGIN in text and END in text
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)]


def code_blocks(language: str) -> list[str]:
    return [
        match.group(1)
        for match in re.finditer(rf"^ *```{language}\n(.*?)^ *```", helm_section(), re.M | re.S)
    ]


def commands() -> list[list[str]]:
    """Every shell command in the section, comments dropped, ``&&`` chains split."""
    result = []
    for block in code_blocks("sh"):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            current: list[str] = []
            for word in [*words, "&&"]:
                if word == "&&":
                    if current:
                        result.append(current)
                    current = []
                else:
                    current.append(word)
    return result


def starting(*prefix: str) -> list[list[str]]:
    return [c for c in commands() if c[: len(prefix)] == list(prefix)]


def option(command: list[str], *names: str) -> str | None:
    for index, word in enumerate(command):
        for name in names:
            if word == name:
                return command[index + 1]
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


def chart_path(command: list[str]) -> str:
    assert command[3] == "deploy/helm/smc-operator", command
    return str(ROOT / command[3])


def with_tools(command: Sequence[str]) -> list[str]:
    """kubectl from PATH, or the one fetched with helm (testkit.helm)."""
    return [str(kubectl_binary()), *command[1:]] if command[0] == "kubectl" else list(command)


async def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    """A subprocess that does not block the event loop serving the emulated API."""
    process = await asyncio.create_subprocess_exec(
        *with_tools(args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    async with asyncio.timeout(120):
        stdout, stderr = await process.communicate(stdin.encode() if stdin else None)
    assert process.returncode == 0, f"{shlex.join(args)}:\n{stderr.decode()}"
    return stdout.decode()


def test_the_section_holds_the_whole_helm_path() -> None:
    assert starting("kubectl", "create", "namespace")
    assert [c for c in commands() if c[:1] == ["kubectl"] and "secret" in c and "create" in c]
    assert starting("helm", "install")
    assert [c for c in starting("kubectl", "apply") if "deploy/samples/" in (option(c, "-f") or "")]
    assert starting("kubectl", "apply", "-f", "deploy/helm/smc-operator/crds/")
    assert starting("helm", "upgrade")
    assert starting("helm", "uninstall")
    assert starting("kubectl", "delete", "crd", "replicationjobs.smcoperator.io")


def test_every_helm_install_renders_and_validates(tmp_path: Path) -> None:
    installs = starting("helm", "install")
    assert len(installs) >= 2  # the AccessKey path and the RRSA path
    for command in installs:
        args = [*command[1:3], chart_path(command), *command[4:]]
        if helm_major() >= 4:  # Helm 3's install --dry-run=client still asks a cluster
            dry_run = run_helm(*args, "--dry-run=client")
            assert dry_run.returncode == 0, dry_run.stderr
            assert "NOTES:" in dry_run.stdout
        template = run_helm("template", *args[1:], "--include-crds", "--kube-version", KUBE_VERSION)
        assert template.returncode == 0, template.stderr
        objects = [o for o in yaml.safe_load_all(template.stdout) if o]
        for obj in objects:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
        assert deployment["metadata"]["namespace"] == option(command, "-n", "--namespace")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        secret = next(
            (w.split("=", 1)[1] for w in command if w.startswith("credentials.existingSecret=")),
            None,
        )
        if secret is not None:
            created = [c for c in commands() if "secret" in c and "generic" in c]
            assert [c[c.index("generic") + 1] for c in created] == [secret]
            assert env["ALIBABA_CLOUD_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == secret
        if any(w.startswith("credentials.rrsa.enabled=true") for w in command):
            (account,) = [o for o in objects if o["kind"] == "ServiceAccount"]
            subject = f"system:serviceaccount:{account['metadata']['namespace']}:{account['metadata']['name']}"
            assert subject in helm_section(), "the README names the RRSA trust subject"
            assert "ALIBABA_CLOUD_OIDC_TOKEN_FILE" in env


def test_helm_upgrade_and_uninstall_use_the_installed_release() -> None:
    (install,) = [
        c
        for c in starting("helm", "install")
        if "credentials.existingSecret=smc-credentials" in " ".join(c)
    ]
    release, namespace = install[2], option(install, "-n", "--namespace")
    for command in starting("helm", "upgrade") + starting("helm", "uninstall"):
        assert command[2] == release
        assert option(command, "-n", "--namespace") == namespace
    (upgrade,) = starting("helm", "upgrade")
    assert chart_path(upgrade) == str(CHART)
    assert "--reuse-values" in upgrade  # keeps the install's --set values
    help_text = run_helm("upgrade", "--help").stdout
    assert "--reuse-values" in help_text


def test_the_credentials_secret_is_one_the_operator_can_parse() -> None:
    (create,) = [c for c in commands() if c[:1] == ["kubectl"] and "secret" in c and "generic" in c]
    result = subprocess.run(
        with_tools([*create, "--dry-run=client", "-o", "yaml"]),
        capture_output=True,
        text=True,
        check=True,
    )
    secret = yaml.safe_load(result.stdout)
    kubernetes_validate.validate(secret, KUBE_VERSION, strict=True)
    key = parse_secret(secret, where="README")
    assert key.access_key_id.startswith("LTAI")


async def test_the_kubectl_commands_work_against_the_emulated_api(
    kube_api: EmulatedKubeApi, tmp_path: Path
) -> None:
    env = {"KUBECONFIG": str(kube_api.kubeconfig), "HOME": str(tmp_path)}
    # Namespaces and the Secret: the README's commands, as YAML, applied (see the module doc).
    creates = [c for c in commands() if c[0] == "kubectl" and "create" in c[:4]]
    assert len(creates) == 3  # two namespaces and the Secret
    for command in creates:
        manifest = await run(*command, "--dry-run=client", "-o", "yaml")
        kubernetes_validate.validate(yaml.safe_load(manifest), KUBE_VERSION, strict=True)
        await run("kubectl", "apply", "--validate=false", "-f", "-", stdin=manifest, env=env)
    (create_secret,) = [c for c in commands() if "secret" in c and "generic" in c]
    namespace = option(create_secret, "-n", "--namespace")
    assert namespace is not None
    stored = await kube_api.get(
        SECRETS, create_secret[create_secret.index("generic") + 1], namespace=namespace
    )
    parse_secret(stored, where="emulated API")

    # The CRD, from the chart's crds/ (what Helm installs, and the README's upgrade step).
    (apply_crds,) = starting("kubectl", "apply", "-f", "deploy/helm/smc-operator/crds/")
    out = await run(*apply_crds, "--validate=false", env=env)
    assert "replicationjobs.smcoperator.io" in out

    # The sample ReplicationJob.
    samples = [
        c for c in starting("kubectl", "apply") if "deploy/samples/" in (option(c, "-f") or "")
    ]
    assert samples
    for command in samples:
        await run(*command, "--validate=false", env=env)
        sample = yaml.safe_load((ROOT / option(command, "-f")).read_text())  # type: ignore[operator]
        created = await kube_api.get(
            REPLICATION_JOBS, sample["metadata"]["name"], namespace=sample["metadata"]["namespace"]
        )
        assert created["spec"]["jobId"] == sample["spec"]["jobId"]
        assert created["kind"] == model.KIND

    # Deleting the CRD (the README's last step) takes every ReplicationJob with it.
    (delete_crd,) = starting("kubectl", "delete", "crd")
    await run(*delete_crd, env=env)
    listing = await run("kubectl", "get", "crd", "-o", "json", env=env)
    assert "replicationjobs.smcoperator.io" not in [
        i["metadata"]["name"] for i in json.loads(listing)["items"]
    ]


def test_the_ram_policy_allows_exactly_what_the_operator_calls() -> None:
    (policy,) = [json.loads(block) for block in code_blocks("json")]
    (statement,) = policy["Statement"]
    assert policy["Version"] == "1"
    assert statement["Effect"] == "Allow"
    assert set(statement["Action"]) == {
        f"smc:{wire.START_REPLICATION_JOB}",
        f"smc:{wire.DESCRIBE_REPLICATION_JOBS}",
    }
    resources = statement["Resource"]
    assert resources
    for resource in resources:
        assert re.fullmatch(r"acs:smc:[a-z0-9-]+:[0-9]+:replicationjob/(j-[a-z0-9]+|\*)", resource)
    assert "acs:smc:{regionId}:{accountId}:replicationjob/{JobId}" in helm_section()


def test_the_values_the_readme_names_exist() -> None:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    named = set(re.findall(r"`((?:[a-z][A-Za-z]*\.)*[a-z][A-Za-z]*)(?:\.\*)?`", helm_section()))
    checked = 0
    for name in sorted(named):
        node: Any = values
        parts = name.split(".")
        if parts[0] not in values:
            continue  # a word in backticks, not a value
        for part in parts:
            assert isinstance(node, dict) and part in node, f"README names {name}: not a value"
            node = node[part]
        checked += 1
    assert checked >= 15
