"""The HTTP face of the emulated API server: kmock's KubernetesEmulator with the fidelity layer.

:class:`ApiServerEmulator` is an aiohttp low-level handler. Requests for objects (anything naming a
resource: ``/api/v1/namespaces/x/secrets/y``, ``/apis/g/v/plural``, ...) are parsed and served
here, against :class:`~smc_testbed.kubemock.objects.ObjectStore`; everything else (discovery,
``/version``, user-defined kmock reactions) goes through kmock's own routing. Served requests are
forgotten as soon as they are answered: kmock would otherwise keep every request and re-scan them
all on every new one.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterable, Mapping
from typing import Any, Final

import aiohttp.web
import kmock

from smc_testbed.kubemock import errors, selectors
from smc_testbed.kubemock.counters import RequestCounters, RequestKey
from smc_testbed.kubemock.faults import FaultPlan
from smc_testbed.kubemock.objects import Clock, ObjectStore, WatchEvent, utc_now
from smc_testbed.kubemock.paths import ApiPath, parse_path
from smc_testbed.kubemock.resources import (
    CUSTOM_RESOURCE_DEFINITIONS,
    DEFAULT_RESOURCES,
    NAMESPACES,
    Resource,
    ResourceKey,
    declare,
    resources_from_crd,
)

#: Namespaces every cluster starts with.
DEFAULT_NAMESPACES: Final = ("default", "kube-system", "kube-public", "kube-node-lease")

_TRUE: Final = frozenset({"true", "1"})


class ApiServerEmulator(kmock.KubernetesEmulator):
    """kmock's Kubernetes emulator with a real API server's write, list and watch semantics.

    Use it as an aiohttp handler inside ``async with emulator:`` (see
    :class:`~smc_testbed.kubemock.running.EmulatedKubeApi`, which also serves it on a port).
    """

    def __init__(
        self,
        *,
        resources: Iterable[Resource] = DEFAULT_RESOURCES,
        bundled: bool = True,
        namespaces: Iterable[str] = DEFAULT_NAMESPACES,
        strict_namespaces: bool = True,
        history_limit: int = 10_000,
        bookmark_interval: float = 30.0,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__()
        self.store = ObjectStore(
            history_limit=history_limit,
            strict_namespaces=strict_namespaces,
            clock=clock,
            rng=rng,
        )
        self.faults = FaultPlan(rng)
        self.counters = RequestCounters()
        #: Seconds of silence after which a watch that allows bookmarks gets one. kopf reconnects
        #: a watch after 70 s without any event (``settings.watching.inactivity_timeout``).
        self.bookmark_interval = bookmark_interval
        self._schemas: dict[ResourceKey, Mapping[str, Any]] = {}
        self._request_ids = 0
        declare(self.resources, resources, bundled=bundled)
        for resource in resources:
            if resource.schema is not None:
                self._schemas[resource.key] = resource.schema
        self.store.add_listener(self._register_crds)
        for namespace in namespaces:
            self.store.create(NAMESPACES, None, {"metadata": {"name": namespace}})

    # --- public ----------------------------------------------------------------------------------

    def declare(self, resource: Resource) -> None:
        """Serve (and report in discovery) one more resource."""
        self.resources[kmock.resource(*resource.key)] = resource.info()
        if resource.schema is not None:
            self._schemas[resource.key] = resource.schema
        else:
            self._schemas.pop(resource.key, None)

    def undeclare(self, resource: Resource) -> None:
        key = kmock.resource(*resource.key)
        if key in self.resources:
            del self.resources[key]
        self._schemas.pop(resource.key, None)

    def find_resource(self, group: str, version: str, plural: str) -> Resource | None:
        """The declared resource, as discovery currently reports it; None if unknown."""
        key = kmock.resource(group, version, plural)
        if key not in self.resources:
            return None
        schema = self._schemas.get((group, version, plural))
        return Resource.from_info((group, version, plural), self.resources[key], schema)

    def close_watches(self, resource: Resource | None = None, *, gone: bool = False) -> int:
        """End the open watch streams (of one resource, or all); ``gone`` sends ERROR 410 first.

        kopf reconnects a closed stream from its last resourceVersion, and re-lists after a 410.
        """
        return self.store.close_watches(resource, gone=gone)

    @property
    def retained_requests(self) -> int:
        """How many requests kmock still holds (only the in-flight ones, e.g. open watches)."""
        return len(self._requests) + sum(len(payload._requests) for payload in self._payloads)

    # --- aiohttp entry point ---------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        path = parse_path(raw_request.path)
        if not path.is_resource:
            return await self._pass_to_kmock(raw_request)

        body = await raw_request.read()
        data = _decode(body)
        self._request_ids += 1
        request = kmock.Request(
            id=self._request_ids,
            raw_request=raw_request,
            url=raw_request.url,
            method=raw_request.method,
            params=dict(raw_request.query),
            headers=dict(raw_request.headers),
            body=body,
            text=body.decode("utf-8", errors="replace"),
            data=data,
            action=_action(raw_request.method, path, raw_request.query),
            resource=kmock.resource(path.group, path.version, path.plural),
            namespace=path.namespace,
            name=path.name,
            subresource=path.subresource,
        )
        # Only in-flight requests are kept, so kmock's views (``emulator[...]``) still see them.
        self._requests.append(request)
        call = _Call(
            path=path,
            verb=_verb(raw_request.method, path, raw_request.query),
            params=raw_request.query,
            data=data,
            content_type=raw_request.headers.get("Content-Type", ""),
            agent=_agent(raw_request.headers.get("User-Agent", "")),
            raw_request=raw_request,
        )
        try:
            response = await self._answer_call(call)
        except errors.ApiError as exc:
            response = _status_response(exc)
        except Exception as exc:
            # Like kmock: remember the failure for the test's teardown, answer a 500 Status.
            if self._errors:
                self._errors[-1].append(exc)
            response = _status_response(errors.ApiError(500, message=repr(exc)))
        finally:
            _remove_by_identity(self._requests, request)
        if not call.counted:
            self._count(call, response.status)
        return response

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        # Only non-resource requests arrive here (through kmock's __call__): discovery, /version
        # and user-defined reactions. kmock's object tracking is skipped: the store does that.
        response: aiohttp.web.StreamResponse = await super(kmock.KubernetesEmulator, self)._handle(
            request
        )
        return response

    async def _serve_version(self, request: kmock.Request) -> Any:
        # kmock's discovery document, corrected where kubectl trips over it: the core group's
        # groupVersion is "v1" (not "/v1"), and subresources carry no short names or categories
        # (else kubectl warns that "ns" might mean "namespaces/status") and only their own verbs.
        document = await super()._serve_version(request)
        if isinstance(document, dict):
            document["groupVersion"] = str(document.get("groupVersion", "")).lstrip("/")
            for entry in document.get("resources", []):
                if "/" in entry.get("name", ""):
                    entry.pop("shortNames", None)
                    entry.pop("categories", None)
                    entry["verbs"] = ["get", "patch", "update"]
                else:
                    entry["verbs"] = sorted(entry.get("verbs") or [])
        return document

    async def _pass_to_kmock(
        self, raw_request: aiohttp.web.BaseRequest
    ) -> aiohttp.web.StreamResponse:
        errors_before = len(self._errors[-1]) if self._errors else 0
        try:
            response: aiohttp.web.StreamResponse = await super().__call__(raw_request)
        finally:
            self._forget(raw_request)
            if self._errors:
                # kmock keeps every failure for the teardown of strict tests, 404s for unknown
                # paths included (kubectl probes /openapi on every call): keep only real ones.
                recent = self._errors[-1][errors_before:]
                del self._errors[-1][errors_before:]
                self._errors[-1].extend(
                    exc
                    for exc in recent
                    if not (isinstance(exc, kmock.KubernetesError) and exc.status < 500)
                )
        method = raw_request.method.lower()
        agent = _agent(raw_request.headers.get("User-Agent", ""))
        key = RequestKey(method, None, None, None, None, None, response.status, agent)
        self.counters.requests[key] += 1
        return response

    def _forget(self, raw_request: aiohttp.web.BaseRequest) -> None:
        """Drop a served request from kmock's lists (the root's and the reactions')."""
        for index in range(len(self._requests) - 1, -1, -1):
            request = self._requests[index]
            if request._raw_request is raw_request:
                del self._requests[index]
                for payload in self._payloads:
                    _remove_by_identity(payload._requests, request)
                return

    # --- serving resource requests ---------------------------------------------------------------

    async def _answer_call(self, call: _Call) -> aiohttp.web.StreamResponse:
        path = call.path
        assert path.group is not None  # a resource path has all three (ApiPath.is_resource)
        assert path.version is not None
        assert path.plural is not None
        resource = self.find_resource(path.group, path.version, path.plural)
        if resource is None or (path.namespace is not None and not resource.namespaced):
            raise errors.resource_not_found()
        if call.verb is None:
            raise errors.method_not_allowed()
        call.resource = resource

        fault = self.faults.pick(
            verb=call.verb,
            resource=resource,
            subresource=path.subresource,
            namespace=path.namespace,
            name=path.name,
        )
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status is not None and not fault.after:
            raise fault.error(resource, path.name)

        if call.verb == "watch":
            return await self._stream_watch(call, resource)
        response = self._answer_now(call, resource)

        if fault is not None and fault.status is not None and fault.after:
            raise fault.error(resource, path.name)  # applied, but the client hears a failure
        return response

    def _answer_now(self, call: _Call, resource: Resource) -> aiohttp.web.Response:
        path = call.path
        store = self.store
        params = call.params
        dry_run = "dryRun" in params
        namespace = path.namespace if resource.namespaced else None
        if call.verb == "get":
            assert path.name is not None
            self._check_no_subresource_other_than_status(resource, path)
            return _json(store.get(resource, namespace, path.name))
        if call.verb == "list":
            listing = store.list_objects(
                resource,
                namespace,
                labels=selectors.parse_labels(params.get("labelSelector")),
                fields=selectors.parse_fields(params.get("fieldSelector")),
                limit=_int_param(params, "limit"),
                continue_token=params.get("continue"),
            )
            metadata: dict[str, Any] = {"resourceVersion": str(listing.resource_version)}
            if listing.continue_token:
                metadata["continue"] = listing.continue_token
                metadata["remainingItemCount"] = listing.remaining
            return _json(
                {
                    "kind": resource.list_kind,
                    "apiVersion": resource.api_version,
                    "metadata": metadata,
                    "items": listing.items,
                }
            )
        if call.verb == "create":
            if resource.namespaced and path.namespace is None:
                raise errors.method_not_allowed()  # as a real server: create via the namespace
            created = store.create(resource, namespace, _body(call), dry_run=dry_run)
            call.name = created["metadata"]["name"]
            return _json(created, status=201)
        if call.verb == "update":
            assert path.name is not None
            body = _body(call)
            return _json(
                store.replace(
                    resource,
                    namespace,
                    path.name,
                    body,
                    subresource=path.subresource,
                    dry_run=dry_run,
                )
            )
        if call.verb == "patch":
            assert path.name is not None
            patch_type = call.content_type.split(";")[0].strip().lower()
            return _json(
                store.patch(
                    resource,
                    namespace,
                    path.name,
                    _body(call),
                    patch_type=patch_type,
                    subresource=path.subresource,
                    dry_run=dry_run,
                )
            )
        if call.verb == "delete":
            assert path.name is not None
            if path.subresource is not None:
                raise errors.method_not_allowed()
            options = call.data if isinstance(call.data, dict) else {}
            dry_run = dry_run or bool(options.get("dryRun"))
            return _json(
                store.delete(
                    resource,
                    namespace,
                    path.name,
                    preconditions=options.get("preconditions"),
                    dry_run=dry_run,
                )
            )
        if call.verb == "deletecollection":
            deleted = store.delete_collection(
                resource,
                namespace,
                labels=selectors.parse_labels(params.get("labelSelector")),
                fields=selectors.parse_fields(params.get("fieldSelector")),
                dry_run=dry_run,
            )
            return _json(
                {
                    "kind": resource.list_kind,
                    "apiVersion": resource.api_version,
                    "metadata": {"resourceVersion": str(store.resource_version)},
                    "items": deleted,
                }
            )
        raise errors.method_not_allowed()

    def _check_no_subresource_other_than_status(self, resource: Resource, path: ApiPath) -> None:
        if path.subresource is not None and (
            path.subresource != "status" or "status" not in resource.subresources
        ):
            raise errors.resource_not_found()

    async def _stream_watch(self, call: _Call, resource: Resource) -> aiohttp.web.StreamResponse:
        params = call.params
        path = call.path
        raw_since = params.get("resourceVersion", "")
        send_initial_events = params.get("sendInitialEvents", "").lower() in _TRUE
        try:
            since = int(raw_since) if raw_since not in ("", "0") else None
        except ValueError:
            raise errors.bad_request(f"invalid resourceVersion: {raw_since!r}") from None
        if send_initial_events:
            since = None  # the initial events are the current state, whatever the version
        fields = selectors.parse_fields(
            ",".join(
                part
                for part in (
                    params.get("fieldSelector"),
                    path.name and f"metadata.name={path.name}",
                )
                if part
            )
        )
        labels = selectors.parse_labels(params.get("labelSelector"))
        bookmarks = params.get("allowWatchBookmarks", "").lower() in _TRUE
        timeout = _float_param(params, "timeoutSeconds")

        watch = self.store.watch(
            resource,
            path.namespace,
            since=since,
            labels=labels,
            fields=fields,
            initial_events_end=send_initial_events,
        )
        response = aiohttp.web.StreamResponse(status=200)
        response.content_type = "application/json"
        try:
            await response.prepare(call.raw_request)
            self._count(call, 200)  # counted when opened: watches may stay open for the whole run
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout if timeout else None
            while True:
                wait = self.bookmark_interval if bookmarks else None
                if deadline is not None:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    wait = remaining if wait is None else min(wait, remaining)
                event: WatchEvent | None
                try:
                    async with asyncio.timeout(wait):
                        event = await watch.queue.get()
                except TimeoutError:
                    if deadline is not None and loop.time() >= deadline:
                        break
                    event = self.store.bookmark(resource)
                if event is None:
                    break
                await response.write(event.line())
                self.counters.watch_events[resource.plural, event.type] += 1
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away; nothing to answer
        finally:
            self.store.unwatch(watch)
        return response

    def _count(self, call: _Call, code: int) -> None:
        call.counted = True
        path = call.path
        resource = call.resource
        key = RequestKey(
            verb=call.verb or call.raw_request.method.lower(),
            group=resource.group if resource is not None else path.group,
            resource=resource.plural if resource is not None else path.plural,
            subresource=path.subresource,
            namespace=path.namespace,
            name=call.name if call.name is not None else path.name,
            code=code,
            agent=call.agent,
        )
        self.counters.requests[key] += 1

    def _register_crds(self, resource: Resource, event: WatchEvent) -> None:
        """A CRD object declares (or, deleted, removes) its resources, as on a real server."""
        if resource.key != CUSTOM_RESOURCE_DEFINITIONS.key:
            return
        declared = resources_from_crd(event.object)
        if event.type == "DELETED":
            for gone in declared:
                self.store.purge(gone)
                self.undeclare(gone)
        elif event.type in ("ADDED", "MODIFIED"):
            for new in declared:
                self.declare(new)


