"""The call log: every SMC call the emulator received, oldest first.

A call is appended when it arrives and completed when its answer is decided, so a call whose
connection is then dropped, or whose client gave up during an injected delay, is still there.
The log is unbounded on purpose (tests read all of it); entries are small slotted records, and
lookups by action and by job use indexes instead of scanning the log.

No secret ever enters the log: the only credential kept is the AccessKeyId the caller claimed,
and parameters that could carry secrets (:data:`SECRET_PARAMETERS`) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

#: Query parameters never logged (older signature styles pass credentials this way).
SECRET_PARAMETERS: Final = frozenset(
    {"AccessKeySecret", "SecurityToken", "Signature", "BearerToken"}
)


@dataclass(slots=True)
class Call:
    index: int
    action: str
    params: tuple[tuple[str, str], ...]
    access_key_id: str | None
    request_id: str
    time: float
    http_status: int | None = None  # None while undecided, or when the connection was dropped
    code: str | None = None
    fault_id: int | None = None
    dropped: bool = False

    def to_document(self) -> dict[str, object]:
        return {
            "index": self.index,
            "action": self.action,
            "params": dict(self.params),
            "accessKeyId": self.access_key_id,
            "httpStatus": self.http_status,
            "code": self.code,
            "requestId": self.request_id,
            "time": self.time,
            "faultId": self.fault_id,
            "dropped": self.dropped,
        }


def loggable(params: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in params.items() if k not in SECRET_PARAMETERS)


class CallLog:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._by_action: dict[str, list[int]] = {}
        self._by_job: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def __getitem__(self, index: int) -> Call:
        return self._calls[index]

    def all(self) -> list[Call]:
        return list(self._calls)

    def clear(self) -> None:
        self._calls.clear()
        self._by_action.clear()
        self._by_job.clear()

    def append(
        self,
        *,
        action: str,
        params: Mapping[str, str],
        job_ids: Iterable[str],
        access_key_id: str | None,
        request_id: str,
        time: float,
    ) -> Call:
        index = len(self._calls)
        call = Call(index, action, loggable(params), access_key_id, request_id, time)
        self._calls.append(call)
        self._by_action.setdefault(action, []).append(index)
        for job_id in dict.fromkeys(job_ids):
            self._by_job.setdefault(job_id, []).append(index)
        return call

    def select(
        self, *, action: str | None = None, job_id: str | None = None, since: int = 0
    ) -> list[Call]:
        """Calls from index ``since`` on, optionally only one action's and/or one job's."""
        since = max(since, 0)
        if action is None and job_id is None:
            return self._calls[since:]
        indexes: list[int] | None = None
        if action is not None:
            indexes = self._by_action.get(action, [])
        if job_id is not None:
            for_job = self._by_job.get(job_id, [])
            if indexes is None:
                indexes = for_job
            else:
                wanted = set(for_job)
                indexes = [i for i in indexes if i in wanted]
        return [self._calls[i] for i in indexes or () if i >= since]
