"""Request and watch-event counting, for the benchmark's reads-versus-writes accounting.

Every answered request is counted once under a :class:`RequestKey` (Kubernetes verb, resource,
subresource, namespace, name, HTTP code and the client's User-Agent product, e.g. ``kopf`` or
``kubectl``); every watch event written to a stream is counted by resource and event type. Memory
is bounded by the number of distinct keys (objects x verbs x codes), not by the number of
requests::

    counters = api.counters
    counters.reset()                                   # e.g. after seeding objects
    ...
    counters.count(verb="patch", resource=REPLICATION_JOBS, agent="kopf")
    counters.writes(resource=REPLICATION_JOBS, agent="kopf")
    counters.per_object(REPLICATION_JOBS)[("default", "job-1")]   # ObjectCounts(reads, writes)
    counters.watch_events[("replicationjobs", "MODIFIED")]
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Collection
from typing import Final, NamedTuple

from smc_testbed.kubemock.resources import Resource

READ_VERBS: Final = frozenset({"get", "list", "watch"})
WRITE_VERBS: Final = frozenset({"create", "update", "patch", "delete", "deletecollection"})

#: Matches any value in :meth:`RequestCounters.count` filters that accept None as a real value.
ANY: Final = "*"


class RequestKey(NamedTuple):
    verb: str  # a Kubernetes verb, or the lowercased HTTP method for non-resource paths
    group: str | None  # None for non-resource paths (discovery, /version, ...)
    resource: str | None  # the plural
    subresource: str | None
    namespace: str | None
    name: str | None
    code: int
    agent: str  # the User-Agent's product token: "kopf", "kubectl", "kubemock", ...


class ObjectCounts(NamedTuple):
    reads: int
    writes: int


@dataclasses.dataclass
class RequestCounters:
    """Counts of answered requests and of watch events sent."""

    requests: collections.Counter[RequestKey] = dataclasses.field(
        default_factory=collections.Counter
    )
    #: (plural, event type) -> events written to watch streams.
    watch_events: collections.Counter[tuple[str, str]] = dataclasses.field(
        default_factory=collections.Counter
    )

    def reset(self) -> None:
        self.requests.clear()
        self.watch_events.clear()

    def count(
        self,
        *,
        verb: str | Collection[str] | None = None,
        resource: Resource | str | None = None,
        subresource: str | None = ANY,
        namespace: str | None = ANY,
        name: str | None = ANY,
        code: int | Collection[int] | None = None,
        agent: str | None = None,
    ) -> int:
        """How many requests match all the given filters.

        ``verb`` and ``code`` take one value or a collection; ``resource`` takes a
        :class:`Resource` (group and plural must match) or a plural. ``subresource``,
        ``namespace`` and ``name`` default to any; pass None to require their absence
        (e.g. ``subresource=None``: the main resource only).
        """
        verbs = {verb} if isinstance(verb, str) else verb
        codes = {code} if isinstance(code, int) else code
        total = 0
        for key, hits in self.requests.items():
            if verbs is not None and key.verb not in verbs:
                continue
            if codes is not None and key.code not in codes:
                continue
            if isinstance(resource, Resource) and (key.group, key.resource) != (
                resource.group,
                resource.plural,
            ):
                continue
            if isinstance(resource, str) and key.resource != resource:
                continue
            if subresource != ANY and key.subresource != subresource:
                continue
            if namespace != ANY and key.namespace != namespace:
                continue
            if name != ANY and key.name != name:
                continue
            if agent is not None and key.agent != agent:
                continue
            total += hits
        return total

    def reads(self, *, resource: Resource | str | None = None, agent: str | None = None) -> int:
        return self.count(verb=READ_VERBS, resource=resource, agent=agent)

    def writes(self, *, resource: Resource | str | None = None, agent: str | None = None) -> int:
        return self.count(verb=WRITE_VERBS, resource=resource, agent=agent)

    def per_object(
        self, resource: Resource, *, agent: str | None = None
    ) -> dict[tuple[str | None, str], ObjectCounts]:
        """(namespace, name) -> reads and writes addressed to that one object."""
        reads: collections.Counter[tuple[str | None, str]] = collections.Counter()
        writes: collections.Counter[tuple[str | None, str]] = collections.Counter()
        for key, hits in self.requests.items():
            if key.name is None or (key.group, key.resource) != (resource.group, resource.plural):
                continue
            if agent is not None and key.agent != agent:
                continue
            if key.verb in READ_VERBS:
                reads[key.namespace, key.name] += hits
            elif key.verb in WRITE_VERBS:
                writes[key.namespace, key.name] += hits
        return {
            object_key: ObjectCounts(reads[object_key], writes[object_key])
            for object_key in reads.keys() | writes.keys()
        }

    def total_watch_events(self, resource: Resource | str | None = None) -> int:
        plural = resource.plural if isinstance(resource, Resource) else resource
        return sum(
            hits
            for (event_plural, _), hits in self.watch_events.items()
            if plural is None or event_plural == plural
        )
