"""The CRD and the pydantic models describe the same resource; the CRD meets docs/design.md."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from smc_operator import model, wire
from testkit.crdschema import admission_errors, crd, open_api_schema

#: Status fields owned by the framework (kopf's last-handled configuration), not by our model.
FRAMEWORK_FIELDS = {"kopf"}

SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the inner type, whether None is allowed)."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        assert len(args) == 1, annotation
        return args[0], True
    return annotation, False


#: Model constraints and the CRD keywords that express them. ``min_length`` is left out: the
#: model's jobId says 1 where the CRD says 10, and both patterns demand 10 anyway.
CONSTRAINTS = (
    ("pattern", "pattern"),
    ("ge", "minimum"),
    ("le", "maximum"),
)


def _default_of(info: FieldInfo) -> Any:
    """The model's default as the CRD would spell it; None for none (or an empty container)."""
    if info.default_factory is not None or info.default is PydanticUndefined:
        return None
    if info.default in (None, ()):
        return None
    return info.default


def _compare(model_cls: type[BaseModel], schema: dict[str, Any], path: str) -> None:
    assert schema["type"] == "object", path
    properties = dict(schema.get("properties", {}))
    for name in FRAMEWORK_FIELDS:
        properties.pop(name, None)
    fields = {(info.alias or name): info for name, info in model_cls.model_fields.items()}
    assert set(fields) == set(properties), (
        f"{path}: model {sorted(fields)} vs CRD {sorted(properties)}"
    )
    required_in_model = {alias for alias, info in fields.items() if info.is_required()}
    assert required_in_model == set(schema.get("required", [])), path
    for alias, info in fields.items():
        sub = properties[alias]
        inner, _ = _unwrap(info.annotation)
        where = f"{path}.{alias}"
        length_keyword = "maxLength"
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            _compare(inner, sub, where)
        elif get_origin(inner) is tuple:
            (item,) = {a for a in get_args(inner) if a is not Ellipsis}
            assert sub["type"] == "array", where
            _compare(item, sub["items"], where + "[]")
            length_keyword = "maxItems"
        elif get_origin(inner) is dict:
            key, value = get_args(inner)
            assert (key, sub["type"]) == (str, "object"), where
            assert sub["additionalProperties"]["type"] == SCALARS[value], where
            assert "properties" not in sub, where
            length_keyword = "maxProperties"
        elif get_origin(inner) is Literal:
            assert sub["type"] == "string", where
            assert set(sub["enum"]) == set(get_args(inner)), where
        elif inner in SCALARS:
            assert sub["type"] == SCALARS[inner], where
        else:
            # Aliased literal types such as ConditionStatus.
            args = get_args(inner)
            assert args and set(sub.get("enum", [])) == set(args), where
        expected = {"maxLength": None, "maxItems": None, "maxProperties": None}
        expected |= {schema_key: None for _key, schema_key in CONSTRAINTS}
        for metadata in info.metadata:
            for key, schema_key in (*CONSTRAINTS, ("max_length", length_keyword)):
                value = getattr(metadata, key, None)
                if value is not None:
                    expected[schema_key] = value
        for schema_key, value in expected.items():
            if value is not None:
                assert sub.get(schema_key) == value, f"{where}: {schema_key}"
            elif path.startswith("spec") and schema_key != "maxLength":
                # In the spec, numbers, lists and maps are bounded alike or not at all (the CRD
                # may bound a string the model leaves open, and any status field: the model only
                # reads those).
                assert schema_key not in sub, f"{where}: {schema_key} the model does not have"
        if path.startswith("spec"):
            # Defaults: applied by the API server, so the model must assume the same ones.
            assert sub.get("default") == _default_of(info), f"{where}: default"


def test_spec_and_status_models_match_the_crd_schema() -> None:
    schema = open_api_schema()
    _compare(model.ReplicationJobSpec, schema["properties"]["spec"], "spec")
    _compare(model.ReplicationJobStatus, schema["properties"]["status"], "status")


def test_names_scope_and_subresources_match_the_design() -> None:
    spec = crd()["spec"]
    assert crd()["metadata"]["name"] == f"{model.PLURAL}.{model.GROUP}"
    assert spec["group"] == model.GROUP
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == model.KIND
    assert spec["names"]["plural"] == model.PLURAL
    assert spec["names"]["singular"] == model.SINGULAR
    assert tuple(spec["names"]["shortNames"]) == model.SHORT_NAMES
    assert tuple(spec["names"]["categories"]) == model.CATEGORIES
    (version,) = spec["versions"]
    assert version["name"] == model.VERSION
    assert version["subresources"] == {"status": {}}


