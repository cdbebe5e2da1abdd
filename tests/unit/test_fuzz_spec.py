"""Property-based tests over arbitrary objects: whatever a ReplicationJob or Secret contains, the
operator's parsing and decision never raise; they answer with a verdict.

- Any ``spec`` (any JSON value, and near-valid ones built from the real fields) goes through what
  the handler does with it (parse, the index, the namespace check, the status read, the plan)
  without an exception; an invalid one becomes ``InvalidSpec`` with a printable, bounded message.
- The CRD schema and the model agree: what admission lets through, the operator parses, and what
  the operator parses (with no unknown fields) admission lets through.
- Any Secret yields an AccessKey or a :class:`CredentialsError` without its values.
"""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smc_operator import handlers, model, wire
from smc_operator.conditions import STARTED
from smc_operator.credentials import AccessKey, CredentialsError, mask, parse_secret
from smc_operator.decide import Limits, Observed, decide
from testkit.crdschema import admission_errors
from testkit.verdicts import half, step

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
valid_job_ids = st.from_regex(wire.JOB_ID_PATTERN, fullmatch=True)
valid_region_ids = st.from_regex(wire.REGION_ID_PATTERN, fullmatch=True).filter(
    lambda region: len(region) <= wire.REGION_ID_MAX_LENGTH
)
valid_secret_names = st.from_regex(model.SECRET_NAME_PATTERN, fullmatch=True).filter(
    lambda name: len(name) <= model.SECRET_NAME_MAX_LENGTH
)
job_ids = st.one_of(
    valid_job_ids,
    st.text(max_size=60),
    st.sampled_from(["", "j-", "j-1234567", "j-" + "a" * 41, "J-ABCDEFGH", "j-abcdefgh\n"]),
    json_values,
)
region_ids = st.one_of(
    valid_region_ids,
    st.sampled_from(["", "cn-hangzhou", "cn-hangzhou\n", "Hangzhou", "cn-" + "x" * 70]),
    st.text(max_size=30),
    json_values,
)
secret_names = st.one_of(
    valid_secret_names,
    st.text(max_size=30),
    json_values,
)
secret_refs = st.one_of(
    st.fixed_dictionaries({"name": secret_names}),
    st.fixed_dictionaries(
        {"name": secret_names}, optional={"namespace": st.text(max_size=10) | json_values}
    ),
    json_values,
)
#: Spec objects built from the real fields, each maybe missing, wrong, or accompanied by extras.
near_specs = st.fixed_dictionaries(
    {},
    optional={
        "jobId": job_ids,
        "regionId": region_ids,
        "start": st.one_of(st.booleans(), json_values),
        "credentialsSecretRef": secret_refs,
        "unknownField": json_values,
    },
)
specs = st.one_of(near_specs, near_specs, json_values)
#: Mostly valid specs with one field at a time likely to be off: where the two checks could differ.
mostly_valid_specs = st.fixed_dictionaries(
    {"jobId": st.one_of(valid_job_ids, valid_job_ids, valid_job_ids, job_ids)},
    optional={
        "regionId": st.one_of(valid_region_ids, valid_region_ids, region_ids),
        "start": st.one_of(st.booleans(), st.booleans(), json_values),
        "credentialsSecretRef": st.one_of(
            st.fixed_dictionaries({"name": valid_secret_names}),
            st.fixed_dictionaries({"name": valid_secret_names}),
            secret_refs,
        ),
    },
)
statuses = st.one_of(
    st.none(),
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "attempts": st.one_of(st.integers(), json_values),
            "observedGeneration": st.one_of(st.integers(), json_values),
            "conditions": st.one_of(
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "type": st.just(STARTED),
                            "status": st.sampled_from(["True", "False", "Unknown", "Maybe"]),
                            "reason": st.sampled_from(["Started", "Starting", "Retrying", "Odd"]),
                            "message": st.text(max_size=20),
                            "lastTransitionTime": st.just("2026-11-29T12:00:00Z"),
                        }
                    ),
                    max_size=2,
                ),
                json_values,
            ),
            "startRequest": st.one_of(
                st.fixed_dictionaries({"generation": st.integers(0, 3)}), json_values
            ),
        },
    ),
)


