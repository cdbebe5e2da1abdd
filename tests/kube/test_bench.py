"""``python -m bench --kube real``: the benchmark's operator run and its system floor against a real
kube-apiserver (each phase on a fresh one from scripts/kube-up), with the same checks as the
emulated API's run: every object Started, one Start call each, no double start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from testkit.kube import ROOT


def test_the_benchmark_runs_against_a_real_api_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMC_OPERATOR_", "KUBECONFIG"))}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--objects", "20", "--phases", "system,operator", "--kube", "real",
         "--results", str(tmp_path / "results"), "--workdir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "a real kube-apiserver (scripts/kube-up" in result.stdout
    (saved,) = (tmp_path / "results").glob("bench-*.json")
    document = json.loads(saved.read_text())
    assert document["options"]["kube"] == "real"
    for kind in ("system", "operator"):
        run = document["results"]["20"][kind]
        assert (run["startedTrue"], run["startCalls"], run["doubleStarts"]) == (20, 20, 0), kind
        assert run["kube"]["rjStatusPatches"] >= 20, kind  # counted from the real audit log
    assert document["results"]["20"]["operator"]["kube"]["eventCreates"] == 20
