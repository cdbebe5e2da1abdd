"""The control API under ``/_emulator/``: JSON, unsigned, for tests, the demo and the benchmark.

=======  ==============================  ====================================================
POST     /_emulator/source-servers       ``{"sourceId", "state"?, "name"?, "platform"?,
                                         "agentVersion"?, "errorCode"?, "statusInfo"?}`` (or
                                         a list of them); state defaults to Available;
                                         seeding an existing server sets its state (and the
                                         other fields given)
GET      /_emulator/source-servers       all source servers
POST     /_emulator/jobs                 ``{"jobId", "sourceId"?, "status"?, "jobType"?,
                                         "runSeconds"?, "name"?, "regionId"?, "errorCode"?,
                                         "statusInfo"?}`` (or a list); status defaults to
                                         Ready; re-seeding a job replaces it (counters reset)
GET      /_emulator/jobs                 all jobs, in seeding order
GET      /_emulator/jobs/{jobId}         one job, with its counters (``startCount``, ...)
POST     /_emulator/faults               a fault (see :mod:`.faults`); answers it with its
                                         ``faultId``
GET      /_emulator/faults               the active faults
DELETE   /_emulator/faults               clear all faults: ``{"cleared": n}``
DELETE   /_emulator/faults/{faultId}     remove one fault
GET      /_emulator/calls                every SMC call, oldest first; ``?action=``,
                                         ``?jobId=``, ``?since=<index>`` narrow it
POST     /_emulator/reset                forget jobs, servers, faults and calls
=======  ==============================  ====================================================

A job is ``{"jobId", "sourceId", "name", "regionId", "status", "businessStatus", "progress",
"errorCode", "statusInfo", "jobType", "runSeconds", "startCount", "stopCount", "cutOverCount",
"cycles", "creationTime", "startTime", "endTime"}`` (the counters: accepted Start, Stop and
CutOver calls, and the runs of an incremental job that ended in Waiting); a call is ``{"index",
"action", "params", "accessKeyId", "httpStatus", "code", "requestId", "time", "faultId",
"dropped"}`` where ``time`` is the emulator's clock (seconds) and ``httpStatus`` is null while the
answer is undecided or when the connection was dropped. Bad requests answer 400 ``{"error":
"..."}``; unknown jobs 404.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiohttp import web

from smc_operator import wire
from smc_testbed.emulator import fields
from smc_testbed.emulator.fields import DocumentError
from smc_testbed.emulator.state import EmulatorState

PREFIX: Final = "/_emulator"
_JOB_FIELDS: Final = frozenset(
    {
        "jobId",
        "sourceId",
        "status",
        "jobType",
        "runSeconds",
        "name",
        "regionId",
        "errorCode",
        "statusInfo",
    }
)
_SOURCE_FIELDS: Final = frozenset(
    {"sourceId", "state", "name", "platform", "agentVersion", "errorCode", "statusInfo"}
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(data), content_type="application/json", charset="utf-8"
    )


def _problem(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


async def _each(
    request: web.Request, seed: Callable[[Mapping[str, object]], dict[str, object]]
) -> web.Response:
    """Apply ``seed`` to the body's object, or to each object of a list (answering a list)."""
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError:
        raise DocumentError("the body is not JSON") from None
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in items):
        raise DocumentError("the body must be a JSON object or a list of objects")
    results = [seed(item) for item in items]
    return _json(results if isinstance(data, list) else results[0])


