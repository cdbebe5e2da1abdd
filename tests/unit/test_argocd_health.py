"""The Argo CD health check (deploy/argocd/health.lua), run by a real Lua 5.1 (Argo CD's dialect)
over ReplicationJobs recorded from the end-to-end runs (tests/data/replicationjobs/)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from lupa import lua51

from smc_operator.reasons import REASONS, Reason

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (ROOT / "deploy" / "argocd" / "health.lua").read_text()
RECORDED = ROOT / "tests" / "data" / "replicationjobs"


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """What Argo CD shows for ``obj``: its health status and message."""
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(SCRIPT)
    return str(result["status"]), str(result["message"])


def recorded(reason: Reason) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((RECORDED / f"{reason.value}.json").read_text())
    return loaded


EXPECTED = {
    Reason.NOT_REQUESTED: "Suspended",
    Reason.STARTING: "Progressing",
    Reason.STARTED: "Healthy",
    Reason.RETRYING: "Progressing",
    Reason.THROTTLED: "Progressing",
    Reason.INVALID_STATUS: "Degraded",
    Reason.SOURCE_SERVER_STATE_INVALID: "Degraded",
    Reason.ACCESS_DENIED: "Degraded",
    Reason.JOB_NOT_FOUND: "Degraded",
    Reason.CREDENTIALS_NOT_FOUND: "Degraded",
    Reason.RETRIES_EXHAUSTED: "Degraded",
    Reason.DUPLICATE_JOB_ID: "Degraded",
    Reason.INVALID_SPEC: "Degraded",
    Reason.FAILED: "Degraded",
}
#: The reasons of the Started condition (the lifecycle's own are checked below, by condition).
STARTED_REASONS = [r for r, row in REASONS.items() if "Started" in row.conditions]


def test_every_reason_has_a_recorded_object_and_an_expected_health() -> None:
    assert set(EXPECTED) | {Reason.SUSPENDED} == set(STARTED_REASONS)
    recorded_reasons = {path.stem for path in RECORDED.glob("*.json")}
    assert recorded_reasons == {reason.value for reason in EXPECTED}


@pytest.mark.parametrize("reason", list(EXPECTED))
def test_each_recorded_outcome_maps_to_its_health_with_the_condition_message(
    reason: Reason,
) -> None:
    obj = recorded(reason)
    status, message = health(obj)
    assert status == EXPECTED[reason]
    condition = next(c for c in obj["status"]["conditions"] if c["type"] == "Started")
    assert message.startswith(f"{reason.value}: {condition['message']}")
    if condition.get("errorCode"):
        assert f"code {condition['errorCode']}" in message
    if condition.get("requestId"):
        assert f"RequestId {condition['requestId']}" in message
    # A failure never shows Healthy, an outcome in progress never shows Degraded.
    assert (status == "Degraded") == (REASONS[reason].failed)


def test_an_object_the_operator_has_not_seen_yet_is_progressing() -> None:
    obj = recorded(Reason.STARTED)
    fresh = {key: value for key, value in obj.items() if key != "status"}
    assert health(fresh)[0] == "Progressing"
    behind = copy.deepcopy(obj)
    behind["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
    assert health(behind) == (
        "Progressing",
        f"Waiting for the operator to observe generation {behind['metadata']['generation']}",
    )


@pytest.mark.parametrize(
    ("job_status", "expected"),
    [
        ("Running", "Healthy"),
        ("Finished", "Healthy"),
        ("Waiting", "Healthy"),
        ("InError", "Degraded"),
    ],
)
def test_a_started_job_is_judged_by_what_smc_reports(job_status: str, expected: str) -> None:
    obj = copy.deepcopy(recorded(Reason.STARTED))
    obj["status"]["job"] = {"status": job_status, "statusInfo": "disk full on the source"}
    status, message = health(obj)
    assert status == expected
    if expected == "Degraded":
        assert message == "Started, but SMC reports the job InError: disk full on the source"
    else:
        assert message.endswith(f"(job {job_status})")


def test_the_argocd_cm_patch_carries_the_health_check_verbatim() -> None:
    import yaml

    patch = yaml.safe_load((ROOT / "deploy" / "argocd" / "argocd-cm-patch.yaml").read_text())
    key = "resource.customizations.health.smcoperator.io_ReplicationJob"
    assert patch == {"data": {key: SCRIPT}}


def _with_condition(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
    obj = copy.deepcopy(recorded(Reason.NOT_REQUESTED))
    conditions = [c for c in obj["status"]["conditions"] if c["type"] != type_]
    conditions.append(
        {"type": type_, "status": status, "reason": reason, "message": message, "errorCode": "X"}
    )
    obj["status"]["conditions"] = conditions
    return obj


@pytest.mark.parametrize(
    ("type_", "status", "reason", "expected"),
    [
        ("Created", "False", "NameDuplicate", "Degraded"),
        ("Created", "False", "QuotaExceeded", "Degraded"),
        ("Created", "Unknown", "Creating", "Progressing"),
        ("Started", "False", "Suspended", "Suspended"),
        ("CutOver", "False", "NotIncremental", "Degraded"),
        ("Suspended", "False", "InvalidStatus", "Degraded"),
    ],
)
def test_a_lifecycle_condition_decides_the_health_it_explains(
    type_: str, status: str, reason: str, expected: str
) -> None:
    obj = _with_condition(type_, status, reason, "what SMC said")
    health_status, message = health(obj)
    assert health_status == expected
    assert message.startswith(f"{reason}: what SMC said")
