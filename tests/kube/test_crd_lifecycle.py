"""The lifecycle fields of the CRD on a real API server: its CEL rules, enums and defaults.

``tests/unit/test_crd.py`` checks the schema offline, but evaluates no CEL
(``x-kubernetes-validations``): here Kubernetes itself refuses a spec with both or neither of
jobId and job, an incremental job without its schedule, and changes to what a created job cannot
change, with the CRD's messages; it defaults suspend, deletionPolicy, targetType and runOnce; it
admits every sample in ``deploy/samples`` as written; and ``kubectl get rj -o wide`` prints the
lifecycle columns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from smc_operator import model
from testkit.kube import ROOT, KubeServer

from .test_columns import parse_table

JOB = "j-bw526m1vi6x21qxxxx"
SOURCE = "s-bw526m1vi6x21qxxxx"
BOTH = (
    "set spec.jobId to adopt an existing SMC job or spec.job to have the operator create one, "
    "not both"
)
NEITHER = (
    "set spec.jobId to adopt an existing SMC job or spec.job to have the operator create one "
    "(neither is set)"
)
SCHEDULE = "an incremental job (runOnce false) needs frequency"
TAG_KEYS = "tag keys have 1-128 characters, do not start with aliyun or acs:"
SWAP = "spec.job and spec.jobId cannot replace each other"
SAMPLES = sorted((ROOT / "deploy" / "samples").glob("*.yaml"))


def body(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": model.API_VERSION,
        "kind": model.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def create(kube: KubeServer, namespace: str, name: str, spec: dict[str, Any]) -> tuple[int, Any]:
    path = f"/apis/{model.GROUP}/{model.VERSION}/namespaces/{namespace}/{model.PLURAL}"
    return kube.request("POST", path, body(namespace, name, spec), query="fieldValidation=Strict")


def patch(kube: KubeServer, namespace: str, name: str, spec: dict[str, Any]) -> Any:
    return kube.kubectl(
        "-n",
        namespace,
        "patch",
        "rj",
        name,
        "--type=merge",
        "-p",
        json.dumps({"spec": spec}),
        check=False,
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"jobId": JOB, "job": {"sourceId": SOURCE}}, BOTH),
        ({}, NEITHER),
        ({"start": True, "suspend": True}, NEITHER),
        ({"job": {"sourceId": SOURCE, "runOnce": False}}, SCHEDULE),
        ({"job": {"sourceId": SOURCE, "runOnce": False, "frequency": 24}}, SCHEDULE),
        ({"job": {"sourceId": SOURCE, "runOnce": False, "maxNumberOfImageToKeep": 2}}, SCHEDULE),
        ({"jobId": JOB, "deletionPolicy": "Bogus"}, 'Unsupported value: "Bogus"'),
        ({"job": {"sourceId": SOURCE, "targetType": "Disk"}}, 'Unsupported value: "Disk"'),
        ({"job": {"sourceId": SOURCE, "frequency": 169}}, "spec.job.frequency"),
        ({"job": {"sourceId": "s-short"}}, "spec.job.sourceId"),
        ({"job": {"sourceId": SOURCE, "tags": {str(i): "x" for i in range(20)}}}, "at most 19"),
        ({"job": {"sourceId": SOURCE, "tags": {"aliyun:env": "prod"}}}, TAG_KEYS),
        ({"job": {"sourceId": SOURCE, "tags": {model.UID_TAG: "mine"}}}, TAG_KEYS),
        ({"job": {"sourceId": SOURCE, "tags": {"team": "w" * 129}}}, "spec.job.tags.team"),
    ],
)
def test_the_server_refuses_what_the_rules_forbid(
    kube: KubeServer, namespace: str, spec: dict[str, Any], message: str
) -> None:
    status, answer = create(kube, namespace, "refused", spec)
    assert (status, answer.get("reason")) == (422, "Invalid"), answer
    assert message in answer["message"], answer["message"][:800]


def test_the_server_admits_either_one_and_an_incremental_job_with_its_schedule(
    kube: KubeServer, namespace: str
) -> None:
    for name, spec in (
        ("adopt", {"jobId": JOB}),
        ("create", {"job": {"sourceId": SOURCE}}),
        (
            "incremental",
            {
                "job": {
                    "sourceId": SOURCE,
                    "runOnce": False,
                    "frequency": 1,
                    "maxNumberOfImageToKeep": 10,
                }
            },
        ),
    ):
        status, answer = create(kube, namespace, name, spec)
        assert status == 201, answer


def test_the_server_applies_the_lifecycle_defaults(kube: KubeServer, namespace: str) -> None:
    status, answer = create(kube, namespace, "defaults", {"job": {"sourceId": SOURCE}})
    assert status == 201, answer
    spec = kube.get("rj", "defaults", namespace)["spec"]
    assert spec == {
        "job": {"sourceId": SOURCE, "targetType": "Image", "runOnce": True},
        "start": False,
        "suspend": False,
        "deletionPolicy": "Orphan",
    }
    status, answer = create(kube, namespace, "cut", {"jobId": JOB, "cutOver": {}})
    assert status == 201, answer
    assert kube.get("rj", "cut", namespace)["spec"]["cutOver"] == {"syncData": False}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sourceId": "s-bw526m1vi6x21qzzzz"}, "sourceId"),
        ({"runOnce": True}, "runOnce"),
        ({"targetType": "ContainerImage"}, "targetType"),
    ],
)
def test_what_a_created_job_cannot_change_is_refused_on_update(
    kube: KubeServer, namespace: str, change: dict[str, Any], field: str
) -> None:
    job = {"sourceId": SOURCE, "runOnce": False, "frequency": 24, "maxNumberOfImageToKeep": 3}
    status, answer = create(kube, namespace, "fixed", {"job": job})
    assert status == 201, answer
    result = patch(kube, namespace, "fixed", {"job": change})
    assert result.returncode != 0
    assert f"spec.job.{field} cannot be changed; create another ReplicationJob" in result.stderr
    assert kube.get("rj", "fixed", namespace)["spec"]["job"] == job | {"targetType": "Image"}


def test_a_default_counts_as_the_value_for_immutability(kube: KubeServer, namespace: str) -> None:
    """runOnce and targetType left out are their defaults: spelling the default out is no
    change, and dropping a value that was not the default is one."""
    status, answer = create(kube, namespace, "implicit", {"job": {"sourceId": SOURCE}})
    assert status == 201, answer
    assert patch(kube, namespace, "implicit", {"job": {"runOnce": True}}).returncode == 0
    assert patch(kube, namespace, "implicit", {"job": {"targetType": "Image"}}).returncode == 0
    job = {"sourceId": SOURCE, "targetType": "TargetInstance", "instanceId": "i-bp1abcdefgh"}
    status, answer = create(kube, namespace, "explicit", {"job": job})
    assert status == 201, answer
    result = patch(kube, namespace, "explicit", {"job": {"targetType": None}})
    assert result.returncode != 0
    assert "spec.job.targetType cannot be changed" in result.stderr


def test_what_modify_can_change_is_changed(kube: KubeServer, namespace: str) -> None:
    job = {"sourceId": SOURCE, "runOnce": False, "frequency": 24, "maxNumberOfImageToKeep": 3}
    status, answer = create(kube, namespace, "modify", {"job": job})
    assert status == 201, answer
    change = {
        "name": "renamed",
        "description": "now weekly",
        "frequency": 168,
        "maxNumberOfImageToKeep": 1,
        "validTime": "2027-01-01T00:00:00Z",
    }
    result = patch(kube, namespace, "modify", {"job": change, "suspend": True})
    assert result.returncode == 0, result.stderr
    obj = kube.get("rj", "modify", namespace)
    assert obj["spec"]["job"] == job | change | {"targetType": "Image"}
    assert obj["spec"]["suspend"] is True
    assert obj["metadata"]["generation"] == 2


def test_job_id_stays_mutable(kube: KubeServer, namespace: str) -> None:
    status, answer = create(kube, namespace, "adopted", {"jobId": JOB})
    assert status == 201, answer
    result = patch(kube, namespace, "adopted", {"jobId": "j-bw526m1vi6x21qyyyy"})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_every_sample_is_admitted_as_written(
    kube: KubeServer, namespace: str, sample: Path
) -> None:
    obj = yaml.safe_load(sample.read_text())
    assert obj["metadata"]["namespace"] == "migration"  # as the README's commands apply them
    obj["metadata"]["namespace"] = namespace
    kube.apply(obj)
    stored = kube.get("rj", obj["metadata"]["name"], namespace)
    # Everything written is kept (nothing pruned); the rest is the CRD's defaults.
    for key, value in obj["spec"].items():
        if isinstance(value, dict):
            assert stored["spec"][key] == stored["spec"][key] | value, key
        else:
            assert stored["spec"][key] == value, key
    model.ReplicationJobSpec.model_validate(stored["spec"])


def test_get_wide_shows_the_lifecycle_columns(kube: KubeServer, namespace: str) -> None:
    status, answer = create(kube, namespace, "shown", {"job": {"sourceId": SOURCE}})
    assert status == 201, answer
    status, answer = create(kube, namespace, "plain", {"jobId": JOB})
    assert status == 201, answer
    now = "2026-01-01T00:00:00Z"
    conditions = [
        {"type": kind, "status": value, "reason": reason, "message": "", "lastTransitionTime": now}
        for kind, value, reason in (
            ("Created", "True", "Created"),
            ("Suspended", "False", "NotRequested"),
            ("CutOver", "Unknown", "CuttingOver"),
        )
    ]
    status_patch = {"status": {"jobId": "j-createdbyoperator1", "conditions": conditions}}
    kube.kubectl(
        "-n",
        namespace,
        "patch",
        "rj",
        "shown",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status_patch),
    )
    wide = kube.kubectl(
        "-n", namespace, "get", "rj", "-o", "wide", "--sort-by=.metadata.name"
    ).stdout
    rows = {row["NAME"]: row for row in parse_table(wide)}
    lifecycle = ("CREATED", "SUSPENDED", "CUTOVER", "JOB")
    assert list(rows["shown"])[-len(lifecycle) :] == list(lifecycle), wide
    assert {k: rows["shown"][k] for k in ("JOB ID", *lifecycle)} == {
        "JOB ID": "",
        "CREATED": "True",
        "SUSPENDED": "False",
        "CUTOVER": "Unknown",
        "JOB": "j-createdbyoperator1",
    }
    assert {k: rows["plain"][k] for k in ("JOB ID", *lifecycle)} == {
        "JOB ID": JOB,
        "CREATED": "",
        "SUSPENDED": "",
        "CUTOVER": "",
        "JOB": "",
    }
    plain = kube.kubectl("-n", namespace, "get", "rj").stdout
    assert not set(lifecycle) & set(parse_table(plain)[0]), plain


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"job": {"sourceId": SOURCE}}, {"job": None, "jobId": JOB}),
        ({"jobId": JOB}, {"jobId": None, "job": {"sourceId": SOURCE}}),
    ],
)
def test_adopting_and_creating_cannot_replace_each_other(
    kube: KubeServer, namespace: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    status, answer = create(kube, namespace, "either", before)
    assert status == 201, answer
    result = patch(kube, namespace, "either", after)
    assert result.returncode != 0
    assert SWAP in result.stderr
    spec = kube.get("rj", "either", namespace)["spec"]
    assert ("job" in spec, "jobId" in spec) == ("job" in before, "jobId" in before)
