"""Kubernetes API URL paths, parsed the way a real API server routes them.

kmock's parser reads ``/api/v1/namespaces`` and ``/api/v1/namespaces/NAME`` as a namespace prefix
without a resource (hence its 500 on listing namespaces); here ``namespaces`` is a resource unless
more segments follow, ``/namespaces/NAME/status`` and ``/finalize`` are the namespace's own
subresources, and the legacy ``/watch/`` prefix is understood.
"""

from __future__ import annotations

import dataclasses

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclasses.dataclass(frozen=True)
class ApiPath:
    """The parts of an API path; ``group`` is None for non-API paths (``/version``, ...)."""

    group: str | None = None
    version: str | None = None
    plural: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    #: The legacy ``/api/v1/watch/...`` form (same as ``?watch=true``).
    watch: bool = False

    @property
    def is_resource(self) -> bool:
        """A request for objects (not discovery): it names a resource."""
        return self.group is not None and self.version is not None and self.plural is not None


def parse_path(path: str) -> ApiPath:
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    elif len(parts) == 2 and parts[0] == "apis":
        return ApiPath(group=parts[1])  # group discovery, e.g. /apis/smcoperator.io
    elif parts == ["api"] or parts == ["apis"]:
        return ApiPath(group="" if parts[0] == "api" else None)
    else:
        return ApiPath()

    watch = bool(rest) and rest[0] == "watch"
    if watch:
        rest = rest[1:]

    namespace: str | None = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES and group == "")
    ):
        namespace, rest = rest[1], rest[2:]

    plural = rest[0] if rest else None
    name = rest[1] if len(rest) >= 2 else None
    subresource = "/".join(rest[2:]) or None
    return ApiPath(
        group=group,
        version=version,
        plural=plural,
        namespace=namespace,
        name=name,
        subresource=subresource,
        watch=watch,
    )
