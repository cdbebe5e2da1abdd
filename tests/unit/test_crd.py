"""The CRD and the pydantic models describe the same resource; the CRD meets docs/design.md."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel

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
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            _compare(inner, sub, where)
        elif get_origin(inner) is tuple:
            (item,) = {a for a in get_args(inner) if a is not Ellipsis}
            assert sub["type"] == "array", where
            _compare(item, sub["items"], where + "[]")
        elif get_origin(inner) is Literal:
            assert sub["type"] == "string", where
            assert set(sub["enum"]) == set(get_args(inner)), where
        elif inner in SCALARS:
            assert sub["type"] == SCALARS[inner], where
        else:
            # Aliased literal types such as ConditionStatus.
            args = get_args(inner)
            assert args and set(sub.get("enum", [])) == set(args), where
        for metadata in info.metadata:
            for key, schema_key in (
                ("pattern", "pattern"),
                ("max_length", "maxLength"),
            ):
                value = getattr(metadata, key, None)
                if value is not None:
                    assert sub.get(schema_key) == value, f"{where}: {schema_key}"


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
    assert wide == ["Request ID", "Error Code", "Attempts"]


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
        ({}, "spec: 'jobId' is a required property"),
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