class _Call:
    """One resource request as the emulator sees it (parsed once)."""

    def __init__(
        self,
        *,
        path: ApiPath,
        verb: str | None,
        params: Mapping[str, str],
        data: Any,
        content_type: str,
        agent: str,
        raw_request: aiohttp.web.BaseRequest,
    ) -> None:
        self.path = path
        self.verb = verb
        self.params = params
        self.data = data
        self.content_type = content_type
        self.agent = agent
        self.raw_request = raw_request
        self.resource: Resource | None = None
        self.name: str | None = None  # the created object's name, for counting creates per object
        self.counted = False


def _verb(method: str, path: ApiPath, query: Mapping[str, str]) -> str | None:
    method = method.upper()
    if method == "GET":
        if path.watch or query.get("watch", "").lower() in _TRUE:
            return "watch"
        return "get" if path.name is not None else "list"
    if path.name is None:
        return {"POST": "create", "DELETE": "deletecollection"}.get(method)
    return {"PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)


def _action(method: str, path: ApiPath, query: Mapping[str, str]) -> kmock.action | None:
    verb = _verb(method, path, query)
    actions = {
        "watch": kmock.action.WATCH,
        "get": kmock.action.FETCH,
        "list": kmock.action.LIST,
        "create": kmock.action.CREATE,
        "patch": kmock.action.UPDATE,
        "delete": kmock.action.DELETE,
    }
    return actions.get(verb or "")


def _agent(user_agent: str) -> str:
    """The product token of a User-Agent: ``kopf/1.45.2`` -> ``kopf``."""
    token = user_agent.split("/", 1)[0].split(" ", 1)[0].strip().lower()
    return token or "unknown"


def _decode(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _body(call: _Call) -> Any:
    if "protobuf" in call.content_type or "cbor" in call.content_type:
        raise errors.unsupported_media_type(call.content_type)
    if call.data is None:
        raise errors.bad_request("the request body is empty or is not valid JSON")
    return call.data


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f"invalid {name}: {raw!r}") from None


def _float_param(params: Mapping[str, str], name: str) -> float | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise errors.bad_request(f"invalid {name}: {raw!r}") from None


def _json(payload: Any, status: int = 200) -> aiohttp.web.Response:
    text = json.dumps(payload, separators=(",", ":"))
    return aiohttp.web.Response(text=text, status=status, content_type="application/json")


def _status_response(error: errors.ApiError) -> aiohttp.web.Response:
    response = _json(error.status(), status=error.code)
    response.headers.update(error.headers)
    return response


def _remove_by_identity(items: list[Any], item: object) -> None:
    # Requests compare by identity anyway; scanning from the end finds the newest fastest.
    for index in range(len(items) - 1, -1, -1):
        if items[index] is item:
            del items[index]
            return
