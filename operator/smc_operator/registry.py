"""The operator's view of every ReplicationJob it watches, kept from the watch events. Pure.

The ``start`` handler puts each object in as it sees it and as it records an outcome, the job
refresher updates what it writes, and a deletion removes it (only this operator writes the
status, so that is every change). Per object it keeps what other parts need about all objects at
once:

- which SMC job it claims and whether it holds it (Started or in progress): duplicate detection;
- what the job refresher should poll (:class:`~smc_operator.observations.Watched`);
- its ``Started`` reason: the ``replicationjobs`` gauge.

(kopf's own indexes would do, but kopf lets no handler run until every object is indexed, and
indexing needs a worker slot: with more objects than ``--workers`` a starting operator stalls.)
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from dataclasses import dataclass

from smc_operator.model import JobObservation, SourceServerObservation
from smc_operator.observations import Watched

ObjectKey = tuple[str, str]  # (namespace, name)
ClaimKey = tuple[str, str]  # (region, jobId)


@dataclass(frozen=True)
class Entry:
    reason: str
    claim: ClaimKey | None = None
    holds: bool = False
    watched: Watched | None = None


class Registry:
    def __init__(self) -> None:
        self._entries: dict[ObjectKey, Entry] = {}
        self._claims: defaultdict[ClaimKey, set[ObjectKey]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: ObjectKey, entry: Entry) -> None:
        self.remove(key)
        self._entries[key] = entry
        if entry.claim is not None:
            self._claims[entry.claim].add(key)

    def remove(self, key: ObjectKey) -> None:
        old = self._entries.pop(key, None)
        if old is not None and old.claim is not None:
            holders = self._claims[old.claim]
            holders.discard(key)
            if not holders:
                del self._claims[old.claim]

    def observed(
        self,
        key: ObjectKey,
        job: JobObservation | None,
        source_server: SourceServerObservation | None = None,
    ) -> None:
        """The job refresher wrote ``status.job`` / ``status.sourceServer`` of ``key`` (None:
        not written): remember them, to write only changes."""
        entry = self._entries.get(key)
        if entry is not None and entry.watched is not None:
            watched = entry.watched
            if job is not None:
                watched = dataclasses.replace(watched, job=job)
            if source_server is not None:
                watched = dataclasses.replace(watched, source_server=source_server)
            self._entries[key] = dataclasses.replace(entry, watched=watched)

    def holder(self, key: ObjectKey, claim: ClaimKey) -> ObjectKey | None:
        """Another object that holds the job ``claim`` (Started or in progress), if any."""
        for other in sorted(self._claims.get(claim, ())):
            if other != key and self._entries[other].holds:
                return other
        return None

    def watched(self) -> list[Watched]:
        return [e.watched for e in self._entries.values() if e.watched is not None]

    def reasons(self) -> dict[str, int]:
        return dict(Counter(e.reason for e in self._entries.values()))