def body_of(spec: Any, status: Any, namespace: str = "team-a") -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": model.API_VERSION,
        "kind": model.KIND,
        "metadata": {"name": "web", "namespace": namespace, "generation": 1},
    }
    if spec is not ...:
        body["spec"] = spec
    if status is not None:
        body["status"] = status
    return body


@FUZZ
@given(spec=st.one_of(specs, st.just(...)), status=statuses, generation=st.integers(0, 2**40))
def test_any_object_gets_a_verdict_never_an_exception(
    spec: Any, status: Any, generation: int
) -> None:
    body = body_of(spec, status)
    parsed, problem = handlers._parse(body)
    assert (parsed is None) != (problem is None)
    current = handlers._status(body)
    foreign = handlers._foreign_secret(body)
    # The registry's view of the object:
    entry = handlers._entry(("team-a", "web"), parsed, current, "cn-hangzhou")
    assert isinstance(entry.reason, str)
    assert parsed is not None or (entry.claim is None and entry.watched is None)
    observed = Observed(
        generation=generation,
        retry_requested_at=None,
        spec=parsed,
        status=current,
        spec_problem=problem,
    )
    result = decide(observed, Limits(), T0, half)
    condition = (result.write or current).condition(STARTED)
    if step(result) in ("record", "start"):
        assert condition is not None
        assert condition.message.isprintable()
        assert len(condition.message) <= model.MESSAGE_MAX_LENGTH
    if parsed is None:
        assert step(result) in ("record", "nothing")
        assert condition is not None and condition.reason == "InvalidSpec"
        assert condition.status == "False"
        assert foreign is None or isinstance(foreign, str)
    elif foreign is not None:
        assert "may only use a Secret in its own namespace" in foreign


@FUZZ
@given(spec=st.one_of(mostly_valid_specs, mostly_valid_specs, specs))
def test_admission_and_the_model_agree(spec: Any) -> None:
    admitted = admission_errors(body_of(spec, None)) == []
    parsed, _problem = handlers._parse(body_of(spec, None))
    if admitted:
        assert parsed is not None, spec
    unknown = isinstance(spec, dict) and (
        "unknownField" in spec
        or (
            isinstance(spec.get("credentialsSecretRef"), dict)
            and set(spec["credentialsSecretRef"]) - {"name"}
        )
    )
    if parsed is not None and not unknown:
        assert admitted, (spec, admission_errors(body_of(spec, None)))


secret_values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=12, max_size=40),
    st.text(min_size=12, max_size=40),
)
encoded = st.one_of(
    secret_values.map(lambda value: base64.b64encode(value.encode()).decode()),
    st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode()),
    json_values,
)


@FUZZ
@given(
    data=st.one_of(
        st.fixed_dictionaries(
            {},
            optional={"accessKeyId": encoded, "accessKeySecret": encoded, "securityToken": encoded},
        ),
        json_values,
    ),
    string_data=st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {}, optional={"accessKeyId": secret_values, "accessKeySecret": secret_values}
        ),
        json_values,
    ),
)
def test_any_secret_gives_a_key_or_an_explanation_without_values(
    data: Any, string_data: Any
) -> None:
    secret: dict[str, Any] = {"data": data}
    if string_data is not None:
        secret["stringData"] = string_data
    try:
        key = parse_secret(secret, where="team-a/creds")
    except CredentialsError as exc:
        message = str(exc)
        assert "team-a/creds" in message
        values: list[str] = []
        for source in (data, string_data):
            if isinstance(source, dict):
                values.extend(v for v in source.values() if isinstance(v, str) and len(v) >= 12)
        for value in values:
            assert value not in message
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                decoded = base64.b64decode(value, validate=True).decode()
                assert len(decoded) < 12 or decoded not in message
    else:
        assert isinstance(key, AccessKey)
        # The repr is the masked ID and the kind, nothing else, whatever the values: a short
        # secret may happen to be a substring of that text ("A" in "AccessKey") without a leak.
        kind = "sts" if key.security_token else "access_key"
        assert repr(key) == f"AccessKey({mask(key.access_key_id)}, {kind})"
        if len(key.access_key_secret) >= 12:
            assert key.access_key_secret not in repr(key)