def _guarded(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except DocumentError as error:
            return _problem(str(error))

    return guarded


class ControlApi:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _seed_job(self, doc: Mapping[str, object]) -> dict[str, object]:
        fields.check_known(doc, _JOB_FIELDS)
        job_id = fields.text(doc, "jobId")
        if not job_id:
            raise DocumentError("'jobId' is required")
        job = self.state.seed_job(
            job_id,
            fields.text(doc, "sourceId"),
            fields.text(doc, "status") or wire.JOB_READY,
            job_type=fields.integer(doc, "jobType") or 0,
            run_seconds=fields.number(doc, "runSeconds"),
            name=fields.text(doc, "name"),
            region_id=fields.text(doc, "regionId"),
            error_code=fields.text(doc, "errorCode") or "",
            status_info=fields.text(doc, "statusInfo") or "",
        )
        return self.state.job_document(job.snapshot(self.state.now()))

    def _seed_source(self, doc: Mapping[str, object]) -> dict[str, object]:
        fields.check_known(doc, _SOURCE_FIELDS)
        source_id = fields.text(doc, "sourceId")
        if not source_id:
            raise DocumentError("'sourceId' is required")
        server = self.state.seed_source_server(
            source_id,
            fields.text(doc, "state") or wire.SOURCE_AVAILABLE,
            name=fields.text(doc, "name"),
            platform=fields.text(doc, "platform"),
            agent_version=fields.text(doc, "agentVersion"),
            error_code=fields.text(doc, "errorCode"),
            status_info=fields.text(doc, "statusInfo"),
        )
        return self.state.source_server_document(server)

    async def post_jobs(self, request: web.Request) -> web.StreamResponse:
        return await _each(request, self._seed_job)

    async def post_source_servers(self, request: web.Request) -> web.StreamResponse:
        return await _each(request, self._seed_source)

    async def get_jobs(self, request: web.Request) -> web.StreamResponse:
        now = self.state.now()
        return _json([self.state.job_document(j.snapshot(now)) for j in self.state.jobs.values()])

    async def get_job(self, request: web.Request) -> web.StreamResponse:
        job_id = request.match_info["job_id"]
        snapshot = self.state.job(job_id)
        if snapshot is None:
            return _problem(f"no job {job_id!r} was seeded", 404)
        return _json(self.state.job_document(snapshot))

    async def get_source_servers(self, request: web.Request) -> web.StreamResponse:
        servers = self.state.source_servers.values()
        return _json([self.state.source_server_document(s) for s in servers])

    async def post_faults(self, request: web.Request) -> web.StreamResponse:
        return await _each(request, lambda doc: self.state.add_fault_document(doc).to_document())

    async def get_faults(self, request: web.Request) -> web.StreamResponse:
        return _json([fault.to_document() for fault in self.state.faults.active])

    async def delete_faults(self, request: web.Request) -> web.StreamResponse:
        return _json({"cleared": self.state.clear_faults()})

    async def delete_fault(self, request: web.Request) -> web.StreamResponse:
        raw = request.match_info["fault_id"]
        if not raw.isdigit() or not self.state.faults.remove(int(raw)):
            return _problem(f"no active fault {raw!r}", 404)
        return _json({"cleared": 1})

    async def get_calls(self, request: web.Request) -> web.StreamResponse:
        since_raw = request.query.get("since", "0")
        if not since_raw.isdigit():
            raise DocumentError("'since' must be a call index (0, 1, ...)")
        calls = self.state.calls.select(
            action=request.query.get("action") or None,
            job_id=request.query.get("jobId") or None,
            since=int(since_raw),
        )
        return _json([call.to_document() for call in calls])

    async def post_reset(self, request: web.Request) -> web.StreamResponse:
        self.state.reset()
        return _json({"reset": True})


def add_routes(router: web.UrlDispatcher, state: EmulatorState) -> None:
    api = ControlApi(state)
    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/source-servers", api.post_source_servers),
        ("GET", "/source-servers", api.get_source_servers),
        ("POST", "/jobs", api.post_jobs),
        ("GET", "/jobs", api.get_jobs),
        ("GET", "/jobs/{job_id}", api.get_job),
        ("POST", "/faults", api.post_faults),
        ("GET", "/faults", api.get_faults),
        ("DELETE", "/faults", api.delete_faults),
        ("DELETE", "/faults/{fault_id}", api.delete_fault),
        ("GET", "/calls", api.get_calls),
        ("POST", "/reset", api.post_reset),
    ]
    for method, path, handler in routes:
        router.add_route(method, PREFIX + path, _guarded(handler))
