"""Label and field selectors, parsed once per request and matched against objects.

Label selectors support the full syntax (``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``,
``a notin (x)``, ``a``, ``!a``). Field selectors support ``=``, ``==`` and ``!=`` over any dotted
path of the object (``metadata.name``, ``involvedObject.uid``, ...); a real API server accepts only
the few fields each resource indexes, so a selector that works here may be rejected there.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from smc_testbed.kubemock import errors

_SET_REQUIREMENT = re.compile(r"^\s*(\S+)\s+(in|notin)\s+\((.*)\)\s*$")
_EQUALITY = re.compile(r"^\s*([^!=\s]+)\s*(==|!=|=)\s*(\S*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^!=\s()]+)\s*$")

Operator = Literal["=", "!=", "in", "notin", "exists", "!exists"]


@dataclasses.dataclass(frozen=True)
class Requirement:
    """One term of a selector: a label (or a field path), an operator and its values."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()
    field: bool = False  # a field path (fieldSelector) rather than a label

    def matches(self, obj: Mapping[str, Any]) -> bool:
        value = _field(obj, self.key) if self.field else _label(obj, self.key)
        match self.operator:
            case "=" | "in":
                return value is not None and value in self.values
            case "!=" | "notin":
                return value is None or value not in self.values
            case "exists":
                return value is not None
            case "!exists":
                return value is None


@dataclasses.dataclass(frozen=True)
class Selector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.requirements)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(requirement.matches(obj) for requirement in self.requirements)


#: The empty selector.
EVERYTHING: Final = Selector()


def parse_labels(text: str | None) -> Selector:
    """Parse a ``labelSelector``; raise a 400 :class:`~errors.ApiError` on bad syntax."""
    requirements: list[Requirement] = []
    for part in _split(text or ""):
        if match := _SET_REQUIREMENT.match(part):
            key, operator, raw_values = match.groups()
            values = frozenset(value.strip() for value in raw_values.split(",") if value.strip())
            requirements.append(Requirement(key, "in" if operator == "in" else "notin", values))
        elif match := _EQUALITY.match(part):
            key, operator, value = match.groups()
            requirements.append(
                Requirement(key, "!=" if operator == "!=" else "=", frozenset({value}))
            )
        elif match := _EXISTS.match(part):
            negation, key = match.groups()
            requirements.append(Requirement(key, "!exists" if negation else "exists"))
        else:
            raise errors.bad_request(f"unable to parse requirement: {part!r}")
    return Selector(tuple(requirements))


def parse_fields(text: str | None) -> Selector:
    """Parse a ``fieldSelector``; raise a 400 :class:`~errors.ApiError` on bad syntax."""
    requirements: list[Requirement] = []
    for part in _split(text or ""):
        match = _EQUALITY.match(part)
        if match is None:
            raise errors.bad_request(f"invalid field selector: {part!r}")
        path, operator, value = match.groups()
        # A missing field compares as the empty string, as on a real API server.
        operator_: Operator = "!=" if operator == "!=" else "="
        requirements.append(Requirement(path, operator_, frozenset({value}), field=True))
    return Selector(tuple(requirements))


def _split(text: str) -> list[str]:
    """Split on the commas that are not inside ``( ... )`` value sets."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def _label(obj: Mapping[str, Any], key: str) -> str | None:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(key)
    return None if value is None else str(value)


def _field(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return ""
        node = node[part]
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)
