"""SMC's actions over the emulator's state: parameters in, answer body out.

No I/O. Each action takes the call's parameters (query string, already decoded; list parameters
arrive flattened as ``JobId.1``, ``JobId.2``, ...) and returns the answer body without
``RequestId`` (the server adds it), or raises :class:`~.rejections.SmcError`.

Documented (SMC's API reference, 2019-06-01): Start only from Ready/Stopped/InError with the
source Available; Stop only while Running; CutOver only an incremental job; RunOnce false needs
Frequency (1-168 hours) and MaxNumberOfImageToKeep (1-10); ClientToken is ASCII, at most 64
characters, and makes CreateReplicationJob idempotent; job names are unique; which statuses let
ModifyReplicationJobAttribute change each field (``wire.MODIFIABLE_IN``); an Expired job is kept
seven days; DescribeReplicationJobs filters by Name, Tag.N, JobId.N, SourceId.N, Status,
BusinessStatus and JobType. The state machine's own rules are in :mod:`.jobs`.

Assumed (our choices where SMC's reference is silent):

- DescribeReplicationJobs lists jobs in the order of the ``JobId.N`` filter when given, else in
  seeding order. ``RegionId`` filters only jobs seeded with a region; jobs seeded without one
  match any region and report the requested one (or ``cn-hangzhou``).
- More than 50 ``JobId.N`` or ``SourceId.N`` values, a PageSize outside 1..50, a PageNumber
  below 1 or a non-integer number: 400 ``InvalidParameter``.
- DescribeSourceServers reports a server's ``JobId`` as its most recently seeded job, and its
  ``Platform`` / ``AgentVersion`` as seeded (default ``CentOS Linux 7`` / ``2.8.5``: assumed).
- CreateReplicationJob: ``ClientToken`` idempotency as Alibaba documents it (the same token with
  the same parameters answers the same JobId and creates nothing; with other parameters
  ``IdempotentParameterMismatch``); tokens are remembered as long as the emulator runs. A
  ``SourceId`` never seeded is 400 ``InvalidParameter``; a source server that is not Available, or
  that holds an unfinished job (``wire.UNFINISHED_STATUSES``), is ``SourceServerState.Invalid``
  (the second naming the state ``InUse``: our assumption). ``RunOnce`` false (an incremental
  job, JobType 1 here) needs ``Frequency`` (1-168) and ``MaxNumberOfImageToKeep`` (1-10). A
  created job is Ready with the default run time; its ``Name`` defaults to its JobId.
- A finished image job reports ``ImageId`` ``m-`` plus its JobId's suffix; a TargetInstance
  job its ``InstanceId`` parameter.
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


def _tags(params: Params) -> dict[str, str]:
    """``Tag.N.Key`` / ``Tag.N.Value`` pairs."""
    keys: dict[int, str] = {}
    values: dict[int, str] = {}
    for key, value in params.items():
        match = _TAG_KEY.match(key)
        if match is not None:
            (keys if match["part"] == "Key" else values)[int(match["index"])] = value
    return {keys[index]: values.get(index, "") for index in sorted(keys)}


def _ranged(params: Params, name: str, low: int, high: int) -> int | None:
    if params.get(name) in (None, ""):
        return None
    return _integer(params, name, low, low, high)


def _fingerprint(params: Params) -> str:
    """The parameters of a create, without its ClientToken: what idempotency compares."""
    return "&".join(
        f"{key}={value}" for key, value in sorted(params.items()) if key != "ClientToken"
    )


def create_replication_job(state: EmulatorState, params: Params) -> Body:
    token = params.get("ClientToken") or None
    if token is not None:
        if len(token) > wire.CLIENT_TOKEN_MAX_LENGTH or not token.isascii():
            raise rejections.invalid_parameter("ClientToken")
        known = state.client_tokens.get(token)
        if known is not None:
            if known[0] != _fingerprint(params):
                raise rejections.idempotent_parameter_mismatch()
            return {"JobId": known[1]}
    source_id = _required(params, "SourceId")
    run_once = params.get("RunOnce", "true").lower() != "false"
    frequency = _ranged(params, "Frequency", 1, 168)
    max_images = _ranged(params, "MaxNumberOfImageToKeep", 1, 10)
    if not run_once:
        if frequency is None:
            raise rejections.missing_parameter("Frequency")
        if max_images is None:
            raise rejections.missing_parameter("MaxNumberOfImageToKeep")
    server = state.source_servers.get(source_id)
    if server is None:
        raise rejections.invalid_parameter("SourceId")
    if server.state != wire.SOURCE_AVAILABLE:
        raise rejections.source_server_state_invalid(server.state)
    now = state.now()
    for other_id in state.jobs_by_source.get(source_id, ()):
        if state.jobs[other_id].snapshot(now).status in wire.UNFINISHED_STATUSES:
            raise rejections.source_server_state_invalid(wire.SOURCE_IN_USE)
    if len(state.jobs) >= state.max_jobs:
        raise rejections.quota_exceeded(state.max_jobs)
    job_id = state.new_job_id()
    name = params.get("Name") or job_id
    if any(job.name == name for job in state.jobs.values()):
        raise rejections.name_duplicate(name)
    job = state.seed_job(
        job_id,
        source_id,
        job_type=wire.JOB_TYPE_FULL if run_once else wire.JOB_TYPE_INCREMENTAL,
        name=name,
        region_id=params.get("RegionId") or None,
    )
    job.description = params.get("Description", "")
    job.tags = _tags(params)
    job.frequency, job.max_images = frequency, max_images
    job.cycle_seconds = frequency * state.hour_seconds if frequency is not None else None
    job.valid_time = params.get("ValidTime", "")
    job.attributes = {
        key: value for key, value in params.items() if key in _KEPT_ATTRIBUTES and value != ""
    }
    if token is not None:
        state.client_tokens[token] = (_fingerprint(params), job_id)
    return {"JobId": job_id}


#: Create and Modify parameters the emulator keeps and reports back.
_KEPT_ATTRIBUTES: Final = frozenset(
    {
        "TargetType",
        "ImageName",
        "InstanceId",
        "InstanceType",
        "SystemDiskSize",
        "NetMode",
        "VpcId",
        "VSwitchId",
    }
)
_TAG_KEY: Final = re.compile(r"^Tag\.(?P<index>[1-9][0-9]*)\.(?P<part>Key|Value)$")


def delete_replication_job(state: EmulatorState, params: Params) -> Body:
    _job(state, params).delete(state.now())
    return {}


def cut_over_replication_job(state: EmulatorState, params: Params) -> Body:
    sync_data = params.get("SyncData", "false").lower() == "true"
    _job(state, params).cut_over(state.now(), sync_data=sync_data)
    return {}


_MODIFIABLE: Final = (
    "Name",
    "Description",
    "Frequency",
    "MaxNumberOfImageToKeep",
    "ValidTime",
    *sorted(_KEPT_ATTRIBUTES),
)


def modify_replication_job_attribute(state: EmulatorState, params: Params) -> Body:
    job = _job(state, params)
    changes = {name: params[name] for name in _MODIFIABLE if params.get(name, "") != ""}
    frequency = _ranged(params, "Frequency", 1, 168)
    max_images = _ranged(params, "MaxNumberOfImageToKeep", 1, 10)
    job.check_modifiable(state.now(), changes)
    name = changes.get("Name")
    if name is not None and any(o.name == name for o in state.jobs.values() if o is not job):
        raise rejections.name_duplicate(name)
    job.name = changes.get("Name", job.name)
    job.description = changes.get("Description", job.description)
    job.valid_time = changes.get("ValidTime", job.valid_time)
    if frequency is not None:
        job.frequency = frequency
        job.cycle_seconds = frequency * state.hour_seconds
    if max_images is not None:
        job.max_images = max_images
    job.attributes.update({k: v for k, v in changes.items() if k in _KEPT_ATTRIBUTES})
    return {}


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
        "Description": job.description,
        "Tags": {"Tag": [{"Key": key, "Value": value} for key, value in job.tags]},
        "ValidTime": job.valid_time,
        **dict(job.attributes),
    }
    if job.frequency is not None:
        body["Frequency"] = job.frequency
    if job.max_images is not None:
        body["MaxNumberOfImageToKeep"] = job.max_images
    attributes = dict(job.attributes)
    if attributes.get("TargetType", "Image") == "Image" and (
        job.status == wire.JOB_FINISHED or job.cycles > 0
    ):
        body["ImageId"] = "m-" + job.job_id.removeprefix("j-")
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
    tags = _tags(params)
    region_id = params.get("RegionId") or None
    job_type = (
        _integer(params, "JobType", 0, 0, None) if params.get("JobType") not in (None, "") else None
    )
    now = state.now()
    matched = [
        job
        for job in _candidate_jobs(state, ids, sources)
        if (name is None or job.name == name)
        and all(job.tags.get(key) == value for key, value in tags.items())
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
        "Platform": server.platform,
        "AgentVersion": server.agent_version,
        "ErrorCode": server.error_code,
        "StatusInfo": server.status_info,
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


def _after_forgetting_gone_jobs(action: Action) -> Action:
    """Every action first lets SMC forget jobs whose deletion has finished."""

    def run(state: EmulatorState, params: Params) -> Body:
        state.forget_gone_jobs()
        return action(state, params)

    return run


ACTIONS: Final[Mapping[str, Action]] = {
    name: _after_forgetting_gone_jobs(action)
    for name, action in {
        wire.CREATE_REPLICATION_JOB: create_replication_job,
        wire.START_REPLICATION_JOB: start_replication_job,
        wire.STOP_REPLICATION_JOB: stop_replication_job,
        wire.DELETE_REPLICATION_JOB: delete_replication_job,
        wire.CUT_OVER_REPLICATION_JOB: cut_over_replication_job,
        wire.MODIFY_REPLICATION_JOB_ATTRIBUTE: modify_replication_job_attribute,
        wire.DESCRIBE_REPLICATION_JOBS: describe_replication_jobs,
        wire.DESCRIBE_SOURCE_SERVERS: describe_source_servers,
    }.items()
}
