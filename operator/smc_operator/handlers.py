"""Every kopf decorator of the operator, and how kopf is configured: the only module using kopf.

The handlers are thin: they translate between kopf and the decision. Parse the object into an
:class:`~smc_operator.decide.Observed`, let the :class:`~smc_operator.starting.Starter` run the
attempt, then carry out its :class:`~smc_operator.decide.Verdict`: the status goes into kopf's
patch (applied even when the handler raises), the Events are posted, a retry is counted, and the
handler returns, raises ``kopf.TemporaryError(delay=...)`` to retry, or ``kopf.PermanentError``
for a final failure.

Writes on the success path are two status patches: the write-ahead (by the adapter, before the
SMC call) and the outcome (by kopf, carrying its last-handled configuration in ``status.kopf``).
kopf's progress annotations (prefix ``progress.smcoperator.io``) are only written while a handler
waits for a retry. Only objects with ``deletionPolicy: Delete`` get a finalizer
(``smcoperator.io/delete-job``, kept by kopf for the ``delete_job`` handler, whose filter matches
only them); no timers or daemons.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gc
import logging
import os
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import kopf
from pydantic import ValidationError

from smc_operator import model
from smc_operator.apis import KubeError
from smc_operator.clocks import utc_now
from smc_operator.conditions import STARTED
from smc_operator.decide import Limits, Observed
from smc_operator.kube import KubeClient, KubeConnection, load_connection
from smc_operator.metrics import Metrics
from smc_operator.model import ReplicationJobSpec, ReplicationJobStatus
from smc_operator.observations import watched
from smc_operator.peers import paused
from smc_operator.reasons import row_of
from smc_operator.refreshing import JobRefresher
from smc_operator.registry import Entry, Registry
from smc_operator.settings import Settings
from smc_operator.smc import SmcClient
from smc_operator.starting import ObjectRef, Starter, status_patch

logger = logging.getLogger(__name__)

RESOURCE: Final = (model.GROUP, model.VERSION, model.PLURAL)
HANDLER_ID: Final = "start"
DELETE_HANDLER_ID: Final = "delete-job"
PROGRESS_PREFIX: Final = f"progress.{model.GROUP}"
DIFFBASE_FIELD: Final = "status.kopf.lastHandledConfiguration"


@dataclass(frozen=True)
class RunOptions:
    """How to run the operator (from the command line)."""

    settings: Settings
    namespaces: tuple[str, ...] = ()
    peering: str | None = None
    priority: int = 0
    workers: int = 200
    kubeconfig: str | None = None


@dataclass
class Runtime:
    """What the handlers share, kept in kopf's memo; clients are created on start-up."""

    options: RunOptions
    connection: KubeConnection
    #: This operator's name among kopf peers, to find itself in the peering object.
    identity: str = field(default_factory=lambda: own_identity())
    metrics: Metrics = field(default_factory=Metrics)
    registry: Registry = field(default_factory=Registry)
    smc: SmcClient | None = None
    kube: KubeClient | None = None
    starter: Starter | None = None
    refresher_task: asyncio.Task[None] | None = None
    housekeeping_task: asyncio.Task[None] | None = None
    loop_lag_task: asyncio.Task[None] | None = None

    @property
    def settings(self) -> Settings:
        return self.options.settings


def own_identity() -> str:
    """``pod-or-host@pid``: stable for the process, distinct between replicas."""
    return f"{os.environ.get('POD_ID') or socket.gethostname()}@{os.getpid()}"


