"""The CRD on a real API server: established, and the server itself refuses what it forbids.

The bad-input corpus is the one ``tests/unit/test_bad_input_admission.py`` checks against the
CRD's schema offline; here the real API server must refuse each (strict field validation, as
``kubectl`` sends by default) with a message naming the field. The CRD has no CEL rules
(``x-kubernetes-validations``) today; if it gains some, they are enforced here by the same server.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from testkit.kube import KubeServer
from unit.test_bad_input_admission import JOB, REFUSED

from .conftest import CRD_NAME, rj


def test_the_crd_is_established_with_its_names_and_category(
    kube: KubeServer, namespace: str
) -> None:
    crd = kube.get("crd", CRD_NAME)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    resources = kube.kubectl("api-resources", "--api-group=smcoperator.io", "-o", "wide").stdout
    assert re.search(
        r"^replicationjobs\s+rj\s+smcoperator.io/v1alpha1\s+true\s+ReplicationJob", resources, re.M
    ), resources
    kube.apply(rj(namespace, "one", JOB))
    assert "one" in kube.kubectl("-n", namespace, "get", "smc", "-o", "name").stdout  # category


def test_the_server_refuses_every_bad_spec_naming_the_field(
    kube: KubeServer, namespace: str
) -> None:
    """Straight to the server (kubectl would refuse some client-side): each one a 422 naming it."""
    path = f"/apis/smcoperator.io/v1alpha1/namespaces/{namespace}/replicationjobs"
    for index, (spec, field) in enumerate(REFUSED):
        body = rj(namespace, f"bad-{index}", JOB)
        body["spec"] = spec
        status, answer = kube.request("POST", path, body, query="fieldValidation=Strict")
        # 422 Invalid from the schema, or 400 from strict decoding (an unknown nested field)
        assert (status, answer.get("reason")) in ((422, "Invalid"), (400, "BadRequest")), (
            spec,
            answer,
        )
        assert re.search(rf"\b{re.escape(field)}\b", answer["message"]), (
            spec,
            field,
            answer["message"][:600],
        )
    status, listing = kube.request("GET", path)
    assert (status, listing["items"]) == (200, [])


@pytest.mark.parametrize(
    ("mistake", "complaint"),
    [
        ({"specs": {"jobId": JOB}}, 'unknown field "specs"'),
        ({"Spec": {"jobId": JOB}}, 'unknown field "Spec"'),
        ({"spec": {"jobId": JOB, "surprise": 1}}, 'unknown field "spec.surprise"'),
        (
            {"spec": {"jobId": JOB, "credentialsSecretRef": {"name": "c", "namespace": "x"}}},
            'unknown field "spec.credentialsSecretRef.namespace"',
        ),
    ],
)
def test_unknown_fields_are_refused_by_name(
    kube: KubeServer, namespace: str, mistake: dict[str, Any], complaint: str
) -> None:
    body = rj(namespace, "typo", JOB)
    del body["spec"]
    body.update(mistake)
    result = kube.apply(body, check=False)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_edge_values_are_admitted(kube: KubeServer, namespace: str) -> None:
    for index, spec in enumerate(
        [
            {"jobId": "j-" + "a" * 8},
            {"jobId": "j-" + "0" * 40},
            {"jobId": JOB, "regionId": "xx-nowhere-1"},
            {"jobId": JOB, "credentialsSecretRef": {"name": "a" * 253}},
        ]
    ):
        body = rj(namespace, f"edge-{index}", JOB)
        body["spec"] = spec
        kube.apply(body, "--dry-run=server")


def test_start_defaults_to_false_and_status_is_a_subresource(
    kube: KubeServer, namespace: str
) -> None:
    body = rj(namespace, "quiet", JOB)
    del body["spec"]["start"]
    kube.apply(body)
    obj = kube.get("rj", "quiet", namespace)
    assert obj["spec"]["start"] is False  # the schema's default, applied by the server
    assert obj["metadata"]["generation"] == 1
    # A status written through the main resource is ignored; through /status it lands and the
    # generation does not move.
    kube.kubectl(
        "-n", namespace, "patch", "rj", "quiet", "--type=merge", "-p", '{"status": {"attempts": 7}}'
    )
    assert "status" not in kube.get("rj", "quiet", namespace)
    kube.kubectl(
        "-n",
        namespace,
        "patch",
        "rj",
        "quiet",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"attempts": 7}}',
    )
    obj = kube.get("rj", "quiet", namespace)
    assert obj["status"]["attempts"] == 7
    assert obj["metadata"]["generation"] == 1
    kube.kubectl(
        "-n", namespace, "patch", "rj", "quiet", "--type=merge", "-p", '{"spec": {"start": true}}'
    )
    assert kube.get("rj", "quiet", namespace)["metadata"]["generation"] == 2