def test_conditions_are_a_map_keyed_by_type() -> None:
    conditions = open_api_schema()["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]


def test_printer_columns_are_the_designed_ones() -> None:
    (version,) = crd()["spec"]["versions"]
    columns = [(c["name"], c.get("priority", 0)) for c in version["additionalPrinterColumns"]]
    default = [name for name, priority in columns if priority == 0]
    wide = [name for name, priority in columns if priority == 1]
    assert default == ["Job ID", "Start", "Started", "Reason", "Job Status", "Progress", "Age"]
    assert wide == [
        "Request ID",
        "Error Code",
        "Attempts",
        "Created",
        "Suspended",
        "CutOver",
        "Job",
    ]
    paths = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    for condition in ("Created", "Suspended", "CutOver"):
        assert paths[condition] == f'.status.conditions[?(@.type=="{condition}")].status'
    assert paths["Job"] == ".status.jobId"
    assert paths["Job ID"] == ".spec.jobId"  # unchanged: what the user asked to adopt


def test_spec_patterns_are_the_wire_patterns() -> None:
    spec = open_api_schema()["properties"]["spec"]["properties"]
    assert spec["jobId"]["pattern"] == wire.JOB_ID_PATTERN
    assert spec["regionId"]["pattern"] == wire.REGION_ID_PATTERN
    assert spec["start"]["default"] is False
    assert "namespace" not in spec["credentialsSecretRef"]["properties"]


def rj(spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": model.API_VERSION,
        "kind": model.KIND,
        "metadata": {"name": "m", "namespace": "ns"},
        "spec": spec,
        **extra,
    }


@pytest.mark.parametrize(
    "spec",
    [
        {"jobId": "j-bw526m1vi6x21qxxxx"},
        {"jobId": "j-bw526m1vi6x21qxxxx", "start": True},
        {"jobId": "j-12345678", "regionId": "cn-hangzhou", "start": False},
        {"jobId": "j-" + "a" * 40, "regionId": "cn-shanghai-finance-1"},
        {"jobId": "j-bw526m1vi6x21qxxxx", "regionId": "ap-southeast-1"},
        {"jobId": "j-bw526m1vi6x21qxxxx", "credentialsSecretRef": {"name": "smc-credentials"}},
    ],
)
def test_valid_specs_are_admitted(spec: dict[str, Any]) -> None:
    assert admission_errors(rj(spec)) == []
    model.ReplicationJobSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"jobId": ""}, "spec.jobId"),
        ({"jobId": "j-short"}, "spec.jobId"),
        ({"jobId": "j-" + "a" * 41}, "spec.jobId"),
        ({"jobId": "J-BW526M1VI6X21QXXXX"}, "spec.jobId"),
        ({"jobId": "job-bw526m1vi6x21q"}, "spec.jobId"),
        ({"jobId": "j-bw526m1vi6x21q\n"}, "spec.jobId"),
        ({"jobId": "j-bw526m1vi6x21q中文"}, "spec.jobId"),
        ({"jobId": "j-bw526m1vi6x21qxxxx; rm -rf /"}, "spec.jobId"),
        ({"jobId": "j-bw526m1vi6x21qxxxx", "start": "yes"}, "spec.start"),
        ({"jobId": "j-bw526m1vi6x21qxxxx", "start": 1}, "spec.start"),
        ({"jobId": 12345678901}, "spec.jobId"),
        ({"jobId": "j-bw526m1vi6x21qxxxx", "regionId": "Hangzhou"}, "spec.regionId"),
        ({"jobId": "j-bw526m1vi6x21qxxxx", "regionId": "x" * 10_000}, "spec.regionId"),
        ({"jobId": "j-bw526m1vi6x21qxxxx", "unknown": 1}, "spec: Additional properties"),
        (
            {
                "jobId": "j-bw526m1vi6x21qxxxx",
                "credentialsSecretRef": {"name": "c", "namespace": "o"},
            },
            "spec.credentialsSecretRef: Additional properties",
        ),
        (
            {"jobId": "j-bw526m1vi6x21qxxxx", "credentialsSecretRef": {}},
            "spec.credentialsSecretRef",
        ),
        (
            {"jobId": "j-bw526m1vi6x21qxxxx", "credentialsSecretRef": {"name": "Bad_Name"}},
            "spec.credentialsSecretRef.name",
        ),
        ("not an object", "spec: 'not an object' is not of type 'object'"),
    ],
)
def test_invalid_specs_are_rejected_at_admission(spec: Any, field: str) -> None:
    errors = admission_errors(rj(spec))
    assert errors, spec
    assert any(error.startswith(field) for error in errors), errors


