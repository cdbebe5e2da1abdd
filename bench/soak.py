"""The fault-injection soak: N objects under SMC and Kubernetes faults and operator SIGKILLs.

::

    python -m bench.soak --objects 1000 --kills 5 --fault-seconds 90      # the long soak
    python -m bench.soak --objects 100 --kills 2 --fault-seconds 12 --short  # CI's short soak

The emulated Kubernetes API and the SMC emulator run in processes of their own (as in the
benchmark), with N Ready jobs. The operator runs in a child process; the driver creates the N
ReplicationJobs and, during the fault window:

- SMC answers (all actions, independent draws, first match wins, so the rates are of all calls):
  ``InternalError`` for 30 %, ``Throttling.User`` for 10 %, drops the connection for 5 % (half of
  them *after* performing the call: the start happens, the answer is lost), and delays 20 % by
  ``--latency-ms``;
- the Kubernetes API fails PATCHes of ReplicationJobs: 409 Conflict for 5 %, 500 for 5 %, 500
  *after* applying the patch (the response is lost) for 3 %, and answers 5 % after 0.5 s
  (``--no-kube-conflicts`` leaves out the 409s, ``--no-kube-faults`` all of these), and closes
  the watch streams every 3 to 8 s (with 410 Gone first 30 % of the time);
- the operator is SIGKILLed at ``--kills`` random moments (in the first 70 % of the window) and
  restarted after a random pause of up to 1 s.

Then the faults stop and the driver waits until every object settles, waits ``--quiet-seconds``
more, and checks the invariants (each violation is listed with its evidence in the result):

1. every object is ``Started=True``, or ``False/RetriesExhausted`` after ``MAX_ATTEMPTS``
   attempts; nothing is left ``Starting``, ``Retrying`` or ``Throttled`` (``stuck``);
2. for every job SMC recorded at most one successful start (``double-start``), and the object
   agrees with SMC: ``True`` iff SMC started the job (``disagrees``);
3. a ``Started=True`` condition carries the RequestId of a call SMC answered for that job: the
   successful Start, or a DescribeReplicationJobs confirming it (``unknown-request-id``); and a
   RequestId SMC delivered with a successful Start is never replaced by a later one unless the
   operator was killed between the call and the object settling (``lost-request-id``);
4. no hot loop (``hot-loop``): StartReplicationJob calls per object <= ``MAX_ATTEMPTS``; SMC
   calls per object <= ``2 * (MAX_ATTEMPTS + kills + window / (BACKOFF_BASE / 2))`` (each handler
   run makes at most a Describe and a Start, and runs are on average at least half the first
   backoff apart); on average over all objects <= ``3 * MAX_ATTEMPTS``; no SMC call at all once
   everything settled;
5. the operator's memory is stable: every incarnation's peak RSS below ``--max-rss-mb``, and the
   last incarnation's RSS after settling at most 25 % (+10 MB) above its RSS mid-way through its
   life (``memory``).

A tenth of the objects (``--created``) name no job: they carry ``spec.job`` and the operator
creates their jobs (CreateReplicationJob under the same faults, ambiguous answers included), then
starts them. Half of those (``--cut-over``) are incremental (``runOnce: false``, a cycle every
SMC hour, ``--hour-seconds`` on the emulator's clock) and ask for a cut-over (``syncData``
alternating). A twentieth of the adopted objects (``--suspended``) are suspended by the driver once
started (``spec.suspend: true``), and resumed once ``Suspended=True``: a second start request.
The job mirror runs (``--poll-seconds``, as in production: lifecycle waits look again at that
interval). For those also:

6. at most one SMC job was created per object (``created-twice``: counted per source server, one
   per object), the object names the job that exists (``disagrees``), and an object without a
   job ended ``Created=False/RetriesExhausted`` after ``MAX_ATTEMPTS`` calls with no job behind it;
7. a suspended and resumed object's job was stopped exactly once and started exactly once per
   start request, twice in all (``suspend``); the object ends ``Suspended=False/Resumed`` and
   ``Started=True`` for its second request;
8. a cut-over object's job was cut over exactly once (``cut-over``): SMC accepted one
   CutOverReplicationJob, the job is Finished (or running the last run ``syncData`` asked for),
   and the object is ``CutOver=True``.

Invariants 2 and 4 count per start request (two for a resumed object); the mirror's
DescribeReplicationJobs/DescribeSourceServers batches add one call per object per poll interval
to the bound on the average, and are the only calls allowed once everything settled (at most one
round of batches per poll interval).

The result (counts, invariants, violations) is printed as JSON and written to ``--result``; the
exit status is 1 when an invariant is violated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench import procs
from bench.driver import (
    IN_PROGRESS,
    NAMESPACE,
    PhaseOptions,
    Stack,
    manifest,
    operator_child,
    started_condition,
    wait_for_watch,
)
from bench.kubeapi import PLURAL, KubeApiError, KubeHttp
from bench.smcapi import SmcControl

START: Final = "StartReplicationJob"
DESCRIBE: Final = "DescribeReplicationJobs"
DRIVER_AGENT: Final = "bench-soak"
OPERATOR_AGENTS: Final = frozenset({"kopf", "smc-operator"})
STOP: Final = "StopReplicationJob"
CUT_OVER_ACTION: Final = "CutOverReplicationJob"
#: The job mirror's actions: the only calls allowed once everything settled.
MIRROR_ACTIONS: Final = frozenset({DESCRIBE, "DescribeSourceServers"})
#: A suspended object's job runs at least this long, and four fault windows (Preparing its first
#: tenth): Syncing, so stoppable, long enough to be stopped under the faults and kills, not
#: Finished first.
SUSPEND_RUN_SECONDS: Final = 40.0


@dataclass
class SoakOptions:
    objects: int = 1000
    #: How many of the objects name no job and have the operator create it (None: a tenth).
    created: int | None = None
    #: How many of the created objects are incremental and cut over (None: half).
    cut_over: int | None = None
    #: How many of the adopted objects are suspended and resumed (None: a twentieth).
    suspended: int | None = None
    #: The job mirror's interval, and so how often lifecycle waits look again.
    poll_seconds: float = 2.0
    #: A created job's run, and an SMC hour (an incremental job's cycle) on the emulator's clock.
    run_seconds: float = 4.0
    hour_seconds: float = 4.0
    kills: int = 5
    fault_seconds: float = 90.0
    settle_seconds: float | None = None
    quiet_seconds: float = 5.0
    latency_ms: float = 300.0
    kube_faults: bool = True
    #: Include the 409 Conflict answers to PATCH (kopf neither retries nor re-schedules them).
    kube_conflicts: bool = True
    max_attempts: int = 10
    backoff_base: float = 0.5
    backoff_max: float = 5.0
    request_timeout: float = 5.0
    workers: int = 200
    create_concurrency: int = 20
    max_rss_mb: float = 300.0
    seed: int | None = None
    #: Import ``smc_operator`` for the operator from here (see ``python -m bench --help``).
    operator_path: Path | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="smc-soak-")))

    @property
    def created_objects(self) -> int:
        return self.objects // 10 if self.created is None else min(self.created, self.objects)

    @property
    def cut_over_objects(self) -> int:
        created = self.created_objects
        return created // 2 if self.cut_over is None else min(self.cut_over, created)

    @property
    def suspended_objects(self) -> int:
        adopted = self.objects - self.created_objects
        return adopted // 20 if self.suspended is None else min(self.suspended, adopted)

    @property
    def settle_limit(self) -> float:
        if self.settle_seconds is not None:
            return self.settle_seconds
        return 60.0 + 0.05 * self.objects


@dataclass
class Incarnation:
    number: int
    started: float
    pid: int = 0
    ended: float | None = None
    killed: bool = False
    peak_rss: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)


def condition_of(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == type_:
            return dict(condition)
    return {}


def created_manifest(name: str, source_id: str, *, cut_over: bool | None = None) -> dict[str, Any]:
    """An object that has the operator create its job (``spec.job``), then start it; with
    ``cut_over`` (its ``syncData``) an incremental job, cut over after its first run."""
    body = manifest(name, "j-placeholder0", "env")
    spec = dict(body["spec"])
    del spec["jobId"]
    spec["job"] = {"sourceId": source_id}
    if cut_over is not None:
        spec["job"].update(runOnce=False, frequency=1, maxNumberOfImageToKeep=1)
        spec["cutOver"] = {"syncData": cut_over}
    return {**body, "spec": spec}


def lifecycle_settled(obj: Mapping[str, Any], *, suspended: bool, cut_over: bool) -> bool:
    """A suspended object has been resumed and started again (its second request); a cut-over
    object is cut over (or gave up)."""
    if suspended:
        metadata = obj.get("metadata") or {}
        started = condition_of(obj, "Started")
        if (obj.get("spec") or {}).get("suspend") is not False:
            return False
        if condition_of(obj, "Suspended").get("reason") != "Resumed":
            return False
        if started.get("observedGeneration") != metadata.get("generation"):
            return False
    if cut_over:
        condition = condition_of(obj, "CutOver")
        return condition.get("status") == "True" or condition.get("reason") == "RetriesExhausted"
    return True


def smc_faults(latency_ms: float) -> list[dict[str, Any]]:
    """The SMC fault mix, oldest first; each draw is conditional on the earlier ones missing."""
    rates: list[tuple[dict[str, Any], float]] = [
        ({"code": "InternalError"}, 0.30),
        ({"code": "Throttling.User"}, 0.10),
        ({"drop": True}, 0.025),  # lost before SMC acted
        ({"drop": True, "apply": True}, 0.025),  # SMC acted, the answer is lost
        ({"latencyMs": latency_ms}, 0.20),
    ]
    faults: list[dict[str, Any]] = []
    remaining = 1.0
    for fault, rate in rates:
        faults.append({"action": "*", "probability": round(rate / remaining, 4), **fault})
        remaining -= rate
    return faults


KUBE_CONFLICTS: Final = {"verb": "patch", "resource": PLURAL, "status": 409, "probability": 0.05}
KUBE_FAULTS: Final = (
    {"verb": "patch", "resource": PLURAL, "status": 500, "probability": 0.05},
    {"verb": "patch", "resource": PLURAL, "status": 500, "after": True, "probability": 0.03},
    {"verb": "patch", "resource": PLURAL, "delay": 0.5, "probability": 0.05},
)


class Soak:
    def __init__(self, options: SoakOptions) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self.incarnations: list[Incarnation] = []
        self.operator: procs.Child | None = None
        self.settled_at: dict[str, float] = {}
        self.created: set[str] = set()
        #: Objects that have the operator create their job: name -> their source server.
        self.source_of: dict[str, str] = {}
        #: Created objects that are cut over: name -> syncData.
        self.cut_over: dict[str, bool] = {}
        #: Adopted objects the driver suspends and resumes.
        self.suspended: set[str] = set()
        #: The last version of each lifecycle object the driver's watch saw.
        self.latest: dict[str, Mapping[str, Any]] = {}
        self.log: list[str] = []

    def note(self, text: str) -> None:
        line = f"[{time.monotonic():.1f}] {text}"
        self.log.append(line)
        print(line, file=sys.stderr, flush=True)

    # --- the operator ----------------------------------------------------------------------------

    async def start_operator(self, stack: Stack) -> None:
        number = len(self.incarnations) + 1
        phase = PhaseOptions(
            kind="operator",
            objects=self.options.objects,
            concurrency=self.options.workers,
            workdir=self.options.workdir,
            operator_path=self.options.operator_path,
        )
        settings = {
            "SMC_OPERATOR_MAX_ATTEMPTS": str(self.options.max_attempts),
            "SMC_OPERATOR_BACKOFF_BASE_SECONDS": f"{self.options.backoff_base:g}",
            "SMC_OPERATOR_BACKOFF_MAX_SECONDS": f"{self.options.backoff_max:g}",
            "SMC_OPERATOR_REQUEST_TIMEOUT_SECONDS": f"{self.options.request_timeout:g}",
            "SMC_OPERATOR_LOG_LEVEL": "INFO",
            "SMC_OPERATOR_POLL_INTERVAL_SECONDS": f"{self.options.poll_seconds:g}",
        }
        self.operator = operator_child(stack, phase, log_name="operator.log", settings=settings)
        await self.operator.start()
        self.incarnations.append(
            Incarnation(number=number, started=time.monotonic(), pid=self.operator.pid)
        )
        self.note(f"operator #{number} started (pid {self.operator.pid})")

    def sample_memory(self) -> None:
        if self.operator is None or not self.operator.running or not self.incarnations:
            return
        with contextlib.suppress(OSError):
            usage = self.operator.usage()
            current = self.incarnations[-1]
            current.samples.append((time.monotonic(), usage.rss_bytes))
            current.peak_rss = max(current.peak_rss, usage.peak_rss_bytes)

    async def kill_operator(self) -> None:
        assert self.operator is not None
        self.sample_memory()
        await self.operator.kill()
        current = self.incarnations[-1]
        current.ended = time.monotonic()
        current.killed = True
        self.note(f"operator #{current.number} SIGKILLed")

    async def sampler(self) -> None:
        while True:
            self.sample_memory()
            await asyncio.sleep(0.5)

    # --- chaos -----------------------------------------------------------------------------------

    async def killer(self, stack: Stack, began: float) -> None:
        window = self.options.fault_seconds * 0.7
        moments = sorted(self.rng.uniform(1.0, max(window, 1.5)) for _ in range(self.options.kills))
        for moment in moments:
            # Each incarnation lives at least a second: long enough to be doing something.
            at = max(began + moment, self.incarnations[-1].started + 1.0)
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            await self.kill_operator()
            await asyncio.sleep(self.rng.uniform(0.0, 1.0))
            await self.start_operator(stack)

    async def watch_closer(self, kube: KubeHttp) -> None:
        while True:
            await asyncio.sleep(self.rng.uniform(3.0, 8.0))
            gone = self.rng.random() < 0.3
            closed = await kube.close_watches(gone=gone)
            self.note(f"closed {closed} watch stream(s){' with 410 Gone' if gone else ''}")

    async def follow(self, kube: KubeHttp, version: str) -> None:
        """The driver's own watch: when each object first looked settled (for the checks)."""
        async for _kind, obj in kube.watch_rj(NAMESPACE, version):
            name = (obj.get("metadata") or {}).get("name")
            condition = started_condition(obj)
            if not name:
                continue
            created = condition_of(obj, "Created")
            if created.get("reason") == "RetriesExhausted":
                condition = created  # no job was created: nothing will start
            suspended, cut_over = name in self.suspended, name in self.cut_over
            if suspended or cut_over:
                self.latest[name] = obj
            if (
                condition.get("status") in ("True", "False")
                and condition.get("reason") not in IN_PROGRESS
                and lifecycle_settled(obj, suspended=suspended, cut_over=cut_over)
            ):
                self.settled_at.setdefault(name, time.monotonic())
            else:
                self.settled_at.pop(name, None)

    async def create(self, kube: KubeHttp, names_and_jobs: list[tuple[str, str]]) -> None:
        semaphore = asyncio.Semaphore(self.options.create_concurrency)

        async def one(name: str, job_id: str) -> None:
            async with semaphore:
                body = (
                    created_manifest(name, self.source_of[name], cut_over=self.cut_over.get(name))
                    if name in self.source_of
                    else manifest(name, job_id, "env")
                )
                for attempt in range(10):
                    try:
                        await kube.create_rj(NAMESPACE, body)
                        break
                    except KubeApiError as exc:
                        if exc.status == 409 or attempt == 9:
                            break
                        await asyncio.sleep(0.2)
                self.created.add(name)

        await asyncio.gather(*(one(name, job) for name, job in names_and_jobs))

    async def suspend_and_resume(self, kube: KubeHttp, name: str, deadline: float) -> None:
        """Once started, ``spec.suspend: true``; once ``Suspended=True``, back to false."""

        async def until(check: Any) -> bool:
            while time.monotonic() < deadline:
                if check(self.latest.get(name) or {}):
                    return True
                await asyncio.sleep(0.2)
            return False

        async def patch(suspend: bool) -> None:
            while time.monotonic() < deadline:
                try:
                    await kube.patch_rj(NAMESPACE, name, {"spec": {"suspend": suspend}})
                    return
                except KubeApiError:
                    await asyncio.sleep(0.2)  # the injected faults hit the driver too

        if not await until(lambda obj: condition_of(obj, "Started").get("status") == "True"):
            return
        await patch(True)
        self.note(f"{name}: suspended")
        if not await until(lambda obj: condition_of(obj, "Suspended").get("status") == "True"):
            return
        await patch(False)
        self.note(f"{name}: resumed")

    # --- the run ---------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        options = self.options
        options.workdir.mkdir(parents=True, exist_ok=True)
        adopted = options.objects - options.created_objects
        stopped = options.suspended_objects
        names_and_jobs = [(f"soak-stop-{i:05d}", f"j-soakstop{i:08d}") for i in range(stopped)]
        self.suspended = {name for name, _ in names_and_jobs}
        names_and_jobs += [(f"soak-{i:05d}", f"j-soak{i:08d}") for i in range(adopted - stopped)]
        # Objects that create their job: the job ID is SMC's answer, known only at the end.
        full = options.created_objects - options.cut_over_objects
        self.source_of = {f"soak-new-{i:05d}": f"s-soaknew{i:08d}" for i in range(full)}
        cut = {f"soak-cut-{i:05d}": f"s-soakcut{i:08d}" for i in range(options.cut_over_objects)}
        self.source_of.update(cut)
        self.cut_over = {name: i % 2 == 0 for i, name in enumerate(cut)}
        names_and_jobs += [(name, "") for name in self.source_of]
        job_of = dict(names_and_jobs)
        began_run = time.monotonic()
        async with (
            Stack(
                options.workdir, run_seconds=options.run_seconds, hour_seconds=options.hour_seconds
            ) as stack,
            SmcControl(stack.smc_url, stack.ca_file) as smc,
            KubeHttp(stack.kube_url, agent=DRIVER_AGENT) as kube,
        ):
            suspended_jobs = [job for name, job in names_and_jobs if name in self.suspended]
            other_jobs = [job for name, job in names_and_jobs if job and name not in self.suspended]
            await smc.seed_jobs(other_jobs)
            suspend_run = max(SUSPEND_RUN_SECONDS, 4 * options.fault_seconds)
            await smc.seed_jobs(suspended_jobs, run_seconds=suspend_run)
            await smc.seed_sources(list(self.source_of.values()))
            await kube.ensure_namespace(NAMESPACE)
            listing = await kube.list_rj(NAMESPACE)
            following = asyncio.create_task(
                self.follow(kube, listing["metadata"]["resourceVersion"])
            )
            await self.start_operator(stack)
            await wait_for_watch(kube, OPERATOR_AGENTS)
            sampling = asyncio.create_task(self.sampler())

            for fault in smc_faults(options.latency_ms):
                await smc.add_fault(**fault)
            if options.kube_faults:
                if options.kube_conflicts:
                    await kube.add_fault(**KUBE_CONFLICTS)
                for kube_fault in KUBE_FAULTS:
                    await kube.add_fault(**kube_fault)
            began = time.monotonic()
            self.note(f"faults on; creating {options.objects} objects")
            killing = asyncio.create_task(self.killer(stack, began))
            lifecycle_deadline = began + options.fault_seconds + options.settle_limit
            suspending = [
                asyncio.create_task(self.suspend_and_resume(kube, name, lifecycle_deadline))
                for name in sorted(self.suspended)
            ]
            closing = asyncio.create_task(self.watch_closer(kube)) if options.kube_faults else None
            await self.create(kube, names_and_jobs)
            self.note("all objects created")
            await asyncio.sleep(max(0.0, began + options.fault_seconds - time.monotonic()))
            # Never cancelled: a restart cut short could leave an operator process behind.
            await killing
            if closing is not None:
                closing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await closing
            smc_fault_table = await smc.faults()
            await smc.clear_faults()
            kube_fault_table = await kube.clear_faults() if options.kube_faults else []
            faults_off = time.monotonic()
            self.note("faults off; waiting for every object to settle")

            deadline = faults_off + options.settle_limit
            names = [name for name, _ in names_and_jobs]
            while time.monotonic() < deadline:
                if all(name in self.settled_at for name in names):
                    break
                await asyncio.sleep(0.5)
            all_settled_at = time.monotonic()
            calls_at_settle = len(await smc.calls())
            for task in suspending:
                task.cancel()
            await asyncio.gather(*suspending, return_exceptions=True)
            await asyncio.sleep(options.quiet_seconds)
            self.sample_memory()
            calls_after_quiet = await smc.calls()
            final = await kube.list_rj(NAMESPACE)
            jobs = {job["jobId"]: job for job in await smc.jobs()}
            counters = await kube.counters(set(OPERATOR_AGENTS))
            sampling.cancel()
            following.cancel()
            for task in (sampling, following):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            assert self.operator is not None
            self.sample_memory()
            await self.operator.stop()
            self.incarnations[-1].ended = time.monotonic()
            operator_log = self.operator.log()

        objects = {obj["metadata"]["name"]: obj for obj in final.get("items", [])}
        created = self.judge_created(objects, jobs)
        for name in self.source_of:
            job_of[name] = ((objects.get(name) or {}).get("status") or {}).get("jobId") or ""
        result = self.judge(
            objects=objects,
            job_of=job_of,
            jobs=jobs,
            calls=calls_after_quiet,
            calls_at_settle=calls_at_settle,
            smc_fault_table=smc_fault_table,
            kube_fault_table=kube_fault_table,
            counters=counters,
            timing={
                "run": time.monotonic() - began_run,
                "faultWindow": faults_off - began,
                "settle": all_settled_at - faults_off,
            },
            operator_log=operator_log,
            skip={name for name in self.source_of if not job_of[name]},
        )
        lifecycle = self.judge_lifecycle(objects, jobs, job_of, calls_after_quiet)
        result["created"] = created["counts"]
        result["lifecycle"] = lifecycle["counts"]
        extra = created["violations"] + lifecycle["violations"]
        if extra:
            result["ok"] = False
            result["violations"] = (result["violations"] + extra)[:50]
            counts = Counter(v["kind"] for v in extra)
            for kind, count in counts.items():
                result["violationCounts"][kind] = result["violationCounts"].get(kind, 0) + count
        return result

    def judge_created(
        self, objects: Mapping[str, Mapping[str, Any]], jobs: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Invariant 6: at most one job created per object, and the object names it."""
        violations: list[dict[str, Any]] = []
        by_source: dict[str, list[str]] = defaultdict(list)
        for job in jobs.values():
            by_source[str(job.get("sourceId"))].append(str(job["jobId"]))
        per_object: list[int] = []
        exhausted = 0
        for name, source in self.source_of.items():
            obj = objects.get(name) or {}
            made = by_source.get(source, [])
            per_object.append(len(made))
            named = (obj.get("status") or {}).get("jobId")
            created = condition_of(obj, "Created")
            evidence = {"object": name, "source": source, "jobs": made, "created": created}
            if len(made) > 1:
                violations.append({"kind": "created-twice", **evidence})
            if named is not None and made != [named]:
                violations.append({"kind": "disagrees", **evidence})
            if named is None:
                attempts = ((obj.get("status") or {}).get("actionAttempts") or {}).get("Created")
                if (
                    made
                    or created.get("reason") != "RetriesExhausted"
                    or attempts != (self.options.max_attempts)
                ):
                    violations.append({"kind": "stuck", **evidence})
                else:
                    exhausted += 1
        return {
            "violations": violations,
            "counts": {
                "objects": len(self.source_of),
                "jobsCreated": sum(per_object),
                "maxJobsPerObject": max(per_object, default=0),
                "createdRetriesExhausted": exhausted,
            },
        }

    def judge_lifecycle(
        self,
        objects: Mapping[str, Mapping[str, Any]],
        jobs: Mapping[str, Mapping[str, Any]],
        job_of: Mapping[str, str],
        calls: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Invariants 7 (suspend: one stop, one start per request) and 8 (one cut-over)."""
        violations: list[dict[str, Any]] = []
        stops: list[int] = []
        resumed = 0
        for name in sorted(self.suspended):
            obj = objects.get(name) or {}
            job = jobs.get(job_of[name]) or {}
            stops.append(int(job.get("stopCount", 0)))
            evidence: dict[str, Any] = {
                "object": name,
                "job": {k: job.get(k) for k in ("jobId", "status", "startCount", "stopCount")},
                "suspended": condition_of(obj, "Suspended"),
                "started": condition_of(obj, "Started"),
            }
            ok = (
                job.get("stopCount") == 1
                and job.get("startCount") == 2
                and evidence["suspended"].get("reason") == "Resumed"
                and evidence["started"].get("status") == "True"
                and lifecycle_settled(obj, suspended=True, cut_over=False)
            )
            if ok:
                resumed += 1
            else:
                violations.append({"kind": "suspend", **evidence})
        cut_overs: list[int] = []
        cut = 0
        for name, sync_data in sorted(self.cut_over.items()):
            obj = objects.get(name) or {}
            job = jobs.get(job_of.get(name) or "") or {}
            cut_overs.append(int(job.get("cutOverCount", 0)))
            condition = condition_of(obj, "CutOver")
            evidence = {
                "object": name,
                "syncData": sync_data,
                "job": {
                    k: job.get(k)
                    for k in ("jobId", "status", "cutOverCount", "cycles", "startCount")
                },
                "cutOver": condition,
            }
            finishing = job.get("status") == "Finished" or (
                sync_data and job.get("status") == "Running"
            )
            if job.get("cutOverCount") == 1 and finishing and condition.get("status") == "True":
                cut += 1
            elif not job and condition_of(obj, "Created").get("reason") == "RetriesExhausted":
                pass  # no job was created: invariant 6 judges it
            else:
                violations.append({"kind": "cut-over", **evidence})
        # How many of the calls met a fault (an error, a drop or a delay): tested under faults.
        stop_calls = [c for c in calls if c["action"] == STOP]
        cut_over_calls = [c for c in calls if c["action"] == CUT_OVER_ACTION]
        return {
            "violations": violations,
            "counts": {
                "stopCalls": len(stop_calls),
                "stopCallsFaulted": sum(1 for c in stop_calls if c.get("faultId") is not None),
                "cutOverCalls": len(cut_over_calls),
                "cutOverCallsFaulted": sum(
                    1 for c in cut_over_calls if c.get("faultId") is not None
                ),
                "suspendedObjects": len(self.suspended),
                "stoppedOnceAndStartedTwice": resumed,
                "maxStopsPerJob": max(stops, default=0),
                "cutOverObjects": len(self.cut_over),
                "cutOverOnce": cut,
                "maxCutOversPerJob": max(cut_overs, default=0),
            },
        }

    # --- the invariants --------------------------------------------------------------------------

    def judge(
        self,
        *,
        objects: Mapping[str, Mapping[str, Any]],
        job_of: Mapping[str, str],
        jobs: Mapping[str, Mapping[str, Any]],
        calls: list[dict[str, Any]],
        calls_at_settle: int,
        smc_fault_table: list[dict[str, Any]],
        kube_fault_table: list[dict[str, Any]],
        counters: Mapping[str, Any],
        timing: Mapping[str, float],
        operator_log: str,
        skip: set[str] | None = None,
    ) -> dict[str, Any]:
        options = self.options
        violations: list[dict[str, Any]] = []
        faults_by_id = {fault["faultId"]: fault for fault in smc_fault_table}
        kill_times = [i.ended for i in self.incarnations if i.killed and i.ended is not None]

        def violation(kind: str, name: str, **evidence: Any) -> None:
            violations.append({"kind": kind, "object": name, **evidence})

        calls_by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for call in calls:
            params = call.get("params") or {}
            for key, value in params.items():
                if key == "JobId" or key.startswith("JobId."):
                    calls_by_job[value].append(call)

        window = timing["faultWindow"] + timing["settle"]
        runs = options.max_attempts + options.kills + window / (options.backoff_base / 2)
        # The job mirror looks at every job once per poll interval (and once per restart).
        mirror = window / options.poll_seconds + options.kills + 1
        call_bound = int(2 * runs + mirror)
        reasons: Counter[str] = Counter()
        call_counts: list[int] = []
        start_counts: list[int] = []
        for name, job_id in job_of.items():
            if skip and name in skip:
                continue  # no job was created: invariant 6 judges it
            obj = objects.get(name)
            if obj is None:
                violation("missing", name)
                continue
            condition = started_condition(obj)
            status = obj.get("status") or {}
            reason = str(condition.get("reason", "<none>"))
            reasons[f"{condition.get('status', '-')}/{reason}"] += 1
            job = jobs.get(job_id) or {}
            starts = int(job.get("startCount", 0))
            requests = 2 if name in self.suspended else 1  # a resume is a new start request
            job_calls = calls_by_job.get(job_id, [])
            start_calls = [c for c in job_calls if c["action"] == START]
            call_counts.append(len(job_calls))
            start_counts.append(len(start_calls))
            evidence = {
                "condition": condition,
                "attempts": status.get("attempts"),
                "job": job_id,
                "annotations": (obj.get("metadata") or {}).get("annotations"),
                "calls": [
                    {k: c.get(k) for k in ("action", "time", "httpStatus", "code", "requestId")}
                    | {"dropped": c.get("dropped"), "faultId": c.get("faultId")}
                    for c in job_calls
                ],
            }

            # 1. settled, with a correct reason
            if condition.get("status") not in ("True", "False") or reason in IN_PROGRESS:
                violation("stuck", name, **evidence)
            elif condition["status"] == "False" and not (
                reason == "RetriesExhausted" and status.get("attempts") == options.max_attempts
            ):
                violation("wrong-reason", name, **evidence)
            # 2. at most one start; the object agrees with SMC
            if starts > requests:
                violation("double-start", name, startCount=starts, **evidence)
            if (condition.get("status") == "True") != (starts >= 1):
                violation("disagrees", name, startCount=starts, **evidence)
            # 3. the RequestId
            if condition.get("status") == "True":
                self._check_request_id(
                    name, condition, start_calls, job_calls, faults_by_id, kill_times, violation
                )
            # 4. no hot loop
            if len(start_calls) > options.max_attempts * requests:
                violation("hot-loop", name, startCalls=len(start_calls), **evidence)
            if len(job_calls) > call_bound:
                violation("hot-loop", name, calls=len(job_calls), bound=call_bound, **evidence)
        if call_counts and statistics.fmean(call_counts) > 3 * options.max_attempts + mirror:
            violation("hot-loop", "*", meanCallsPerObject=statistics.fmean(call_counts))
        late = calls[calls_at_settle:]
        late_calls = len(late)
        # Once settled only the mirror calls: a round of batches of 50 per poll interval.
        rounds = options.quiet_seconds / options.poll_seconds + 2
        batches = -(-len(job_of) // 50)
        late_actions = Counter(call["action"] for call in late)
        if set(late_actions) - MIRROR_ACTIONS or any(
            count > rounds * batches for count in late_actions.values()
        ):
            violation("hot-loop", "*", callsAfterSettling=dict(late_actions), rounds=rounds)

        # 5. memory
        memory = self._memory(violation)

        actions = Counter(call["action"] for call in calls)
        codes = Counter(
            "dropped" if call.get("dropped") else (call.get("code") or str(call.get("httpStatus")))
            for call in calls
        )
        kube_requests = [
            {k: row[k] for k in ("verb", "resource", "subresource", "code", "agent", "count")}
            for row in counters["requests"]
            if row["agent"] in OPERATOR_AGENTS and row["resource"] in (PLURAL, "events")
        ]
        tracebacks = operator_log.count("Traceback")
        return {
            "options": {
                k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()
            },
            "ok": not violations,
            "violations": violations[:50],
            "violationCounts": dict(Counter(v["kind"] for v in violations)),
            "objects": len(job_of),
            "outcomes": dict(reasons),
            "kills": sum(1 for i in self.incarnations if i.killed),
            "operatorStarts": len(self.incarnations),
            "timing": dict(timing),
            "smc": {
                "calls": len(calls),
                "byAction": dict(actions),
                "byOutcome": dict(codes),
                "faultsFired": {
                    str(f["faultId"]): {
                        "fault": {k: f[k] for k in ("code", "drop", "latencyMs", "effect")},
                        "fired": f["fired"],
                    }
                    for f in smc_fault_table
                },
                "jobsStarted": sum(1 for j in jobs.values() if int(j.get("startCount", 0)) >= 1),
                "maxStartCount": max(
                    (int(j.get("startCount", 0)) for j in jobs.values()), default=0
                ),
                "callsPerObject": {
                    "mean": statistics.fmean(call_counts) if call_counts else 0.0,
                    "max": max(call_counts, default=0),
                    "startCallsMax": max(start_counts, default=0),
                    "startCallsMean": statistics.fmean(start_counts) if start_counts else 0.0,
                },
                "callsAfterSettling": late_calls,
                "mirrorCallsPerObjectBound": mirror,
                "callBoundPerObject": call_bound,
            },
            "kube": {
                "faults": kube_fault_table,
                "operatorRequests": kube_requests,
            },
            "memory": memory,
            "operatorLogTracebacks": tracebacks,
            "events": self.log,
            "workdir": str(options.workdir),
        }

    def _check_request_id(
        self,
        name: str,
        condition: Mapping[str, Any],
        start_calls: list[dict[str, Any]],
        job_calls: list[dict[str, Any]],
        faults_by_id: Mapping[int, Mapping[str, Any]],
        kill_times: list[float],
        violation: Any,
    ) -> None:
        request_id = condition.get("requestId")
        known = {c["requestId"] for c in job_calls if c.get("httpStatus") is not None}
        if request_id not in known:
            violation("unknown-request-id", name, condition=condition)
            return
        # The call that started the job: answered 200 without an error code, or a fault that let
        # the action happen (latency; a drop after acting).
        successes = []
        for call in start_calls:
            fault_id = call.get("faultId")
            fault = faults_by_id.get(int(fault_id)) if fault_id is not None else None
            applied = (
                fault is None and call.get("httpStatus") == 200 and not call.get("code")
            ) or (fault is not None and fault.get("effect") != "never" and not fault.get("code"))
            if applied:
                successes.append(call)
        if len(successes) != 1:
            return  # disagrees/double-start report it
        success = successes[0]
        delivered = success.get("httpStatus") == 200 and not success.get("dropped")
        if not delivered or request_id == success["requestId"]:
            return
        settled = self.settled_at.get(name, float("inf"))
        killed_between = any(success["time"] - 0.1 <= t <= settled + 0.1 for t in kill_times)
        if not killed_between:
            violation(
                "lost-request-id",
                name,
                condition=condition,
                startRequestId=success["requestId"],
                startCallTime=success["time"],
                settledAt=settled,
            )

    def _memory(self, violation: Any) -> dict[str, Any]:
        limit = self.options.max_rss_mb * 1024 * 1024
        rows = []
        for incarnation in self.incarnations:
            rows.append(
                {
                    "number": incarnation.number,
                    "killed": incarnation.killed,
                    "seconds": (incarnation.ended or time.monotonic()) - incarnation.started,
                    "peakRssMb": incarnation.peak_rss / 2**20,
                }
            )
            if incarnation.peak_rss > limit:
                violation("memory", "*", incarnation=incarnation.number, peak=incarnation.peak_rss)
        last = self.incarnations[-1]
        mid_rss = end_rss = 0
        if len(last.samples) >= 4:
            midpoint = last.started + ((last.samples[-1][0] - last.started) / 2)
            mid_rss = min(last.samples, key=lambda s: abs(s[0] - midpoint))[1]
            end_rss = last.samples[-1][1]
            if end_rss > mid_rss * 1.25 + 10 * 2**20:
                violation("memory", "*", midRss=mid_rss, endRss=end_rss)
        return {
            "incarnations": rows,
            "lastMidRssMb": mid_rss / 2**20,
            "lastEndRssMb": end_rss / 2**20,
        }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument(
        "--created", type=int, help="objects with spec.job, created by the operator (default: 10%%)"
    )
    parser.add_argument(
        "--cut-over", type=int, help="created objects that are incremental and cut over (half)"
    )
    parser.add_argument(
        "--suspended", type=int, help="adopted objects suspended and resumed (default: 5%%)"
    )
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="the job mirror's interval")
    parser.add_argument("--run-seconds", type=float, default=4.0, help="a created job's run")
    parser.add_argument(
        "--hour-seconds", type=float, default=4.0, help="an SMC hour on the emulator's clock"
    )
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--fault-seconds", type=float, default=90.0)
    parser.add_argument("--settle-seconds", type=float)
    parser.add_argument("--quiet-seconds", type=float, default=5.0)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--no-kube-faults", action="store_true", help="no Kubernetes faults")
    parser.add_argument(
        "--no-kube-conflicts", action="store_true", help="Kubernetes faults, but no 409s"
    )
    parser.add_argument("--max-attempts", type=int, default=10)
    parser.add_argument("--backoff-base", type=float, default=0.5)
    parser.add_argument("--backoff-max", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--max-rss-mb", type=float, default=300.0)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--operator-path", type=Path, help="import smc_operator from here")
    parser.add_argument(
        "--short",
        action="store_true",
        help="CI's short soak: short backoff (0.2 s, max 1 s) and quiet period (2 s)",
    )
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--result", type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = SoakOptions(
        objects=args.objects,
        created=args.created,
        cut_over=args.cut_over,
        suspended=args.suspended,
        poll_seconds=args.poll_seconds,
        run_seconds=args.run_seconds,
        hour_seconds=args.hour_seconds,
        kills=args.kills,
        fault_seconds=args.fault_seconds,
        settle_seconds=args.settle_seconds,
        quiet_seconds=2.0 if args.short else args.quiet_seconds,
        latency_ms=args.latency_ms,
        kube_faults=not args.no_kube_faults,
        kube_conflicts=not args.no_kube_conflicts,
        max_attempts=args.max_attempts,
        backoff_base=0.2 if args.short else args.backoff_base,
        backoff_max=1.0 if args.short else args.backoff_max,
        workers=args.workers,
        max_rss_mb=args.max_rss_mb,
        seed=args.seed,
        operator_path=args.operator_path,
    )
    if args.workdir is not None:
        options.workdir = args.workdir
    result = asyncio.run(Soak(options).run())
    text = json.dumps(result, indent=1, default=str)
    if args.result is not None:
        args.result.parent.mkdir(parents=True, exist_ok=True)
        args.result.write_text(text, encoding="utf-8")
    keys = ("ok", "violationCounts", "objects", "outcomes", "kills", "created", "lifecycle")
    summary = {k: result[k] for k in keys}
    summary["smc"] = {k: result["smc"][k] for k in ("calls", "byAction", "byOutcome")}
    print(json.dumps(summary, indent=1))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
