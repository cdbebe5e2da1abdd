"""An in-process Kubernetes API for the tests, the demo and the benchmark: kmock plus fidelity.

There is no kube-apiserver on the machines this project is developed and benchmarked on. kopf,
kubectl and the tests talk instead to :class:`ApiServerEmulator`, a subclass of kmock 0.8's
``KubernetesEmulator`` that answers the way a real API server does where the operator (and kopf)
rely on it. :class:`EmulatedKubeApi` serves it on 127.0.0.1, writes a kubeconfig and offers small
HTTP helpers::

    async with EmulatedKubeApi() as api:
        await api.create(REPLICATION_JOBS, {"metadata": {"name": "job-1"}, "spec": {...}})
        # run kopf / kubectl against api.kubeconfig (or api.url)
        await api.wait_for(REPLICATION_JOBS, "job-1", lambda obj: "status" in obj)

This subpackage imports nothing from the rest of ``smc_operator``; the operator's own layers must
not import it either (the ``demo`` command, the tests and the benchmark do).

Fidelity fixes over kmock 0.8
-----------------------------
- Metadata: ``uid`` and ``creationTimestamp`` (RFC 3339, ``Z``) on create; ``generation`` 1 on
  create and +1 on every change outside ``metadata`` (and outside ``status`` when status is a
  subresource; a real server counts status for custom resources without the subresource), and +1
  when a delete marks an object with finalizers, as a real server does. Metadata-only and status
  writes keep the generation. Clients cannot set or change server-owned metadata.
- ``resourceVersion``: one global counter, bumped on every write; in every response, every watch
  event and every list's ``metadata``. A write that changes nothing is a no-op: same version, no
  event (kopf's consistency wait relies on each patch's version arriving in a watch event).
- Optimistic concurrency: a PATCH/PUT whose body (after patching) carries a stale
  ``metadata.resourceVersion`` answers 409 ``Conflict``; a create of an existing name 409
  ``AlreadyExists``; delete preconditions (uid, resourceVersion) 409. Create answers 201. PUT
  (replace) is served (kmock answers 404).
- ``/status`` isolation for resources with the status subresource: writes to the main resource
  (and creates) ignore ``status``; writes to ``/status`` change only ``status``.
- Lists carry ``kind: <Kind>List``, ``apiVersion`` and ``metadata.resourceVersion`` (kubectl
  works); ``limit``/``continue`` pagination; label selectors (full syntax) and field selectors.
- Namespaces: ``/api/v1/namespaces`` lists and watches (kmock's path parser answered 500); the
  four namespaces of a fresh cluster exist; a namespaced object needs its namespace to exist
  (404 otherwise; ``strict_namespaces=False`` to relax); deleting a namespace deletes its content.
- Patches: JSON merge patch per RFC 7386 (kmock refused to replace a dict with a scalar), JSON
  patch per RFC 6902, atomically; a failed ``test`` or a missing path answers 422 (kmock: 500), a
  malformed patch 400, an unsupported patch type (server-side apply) 415. Strategic merge patches
  are served as merge patches.
- Finalizers: a delete sets ``deletionTimestamp`` and keeps the object until the last finalizer
  is removed (then DELETED); no new finalizers can be added while deleting (422). kmock did the
  basic part already; the versions, generation and events now match a real server.
- Efficiency: only in-flight requests are kept (kmock keeps every served request and re-scans
  them all on every new one, so CPU grew with run length); objects are indexed by resource,
  namespace and name (kmock scanned every stored object per request); each watch event's JSON is
  rendered once for all watchers; histories are bounded; kmock's record of 404s for unknown
  paths (kubectl probes ``/openapi`` on every call) is dropped. Memory stays flat over long runs.
- Watches: ``resourceVersion=N`` replays the events after N from a per-resource history
  (``history_limit`` events per resource) and answers an ERROR 410 ``Expired`` event when N is
  older than that (kopf then re-lists); no version (or ``0``) sends ADDED for the current objects
  first; ``sendInitialEvents=true`` ends the initial events with the ``k8s.io/initial-events-end``
  bookmark; ``allowWatchBookmarks=true`` gets a BOOKMARK after ``bookmark_interval`` seconds of
  silence (kopf reconnects after 70 s without events); ``timeoutSeconds`` ends the stream;
  selectors, single-object watches and the legacy ``/watch/`` prefix work; streams can be closed
  on demand (:meth:`ApiServerEmulator.close_watches`, optionally with a 410 first).
- CustomResourceDefinition objects register their resources (served versions, scope, names,
  status subresource) and prune and default objects by their structural schema (so a status field
  the CRD does not declare is lost, as in a cluster); deleting the CRD removes the resource and its
  objects. Resources can also be declared directly (:class:`Resource`, no schema).
- Builtins: a Secret's ``stringData`` is folded into base64 ``data`` (``type: Opaque`` by
  default); namespaces get ``status.phase: Active`` and the ``kubernetes.io/metadata.name`` label;
  ``generateName`` works (kopf's Events use it); ``dryRun`` answers without storing.
- Errors are ``Status`` objects with a real server's reasons and messages (NotFound, Conflict,
  AlreadyExists, Invalid, Expired, ...), see :mod:`~smc_testbed.kubemock.errors`.
- Discovery: the core group's ``groupVersion`` is ``v1`` (kmock: ``/v1``) and subresources carry
  no short names (kubectl warned that ``ns`` might mean ``namespaces/status`` and failed);
  builtins come from kmock's bundle, loaded without the DeprecationWarning of
  ``load_bundled()`` on Python 3.11 (fatal under ``filterwarnings=error``).

Known remaining differences from a real API server
--------------------------------------------------
- No authentication, RBAC, admission (webhooks, policies), API priority and fairness (429s only
  by fault injection), ``managedFields`` or server-side apply (415).
- No validation: types, patterns, ``required`` and enums of a CRD schema are not checked (a real
  server answers 422); only pruning and defaulting, and only for CRD-registered resources.
- No ``/openapi/v2`` or ``/v3``: use ``kubectl apply --validate=false``. No protobuf or CBOR
  bodies: kubectl's generator subcommands (``kubectl create secret|namespace ...``) send protobuf
  and get 415; ``kubectl apply -f``/``create -f`` send JSON and work. No ``Table`` rendering:
  ``kubectl get`` prints NAME and AGE, not the CRD's printer columns. ``/version`` reports kmock's
  fixed v1.26 and discovery is kmock's static bundle plus declared resources; no aggregated
  discovery (kubectl falls back to the legacy endpoints).
- ``metadata.generation`` is set on every kind (a real server sets it only for some builtins).
- PUT without ``metadata.resourceVersion`` is an unconditional update for every resource (a real
  server refuses it for custom resources); PUT never creates.
- Lists always show the current state: ``resourceVersion``/``resourceVersionMatch`` of a list are
  ignored and pagination cuts later pages from the then-current state, not a snapshot.
- Watch history is kept by count per resource, not for ~5 minutes; an object that starts or stops
  matching a watch's label selector produces no synthetic ADDED/DELETED.
- No garbage collection (``ownerReferences``, ``propagationPolicy``), no grace periods; a namespace
  is removed at once (no ``Terminating`` phase). Events never expire.
- One resource in several versions is stored once per version (no conversion).
- Field selectors accept any field path (a real server only the indexed ones); name validation is
  RFC 1123 only. Subresources other than ``status`` (``scale``, ``finalize``, ...) answer 404.
- kmock's DSL (``emulator['get /x'] << ...``) still applies to non-resource paths; requests for
  objects always reach the store (use :mod:`~smc_testbed.kubemock.faults` to perturb them).
  kmock's ``emulator.objects`` is unused: the objects are in ``emulator.store``.

Recommended kopf settings against the emulator
----------------------------------------------
- Start the API first, then kopf. kopf.operator() running as a task in the same event loop treats
  every task created after its start as its own and, at exit, waits 5 s for it and cancels it:
  the helpers therefore close their connection after each request; other in-loop clients should
  too.
- ``clusterwide=True`` (``--all-namespaces``) or explicit namespaces; namespace globs also work.
- ``standalone=True`` (``--standalone``): kopf's peering CRDs are not declared.
- Login, in process: an ``@kopf.on.login`` handler returning
  ``kopf.ConnectionInfo(server=api.url)``, or ``KUBECONFIG=<api.kubeconfig>`` and
  ``kopf.login_with_kubeconfig``. Not ``kopf.login_via_client`` (kopf's default when the
  ``kubernetes`` library is installed): that library reads ``KUBECONFIG`` once, when it is first
  imported, and ``import kopf`` imports it, so a kubeconfig written later is never seen. A
  ``kopf run`` subprocess started with ``KUBECONFIG`` in its environment is fine.
- ``settings.scanning.disabled = True``: resources are declared up front, so kopf need not watch
  CRDs (optional: CRD watching works too).
- ``settings.posting.enabled = False`` for long benchmark runs: kopf posts an Event per handler
  outcome and Events never expire here.
- The defaults of ``settings.watching`` and ``settings.persistence.consistency_timeout`` work; set
  ``settings.networking.error_backoffs`` to control kopf's retries of injected 5xx/429.
"""

from smc_testbed.kubemock.counters import ObjectCounts, RequestCounters, RequestKey
from smc_testbed.kubemock.emulating import DEFAULT_NAMESPACES, ApiServerEmulator
from smc_testbed.kubemock.errors import ApiError
from smc_testbed.kubemock.faults import Fault, FaultPlan
from smc_testbed.kubemock.objects import ObjectStore, Watch, WatchEvent
from smc_testbed.kubemock.resources import (
    CUSTOM_RESOURCE_DEFINITIONS,
    EVENTS,
    NAMESPACES,
    REPLICATION_JOBS,
    SECRETS,
    Resource,
)
from smc_testbed.kubemock.running import EmulatedKubeApi

__all__ = [
    "CUSTOM_RESOURCE_DEFINITIONS",
    "DEFAULT_NAMESPACES",
    "EVENTS",
    "NAMESPACES",
    "REPLICATION_JOBS",
    "SECRETS",
    "ApiError",
    "ApiServerEmulator",
    "EmulatedKubeApi",
    "Fault",
    "FaultPlan",
    "ObjectCounts",
    "ObjectStore",
    "RequestCounters",
    "RequestKey",
    "Resource",
    "Watch",
    "WatchEvent",
]