def test_a_missing_spec_is_rejected() -> None:
    obj = rj({})
    del obj["spec"]
    assert admission_errors(obj) == ["<root>: 'spec' is a required property"]


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = open_api_schema()["properties"]["spec"]
    return spec


def _rules(schema: dict[str, Any]) -> dict[str, str]:
    return {v["rule"]: v["message"] for v in schema.get("x-kubernetes-validations", [])}


def test_exactly_one_of_job_id_and_job_is_a_cel_rule() -> None:
    spec = _spec()
    assert "required" not in spec  # jobId is no longer required: job may stand in for it
    assert _rules(spec) == {
        "!(has(self.jobId) && has(self.job))": (
            "set spec.jobId to adopt an existing SMC job or spec.job to have the operator "
            "create one, not both"
        ),
        "has(self.jobId) || has(self.job)": (
            "set spec.jobId to adopt an existing SMC job or spec.job to have the operator "
            "create one (neither is set)"
        ),
        # A transition rule: an adopting object never starts creating, nor the other way round.
        "has(self.job) == has(oldSelf.job)": (
            "spec.job and spec.jobId cannot replace each other; an object adopts (jobId) or "
            "creates (job) for its whole life, so create another ReplicationJob"
        ),
    }
    # jobId stays mutable, as it always was.
    assert "x-kubernetes-validations" not in spec["properties"]["jobId"]


@pytest.mark.parametrize("field", ["sourceId", "runOnce", "targetType"])
def test_what_a_created_job_cannot_change_is_immutable(field: str) -> None:
    job = _spec()["properties"]["job"]
    sub = job["properties"][field]
    ((rule, message),) = _rules(sub).items()
    assert rule == "self == oldSelf"
    assert message.startswith(f"spec.job.{field} cannot be changed; create another ReplicationJob")
    # A transition rule on a field runs only when old and new both have it: a field with a
    # default always has it, and sourceId is required.
    assert "default" in sub or field in job["required"]


def test_everything_else_of_a_created_job_stays_mutable() -> None:
    job = _spec()["properties"]["job"]
    immutable = {name for name, sub in job["properties"].items() if "oldSelf" in str(_rules(sub))}
    assert immutable == {"sourceId", "runOnce", "targetType"}
    for name in model.JobAttributes.__dataclass_fields__:
        assert "oldSelf" not in str(_rules(job["properties"][to_camel(name)])), name


def test_an_incremental_job_needs_its_schedule() -> None:
    ((rule, message),) = _rules(_spec()["properties"]["job"]).items()
    assert "self.runOnce" in rule
    assert "has(self.frequency) && has(self.maxNumberOfImageToKeep)" in rule
    assert "frequency" in message
    assert "maxNumberOfImageToKeep" in message


def test_lifecycle_defaults_and_enums() -> None:
    spec = _spec()["properties"]
    job = spec["job"]["properties"]
    assert spec["suspend"]["default"] is False
    assert spec["deletionPolicy"] == spec["deletionPolicy"] | {
        "enum": ["Orphan", "Delete"],
        "default": "Orphan",
    }
    assert spec["cutOver"]["properties"]["syncData"]["default"] is False
    assert job["targetType"]["default"] == "Image"
    assert job["runOnce"]["default"] is True
    assert job["sourceId"]["pattern"] == model.SOURCE_ID_PATTERN


def _bounded(schema: dict[str, Any], path: str) -> None:
    """Every string, list and map of the spec has a bound (the CEL cost budget relies on them)."""
    kind = schema.get("type")
    if kind == "string":
        assert "maxLength" in schema or "enum" in schema, path
    elif kind == "array":
        assert "maxItems" in schema, path
        _bounded(schema["items"], path + "[]")
    elif kind == "object" and "additionalProperties" in schema:
        assert "maxProperties" in schema, path
    elif kind == "object":
        for name, sub in schema.get("properties", {}).items():
            _bounded(sub, f"{path}.{name}")


def test_every_spec_value_with_a_rule_near_it_is_bounded() -> None:
    spec = _spec()
    _bounded(spec["properties"]["job"], "spec.job")
    for name in ("jobId", "regionId"):
        _bounded(spec["properties"][name], f"spec.{name}")


SOURCE = "s-bw526m1vi6x21qxxxx"


