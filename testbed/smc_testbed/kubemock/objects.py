"""The object store behind the emulated API: the rules a real API server applies to writes.

Everything here is synchronous and in memory, so one write is atomic under asyncio: the global
resourceVersion bump, the stored object, the history entry and the delivery to every open watch
happen without an ``await`` in between, and watchers see events in resourceVersion order.

Stored objects are never mutated after they are stored (copy on write): a dict returned by
:meth:`ObjectStore.get` or carried by a :class:`WatchEvent` is a stable snapshot. Treat it as
read-only.

Objects are indexed by resource, then namespace, then name: a fetch or a write is a dict lookup,
and a list scans only the requested resource (and namespace), never the whole store.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import dataclasses
import datetime
import json
import random
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Literal

from smc_testbed.kubemock import errors
from smc_testbed.kubemock.patches import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    MalformedPatchError,
    PatchNotApplicableError,
    clone,
    json_patch,
    merge_patch,
)
from smc_testbed.kubemock.resources import (
    CUSTOM_RESOURCE_DEFINITIONS,
    NAMESPACES,
    SECRETS,
    Resource,
    ResourceKey,
)
from smc_testbed.kubemock.schemas import prune_and_default
from smc_testbed.kubemock.selectors import EVERYTHING, Selector

#: Metadata the server owns: clients cannot set or change these on create/update.
SERVER_METADATA: Final = (
    "uid",
    "creationTimestamp",
    "generation",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
)
#: Metadata a real server omits when empty (Go's ``omitempty``); kopf expects that.
_OMIT_WHEN_EMPTY: Final = ("labels", "annotations", "finalizers", "ownerReferences")
#: Marks the bookmark that ends the initial events of a ``sendInitialEvents=true`` watch.
INITIAL_EVENTS_END: Final = "k8s.io/initial-events-end"

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Kubernetes' own alphabet for generated name suffixes (no vowels, no look-alike characters).
_NAME_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
Clock = Callable[[], datetime.datetime]
Listener = Callable[[Resource, "WatchEvent"], None]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def rfc3339(moment: datetime.datetime) -> str:
    """The timestamp format of ``metadata.*Timestamp``: seconds precision, ``Z``."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(eq=False)
class WatchEvent:
    """One watch event; its JSON line is rendered once and shared by all watchers."""

    type: EventType
    object: Mapping[str, Any]
    resource_version: int
    namespace: str | None = None
    _line: bytes | None = dataclasses.field(default=None, repr=False)

    def line(self) -> bytes:
        if self._line is None:
            payload = {"type": self.type, "object": self.object}
            self._line = json.dumps(payload, separators=(",", ":")).encode() + b"\n"
        return self._line


@dataclasses.dataclass(eq=False)
class Watch:
    """An open watch: the events for it are queued here; ``None`` ends the stream."""

    resource: Resource
    namespace: str | None = None
    labels: Selector = EVERYTHING
    fields: Selector = EVERYTHING
    queue: asyncio.Queue[WatchEvent | None] = dataclasses.field(default_factory=asyncio.Queue)

    def wants(self, event: WatchEvent) -> bool:
        if self.namespace is not None and event.namespace != self.namespace:
            return False
        return self.labels.matches(event.object) and self.fields.matches(event.object)

    def close(self) -> None:
        self.queue.put_nowait(None)


@dataclasses.dataclass(frozen=True)
class ObjectList:
    """One page of a list: its items, the list's resourceVersion and the continuation."""

    items: list[Mapping[str, Any]]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None


