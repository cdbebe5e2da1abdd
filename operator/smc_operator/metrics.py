"""Prometheus metrics (``SMC_OPERATOR_METRICS_PORT``; 0 disables the endpoint).

======================================================  =========  ==============================
metric                                                  type       labels
======================================================  =========  ==============================
``smc_operator_smc_calls_total``                        counter    ``action``, ``code``
``smc_operator_smc_call_duration_seconds``              histogram  ``action``
``smc_operator_start_attempts_total``                   counter    (none)
``smc_operator_start_retries_total``                    counter    ``reason`` (Retrying/Throttled)
``smc_operator_replicationjobs``                        gauge      ``reason`` (of ``Started``)
``smc_operator_rate_limiter_wait_seconds``              histogram  (none)
``smc_operator_event_loop_lag_seconds``                 histogram  (none)
======================================================  =========  ==============================

``smc_operator_event_loop_lag_seconds`` is how late a 10 ms ticker in the operator's event loop
wakes up: anything that blocks the loop (synchronous work in a handler or in the SDK) delays
every watch, handler and probe by as much, and shows here first.

``code`` is ``Success``, SMC's error code, or ``NoAnswer`` (no SMC answer could be read); odd or
too many distinct codes are counted as ``Other``. Labels
never carry object names, AccessKey IDs or anything else unbounded or secret.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from smc_operator import wire

PREFIX: Final = "smc_operator"
#: SMC calls take tens to hundreds of milliseconds; timeouts are seconds.
CALL_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WAIT_BUCKETS: Final = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: A healthy loop is late by well under a millisecond; 50 ms is already felt by every handler.
LAG_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: How often the event-loop ticker wakes up.
LAG_TICK_SECONDS: Final = 0.01

#: At most this many distinct ``code`` labels; further codes are counted as ``Other``: SMC's
#: answers are input, and an unbounded label set would grow Prometheus without limit.
MAX_CODES: Final = 64
CODE_PATTERN: Final = re.compile(r"^[A-Za-z][A-Za-z0-9.]{0,63}$")

#: Reads the number of ReplicationJobs per ``Started`` reason when scraped.
ReasonCounts = Callable[[], Mapping[str, int]]


class _ReasonsCollector(Collector):
    def __init__(self, counts: ReasonCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            f"{PREFIX}_replicationjobs",
            "ReplicationJobs by the reason of their Started condition ('' when none yet).",
            labels=["reason"],
        )
        for reason, count in sorted(self._counts().items()):
            family.add_metric([reason], count)
        yield family


class Metrics:
    """The operator's instruments, in their own registry (tests and the demo make several)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.smc_calls = Counter(
            f"{PREFIX}_smc_calls",
            "SMC API calls by action and outcome code.",
            ["action", "code"],
            registry=self.registry,
        )
        self.smc_call_duration = Histogram(
            f"{PREFIX}_smc_call_duration_seconds",
            "SMC API call latency, from sending the request to reading the answer.",
            ["action"],
            buckets=CALL_BUCKETS,
            registry=self.registry,
        )
        self.start_attempts = Counter(
            f"{PREFIX}_start_attempts",
            "StartReplicationJob calls made (first attempts and retries).",
            registry=self.registry,
        )
        self.start_retries = Counter(
            f"{PREFIX}_start_retries",
            "Retries scheduled after a retryable or throttled outcome, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.limiter_wait = Histogram(
            f"{PREFIX}_rate_limiter_wait_seconds",
            "Time SMC calls waited for the client-side rate limit (SMC_OPERATOR_QPS).",
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.event_loop_lag = Histogram(
            f"{PREFIX}_event_loop_lag_seconds",
            f"How late a {LAG_TICK_SECONDS * 1000:g} ms ticker in the operator's event loop "
            "wakes up (the loop was blocked meanwhile).",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self._server: object | None = None
        self._codes: set[str] = set()

    async def watch_event_loop(self, tick: float = LAG_TICK_SECONDS) -> None:
        """Observe the event loop's lag every ``tick`` seconds, until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + tick
            await asyncio.sleep(tick)
            self.event_loop_lag.observe(max(0.0, loop.time() - due))

    def observe_call(self, action: str, code: str, seconds: float, waited: float) -> None:
        """The SMC client's observer: one call, its outcome code, duration and limiter wait."""
        self.smc_calls.labels(action=action, code=self._label(code)).inc()
        self.smc_call_duration.labels(action=action).observe(seconds)
        self.limiter_wait.observe(waited)
        if action == wire.START_REPLICATION_JOB:
            self.start_attempts.inc()

    def _label(self, code: str) -> str:
        if code in self._codes:
            return code
        if len(self._codes) >= MAX_CODES or not CODE_PATTERN.match(code):
            return "Other"
        self._codes.add(code)
        return code

    def count_resources(self, counts: ReasonCounts) -> None:
        """Report ReplicationJobs per ``Started`` reason from ``counts`` at every scrape."""
        self.registry.register(_ReasonsCollector(counts))

    def serve(self, port: int, address: str = "0.0.0.0") -> None:  # noqa: S104 - a pod's port
        """Serve ``/metrics`` on ``port`` in a background thread (0: do not serve)."""
        if port:
            self._server, _thread = start_http_server(port, addr=address, registry=self.registry)

    def close(self) -> None:
        server, self._server = self._server, None
        shutdown = getattr(server, "shutdown", None)
        if shutdown is not None:
            shutdown()
            getattr(server, "server_close", lambda: None)()