@pytest.mark.parametrize(
    "spec",
    [
        {"job": {"sourceId": SOURCE}, "start": True},
        {
            "job": {
                "sourceId": SOURCE,
                "name": "web-01.incremental",
                "description": "nightly",
                "targetType": "TargetInstance",
                "instanceId": "i-bp1abcdefghijklmnop",
                "systemDiskSize": 40,
                "dataDisks": [{"index": 1, "size": 100}],
                "netMode": 2,
                "vpcId": "vpc-bp1abc",
                "vSwitchId": "vsw-bp1abc",
                "instanceType": "ecs.g7.large",
                "runOnce": False,
                "frequency": 24,
                "maxNumberOfImageToKeep": 3,
                "validTime": "2026-12-31T16:00:00Z",
                "tags": {"team": "web"},
            },
            "suspend": True,
            "cutOver": {"syncData": True},
            "deletionPolicy": "Delete",
        },
        {"jobId": "j-bw526m1vi6x21qxxxx", "suspend": False, "cutOver": {}},
        {"jobId": "j-bw526m1vi6x21qxxxx", "deletionPolicy": "Orphan"},
    ],
)
def test_lifecycle_specs_are_admitted(spec: dict[str, Any]) -> None:
    assert admission_errors(rj(spec)) == []
    model.ReplicationJobSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"job": {}}, "spec.job: 'sourceId' is a required property"),
        ({"job": {"sourceId": "i-bw526m1vi6x21qxxxx"}}, "spec.job.sourceId"),
        ({"job": {"sourceId": SOURCE, "targetType": "Disk"}}, "spec.job.targetType"),
        ({"job": {"sourceId": SOURCE, "frequency": 0}}, "spec.job.frequency"),
        ({"job": {"sourceId": SOURCE, "frequency": 169}}, "spec.job.frequency"),
        ({"job": {"sourceId": SOURCE, "maxNumberOfImageToKeep": 11}}, "spec.job"),
        ({"job": {"sourceId": SOURCE, "systemDiskSize": 19}}, "spec.job.systemDiskSize"),
        ({"job": {"sourceId": SOURCE, "dataDisks": [{"index": 1}]}}, "spec.job.dataDisks"),
        ({"job": {"sourceId": SOURCE, "dataDisks": [{"index": 1, "size": 20}] * 17}}, "spec.job"),
        ({"job": {"sourceId": SOURCE, "tags": {str(i): "x" for i in range(20)}}}, "spec.job.tags"),
        ({"job": {"sourceId": SOURCE, "tags": {"team": "x" * 129}}}, "spec.job.tags.team"),
        ({"job": {"sourceId": SOURCE, "name": "1-starts-with-a-digit"}}, "spec.job.name"),
        ({"job": {"sourceId": SOURCE, "runOnce": "false"}}, "spec.job.runOnce"),
        ({"jobId": "j-bw526m1vi6x21qxxxx", "deletionPolicy": "Bogus"}, "spec.deletionPolicy"),
        ({"jobId": "j-bw526m1vi6x21qxxxx", "suspend": "yes"}, "spec.suspend"),
        ({"jobId": "j-bw526m1vi6x21qxxxx", "cutOver": {"sync": True}}, "spec.cutOver"),
    ],
)
def test_invalid_lifecycle_specs_are_rejected_at_admission(spec: Any, field: str) -> None:
    errors = admission_errors(rj(spec))
    assert any(error.startswith(field) for error in errors), errors


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"start": True},
        {"jobId": "j-bw526m1vi6x21qxxxx", "job": {"sourceId": SOURCE}},
        {"job": {"sourceId": SOURCE, "runOnce": False}},
        {"job": {"sourceId": SOURCE, "runOnce": False, "frequency": 12}},
        {"job": {"sourceId": SOURCE, "tags": {"aliyun:env": "prod"}}},
        {"job": {"sourceId": SOURCE, "tags": {"acs:team": "web"}}},
        {"job": {"sourceId": SOURCE, "tags": {"smcoperator.io/uid": "mine"}}},
        {"job": {"sourceId": SOURCE, "tags": {"k" * 129: "v"}}},
    ],
)
def test_what_only_the_cel_rules_refuse_the_model_refuses_too(spec: dict[str, Any]) -> None:
    """The offline check has the CEL rules in Python (tests/kube/test_crd_lifecycle.py has the
    real server refuse these); the operator's model refuses them as well."""
    assert admission_errors(rj(spec)) != []
    with pytest.raises(ValidationError):
        model.ReplicationJobSpec.model_validate(spec)
