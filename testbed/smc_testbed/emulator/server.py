"""The aiohttp application: SMC's RPC endpoint, its error bodies, and fault injection.

SMC's endpoint is ``POST /`` (``GET /`` too): parameters in the query string (and, if sent, a
form-encoded body), the action and version in the ``x-acs-action`` / ``x-acs-version`` headers.
Each call is checked in this order: action present and known (400 ``MissingParameter`` / 404
``InvalidAction.NotFound``), version (400 ``InvalidVersion``), signature and credentials
(:mod:`.signing`); then an injected fault may hit it (:mod:`.faults`); then the action runs
(:mod:`.actions`).

Answers: success ``{"RequestId": ..., ...}``; errors ``{"RequestId", "HostId", "Code",
"Message", "Recommend"}`` with SMC's HTTP status. Every answer carries ``x-acs-request-id``.
Nothing a caller sends as a credential (secret, signature, security token) is ever logged or
echoed back.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qsl

from aiohttp import web

from smc_operator import wire
from smc_testbed.emulator import actions, control, signing
from smc_testbed.emulator.calls import Call
from smc_testbed.emulator.faults import Effect, Fault, default_message, default_status
from smc_testbed.emulator.rejections import SmcError, missing_parameter
from smc_testbed.emulator.state import EmulatorState

logger = logging.getLogger(__name__)

#: ``HostId`` in error bodies: the host SMC's answers name.
HOST_ID: Final = "smc.aliyuncs.com"
#: Size of the padding a ``"body": "huge"`` fault adds to an answer.
HUGE_BODY_BYTES: Final = 4 * 1024 * 1024
HTML_PAGE: Final = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>Tengine</center></body></html>\n"
)
_JSON: Final = "application/json"
_FORM: Final = "application/x-www-form-urlencoded"


@dataclass(slots=True)
class Gateway:
    """What the endpoint needs besides the state: credentials, a way to abort delays, and a
    signal for waiters whenever a call arrives or its answer is decided."""

    access_keys: dict[str, str]
    sts_tokens: dict[str, str]
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    #: The client ends (address, port) calls came from: how many connections clients opened.
    peers: set[tuple[str, int]] = field(default_factory=set)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._changed.wait()


STATE_KEY: Final = web.AppKey("state", EmulatorState)
GATEWAY_KEY: Final = web.AppKey("gateway", Gateway)


@dataclass(slots=True)
class Answer:
    status: int
    body: dict[str, object]
    code: str | None = None


def error_answer(error: SmcError, request_id: str) -> Answer:
    body: dict[str, object] = {
        "RequestId": request_id,
        "HostId": HOST_ID,
        "Code": error.code,
        "Message": error.message,
        "Recommend": (
            f"https://api.aliyun.com/troubleshoot?q={error.code}&product=Smc&requestId={request_id}"
        ),
    }
    return Answer(error.http_status, body, error.code)


def _header(headers: Mapping[str, list[str]], name: str) -> str:
    values = headers.get(name)
    return values[0].strip() if values else ""


def _check_action(action: str, headers: Mapping[str, list[str]], params: Mapping[str, str]) -> None:
    if not action:
        raise missing_parameter("Action")
    if action not in actions.ACTIONS:
        raise SmcError(404, wire.INVALID_ACTION_NOT_FOUND, wire.INVALID_ACTION_NOT_FOUND_MESSAGE)
    version = _header(headers, "x-acs-version") or params.get("Version", "")
    if not version:
        raise missing_parameter("Version")
    if version != wire.API_VERSION:
        raise SmcError(400, wire.INVALID_VERSION, wire.INVALID_VERSION_MESSAGE)


def perform(state: EmulatorState, action: str, params: Mapping[str, str], call: Call) -> Answer:
    """Run the action for real (its state change happens here)."""
    try:
        body = actions.ACTIONS[action](state, params)
    except SmcError as error:
        return error_answer(error, call.request_id)
    return Answer(200, {"RequestId": call.request_id, **body})


def fault_answer(
    state: EmulatorState, fault: Fault, params: Mapping[str, str], call: Call
) -> Answer:
    """The error a fault injects (``fault.code`` is set)."""
    code = fault.code or wire.INTERNAL_ERROR
    message = fault.message
    if message is None:
        message = default_message(code)
        job = state.jobs.get(params.get("JobId", ""))
        if code == wire.INVALID_STATUS:
            current = job.snapshot(state.now()).status if job is not None else wire.JOB_RUNNING
            message = wire.INVALID_STATUS_MESSAGE % (current, ", ".join(wire.STARTABLE_STATUSES))
        elif code == wire.SOURCE_SERVER_STATE_INVALID:
            message = wire.SOURCE_SERVER_STATE_INVALID_MESSAGE % (
                wire.SOURCE_UNAVAILABLE,
                wire.SOURCE_AVAILABLE,
            )
    status = fault.http_status or default_status(code)
    return error_answer(SmcError(status, code, message), call.request_id)


def render(
    answer: Answer, request_id: str, body_kind: str | None, retry_after: int | None
) -> web.Response:
    headers = {wire.REQUEST_ID_HEADER: request_id}
    if retry_after is not None:
        headers[wire.RETRY_AFTER_HEADER] = str(retry_after)
    if body_kind == "html":
        return web.Response(
            status=answer.status, text=HTML_PAGE, content_type="text/html", headers=headers
        )
    if body_kind == "empty":
        return web.Response(status=answer.status, body=b"", content_type=_JSON, headers=headers)
    document = dict(answer.body)
    if body_kind == "no-request-id":
        document.pop("RequestId", None)
        del headers[wire.REQUEST_ID_HEADER]
    elif body_kind == "huge":
        document["Padding"] = "x" * HUGE_BODY_BYTES
    text = json.dumps(document, separators=(",", ":"))
    if body_kind == "malformed":
        text = text[: len(text) // 2]
    return web.Response(
        status=answer.status, text=text, content_type=_JSON, charset="utf-8", headers=headers
    )


def _record(gateway: Gateway, call: Call, answer: Answer | None, fault: Fault | None) -> None:
    call.fault_id = fault.fault_id if fault is not None else None
    if answer is None:
        call.dropped = True
    else:
        call.http_status = answer.status
        call.code = answer.code
    gateway.notify()


def _drop(request: web.Request) -> web.Response:
    """Close the connection without an answer (the returned response is never written)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=499)


