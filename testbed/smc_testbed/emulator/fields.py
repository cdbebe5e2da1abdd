"""Typed reads of the control API's JSON documents.

The control API is for tests and scripts; a typo in a field name or a value of the wrong type is
refused with a message naming the field rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping


class DocumentError(ValueError):
    """A control API document that makes no sense; the message says why."""


def check_known(doc: Mapping[str, object], known: Collection[str]) -> None:
    unknown = sorted(set(doc) - set(known))
    if unknown:
        raise DocumentError(f"unknown fields: {', '.join(unknown)}")


def _read(doc: Mapping[str, object], key: str, kind: type[object]) -> object:
    value = doc.get(key)
    if value is None:
        return None
    # bool is an int subclass: never accept it where a number is meant.
    if isinstance(value, bool) and kind is not bool:
        raise DocumentError(f"{key!r} must be a number")
    if kind is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, kind):
        raise DocumentError(f"{key!r} must be {kind.__name__}")
    return value


def text(doc: Mapping[str, object], key: str) -> str | None:
    value = _read(doc, key, str)
    return value if isinstance(value, str) else None


def integer(doc: Mapping[str, object], key: str) -> int | None:
    value = _read(doc, key, int)
    return value if isinstance(value, int) else None


def number(doc: Mapping[str, object], key: str) -> float | None:
    value = _read(doc, key, float)
    return value if isinstance(value, float) else None


def flag(doc: Mapping[str, object], key: str) -> bool | None:
    value = _read(doc, key, bool)
    return value if isinstance(value, bool) else None
