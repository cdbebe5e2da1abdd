"""SMC's actions over the emulator's state: parameters in, answer body out.

No I/O. Each action takes the call's parameters (query string, already decoded; list parameters
arrive flattened as ``JobId.1``, ``JobId.2``, ...) and returns the answer body without
``RequestId`` (the server adds it), or raises :class:`~.rejections.SmcError`.

Our choices where SMC's reference is silent:

- DescribeReplicationJobs lists jobs in the order of the ``JobId.N`` filter when given, else in
  seeding order. ``RegionId`` filters only jobs seeded with a region; jobs seeded without one
  match any region and report the requested one (or ``cn-hangzhou``).
- More than 50 ``JobId.N`` or ``SourceId.N`` values, a PageSize outside 1..50, a PageNumber
  below 1 or a non-integer number: 400 ``InvalidParameter``.
- DescribeSourceServers reports a server's ``JobId`` as its most recently seeded job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from smc_operator import wire
from smc_testbed.emulator import rejections
from smc_testbed.emulator.jobs import Job, JobSnapshot, SourceServer
from smc_testbed.emulator.state import DEFAULT_REGION_ID, EmulatorState

Params = Mapping[str, str]
Body = dict[str, object]
Action = Callable[[EmulatorState, Params], Body]

_LIST_KEY: Final = re.compile(r"^(?P<name>[A-Za-z]+)\.(?P<index>[1-9][0-9]*)$")


def listed(params: Params, name: str) -> list[str]:
    """A list parameter: ``name.1``, ``name.2``, ... in index order (or a plain ``name``)."""
    numbered: list[tuple[int, str]] = []
    prefix = f"{name}."
    for key, value in params.items():
        if key.startswith(prefix):
            match = _LIST_KEY.match(key)
            if match is not None:
                numbered.append((int(match["index"]), value))
    values = [value for _, value in sorted(numbered)]
    if name in params:
        values.insert(0, params[name])
    return values


def job_ids(params: Params) -> list[str]:
    """The jobs a call is about (for fault matching and the call log)."""
    return listed(params, "JobId")


def _required(params: Params, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise rejections.missing_parameter(name)
    return value


def _integer(params: Params, name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise rejections.invalid_parameter(name) from None
    if value < low or (high is not None and value > high):
        raise rejections.invalid_parameter(name)
    return value


def _paging(params: Params) -> tuple[int, int]:
    number = _integer(params, "PageNumber", 1, 1, None)
    size = _integer(
        params, "PageSize", wire.DESCRIBE_DEFAULT_PAGE_SIZE, 1, wire.DESCRIBE_MAX_PAGE_SIZE
    )
    return number, size


def _bounded_list(params: Params, name: str) -> list[str]:
    values = listed(params, name)
    if len(values) > wire.DESCRIBE_MAX_JOB_IDS:
        raise rejections.invalid_parameter(name)
    return values


def _job(state: EmulatorState, params: Params) -> Job:
    job_id = _required(params, "JobId")
    job = state.jobs.get(job_id)
    if job is None:
        raise rejections.job_not_found(job_id)
    return job


def start_replication_job(state: EmulatorState, params: Params) -> Body:
    job = _job(state, params)
    server = state.source_servers.get(job.source_id)
    job.start(state.now(), server.state if server is not None else wire.SOURCE_UNAVAILABLE)
    return {}


def stop_replication_job(state: EmulatorState, params: Params) -> Body:
    _job(state, params).stop(state.now())
    return {}


def _job_body(state: EmulatorState, job: JobSnapshot, region_id: str) -> Body:
    body: Body = {
        "JobId": job.job_id,
        "Name": job.name,
        "Description": "",
        "Status": job.status,
        "BusinessStatus": job.business_status,
        "Progress": job.progress,
        "ErrorCode": job.error_code,
        "StatusInfo": job.status_info,
        "SourceId": job.source_id,
        "RegionId": job.region_id or region_id,
        "JobType": job.job_type,
        "RunOnce": job.job_type != wire.JOB_TYPE_INCREMENTAL,
        "CreationTime": state.timestamp(job.created_at),
    }
    if job.started_at is not None:
        body["StartTime"] = state.timestamp(job.started_at)
    if job.ended_at is not None:
        body["EndTime"] = state.timestamp(job.ended_at)
    return body


def _candidate_jobs(state: EmulatorState, ids: list[str], sources: list[str]) -> Iterable[Job]:
    if ids:
        found = (state.jobs.get(job_id) for job_id in dict.fromkeys(ids))
        jobs = [job for job in found if job is not None]
        if sources:
            wanted = set(sources)
            jobs = [job for job in jobs if job.source_id in wanted]
        return jobs
    if sources:
        by_source = (state.jobs_by_source.get(source, ()) for source in dict.fromkeys(sources))
        return [state.jobs[job_id] for job_ids_ in by_source for job_id in job_ids_]
    return state.jobs.values()


def describe_replication_jobs(state: EmulatorState, params: Params) -> Body:
    page_number, page_size = _paging(params)
    ids = _bounded_list(params, "JobId")
    sources = _bounded_list(params, "SourceId")
    status = params.get("Status") or None
    business_status = params.get("BusinessStatus") or None
    name = params.get("Name") or None
    region_id = params.get("RegionId") or None
    job_type = (
        _integer(params, "JobType", 0, 0, None) if params.get("JobType") not in (None, "") else None
    )
    now = state.now()
    matched = [
        job
        for job in _candidate_jobs(state, ids, sources)
        if (name is None or job.name == name)
        and (job_type is None or job.job_type == job_type)
        and (region_id is None or job.region_id is None or job.region_id == region_id)
    ]
    first = (page_number - 1) * page_size
    if status is None and business_status is None:
        # Only the page's jobs need their state worked out.
        total = len(matched)
        page = [job.snapshot(now) for job in matched[first : first + page_size]]
    else:
        snapshots = [
            snapshot
            for snapshot in (job.snapshot(now) for job in matched)
            if (status is None or snapshot.status == status)
            and (business_status is None or snapshot.business_status == business_status)
        ]
        total = len(snapshots)
        page = snapshots[first : first + page_size]
    shown_region = region_id or DEFAULT_REGION_ID
    return {
        "TotalCount": total,
        "PageNumber": page_number,
        "PageSize": page_size,
        "ReplicationJobs": {"ReplicationJob": [_job_body(state, j, shown_region) for j in page]},
    }


def _server_body(state: EmulatorState, server: SourceServer) -> Body:
    jobs = state.jobs_by_source.get(server.source_id)
    return {
        "SourceId": server.source_id,
        "Name": server.name,
        "Description": "",
        "State": server.state,
        "JobId": jobs[-1] if jobs else "",
        "ErrorCode": "",
        "StatusInfo": "",
        "CreationTime": state.timestamp(server.created_at),
    }


def describe_source_servers(state: EmulatorState, params: Params) -> Body:
    page_number, page_size = _paging(params)
    sources = _bounded_list(params, "SourceId")
    state_filter = params.get("State") or None
    job_id = params.get("JobId") or None
    name = params.get("Name") or None
    if sources:
        found = (state.source_servers.get(s) for s in dict.fromkeys(sources))
        servers: Iterable[SourceServer] = [s for s in found if s is not None]
    else:
        servers = state.source_servers.values()
    matched = [
        server
        for server in servers
        if (state_filter is None or server.state == state_filter)
        and (name is None or server.name == name)
        and (job_id is None or job_id in state.jobs_by_source.get(server.source_id, ()))
    ]
    first = (page_number - 1) * page_size
    page = matched[first : first + page_size]
    return {
        "TotalCount": len(matched),
        "PageNumber": page_number,
        "PageSize": page_size,
        "SourceServers": {"SourceServer": [_server_body(state, s) for s in page]},
    }


ACTIONS: Final[Mapping[str, Action]] = {
    wire.START_REPLICATION_JOB: start_replication_job,
    wire.STOP_REPLICATION_JOB: stop_replication_job,
    wire.DESCRIBE_REPLICATION_JOBS: describe_replication_jobs,
    wire.DESCRIBE_SOURCE_SERVERS: describe_source_servers,
}