async def _delay(gateway: Gateway, seconds: float) -> bool:
    """Wait ``seconds``; False when the emulator began stopping meanwhile."""
    if seconds <= 0:
        return True
    try:
        async with asyncio.timeout(seconds):
            await gateway.stopping.wait()
    except TimeoutError:
        return True
    return False


def _decide(
    state: EmulatorState,
    fault: Fault,
    action: str,
    params: Mapping[str, str],
    call: Call,
) -> Answer | None:
    """The answer to a faulted call, performing the action if the fault lets it happen."""
    performed = perform(state, action, params, call) if fault.effect is not Effect.NEVER else None
    if fault.drop:
        return None
    if fault.code is not None:
        return fault_answer(state, fault, params, call)
    answer = performed or Answer(200, {"RequestId": call.request_id})
    if fault.http_status is not None:
        answer.status = fault.http_status
    return answer


async def _faulted(
    request: web.Request,
    state: EmulatorState,
    gateway: Gateway,
    fault: Fault,
    action: str,
    params: Mapping[str, str],
    call: Call,
) -> web.StreamResponse:
    if fault.effect is Effect.AFTER_DELAY:
        if not await _delay(gateway, fault.latency_seconds):
            _record(gateway, call, None, fault)  # stopping: the delayed call never happens
            return _drop(request)
        answer = _decide(state, fault, action, params, call)
        _record(gateway, call, answer, fault)
    else:
        answer = _decide(state, fault, action, params, call)
        _record(gateway, call, answer, fault)
        if not await _delay(gateway, fault.latency_seconds):
            call.dropped = True
            gateway.notify()
            return _drop(request)
    if answer is None:
        return _drop(request)
    return render(answer, call.request_id, fault.body, fault.retry_after)


def _lowercased(request: web.Request) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    return headers


async def handle_rpc(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    gateway = request.app[GATEWAY_KEY]
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peer, tuple):
        gateway.peers.add((str(peer[0]), int(peer[1])))
    raw = await request.read()
    query = dict(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
    params = dict(query)
    if raw and request.content_type == _FORM:
        params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    headers = _lowercased(request)
    action = _header(headers, "x-acs-action") or params.get("Action", "")
    job_ids = actions.job_ids(params)
    call = state.calls.append(
        action=action,
        params=params,
        job_ids=job_ids,
        access_key_id=signing.claimed_access_key_id(headers),
        request_id=state.new_request_id(),
        time=state.now(),
    )
    gateway.notify()
    try:
        _check_action(action, headers, params)
        signed = signing.SignedRequest(
            request.method, request.rel_url.raw_path, query, headers, raw
        )
        signing.verify(signed, gateway.access_keys, gateway.sts_tokens)
    except SmcError as error:
        answer = error_answer(error, call.request_id)
        _record(gateway, call, answer, None)
        logger.debug("%s refused: %s", action or "(no action)", error.code)
        return render(answer, call.request_id, None, None)
    fault = state.faults.fire(action, job_ids)
    if fault is not None:
        return await _faulted(request, state, gateway, fault, action, params, call)
    answer = perform(state, action, params, call)
    _record(gateway, call, answer, None)
    return render(answer, call.request_id, None, None)


async def handle_unknown_path(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    error = SmcError(404, wire.INVALID_ACTION_NOT_FOUND, wire.INVALID_ACTION_NOT_FOUND_MESSAGE)
    request_id = state.new_request_id()
    return render(error_answer(error, request_id), request_id, None, None)


def build_app(state: EmulatorState, gateway: Gateway) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state
    app[GATEWAY_KEY] = gateway
    app.router.add_post("/", handle_rpc)
    app.router.add_get("/", handle_rpc)
    control.add_routes(app.router, state)
    app.router.add_route("*", "/{path:.*}", handle_unknown_path)
    return app
