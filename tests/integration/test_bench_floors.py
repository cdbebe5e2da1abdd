"""``python -m bench`` with the kopf floor (the system floor's work in a bare kopf handler): it
runs to the end with the same checks as every phase (every object Started, one Start call each,
no double start) and does the floor's work per object, so its ratios compare like with like."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_kopf_floor_does_the_system_floors_work_through_kopf(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMC_OPERATOR_", "KUBECONFIG"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--objects", "20", "--phases", "system,kopf",
         "--results", str(tmp_path / "results"), "--workdir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| 20 | kopf floor |" in result.stdout
    assert "kopf floor / system floor" in result.stdout
    (saved,) = (tmp_path / "results").glob("bench-*.json")
    phases = json.loads(saved.read_text())["results"]["20"]
    for kind in ("system", "kopf"):
        run = phases[kind]
        assert (run["startedTrue"], run["startCalls"], run["doubleStarts"]) == (20, 20, 0), kind
    # The same requests per object as the system floor: a write-ahead and an outcome, no Event.
    kopf, system = phases["kopf"]["kube"]["perObject"], phases["system"]["kube"]["perObject"]
    assert kopf["rjStatusPatches"] == system["rjStatusPatches"] == 2.0
    assert kopf["rjMainPatches"] == system["rjMainPatches"] == 0.0
    assert kopf["eventCreates"] == system["eventCreates"] == 0.0
