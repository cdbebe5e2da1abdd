"""``python -m bench --kube real``: the same phases against a real kube-apiserver (scripts/kube-up).

:class:`RealKube` starts one through ``scripts/kube-up`` with the audit log on, installs the CRD,
and stands in for the emulated API's ``/_bench/`` counters: it counts every client's requests from
the audit log (user agent, verb, resource, subresource, code). A real server has no per-client
watch-event counter, so watch events read 0. Its CPU and memory are the API server's plus etcd's.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.kubeapi import REAL_KUBE_CERTS

ROOT = Path(__file__).resolve().parents[1]
UP_TIMEOUT_SECONDS = 3600


def _agent(user_agent: str) -> str:
    token = user_agent.split("/", 1)[0].split(" ", 1)[0].strip().lower()
    return token or "unknown"


class RealKube:
    """kube-up DIR on entry (audit log on), kube-down DIR on exit; counters from the audit log."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.kubeconfig = directory / "kubeconfig"
        self.url = ""
        self._offset = 0

    async def __aenter__(self) -> RealKube:
        await asyncio.to_thread(self._script, "kube-up")
        state = json.loads((self.directory / "state.json").read_text())
        self.url = f"https://127.0.0.1:{state['apiserver']}"
        # KubeHttp's certificates, here and in the system floor's process.
        os.environ[REAL_KUBE_CERTS] = str(self.directory / "certs")
        await asyncio.to_thread(self._install_crd)
        return self

    def _install_crd(self) -> None:
        kubectl = str(self.directory / "bin" / "kubectl")
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        for args in (
            ["apply", "-f", str(ROOT / "crds")],
            ["wait", "--for=condition=Established", "crd/replicationjobs.smcoperator.io"],
        ):
            # kube-up's own kubectl with fixed arguments
            subprocess.run(  # noqa: S603
                [kubectl, *args], env=env, check=True, capture_output=True, timeout=120
            )
        # Established is not yet servable: the server answers 429 "storage is (re)initializing"
        # for a moment after it. Wait until a list of ReplicationJobs is answered.
        deadline = time.monotonic() + 60
        path = "/apis/smcoperator.io/v1alpha1/replicationjobs?limit=1"
        while True:
            listed = subprocess.run(  # noqa: S603
                [kubectl, "get", "--raw", path], env=env, capture_output=True, timeout=60
            )
            if listed.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self._script, "kube-down")

    def _script(self, name: str) -> None:
        env = {
            **os.environ,
            "SMC_OPERATOR_KUBE_AUDIT": "1",
            "SMC_OPERATOR_KUBE_OWNER_PID": str(os.getpid()),
        }
        result = subprocess.run(  # noqa: S603 (our own script)
            [str(ROOT / "scripts" / name), str(self.directory)],
            env=env,
            capture_output=True,
            text=True,
            timeout=UP_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"scripts/{name} failed: {result.stderr.strip()}")

    def usage(self) -> procs.Usage:
        """The API server's and etcd's CPU and memory, summed."""
        total = procs.Usage(0.0, 0, 0)
        for name in ("kube-apiserver", "etcd"):
            pid = int((self.directory / "run" / f"{name}.pid").read_text())
            one = procs.usage(pid)
            total = procs.Usage(
                total.cpu_seconds + one.cpu_seconds,
                total.rss_bytes + one.rss_bytes,
                total.peak_rss_bytes + one.peak_rss_bytes,
            )
        return total

    @property
    def audit_log(self) -> Path:
        return self.directory / "logs" / "audit.log"

    async def reset_counters(self) -> None:
        self._offset = self.audit_log.stat().st_size if self.audit_log.exists() else 0

    async def counters(self, agents: set[str] | frozenset[str] | None = None) -> dict[str, Any]:
        """The emulated API's counter document (``requests`` rows), from the audit log."""
        rows: collections.Counter[tuple[str, str, str, str | None, int]] = collections.Counter()
        if self.audit_log.exists():
            with self.audit_log.open("rb") as log:
                log.seek(self._offset)
                for line in log:
                    event = json.loads(line)
                    watch = event.get("verb") == "watch"
                    # One row per request: a watch when it starts, the rest when complete.
                    if event.get("stage") != ("ResponseStarted" if watch else "ResponseComplete"):
                        continue
                    agent = _agent(event.get("userAgent", ""))
                    if agents and agent not in agents:
                        continue
                    ref = event.get("objectRef") or {}
                    code = int((event.get("responseStatus") or {}).get("code", 0))
                    key = (
                        agent,
                        event["verb"],
                        ref.get("resource", ""),
                        ref.get("subresource"),
                        code,
                    )
                    rows[key] += 1
        return {
            "requests": [
                {"agent": a, "verb": v, "resource": r, "subresource": sub, "code": c, "count": n}
                for (a, v, r, sub, c), n in rows.items()
            ],
            "watchEvents": [],
        }
