"""Fault injection for benchmark and soak runs: make chosen API requests fail, lag, or lose their
answer; closing watch streams is :meth:`ApiServerEmulator.close_watches`.

A :class:`Fault` matches requests by verb, resource, subresource, namespace and name, and hits the
first ``count`` of them (or every one; either way each with ``probability``). A hit request waits
``delay`` seconds, then either answers ``status`` without touching the store, or, with
``after=True``, is applied and *then* answers ``status`` (the client cannot know the write
happened: a lost response). Without ``status``, a hit is only delayed. The first matching fault that
hits wins; ``hits`` counts the requests it has hit::

    api.faults.add(Fault(verb="patch", resource=REPLICATION_JOBS, status=409, count=3))
    api.faults.add(Fault(verb="patch", subresource="status", status=500, probability=0.1))
    api.faults.add(Fault(verb="patch", delay=0.5))
    api.faults.add(Fault(verb="patch", status=500, after=True, count=1))
    api.faults.clear()

The error bodies are the ``Status`` objects a real server sends: 409 is ``Conflict``, 429 comes
with ``Retry-After``, 500 is ``InternalError``.
"""

from __future__ import annotations

import dataclasses
import random

from smc_testbed.kubemock import errors
from smc_testbed.kubemock.resources import Resource


@dataclasses.dataclass(kw_only=True, eq=False)
class Fault:
    """One rule of misbehaviour; see the module docstring."""

    #: The Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection);
    #: None for any.
    verb: str | None = "patch"
    #: A resource (or its plural); None for any.
    resource: Resource | str | None = None
    #: ``"status"`` for the status subresource only, ``""`` for the main resource only, None: both.
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    #: The HTTP status to answer (409, 429, 500, 503, ...); None to only delay.
    status: int | None = None
    #: Seconds to wait before serving (or failing) the request.
    delay: float = 0.0
    #: Hit only the first this many matching requests (None: unlimited).
    count: int | None = None
    #: The chance that a matching request is hit.
    probability: float = 1.0
    #: Apply the request, then answer ``status`` anyway (a lost response).
    after: bool = False
    #: For 429: the ``Retry-After`` seconds.
    retry_after: int = 1
    #: How many requests this fault has hit so far.
    hits: int = dataclasses.field(default=0, init=False)

    @property
    def spent(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def matches(
        self,
        *,
        verb: str,
        resource: Resource,
        subresource: str | None,
        namespace: str | None,
        name: str | None,
    ) -> bool:
        if self.verb is not None and self.verb != verb:
            return False
        if isinstance(self.resource, Resource) and self.resource.key != resource.key:
            return False
        if isinstance(self.resource, str) and self.resource != resource.plural:
            return False
        if self.subresource is not None and self.subresource != (subresource or ""):
            return False
        if self.namespace is not None and self.namespace != namespace:
            return False
        return self.name is None or self.name == name

    def error(self, resource: Resource, name: str | None) -> errors.ApiError:
        """The response this fault answers with (only when ``status`` is set)."""
        code = self.status or 500
        if code == 409:
            return errors.conflict(resource, name or "", "injected fault")
        if code == 429:
            return errors.ApiError(
                429,
                message="injected fault: too many requests, please try again later",
                details={"retryAfterSeconds": self.retry_after},
                headers={"Retry-After": str(self.retry_after)},
            )
        return errors.ApiError(code, message=f"injected fault ({code})")


class FaultPlan:
    """The active faults, consulted before every resource request."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        self.faults.remove(fault)

    def clear(self) -> None:
        self.faults.clear()

    def pick(
        self,
        *,
        verb: str,
        resource: Resource,
        subresource: str | None,
        namespace: str | None,
        name: str | None,
    ) -> Fault | None:
        """The fault that hits this request, if any (and count the hit)."""
        for fault in self.faults:
            if fault.spent:
                continue
            if not fault.matches(
                verb=verb,
                resource=resource,
                subresource=subresource,
                namespace=namespace,
                name=name,
            ):
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            fault.hits += 1
            return fault
        return None
