"""A real kube-apiserver for tests, through ``scripts/kube-up`` and ``scripts/kube-down`` only.

:func:`kube_server` starts one (etcd + kube-apiserver on 127.0.0.1, data under a directory) and
always stops it; :class:`KubeServer` runs the matching ``kubectl`` and ``helm`` from its
``bin/`` against it, and can restart the API server over the same etcd. When the server cannot
be started, :class:`KubeUnavailableError` carries kube-up's own message (no Go, a build error,
a start-up failure with the log's tail): the tier fails, it never skips.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
KUBE_UP = ROOT / "scripts" / "kube-up"
KUBE_DOWN = ROOT / "scripts" / "kube-down"
CRD_DIR = ROOT / "crds"
CHART = ROOT / "deploy" / "helm" / "smc-operator"
#: A cold kube-up builds kube-apiserver, kubectl and etcd first (tens of minutes on 2 cores).
UP_TIMEOUT_SECONDS = 3600


class KubeUnavailableError(RuntimeError):
    """scripts/kube-up failed; the message is its own explanation."""


@dataclass(frozen=True)
class KubeServer:
    directory: Path

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def bin(self) -> Path:
        return self.directory / "bin"

    @property
    def state(self) -> dict[str, int]:
        state: dict[str, int] = json.loads((self.directory / "state.json").read_text())
        return state

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.state['etcd_client']}"

    def env(self, kubeconfig: Path | None = None) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", "/tmp"),
            "KUBECONFIG": str(kubeconfig or self.kubeconfig),
            "HELM_CACHE_HOME": str(self.directory / "helm" / "cache"),
            "HELM_CONFIG_HOME": str(self.directory / "helm" / "config"),
            "HELM_DATA_HOME": str(self.directory / "helm" / "data"),
        }

    def kubectl(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        kubeconfig: Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        return self._run("kubectl", args, stdin, check, kubeconfig, timeout)

    def helm(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        return self._run("helm", args, None, check, None, timeout)

    def apply(self, manifest: Mapping[str, Any], *extra: str, check: bool = True) -> Any:
        return self.kubectl("apply", *extra, "-f", "-", stdin=json.dumps(manifest), check=check)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        scope = ("-n", namespace) if namespace else ()
        result = self.kubectl(*scope, "get", kind, name, "-o", "json")
        obj: dict[str, Any] = json.loads(result.stdout)
        return obj

    def _run(
        self,
        tool: str,
        args: tuple[str, ...],
        stdin: str | None,
        check: bool,
        kubeconfig: Path | None,
        timeout: float,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.bin / tool), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(kubeconfig),
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{tool} {' '.join(args)} exited {result.returncode}:\n{result.stderr.strip()}"
            )
        return result

    def request(
        self, method: str, path: str, body: Any = None, query: str = ""
    ) -> tuple[int, dict[str, Any]]:
        """One raw HTTPS call as cluster-admin: (status, decoded JSON answer)."""
        certs = self.directory / "certs"
        context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        context.load_cert_chain(str(certs / "admin.crt"), str(certs / "admin.key"))
        url = f"https://127.0.0.1:{self.state['apiserver']}{path}" + (f"?{query}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60, context=context) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def restart_apiserver(self) -> None:
        """Stop the API server (etcd keeps running) and start it again on the same port."""
        _script(KUBE_DOWN, self.directory, "--apiserver")
        _script(KUBE_UP, self.directory)

    def stop_apiserver(self) -> None:
        _script(KUBE_DOWN, self.directory, "--apiserver")

    def start_apiserver(self) -> None:
        _script(KUBE_UP, self.directory)

    def token_kubeconfig(self, token: str, path: Path, namespace: str | None = None) -> Path:
        """A kubeconfig that authenticates with a bearer token (a ServiceAccount's)."""
        admin = json.loads(self.kubeconfig.read_text())
        context: dict[str, str] = {"cluster": "kube-up", "user": "token"}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": admin["clusters"],
            "users": [{"name": "token", "user": {"token": token}}],
            "contexts": [{"name": "token", "context": context}],
            "current-context": "token",
        }
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        return path

    def etcd_compact(self) -> int:
        """Compact etcd up to its current revision (its JSON gateway); returns the revision."""

        def post(path: str, body: Mapping[str, Any]) -> dict[str, Any]:
            request = urllib.request.Request(  # noqa: S310 (our own http://127.0.0.1 URL)
                self.etcd_url + path, data=json.dumps(body).encode(), method="POST"
            )
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                answer: dict[str, Any] = json.loads(response.read())
                return answer

        revision = int(post("/v3/kv/range", {"key": "Lw=="})["header"]["revision"])  # "/"
        post("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        return revision


def _script(script: Path, directory: Path, *args: str) -> None:
    result = subprocess.run(
        [str(script), str(directory), *args],
        capture_output=True,
        text=True,
        timeout=UP_TIMEOUT_SECONDS,
        check=False,
        # kube-up's watchdog stops the servers if this process dies without its finalizers.
        env={**os.environ, "SMC_OPERATOR_KUBE_OWNER_PID": str(os.getpid())},
    )
    if result.returncode != 0:
        raise KubeUnavailableError(
            f"{script.name} {directory} {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stderr.strip()}"
        )


@contextlib.contextmanager
def kube_server(directory: Path) -> Iterator[KubeServer]:
    """kube-up DIR, yield the server, kube-down DIR: even when start-up or a test fails."""
    try:
        _script(KUBE_UP, directory)
        yield KubeServer(directory)
    finally:
        _script(KUBE_DOWN, directory)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"
