"""The lean diffbase storage builds exactly the essence kopf's own storage builds."""

from __future__ import annotations

import json
from typing import Any

import kopf
import pytest

from smc_operator.handlers import DIFFBASE_FIELD, StatusDiffBase

BODIES: list[dict[str, Any]] = [
    {"apiVersion": "smcoperator.io/v1alpha1", "kind": "ReplicationJob"},
    {
        "apiVersion": "smcoperator.io/v1alpha1",
        "kind": "ReplicationJob",
        "metadata": {
            "name": "a",
            "namespace": "ns",
            "uid": "u",
            "resourceVersion": "7",
            "generation": 2,
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {"jobId": "j-1", "start": True, "nested": {"list": [1, {"x": None}]}},
        "status": {"conditions": [{"type": "Started"}], "kopf": {"lastHandledConfiguration": "{}"}},
    },
    {
        "metadata": {
            "name": "b",
            "labels": {"team": "x"},
            "annotations": {
                "smcoperator.io/retry": "2026-01-01T00:00:00Z",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "progress.smcoperator.io/kopf-managed": "yes",
                "progress.smcoperator.io/start": "{}",
                "other.io/kopf-managed": "yes",
                "other.io/x": "1",
            },
        },
        "spec": {"jobId": "j-2"},
        "extra": {"kept": True},
    },
    {"metadata": {"name": "c", "labels": {}, "annotations": {}}, "spec": {}, "status": {}},
    {
        "kind": "ReplicationJob",
        "spec": {"b": 1, "a": 2},
        "metadata": {"labels": {"z": "1"}},
        "x": 1,
    },
]


@pytest.mark.parametrize("raw", BODIES)
@pytest.mark.parametrize("extra_fields", [None, [], ["status.conditions"]])
def test_same_essence_as_kopf(raw: dict[str, Any], extra_fields: list[str] | None) -> None:
    ours = StatusDiffBase(field=DIFFBASE_FIELD)
    theirs = kopf.StatusDiffBaseStorage(field=DIFFBASE_FIELD)
    expected = theirs.build(body=kopf.Body(raw), extra_fields=extra_fields)
    built = ours.build(body=kopf.Body(raw), extra_fields=extra_fields)
    assert built == expected
    assert json.dumps(built) == json.dumps(expected)  # the stored diffbase: same key order too


def test_ignored_fields_as_kopf() -> None:
    raw = BODIES[2]
    ours = StatusDiffBase(field=DIFFBASE_FIELD, ignored_fields=["spec.jobId"])
    theirs = kopf.StatusDiffBaseStorage(field=DIFFBASE_FIELD, ignored_fields=["spec.jobId"])
    assert ours.build(body=kopf.Body(raw)) == theirs.build(body=kopf.Body(raw))


def test_the_essence_is_a_copy() -> None:
    raw = BODIES[1]
    essence = StatusDiffBase(field=DIFFBASE_FIELD).build(body=kopf.Body(raw))
    essence["spec"]["nested"]["list"].append(2)
    assert raw["spec"]["nested"]["list"] == [1, {"x": None}]