class _History:
    """The recent events of one resource, for watches that resume from a resourceVersion."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.events: list[WatchEvent] = []
        # Events with a resourceVersion up to this one may have been dropped.
        self.floor = 0

    def append(self, event: WatchEvent) -> None:
        self.events.append(event)
        # Trim in halves so that appending stays amortised O(1).
        if len(self.events) > 2 * self.limit:
            dropped = len(self.events) - self.limit
            self.floor = self.events[dropped - 1].resource_version
            del self.events[:dropped]

    def since(self, resource_version: int) -> list[WatchEvent] | None:
        """The events after this resourceVersion, or None if some of them are gone."""
        if resource_version < self.floor:
            return None
        start = bisect.bisect_right(
            self.events, resource_version, key=lambda event: event.resource_version
        )
        return self.events[start:]


class ObjectStore:
    """Objects of every resource, with a real API server's write rules and watch semantics."""

    def __init__(
        self,
        *,
        history_limit: int = 10_000,
        strict_namespaces: bool = True,
        clock: Clock = utc_now,
        uids: Callable[[], str] = lambda: str(uuid.uuid4()),
        rng: random.Random | None = None,
    ) -> None:
        self.history_limit = history_limit
        #: Refuse namespaced objects in a namespace that does not exist (as a real server does).
        self.strict_namespaces = strict_namespaces
        self._clock = clock
        self._uids = uids
        self._rng = rng or random.Random()
        # Starts above 0 because "0" in a list or watch request means "any version".
        self._resource_version = 1
        self._objects: dict[ResourceKey, dict[str | None, dict[str, dict[str, Any]]]] = {}
        self._resources: dict[ResourceKey, Resource] = {}
        self._histories: dict[ResourceKey, _History] = {}
        self._watches: dict[ResourceKey, set[Watch]] = {}
        self._listeners: list[Listener] = []

    # --- reading ---------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion handed out (global, like etcd's revision)."""
        return self._resource_version

    def count(self, resource: Resource, namespace: str | None = None) -> int:
        buckets = self._objects.get(resource.key, {})
        if namespace is not None:
            return len(buckets.get(namespace, {}))
        return sum(len(bucket) for bucket in buckets.values())

    def find(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object or None (read-only)."""
        namespace = namespace if resource.namespaced else None
        return self._objects.get(resource.key, {}).get(namespace, {}).get(name)

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        """The stored object (read-only); 404 if absent."""
        obj = self.find(resource, namespace, name)
        if obj is None:
            raise errors.not_found(resource, name)
        return obj

    def list_objects(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        labels: Selector = EVERYTHING,
        fields: Selector = EVERYTHING,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> ObjectList:
        """Objects sorted by namespace and name (as etcd keys sort), optionally paginated.

        Pages are cut from the current state, not from a snapshot at the first page's version.
        """
        keys_and_objects = sorted(self._iter_objects(resource, namespace), key=lambda kv: kv[0])
        if continue_token:
            after = _decode_continue(continue_token)
            start = bisect.bisect_right(keys_and_objects, after, key=lambda kv: kv[0])
            keys_and_objects = keys_and_objects[start:]
        matching = [
            (key, obj)
            for key, obj in keys_and_objects
            if labels.matches(obj) and fields.matches(obj)
        ]
        if limit and len(matching) > limit:
            page = matching[:limit]
            return ObjectList(
                items=[obj for _, obj in page],
                resource_version=self._resource_version,
                continue_token=_encode_continue(page[-1][0]),
                remaining=len(matching) - limit,
            )
        return ObjectList(
            items=[obj for _, obj in matching], resource_version=self._resource_version
        )

    def _iter_objects(
        self, resource: Resource, namespace: str | None
    ) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
        buckets = self._objects.get(resource.key, {})
        selected = [namespace] if namespace is not None and resource.namespaced else list(buckets)
        for bucket_namespace in selected:
            for name, obj in buckets.get(bucket_namespace, {}).items():
                yield (bucket_namespace or "", name), obj

    # --- writing ---------------------------------------------------------------------------------

    def create(
        self,
        resource: Resource,
        namespace: str | None,
        body: Any,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Create an object; 409 AlreadyExists if the name is taken."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of a create must be a JSON object")
        self._check_type(resource, body)
        metadata: dict[str, Any] = (
            body["metadata"] if isinstance(body.get("metadata"), dict) else {}
        )
        if resource.namespaced:
            body_namespace = metadata.get("namespace")
            namespace = namespace or body_namespace
            if not namespace:
                raise errors.bad_request("a namespaced object needs a namespace")
            if body_namespace and body_namespace != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            self._require_namespace(namespace)
        else:
            namespace = None

        name = metadata.get("name") or self._generate_name(resource, namespace, metadata)
        self._check_name(resource, name)
        if self.find(resource, namespace, name) is not None:
            raise errors.already_exists(resource, name)

        meta = clone(metadata)
        # The order a real server renders: apiVersion, kind, metadata, then the rest.
        obj = {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": meta}
        obj.update((key, clone(value)) for key, value in body.items() if key not in obj)
        for field in SERVER_METADATA:
            meta.pop(field, None)
        meta["name"] = name
        if namespace is not None:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["uid"] = self._uids()
        meta["creationTimestamp"] = rfc3339(self._clock())
        meta["generation"] = 1
        if resource.has_status:
            # Status belongs to the status subresource: a create cannot set it.
            obj.pop("status", None)
        obj = self._shape(resource, _server_defaults(resource, obj))
        if dry_run:
            return obj
        return self._commit(resource, namespace, name, obj, "ADDED")

    def replace(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Replace an object (PUT), or only its status with ``subresource='status'``."""
        self._check_subresource(resource, subresource)
        current = self.get(resource, namespace, name)
        if not isinstance(body, dict):
            raise errors.bad_request("the body of an update must be a JSON object")
        metadata: dict[str, Any] = (
            body["metadata"] if isinstance(body.get("metadata"), dict) else {}
        )
        if metadata.get("name") not in (None, name):
            raise errors.bad_request(
                f"the name of the object ({metadata['name']}) does not match the name on the URL "
                f"({name})"
            )
        if resource.namespaced and metadata.get("namespace") not in (None, namespace):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        self._check_type(resource, body)
        self._check_precondition(resource, name, current, body)
        new = _isolate(resource, current, clone(body), subresource)
        return self._update(resource, name, current, new, dry_run=dry_run)

    def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        patch_type: str = MERGE_PATCH,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Patch an object (or only its status); a stale resourceVersion in it answers 409."""
        self._check_subresource(resource, subresource)
        current = self.get(resource, namespace, name)
        try:
            if patch_type == JSON_PATCH:
                patched = json_patch(current, patch)
            elif patch_type in (MERGE_PATCH, STRATEGIC_MERGE_PATCH):
                if not isinstance(patch, dict):
                    raise MalformedPatchError("a merge patch must be a JSON object")
                patched = merge_patch(current, patch)
            else:
                raise errors.unsupported_media_type(patch_type)
        except MalformedPatchError as exc:
            raise errors.bad_request(str(exc)) from None
        except PatchNotApplicableError as exc:
            raise errors.invalid(resource, name, str(exc)) from None
        if not isinstance(patched, dict):
            raise errors.bad_request("the patched object is not a JSON object")
        self._check_precondition(resource, name, current, patched)
        new = _isolate(resource, current, patched, subresource)
        return self._update(resource, name, current, new, dry_run=dry_run)

    def delete(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        *,
        preconditions: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Delete an object; one with finalizers is only marked (``deletionTimestamp``)."""
        current = self.get(resource, namespace, name)
        meta = current["metadata"]
        for field in ("uid", "resourceVersion"):
            expected = (preconditions or {}).get(field)
            if expected is not None and str(expected) != str(meta.get(field)):
                raise errors.conflict(
                    resource,
                    name,
                    f"Precondition failed: {field} in precondition: {expected}, "
                    f"{field} in object meta: {meta.get(field)}",
                )
        if meta.get("deletionTimestamp"):
            return current  # already being deleted: nothing changes until the finalizers go
        new = dict(current)
        new_meta = new["metadata"] = dict(meta)
        if meta.get("finalizers"):
            new_meta["deletionTimestamp"] = rfc3339(self._clock())
            new_meta["deletionGracePeriodSeconds"] = 0
            # A real server counts the deletion request as a change of the desired state.
            new_meta["generation"] = int(meta.get("generation") or 0) + 1
            if dry_run:
                return new
            result = self._commit(resource, namespace, name, new, "MODIFIED")
        else:
            if dry_run:
                return current
            result = self._commit(resource, namespace, name, new, "DELETED")
        if resource.key == NAMESPACES.key:
            self._delete_namespace_contents(name)
        return result

    def delete_collection(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        labels: Selector = EVERYTHING,
        fields: Selector = EVERYTHING,
        dry_run: bool = False,
    ) -> list[Mapping[str, Any]]:
        victims = self.list_objects(resource, namespace, labels=labels, fields=fields).items
        return [
            self.delete(
                resource,
                victim["metadata"].get("namespace"),
                victim["metadata"]["name"],
                dry_run=dry_run,
            )
            for victim in victims
        ]

    def purge(self, resource: Resource) -> int:
        """Remove every object of a resource (its CRD is gone), announcing each as DELETED."""
        victims = [obj for _, obj in self._iter_objects(resource, None)]
        for victim in victims:
            meta = victim["metadata"]
            new = dict(victim)
            new["metadata"] = dict(meta)
            self._commit(resource, meta.get("namespace"), meta["name"], new, "DELETED")
        return len(victims)

    # --- watching --------------------------------------------------------------------------------

    def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        since: int | None = None,
        labels: Selector = EVERYTHING,
        fields: Selector = EVERYTHING,
        initial_events_end: bool = False,
    ) -> Watch:
        """Open a watch: with ``since``, replay the kept events after it, else ADDED for all.

        A ``since`` older than the kept history yields one ERROR 410 (Expired) event and the end
        of the stream, as a real server does, and clients re-list.
        """
        namespace = namespace if resource.namespaced else None
        watch = Watch(resource=resource, namespace=namespace, labels=labels, fields=fields)
        if since is None:
            for _, obj in sorted(self._iter_objects(resource, namespace), key=lambda kv: kv[0]):
                meta = obj["metadata"]
                event = WatchEvent(
                    "ADDED", obj, int(meta["resourceVersion"]), namespace=meta.get("namespace")
                )
                if watch.wants(event):
                    watch.queue.put_nowait(event)
            if initial_events_end:
                watch.queue.put_nowait(self.bookmark(resource, initial_events_end=True))
        else:
            history = self._histories.get(resource.key)
            events = history.since(since) if history is not None else []
            if events is None:
                assert history is not None  # only a history can have lost events
                watch.queue.put_nowait(self.error_event(errors.gone(since, history.floor)))
                watch.close()
                return watch  # never registered: the stream ends after the error
            for event in events:
                if watch.wants(event):
                    watch.queue.put_nowait(event)
        self._watches.setdefault(resource.key, set()).add(watch)
        return watch

    def unwatch(self, watch: Watch) -> None:
        self._watches.get(watch.resource.key, set()).discard(watch)

    def watches(self, resource: Resource | None = None) -> list[Watch]:
        """The open watches (of one resource or all)."""
        if resource is not None:
            return list(self._watches.get(resource.key, ()))
        return [watch for watches in self._watches.values() for watch in watches]

    def close_watches(self, resource: Resource | None = None, *, gone: bool = False) -> int:
        """End open watch streams (optionally with ERROR 410 first, forcing a re-list)."""
        closing = self.watches(resource)
        for watch in closing:
            self.unwatch(watch)
            if gone:
                error = errors.gone(self._resource_version, self._resource_version)
                watch.queue.put_nowait(self.error_event(error))
            watch.close()
        return len(closing)

    def bookmark(self, resource: Resource, *, initial_events_end: bool = False) -> WatchEvent:
        """A BOOKMARK carrying the current resourceVersion (all earlier events were sent)."""
        metadata: dict[str, Any] = {"resourceVersion": str(self._resource_version)}
        if initial_events_end:
            metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
        obj = {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata}
        return WatchEvent("BOOKMARK", obj, self._resource_version)

    def error_event(self, error: errors.ApiError) -> WatchEvent:
        return WatchEvent("ERROR", error.status(), self._resource_version)

    def add_listener(self, listener: Listener) -> None:
        """Call this (synchronously) after every committed write."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    # --- internals -------------------------------------------------------------------------------

    def _update(
        self,
        resource: Resource,
        name: str,
        current: dict[str, Any],
        new: dict[str, Any],
        *,
        dry_run: bool,
    ) -> dict[str, Any]:
        old_meta = current["metadata"]
        new_meta: dict[str, Any] = dict(
            new["metadata"] if isinstance(new.get("metadata"), dict) else {}
        )
        new = dict(new)
        new["metadata"] = new_meta
        new["apiVersion"] = resource.api_version
        new["kind"] = resource.kind
        for field in (*SERVER_METADATA, "name", "namespace"):
            if field in old_meta:
                new_meta[field] = old_meta[field]
            else:
                new_meta.pop(field, None)
        if old_meta.get("deletionTimestamp"):
            added = set(new_meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
            if added:
                raise errors.invalid(
                    resource,
                    name,
                    "metadata.finalizers: Forbidden: no new finalizers can be added if the "
                    f"object is being deleted, found new finalizers {sorted(added)!r}",
                )
        new = self._shape(resource, new)
        if _desired_state(resource, new) != _desired_state(resource, current):
            new["metadata"]["generation"] = int(old_meta.get("generation") or 0) + 1
        if new == current:
            return current  # a no-op write: no new resourceVersion, no event (as a real server)
        if dry_run:
            return new
        namespace = old_meta.get("namespace")
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            # The last finalizer is gone from an object being deleted: now it is deleted.
            return self._commit(resource, namespace, name, new, "DELETED")
        return self._commit(resource, namespace, name, new, "MODIFIED")

    def _commit(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        obj: dict[str, Any],
        event_type: EventType,
    ) -> dict[str, Any]:
        self._resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self._resource_version)
        buckets = self._objects.setdefault(resource.key, {})
        if event_type == "DELETED":
            bucket = buckets.get(namespace, {})
            bucket.pop(name, None)
            if not bucket:
                buckets.pop(namespace, None)
        else:
            buckets.setdefault(namespace, {})[name] = obj
        self._resources[resource.key] = resource
        event = WatchEvent(event_type, obj, self._resource_version, namespace=namespace)
        history = self._histories.get(resource.key)
        if history is None:
            history = self._histories[resource.key] = _History(self.history_limit)
        history.append(event)
        for watch in self._watches.get(resource.key, ()):
            if watch.wants(event):
                watch.queue.put_nowait(event)
        for listener in list(self._listeners):
            listener(resource, event)
        return obj

    def _shape(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        if resource.schema is not None:
            obj = prune_and_default(obj, resource.schema)
        if resource.key == SECRETS.key:
            obj = _fold_string_data(obj)
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            for field in _OMIT_WHEN_EMPTY:
                if field in meta and not meta[field]:
                    del meta[field]
        return obj

    def _delete_namespace_contents(self, namespace: str) -> None:
        # A real server keeps the namespace Terminating until its content is gone; here the
        # content is deleted at once (objects with finalizers stay until released).
        for key, buckets in list(self._objects.items()):
            resource = self._resources.get(key)
            if resource is None or not resource.namespaced:
                continue
            for name in list(buckets.get(namespace, {})):
                obj = self.find(resource, namespace, name)
                if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                    self.delete(resource, namespace, name)

    def _require_namespace(self, namespace: str) -> None:
        if not self.strict_namespaces:
            return
        ns = self.find(NAMESPACES, None, namespace)
        if ns is None:
            raise errors.namespace_not_found(namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
            )

    def _generate_name(
        self, resource: Resource, namespace: str | None, metadata: Mapping[str, Any]
    ) -> str:
        prefix = metadata.get("generateName")
        if not prefix:
            raise errors.invalid(
                resource, "", "metadata.name: Required value: name or generateName is required"
            )
        for _ in range(10):  # a collision of 27**5 suffixes is rare; retry a few times
            suffix = "".join(self._rng.choice(_NAME_ALPHABET) for _ in range(5))
            name = f"{str(prefix)[:58]}{suffix}"
            if self.find(resource, namespace, name) is None:
                return name
        raise errors.already_exists(resource, name)

    def _check_name(self, resource: Resource, name: Any) -> None:
        if not isinstance(name, str):
            raise errors.invalid(resource, str(name), "metadata.name: Invalid value: not a string")
        if resource.key == NAMESPACES.key:
            valid = len(name) <= 63 and _DNS_LABEL.match(name) is not None
        elif resource.group == "rbac.authorization.k8s.io":
            valid = bool(name) and "/" not in name and "%" not in name and name not in {".", ".."}
        else:
            valid = len(name) <= 253 and _DNS_SUBDOMAIN.match(name) is not None
        if not valid:
            raise errors.invalid(
                resource,
                name,
                f"metadata.name: Invalid value: {name!r}: a lowercase RFC 1123 name must consist "
                "of lower case alphanumeric characters, '-' or '.'",
            )

    def _check_type(self, resource: Resource, body: Mapping[str, Any]) -> None:
        api_version = body.get("apiVersion")
        kind = body.get("kind")
        if api_version not in (None, "", resource.api_version):
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({resource.api_version})"
            )
        if kind not in (None, "", resource.kind):
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})"
            )

    def _check_subresource(self, resource: Resource, subresource: str | None) -> None:
        if subresource is not None and (
            subresource != "status" or subresource not in resource.subresources
        ):
            raise errors.resource_not_found()

    def _check_precondition(
        self, resource: Resource, name: str, current: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        metadata = new.get("metadata")
        wanted = metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
        if wanted not in (None, "") and str(wanted) != current["metadata"]["resourceVersion"]:
            raise errors.conflict(resource, name)


def _isolate(
    resource: Resource,
    current: dict[str, Any],
    candidate: dict[str, Any],
    subresource: str | None,
) -> dict[str, Any]:
    """Keep a write within its half: ``/status`` changes only status, the rest never status."""
    if subresource == "status":
        new = dict(current)
        new["metadata"] = dict(current["metadata"])
        if "status" in candidate:
            new["status"] = candidate["status"]
        else:
            new.pop("status", None)
        return new
    if resource.has_status:
        if "status" in current:
            candidate["status"] = current["status"]
        else:
            candidate.pop("status", None)
    return candidate


def _desired_state(resource: Resource, obj: Mapping[str, Any]) -> dict[str, Any]:
    """What ``metadata.generation`` tracks: all but metadata (and status, if a subresource)."""
    skipped = {"metadata", "apiVersion", "kind"}
    if resource.has_status:
        skipped.add("status")
    return {key: value for key, value in obj.items() if key not in skipped}


def _server_defaults(resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """Fields a real server fills in on create for a few builtins."""
    if resource.key == NAMESPACES.key:
        obj["status"] = {"phase": "Active"}
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif resource.key == CUSTOM_RESOURCE_DEFINITIONS.key:
        spec = obj.get("spec") or {}
        names = dict(spec.get("names") or {})
        names.setdefault("singular", str(names.get("kind", "")).lower())
        names.setdefault("listKind", f"{names.get('kind', '')}List")
        stored = [v["name"] for v in spec.get("versions") or [] if v.get("storage") and "name" in v]
        now = obj["metadata"]["creationTimestamp"]
        obj["status"] = {
            "acceptedNames": names,
            "storedVersions": stored,
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": now,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": now,
                },
            ],
        }
    return obj


def _fold_string_data(secret: dict[str, Any]) -> dict[str, Any]:
    """A Secret's write-only ``stringData`` ends up base64-encoded in ``data``, as on a server."""
    secret.setdefault("type", "Opaque")
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, Mapping) and string_data:
        data = dict(secret.get("data") or {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        secret["data"] = data
    return secret


def _encode_continue(key: tuple[str, str]) -> str:
    raw = json.dumps({"namespace": key[0], "name": key[1]}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return (str(data["namespace"]), str(data["name"]))
    except (ValueError, KeyError, TypeError):
        raise errors.bad_request(f"invalid continue token: {token!r}") from None