class ProgressAnnotations(kopf.AnnotationsProgressStorage):
    """kopf's progress in annotations under our prefix, written only when they must persist.

    kopf marks a custom prefix with ``<prefix>/kopf-managed`` whenever it stores progress, even if
    the same cycle purges that progress again (a handler that succeeded at once). That marker would
    be the only change to the object's metadata: one more write per object. It is dropped from the
    patch when nothing else under the prefix persists; it is written together with real progress.
    """

    def purge(self, *, key: Any, body: Any, patch: Any) -> None:
        super().purge(key=key, body=body, patch=patch)
        marker = f"{self.prefix}/kopf-managed"
        annotations = patch.get("metadata", {}).get("annotations", {})
        if marker not in annotations or marker in body.get("metadata", {}).get("annotations", {}):
            return
        others = [
            name
            for name, value in annotations.items()
            if name.startswith(f"{self.prefix}/") and name != marker and value is not None
        ]
        if not others:
            del annotations[marker]
            if not annotations:
                del patch["metadata"]["annotations"]
            if not patch["metadata"]:
                del patch["metadata"]


class StatusDiffBase(kopf.StatusDiffBaseStorage):
    """kopf's diffbase in ``status``, with the essence built without copying the whole body.

    kopf builds the essence (the spec, labels and annotations) on every watch event, three per
    object, by deep-copying the entire body, deleting ``status`` and ``metadata``, and picking
    labels and annotations back through its dotted-path helpers; the status (conditions, the
    last-handled configuration) and the metadata (``managedFields`` on a real API server) are
    most of what it copies. This builds the same essence (same keys, same order) from the parts
    it keeps. With extra fields (a handler filtering on ``status``) or ignored fields it builds
    as kopf does.
    """

    def build(self, *, body: Any, extra_fields: Any = None) -> Any:
        if extra_fields or self.ignored_fields:
            return super().build(body=body, extra_fields=extra_fields)
        essence: dict[str, Any] = {
            key: copy.deepcopy(value)
            for key, value in body.items()
            if key not in ("apiVersion", "kind", "metadata", "status")
        }
        meta = body.get("metadata")
        if isinstance(meta, Mapping):
            picked = {
                key: copy.deepcopy(meta[key]) for key in ("labels", "annotations") if key in meta
            }
            if picked:
                essence["metadata"] = picked
        annotations = essence.get("metadata", {}).get("annotations", {})
        ignored_prefixes = self._detect_marked_prefixes(annotations)
        for annotation in list(annotations):
            marked = any(annotation.startswith(f"{prefix}/") for prefix in ignored_prefixes)
            if marked or annotation == "kubectl.kubernetes.io/last-applied-configuration":
                del annotations[annotation]
        self.remove_empty_stanzas(essence)  # type: ignore[arg-type]
        return essence


def configure(settings: kopf.OperatorSettings, options: RunOptions) -> None:
    """kopf's settings for this operator (see the module docstring for why)."""
    settings.persistence.progress_storage = ProgressAnnotations(prefix=PROGRESS_PREFIX, v1=False)
    settings.persistence.diffbase_storage = StatusDiffBase(field=DIFFBASE_FIELD)
    settings.persistence.finalizer = model.FINALIZER
    settings.posting.enabled = True  # our kopf.event() calls; kopf's own log lines stay logs
    settings.posting.loggers = False
    settings.queueing.worker_limit = options.workers
    # A worker holds its slot this long after an object's last event; kopf's 5 s default caps
    # throughput at workers / 5 s objects a second while the operator idles.
    settings.queueing.idle_timeout = 0.5
    # Named namespaces need no cluster-wide watching of namespaces and CRDs (globs would):
    # the operator then reads nothing outside its namespaces.
    settings.scanning.disabled = bool(options.namespaces) and not any(
        set(namespace) & set("*?[]!") for namespace in options.namespaces
    )
    settings.peering.standalone = options.peering is None
    if options.peering is not None:
        settings.peering.name = options.peering
        settings.peering.priority = options.priority
        settings.peering.mandatory = True


