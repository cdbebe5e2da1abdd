"""Structural-schema pruning and defaulting for resources registered from a CRD object.

A real API server drops every field its CRD's schema does not declare (unless
``x-kubernetes-preserve-unknown-fields``) and fills in ``default:`` values; a status the CRD does
not declare is lost silently. This module does both, so a test against the emulator loses the
same fields a cluster would. It does not validate (types, patterns, ``required``, enums): objects
that a real server would reject with 422 are stored as they are, and CEL rules
(``x-kubernetes-validations``: adopt-or-create, the immutable fields of ``spec.job``) are not
evaluated; tests/kube/test_crd_lifecycle.py has the real server enforce them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smc_testbed.kubemock.patches import clone

#: Kept at the root of every object whatever the schema says (the server owns their shape).
_ROOT_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


def prune_and_default(obj: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of the object as a real server would store it under this schema."""
    result = _walk(obj, schema, root=True)
    return result if isinstance(result, dict) else {}


def _walk(value: Any, schema: Mapping[str, Any], *, root: bool = False) -> Any:
    if isinstance(value, dict):
        return _walk_object(value, schema, root=root)
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [_walk(item, items) for item in value]
        return clone(value)
    return value


def _walk_object(value: dict[str, Any], schema: Mapping[str, Any], *, root: bool) -> dict[str, Any]:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))

    result: dict[str, Any] = {}
    for key, item in value.items():
        if (root or embedded) and key in _ROOT_FIELDS:
            result[key] = clone(item)
            continue
        subschema = properties.get(key)
        if isinstance(subschema, Mapping):
            if item is None and not subschema.get("nullable"):
                continue  # a null for a non-nullable field is dropped (and defaulted below)
            result[key] = _walk(item, subschema)
        elif isinstance(additional, Mapping):
            result[key] = _walk(item, additional)
        elif (
            additional is True
            or preserve
            or (not properties and additional is None and not schema.get("type"))
        ):
            # Untyped nodes (no type, no properties) keep everything, like an open map.
            result[key] = clone(item)
        # else: an unknown field of a structural object: pruned.

    for key, subschema in properties.items():
        if key not in result and isinstance(subschema, Mapping) and "default" in subschema:
            result[key] = _walk(clone(subschema["default"]), subschema)
    return result
