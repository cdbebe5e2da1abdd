"""The bad-input corpus at admission: what the CRD schema refuses, and the operator refuses too.

``tests/unit/test_crd.py`` covers the common mistakes (missing, empty, short, long, uppercase
jobIds, ``start: "yes"``, unknown fields, the namespace field, ...); these are the nastier inputs:
control and invisible characters, lookalike digits, huge values, nulls and wrong container types,
path tricks in the Secret's name, typos of ``spec`` itself. Each must be refused by the CRD's own
schema (as a real API server with strict field validation would), and, as defence in depth for
an API server that does not validate, by the operator's model (its ``InvalidSpec`` path).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from smc_operator import model
from smc_operator.conditions import STARTED
from smc_operator.decide import Limits, Observed, decide
from smc_operator.model import ReplicationJobSpec, ReplicationJobStatus
from testkit.crdschema import admission_errors
from testkit.verdicts import half, step

JOB = "j-bw526m1vi6x21qxxxx"


def rj(spec: Any = ..., **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": model.API_VERSION,
        "kind": model.KIND,
        "metadata": {"name": "m", "namespace": "ns"},
        **extra,
    }
    if spec is not ...:
        body["spec"] = spec
    return body


# (spec, the path the admission error must start with)
REFUSED: list[tuple[Any, str]] = [
    # jobId: nulls, containers, control and invisible characters, lookalikes, huge values
    ({"jobId": None}, "spec.jobId"),
    ({"jobId": [JOB]}, "spec.jobId"),
    ({"jobId": {"id": JOB}}, "spec.jobId"),
    ({"jobId": True}, "spec.jobId"),
    ({"jobId": JOB + "\x00"}, "spec.jobId"),
    ({"jobId": JOB[:10] + "\x1b[31m"}, "spec.jobId"),
    ({"jobId": JOB + "\r"}, "spec.jobId"),
    ({"jobId": JOB + "\t"}, "spec.jobId"),
    ({"jobId": " " + JOB}, "spec.jobId"),
    ({"jobId": JOB[:12] + "\u202e" + JOB[12:]}, "spec.jobId"),  # right-to-left override
    ({"jobId": JOB[:12] + "\u200b" + JOB[12:]}, "spec.jobId"),  # zero-width space
    ({"jobId": "j-bw526m1vi6x\uff12\uff11"}, "spec.jobId"),  # fullwidth digits
    ({"jobId": "\u0458-bw526m1vi6x21qxxxx"}, "spec.jobId"),  # Cyrillic je
    ({"jobId": "j-bw526m1vi6x21q🚀"}, "spec.jobId"),
    ({"jobId": "j-" + "a" * 1_000_000}, "spec.jobId"),
    ({"jobId": "j-12345678/../../x"}, "spec.jobId"),
    ({"jobId": "j-12345678&JobId.2=j-87654321"}, "spec.jobId"),  # parameter smuggling
    # start: anything but a boolean
    ({"jobId": JOB, "start": "true"}, "spec.start"),
    ({"jobId": JOB, "start": "True"}, "spec.start"),
    ({"jobId": JOB, "start": []}, "spec.start"),
    ({"jobId": JOB, "start": {"value": True}}, "spec.start"),
    # regionId
    ({"jobId": JOB, "regionId": ""}, "spec.regionId"),
    ({"jobId": JOB, "regionId": "cn-hangzhou\n"}, "spec.regionId"),
    ({"jobId": JOB, "regionId": "cn-杭州"}, "spec.regionId"),
    ({"jobId": JOB, "regionId": "cn-hangzhou.evil.com"}, "spec.regionId"),
    ({"jobId": JOB, "regionId": 5}, "spec.regionId"),
    ({"jobId": JOB, "regionId": ["cn-hangzhou"]}, "spec.regionId"),
    # credentialsSecretRef
    ({"jobId": JOB, "credentialsSecretRef": "smc-credentials"}, "spec.credentialsSecretRef"),
    ({"jobId": JOB, "credentialsSecretRef": ["smc-credentials"]}, "spec.credentialsSecretRef"),
    ({"jobId": JOB, "credentialsSecretRef": {"name": ""}}, "spec.credentialsSecretRef.name"),
    ({"jobId": JOB, "credentialsSecretRef": {"name": None}}, "spec.credentialsSecretRef.name"),
    ({"jobId": JOB, "credentialsSecretRef": {"name": "../x"}}, "spec.credentialsSecretRef.name"),
    ({"jobId": JOB, "credentialsSecretRef": {"name": "team-b/x"}}, "spec.credentialsSecretRef"),
    ({"jobId": JOB, "credentialsSecretRef": {"name": "a" * 254}}, "spec.credentialsSecretRef"),
    ({"jobId": JOB, "credentialsSecretRef": {"name": "-creds"}}, "spec.credentialsSecretRef"),
    ({"jobId": JOB, "credentialsSecretRef": {"name": "creds\n"}}, "spec.credentialsSecretRef"),
    # spec itself
    ([JOB], "spec"),
    (None, "spec"),
    (42, "spec"),
]


@pytest.mark.parametrize(("spec", "path"), REFUSED, ids=[str(i) for i in range(len(REFUSED))])
def test_nasty_specs_are_refused_at_admission_and_by_the_operator(spec: Any, path: str) -> None:
    errors = admission_errors(rj(spec))
    assert errors, spec
    assert any(error.startswith(path) for error in errors), errors
    with pytest.raises(ValidationError):
        ReplicationJobSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (rj(specs={"jobId": JOB}), "'spec' is a required property"),  # a typo of spec
        (rj({"jobId": JOB}, Spec={"jobId": JOB}), "Additional properties"),
        (rj({"jobId": JOB}, command=["rm", "-rf", "/"]), "Additional properties"),
    ],
)
def test_unknown_top_level_fields_are_refused(body: dict[str, Any], complaint: str) -> None:
    assert any(complaint in error for error in admission_errors(body))


@pytest.mark.parametrize(
    "spec",
    [
        {"jobId": "j-" + "a" * 8},  # the shortest
        {"jobId": "j-" + "0" * 40},  # the longest
        {"jobId": JOB, "regionId": "xx-nowhere-1"},  # well-formed, unknown: reaches SMC
        {"jobId": JOB, "credentialsSecretRef": {"name": "a" * 253}},
        {"jobId": JOB, "credentialsSecretRef": {"name": "smc.credentials.v2"}},
    ],
)
def test_edge_values_are_admitted_and_parsed(spec: dict[str, Any]) -> None:
    assert admission_errors(rj(spec)) == []
    ReplicationJobSpec.model_validate(spec)


def test_what_the_model_refuses_becomes_a_clear_invalid_spec_verdict() -> None:
    """The handler turns a model error into this; the message is printable and bounded."""
    spec = {"jobId": "j-" + "\x1b[31m" * 10_000, "start": "yes"}
    with pytest.raises(ValidationError) as caught:
        ReplicationJobSpec.model_validate(spec)
    problem = "; ".join(
        f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
        for e in caught.value.errors(include_url=False, include_input=False)
    )
    observed = Observed(
        generation=1,
        retry_requested_at=None,
        spec=None,
        status=ReplicationJobStatus(),
        spec_problem=problem,
    )
    result = decide(observed, Limits(), datetime(2026, 11, 29, tzinfo=UTC), half)
    assert step(result) == "record" and result.failed
    condition = result.write.condition(STARTED)
    assert condition is not None
    assert condition.reason == "InvalidSpec" and condition.status == "False"
    assert "spec.jobId" in condition.message and "spec.start" in condition.message
    assert condition.message.isprintable()
    assert len(condition.message) <= model.MESSAGE_MAX_LENGTH
    assert "\x1b" not in condition.message
