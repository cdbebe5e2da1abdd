"""`smc-operator demo`, the README's first command, runs to completion and tells the story."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_runs_every_sample_to_its_documented_outcome() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMC_OPERATOR_")}
    result = subprocess.run(
        [sys.executable, "-m", "smc_operator.cli", "demo", "--timeout", "90"],
        capture_output=True,
        text=True,
        timeout=150,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Every sample ended as expected; no job was started twice or created twice." in out
    # One line per sample, its outcome in one column whatever the length of its name.
    for line in (
        "ok  web-01     Started",
        "ok  db-01      Started",
        "ok  app-01     InvalidStatus",
        "ok  files-01   SourceServerStateInvalid",
        "ok  later-01   NotRequested",
        "ok  migrate-01 CutOver",
    ):
        assert line in out
    assert "StartReplicationJob calls: 3, successful starts: 1" in out  # db-01: two InternalErrors
    # A table like `kubectl get rj -o wide`, with the columns of the CRD.
    assert "NAME   " in out and "JOB STATUS" in out and "REQUEST ID" in out and "ATTEMPTS" in out
    assert result.stderr == ""
