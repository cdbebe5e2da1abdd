"""The job refresher: one background task that mirrors DescribeReplicationJobs into ``status.job``
and DescribeSourceServers into ``status.sourceServer``.

Every ``POLL_INTERVAL_SECONDS`` it takes the operator's current view of all ReplicationJobs,
groups them into DescribeReplicationJobs calls of up to 50 JobIds sharing credentials and region
(:mod:`smc_operator.observations`), and patches ``status.job`` only where something changed. One
task for all objects, rather than a timer per object: no finalizers, far fewer calls. With kopf
peering, a cycle runs only while this operator is the active one (:mod:`smc_operator.peers`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from smc_operator.apis import KubeApi, KubeError, KubeNotFoundError, SmcApi
from smc_operator.clocks import Clock, utc_now
from smc_operator.credentials import AccessKey, CredentialsError
from smc_operator.keys import read_access_key
from smc_operator.model import JobObservation, SourceServerObservation
from smc_operator.observations import Batch, Watched, batches, sources, updates
from smc_operator.outcomes import SmcFailure, SourceServerReport

logger = logging.getLogger(__name__)


class JobRefresher:
    def __init__(
        self,
        smc: SmcApi,
        kube: KubeApi,
        *,
        interval: float,
        clock: Clock = utc_now,
        active: Callable[[], Awaitable[bool]] | None = None,
        written: Callable[[Watched, JobObservation | None, SourceServerObservation | None], None]
        | None = None,
    ) -> None:
        self._smc = smc
        self._kube = kube
        self._interval = interval
        self._clock = clock
        self._active = active
        self._written = written

    async def run(self, snapshot: Callable[[], Iterable[Watched]]) -> None:
        """Refresh forever (until cancelled); a failing cycle is logged, never fatal."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                if self._active is not None and not await self._active():
                    logger.debug("Job refresh skipped: another operator is active (peering)")
                    continue
                written = await self.refresh(list(snapshot()))
                logger.debug("Job refresh: %d object(s) updated", written)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Job refresh failed; trying again in %ss", self._interval)

    async def refresh(self, objects: list[Watched]) -> int:
        """One cycle; returns how many objects were written."""
        written = 0
        for batch in batches(objects):
            written += await self._refresh_batch(batch)
        return written

    async def _refresh_batch(self, batch: Batch) -> int:
        access_key: AccessKey | None = None
        if batch.secret_name is not None:
            try:
                access_key = await read_access_key(
                    self._kube, self._smc, batch.namespace, batch.secret_name
                )
            except CredentialsError as exc:
                logger.warning("Job refresh skipped %d object(s): %s", len(batch.objects), exc)
                return 0
        report = await self._smc.describe_replication_jobs(
            batch.job_ids, region_id=batch.region_id, access_key=access_key
        )
        if isinstance(report, SmcFailure):
            logger.warning(
                "Job refresh: DescribeReplicationJobs failed for %d job(s) in %s: %s",
                len(batch.job_ids),
                batch.region_id,
                report.describe(),
            )
            return 0
        jobs = dict(report.jobs)
        servers: dict[str, SourceServerReport] = {}
        source_ids = sources(batch, jobs)
        if source_ids:
            answer = await self._smc.describe_source_servers(
                source_ids, region_id=batch.region_id, access_key=access_key
            )
            if isinstance(answer, SmcFailure):
                logger.warning(
                    "Job refresh: DescribeSourceServers failed for %d source(s) in %s: %s",
                    len(source_ids),
                    batch.region_id,
                    answer.describe(),
                )
            else:
                servers = dict(answer.servers)
        written = 0
        for update in updates(batch, jobs, self._clock(), servers):
            obj = update.obj
            try:
                await self._kube.patch_status(obj.namespace, obj.name, update.patch())
                written += 1
                if self._written is not None:
                    self._written(obj, update.job, update.source_server)
            except KubeNotFoundError:
                pass  # deleted meanwhile
            except KubeError as exc:
                logger.warning(
                    "Job refresh could not update %s/%s: %s", obj.namespace, obj.name, exc
                )
        return written
