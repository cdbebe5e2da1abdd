"""The resources the emulated API serves: this project's custom resource, a few builtins, and how to
declare more.

A :class:`Resource` is the emulator's view of one API resource: its identity (group, version,
plural), what discovery reports about it (kind, scope, short names, verbs, subresources), and, for
resources registered from a CustomResourceDefinition, the structural schema used for pruning and
defaulting.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.resources
from collections.abc import Iterable, Mapping
from typing import Any, Final

import kmock

#: The verbs a fully featured resource reports in discovery. kopf refuses to serve a resource
#: whose discovery entry lacks ``list``/``watch`` (or ``patch`` if handlers keep state).
STANDARD_VERBS: Final = frozenset(
    {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
)

#: (group, version, plural): how the store and the counters address a resource.
ResourceKey = tuple[str, str, str]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Resource:
    """One API resource as served by the emulator."""

    group: str
    version: str
    plural: str
    kind: str
    singular: str = ""
    namespaced: bool = True
    shortnames: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    subresources: frozenset[str] = frozenset()
    verbs: frozenset[str] = STANDARD_VERBS
    #: The ``openAPIV3Schema`` of a resource registered from a CRD object (None: no pruning).
    schema: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False)

    @property
    def key(self) -> ResourceKey:
        return (self.group, self.version, self.plural)

    @property
    def api_version(self) -> str:
        return self.version if not self.group else f"{self.group}/{self.version}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def has_status(self) -> bool:
        """Whether ``/status`` is a separate subresource (then the main resource ignores status)."""
        return "status" in self.subresources

    @property
    def qualified_name(self) -> str:
        """How a real API server names the resource in error messages, e.g. ``secrets``."""
        return self.plural if not self.group else f"{self.plural}.{self.group}"

    def path(
        self,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> str:
        """The URL path of the collection, or of one object (and its subresource)."""
        prefix = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        parts = [prefix]
        if self.namespaced and namespace is not None:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name is not None:
            parts.append(name)
            if subresource is not None:
                parts.append(subresource)
        return "/".join(parts)

    def info(self) -> kmock.ResourceInfo:
        """What kmock's discovery endpoints need to know about this resource."""
        return kmock.ResourceInfo(
            kind=self.kind,
            singular=self.singular or self.kind.lower(),
            namespaced=self.namespaced,
            verbs=set(self.verbs),
            shortnames=set(self.shortnames),
            categories=set(self.categories),
            subresources=set(self.subresources),
        )

    @classmethod
    def from_info(
        cls,
        key: ResourceKey,
        info: kmock.ResourceInfo,
        schema: Mapping[str, Any] | None = None,
    ) -> Resource:
        """Rebuild a resource from kmock's discovery record (the single source of truth)."""
        group, version, plural = key
        kind = info.kind or plural.capitalize()
        return cls(
            group=group,
            version=version,
            plural=plural,
            kind=kind,
            singular=info.singular or kind.lower(),
            # kmock leaves the scope unknown for resources declared without it; a real API server
            # has no such thing, and namespaced is by far the commoner case.
            namespaced=info.namespaced is not False,
            shortnames=frozenset(info.shortnames),
            categories=frozenset(info.categories),
            subresources=frozenset(info.subresources),
            verbs=frozenset(info.verbs) or STANDARD_VERBS,
            schema=schema,
        )


#: The custom resource of this project (docs/design.md, "The custom resource").
REPLICATION_JOBS: Final = Resource(
    group="smcoperator.io",
    version="v1alpha1",
    plural="replicationjobs",
    kind="ReplicationJob",
    singular="replicationjob",
    shortnames=frozenset({"rj"}),
    categories=frozenset({"smc"}),
    subresources=frozenset({"status"}),
)

# Builtins used by the operator, kopf and the tests. Discovery already knows them (kmock's bundled
# resources); these constants are for addressing them in the helpers and the counters.
SECRETS: Final = Resource(group="", version="v1", plural="secrets", kind="Secret")
EVENTS: Final = Resource(group="", version="v1", plural="events", kind="Event")
NAMESPACES: Final = Resource(
    group="",
    version="v1",
    plural="namespaces",
    kind="Namespace",
    namespaced=False,
    shortnames=frozenset({"ns"}),
    subresources=frozenset({"status", "finalize"}),
)
CUSTOM_RESOURCE_DEFINITIONS: Final = Resource(
    group="apiextensions.k8s.io",
    version="v1",
    plural="customresourcedefinitions",
    kind="CustomResourceDefinition",
    namespaced=False,
    shortnames=frozenset({"crd", "crds"}),
    subresources=frozenset({"status"}),
)

#: What the emulator declares unless told otherwise (on top of kmock's bundled builtins).
DEFAULT_RESOURCES: Final = (REPLICATION_JOBS,)


def declare(resources: kmock.ResourcesArray, extra: Iterable[Resource], *, bundled: bool) -> None:
    """Make discovery report the bundled builtins (optionally) and the given resources."""
    if bundled:
        # Builtins as a real cluster reports them (namespaces, secrets, events, CRDs, ...), so that
        # kopf's discovery of its backbone resources (namespaces, CRDs) succeeds. This is what
        # ``resources.load_bundled()`` does, minus its DeprecationWarning on Python 3.11-3.12
        # (it uses ``importlib.resources.read_binary``), which ``filterwarnings=error`` turns into
        # a failure.
        bundle = importlib.resources.files("kmock._internal").joinpath("resources.json.gz")
        resources.load_data(gzip.decompress(bundle.read_bytes()))
    for resource in extra:
        resources[kmock.resource(*resource.key)] = resource.info()


def resources_from_crd(crd: Mapping[str, Any]) -> list[Resource]:
    """The resources a CustomResourceDefinition object declares (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    plural = names.get("plural") or ""
    kind = names.get("kind") or ""
    if not group or not plural or not kind:
        return []
    result: list[Resource] = []
    for version in spec.get("versions") or []:
        if not version.get("served", True) or not version.get("name"):
            continue
        subresources = frozenset((version.get("subresources") or {}).keys())
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        result.append(
            Resource(
                group=group,
                version=version["name"],
                plural=plural,
                kind=kind,
                singular=names.get("singular") or kind.lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                shortnames=frozenset(names.get("shortNames") or ()),
                categories=frozenset(names.get("categories") or ()),
                subresources=subresources,
                schema=schema if isinstance(schema, Mapping) else None,
            )
        )
    return result
