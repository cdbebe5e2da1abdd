"""Validate ReplicationJob objects against the CRD's own openAPIV3Schema, without an API server.

This gives tests the admission behaviour of a real API server with kubectl's strict field
validation (the default since Kubernetes 1.27): types, patterns, lengths, enums and required
fields are checked, and unknown fields are rejected (where the schema does not preserve them).
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from smc_operator.model import tag_problem

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "crds" / "replicationjobs.smcoperator.io.yaml"


@cache
def crd() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
    return loaded


def open_api_schema() -> dict[str, Any]:
    (version,) = crd()["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _strict(schema: dict[str, Any], *, top: bool) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and pattern.endswith("$"):
        # Go's RE2 `$` matches only at the very end; Python's also before a final newline.
        schema["pattern"] = pattern[:-1] + r"\Z"
    if schema.get("type") == "object" and "properties" in schema:
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        for name, sub in schema["properties"].items():
            if top and name == "metadata":
                continue
            schema["properties"][name] = _strict(sub, top=False)
    if schema.get("type") == "array" and "items" in schema:
        schema["items"] = _strict(schema["items"], top=False)
    return schema


@cache
def _validator() -> jsonschema.Draft7Validator:
    schema = _strict(open_api_schema(), top=True)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def admission_errors(obj: dict[str, Any]) -> list[str]:
    """What a real API server (with strict field validation) would reject, as readable lines.

    The CRD's CEL rules on a create are checked here in Python (jsonschema has no CEL); the
    real-API-server tier (tests/kube/test_crd_lifecycle.py) proves the rules themselves.
    """
    errors = sorted(_validator().iter_errors(obj), key=lambda e: list(e.absolute_path))
    found = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors
    ]
    return found or _create_rules(obj)


def _create_rules(obj: dict[str, Any]) -> list[str]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    problems = []
    if ("jobId" in spec) == ("job" in spec):
        problems.append("spec: exactly one of jobId and job")
    job = spec.get("job")
    schedule = isinstance(job, dict) and {"frequency", "maxNumberOfImageToKeep"} <= set(job)
    if isinstance(job, dict) and job.get("runOnce") is False and not schedule:
        problems.append("spec.job: an incremental job needs frequency and maxNumberOfImageToKeep")
    tags = job.get("tags") if isinstance(job, dict) else None
    # The CEL rule checks the keys (the schema's maxLength the values): the model's rule, keys only.
    if isinstance(tags, dict) and any(tag_problem(str(key), "") for key in tags):
        problems.append("spec.job.tags: tag keys have 1-128 characters, not aliyun, acs: or ours")
    return problems