async def operate(
    options: RunOptions,
    *,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
) -> None:
    """Run the operator until stopped (a signal, or ``stop_flag``)."""
    settings = kopf.OperatorSettings()
    configure(settings, options)
    connection = load_connection(options.kubeconfig)
    runtime = Runtime(options=options, connection=connection)
    liveness = (
        f"http://0.0.0.0:{options.settings.health_port}/healthz"
        if options.settings.health_port
        else None
    )
    await kopf.operator(
        settings=settings,
        standalone=options.peering is None,
        peering_name=options.peering,
        priority=options.priority,
        clusterwide=not options.namespaces,
        namespaces=options.namespaces,
        liveness_endpoint=liveness,
        memo=kopf.Memo(runtime=runtime),
        identity=runtime.identity,  # type: ignore[arg-type]  # kopf's NewType of str
        stop_flag=stop_flag,
        ready_flag=ready_flag,
    )


@kopf.on.login()
async def login(*, memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """kopf uses the same credentials as our own Kubernetes client."""
    connection: KubeConnection = memo.runtime.connection
    header = connection.authorization() or ""
    scheme, _space, token = header.partition(" ")
    return kopf.ConnectionInfo(
        server=connection.server,
        ca_path=connection.ca_path,
        insecure=connection.insecure,
        scheme=scheme or None,
        token=token or None,
        certificate_path=connection.certificate_path,
        private_key_path=connection.private_key_path,
    )


@kopf.on.startup()
async def start_up(*, memo: Any, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    settings = runtime.settings
    runtime.metrics.count_resources(runtime.registry.reasons)
    runtime.metrics.serve(settings.metrics_port)
    runtime.smc = SmcClient(settings, observer=runtime.metrics.observe_call)
    runtime.smc.prepare()
    runtime.kube = KubeClient(runtime.connection)
    runtime.starter = Starter(
        smc=runtime.smc,
        kube=runtime.kube,
        limits=Limits(
            max_attempts=settings.max_attempts,
            backoff_base_seconds=settings.backoff_base_seconds,
            backoff_max_seconds=settings.backoff_max_seconds,
            poll_seconds=settings.poll_interval_seconds or DEFAULT_POLL_SECONDS,
        ),
        default_region=settings.region,
        random=random.SystemRandom().random,
    )
    runtime.housekeeping_task = asyncio.create_task(_housekeeping(runtime.smc), name="housekeeping")
    runtime.loop_lag_task = asyncio.create_task(
        runtime.metrics.watch_event_loop(), name="event-loop-lag"
    )
    if settings.poll_interval_seconds > 0:
        refresher = JobRefresher(
            runtime.smc,
            runtime.kube,
            interval=settings.poll_interval_seconds,
            active=None if runtime.options.peering is None else lambda: _active(runtime),
            written=lambda obj, job, source: runtime.registry.observed(
                (obj.namespace, obj.name), job, source
            ),
        )
        runtime.refresher_task = asyncio.create_task(
            refresher.run(runtime.registry.watched), name="job-refresher"
        )
    # Everything built so far (modules, the SDK, kopf, pydantic's schemas) lives as long as the
    # process: keep it out of the cyclic collector's full passes, which otherwise scan it all
    # again and again, each time holding the event loop (30 to 60 ms each under a burst).
    gc.collect()
    gc.freeze()
    logger.info(
        "smc-operator started: SMC endpoint %s, region %s, QPS %s, max attempts %s",
        settings.smc_endpoint.url,
        settings.region,
        settings.qps or "unlimited",
        settings.max_attempts,
    )


#: How often waits look at SMC again when job polling is switched off (POLL_INTERVAL_SECONDS 0).
DEFAULT_POLL_SECONDS: Final = 60.0

#: How often idle SDK clients, and the AccessKeys they hold, are looked for and dropped.
HOUSEKEEPING_SECONDS: Final = 60.0


async def _housekeeping(smc: SmcClient) -> None:
    """Drop idle SDK clients even when no SMC call happens (their keys leave memory)."""
    while True:
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        smc.drop_idle()


async def _active(runtime: Runtime) -> bool:
    """Whether kopf peering lets this operator work now (as kopf decides it; see ``peers``)."""
    assert runtime.kube is not None
    assert runtime.options.peering is not None
    scopes: tuple[str | None, ...] = runtime.options.namespaces or (None,)
    for namespace in scopes:
        try:
            peering = await runtime.kube.get_peering(runtime.options.peering, namespace)
        except KubeError as exc:
            logger.warning("Cannot read the peering object, not refreshing jobs: %s", exc)
            return False
        if paused(
            peering,
            identity=runtime.identity,
            priority=runtime.options.priority,
            now=utc_now(),
        ):
            return False
    return True


@kopf.on.cleanup()
async def clean_up(*, memo: Any, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    for task in (runtime.refresher_task, runtime.housekeeping_task, runtime.loop_lag_task):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if runtime.kube is not None:
        await runtime.kube.close()
    if runtime.smc is not None:
        await runtime.smc.close()
    runtime.metrics.close()


def _parse(body: Mapping[str, Any]) -> tuple[ReplicationJobSpec | None, str | None]:
    """The spec as the model, or the reason it is invalid (for the ``InvalidSpec`` message)."""
    try:
        return ReplicationJobSpec.model_validate(body.get("spec")), None
    except ValidationError as exc:
        problems = "; ".join(
            f"spec.{'.'.join(str(p) for p in error['loc']) or '<root>'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        return None, problems


def _foreign_secret(body: Mapping[str, Any]) -> str | None:
    """Why the credentials reference is not allowed, if it names another namespace.

    The CRD has no such field, so an API server prunes it; this is the defence in depth for a
    schema that was edited or an API server that did not prune.
    """
    spec = body.get("spec")
    ref = spec.get("credentialsSecretRef") if isinstance(spec, Mapping) else None
    namespace = body.get("metadata", {}).get("namespace")
    if isinstance(ref, Mapping) and ref.get("namespace") not in (None, namespace):
        return (
            f"spec.credentialsSecretRef names namespace {ref.get('namespace')!r}: a "
            f"ReplicationJob may only use a Secret in its own namespace ({namespace!r})"
        )
    return None


def _status(body: Mapping[str, Any]) -> ReplicationJobStatus:
    try:
        return ReplicationJobStatus.model_validate(body.get("status") or {})
    except ValidationError:
        # A status we cannot read is treated as empty: the next write replaces it.
        return ReplicationJobStatus()


def _claim_key(
    spec: ReplicationJobSpec, status: ReplicationJobStatus, default_region: str
) -> tuple[str, str] | None:
    job_id = spec.job_id or status.job_id
    return (spec.region_id or default_region, job_id) if job_id is not None else None


def _is_deletion(*, type: str | None, **_: Any) -> bool:
    return type == "DELETED"


@kopf.on.event(*RESOURCE, when=_is_deletion)
async def forget(*, body: kopf.Body, memo: Any, **_: Any) -> None:
    """A deleted object leaves the registry (other changes reach it from ``start``, and from
    the job refresher: only this operator writes the status, so it knows every change)."""
    runtime: Runtime = memo.runtime
    meta = body.get("metadata", {})
    key = (meta.get("namespace") or "", meta.get("name") or "")
    runtime.registry.remove(key)
    if runtime.starter is not None:
        runtime.starter.forget(*key)


def _entry(
    key: tuple[str, str],
    spec: ReplicationJobSpec | None,
    status: ReplicationJobStatus,
    region: str,
) -> Entry:
    """The registry's view of an object."""
    condition = status.condition(STARTED)
    reason = condition.reason if condition else ""
    if spec is None:
        return Entry(reason)
    row = row_of(reason)
    return Entry(
        reason,
        claim=_claim_key(spec, status, region) if spec.start else None,
        holds=row is not None and row.holds_job,
        watched=watched(*key, spec, status, region),
    )


def _duplicate_of(
    key: tuple[str, str],
    spec: ReplicationJobSpec,
    status: ReplicationJobStatus,
    registry: Registry,
    region: str,
) -> str | None:
    """Which other ReplicationJob holds the job; one in another namespace is not named."""
    claim = _claim_key(spec, status, region)
    holder = registry.holder(key, claim) if claim is not None else None
    if holder is None:
        return None
    if holder[0] != key[0]:
        return "a ReplicationJob in another namespace"
    return f"ReplicationJob {holder[0]}/{holder[1]}"


def _observe(body: kopf.Body, meta: kopf.Meta, retry: int, runtime: Runtime) -> Observed:
    """The decision's view of the object; it also goes into the registry as it is seen."""
    key = (meta.namespace or "", meta.name or "")
    spec, problem = _parse(body)
    status = _status(body)
    region = runtime.settings.region
    runtime.registry.put(key, _entry(key, spec, status, region))
    return Observed(
        generation=int(meta.get("generation") or 0),
        retry_requested_at=meta.annotations.get(model.RETRY_ANNOTATION),
        spec=spec,
        status=status,
        spec_problem=problem,
        deleting=meta.get("deletionTimestamp") is not None,
        retries=retry,
        duplicate_of=_duplicate_of(key, spec, status, runtime.registry, region) if spec else None,
        secret_problem=_foreign_secret(body),
        namespace=key[0],
        name=key[1],
        uid=str(meta.get("uid") or ""),
    )


@kopf.on.resume(*RESOURCE, id=HANDLER_ID)
@kopf.on.create(*RESOURCE, id=HANDLER_ID)
@kopf.on.update(*RESOURCE, id=HANDLER_ID)
async def start(
    *,
    body: kopf.Body,
    meta: kopf.Meta,
    patch: kopf.Patch,
    memo: Any,
    retry: int,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """Create, resume, or any change of spec, labels or annotations: one attempt (module doc)."""
    await _attempt(body, meta, patch, memo.runtime, retry, logger)


def _deletes_job(*, body: kopf.Body, **_: Any) -> bool:
    """``deletionPolicy: Delete`` (kopf keeps the finalizer on exactly these objects). Reads the
    raw body: a spec that is no object at all (it gets InvalidSpec) must not break the filter."""
    spec = body.get("spec")
    return isinstance(spec, Mapping) and spec.get("deletionPolicy") == "Delete"


@kopf.on.delete(*RESOURCE, id=DELETE_HANDLER_ID, when=_deletes_job)
async def delete_job(
    *,
    body: kopf.Body,
    meta: kopf.Meta,
    patch: kopf.Patch,
    memo: Any,
    retry: int,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """``deletionPolicy: Delete``: delete the SMC job; kopf releases the finalizer on return."""
    await _attempt(body, meta, patch, memo.runtime, retry, logger)


async def _attempt(
    body: kopf.Body,
    meta: kopf.Meta,
    patch: kopf.Patch,
    runtime: Runtime,
    retry: int,
    logger: kopf.Logger,
) -> None:
    starter = runtime.starter
    assert starter is not None, "start-up has not run"
    key = (meta.namespace or "", meta.name or "")
    # 1. Observe; 2. let the Starter decide and do the I/O the decision asks for.
    observed = _observe(body, meta, retry, runtime)
    verdict = await starter.attempt(ObjectRef(*key, meta.get("resourceVersion")), observed)
    # 3. Record the verdict: the status into kopf's patch, Events, the retry metric.
    if verdict.write is not None:
        patch.status.update(status_patch(verdict.write))
        entry = _entry(key, observed.spec, verdict.write, runtime.settings.region)
        runtime.registry.put(key, entry)
    for event in verdict.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
        if event.type == "Normal":  # failures are logged by kopf with the error raised below
            logger.info("%s: %s", event.reason, event.message)
    if verdict.metric is not None:
        runtime.metrics.start_retries.labels(reason=verdict.metric.value).inc()
    # 4. Tell kopf: run again later, a final failure, or done.
    if verdict.retry_in is not None:
        raise kopf.TemporaryError(verdict.message, delay=verdict.retry_in)
    if verdict.failed:
        raise kopf.PermanentError(verdict.message)
    if verdict.write is None and verdict.message:
        logger.info("%s", verdict.message)
