"""One HTTP transport for every SMC call: the only module that knows darabonba's internals.

darabonba-core 1.0.9 performs each request in ``DaraCore.async_do_action``, which on *every* call
builds an SSL context (the system store, then certifi's bundle: ~70 ms of synchronous CPU, the
event loop blocked meanwhile), a new connector and a new session (a new TCP connection and TLS
handshake, an empty DNS cache). None of it is configurable.

:func:`install` replaces that one function with a dispatcher. A call made inside
:meth:`Transport.bound` (the :class:`~smc_operator.smc.SmcClient` binds its transport around
each SMC call) is sent through the transport's pooled session; any other caller in the process
gets the SDK's own function. The request arrives already signed and serialised by the SDK, and
the answer leaves as the same ``DaraResponse`` (I/O errors as the same ``RetryError``), so the
SDK's signing, serialisation and error mapping are untouched.

The transport keeps, per event loop, one ``aiohttp.ClientSession`` with keep-alive and a DNS
cache, and builds each SSL context once per (CA, TLS settings): the system store (which honours
``SSL_CERT_FILE``), certifi's bundle as the SDK does, and the operator's extra CA file
(``SMC_OPERATOR_CA_FILE``). The whole call, waiting for a pooled connection included, is bounded
by the request timeout. A pooled connection the server has closed fails the call as "no answer"
(aiohttp never resends a POST), which the operator treats as ambiguous: it describes the job
before any repeated start.

If the function is not the one this was written against (:data:`EXPECTED_SOURCE_SHA256`), the
hook is not installed: one WARNING, and every call takes the SDK's own path.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import inspect
import logging
import os
import ssl
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import aiohttp
import certifi
from darabonba.core import DaraCore
from darabonba.exceptions import RetryError
from darabonba.response import DaraResponse
from darabonba.utils.stream import BaseStream

logger = logging.getLogger(__name__)

#: sha256 of ``inspect.getsource(DaraCore.async_do_action)`` in darabonba-core 1.0.9: the
#: function this module replaces. An SDK upgrade that changes it disables the hook (and fails
#: ``tests/unit/test_transport.py``) until this module has been re-read against the new code.
EXPECTED_SOURCE_SHA256: Final = "0de52d0f651dbf7fa64869fb5a2e36833992868fa1683e9713ec488ded0fdf51"
#: Connections kept to SMC per event loop (all to one host); callers beyond it wait, within
#: their request timeout. 32 carry ~300 calls/s at SMC's ~100 ms per call, more than one
#: process's CPU starts; each TLS connection costs memory (~20 MB more at 100 than at 32 in
#: the bench's 1,000-object burst).
CONNECTION_LIMIT: Final = 32
#: How long an idle pooled connection is kept (servers close theirs after about a minute).
KEEPALIVE_SECONDS: Final = 30.0
#: How long a resolved address of the endpoint is reused.
DNS_CACHE_SECONDS: Final = 300

# The SDK's own function, as imported (a staticmethod's function).
_sdk_async_do_action: Final = DaraCore.__dict__["async_do_action"].__func__
# The transport of the SMC call being awaited, if any (set by Transport.bound).
_current: contextvars.ContextVar[Transport | None] = contextvars.ContextVar(
    "smc_operator_transport", default=None
)


def source_sha256() -> str:
    """sha256 of the source of the SDK function :func:`install` replaces."""
    return hashlib.sha256(inspect.getsource(_sdk_async_do_action).encode()).hexdigest()


def install() -> bool:
    """Route calls bound to a :class:`Transport` through it; False (one WARNING) when the SDK's
    function is not the one this module was written against. Idempotent."""
    global _installed
    if _installed is not None:
        return _installed
    actual = source_sha256()
    _installed = actual == EXPECTED_SOURCE_SHA256
    if _installed:
        DaraCore.async_do_action = staticmethod(_dispatch)
    else:
        logger.warning(
            "darabonba-core's DaraCore.async_do_action is not the one smc-operator's transport "
            "was written against (source sha256 %s, expected %s): SMC calls use the SDK's own "
            "transport (a new TLS connection per call, much slower over HTTPS)",
            actual,
            EXPECTED_SOURCE_SHA256,
        )
    return _installed


_installed: bool | None = None


async def _dispatch(request: Any, runtime_option: Any = None) -> Any:
    transport = _current.get()
    if transport is None:
        return await _sdk_async_do_action(request, runtime_option)
    return await transport.perform(request, runtime_option or {})


class Transport:
    """Pooled HTTP(S) for SDK calls made inside :meth:`bound`; close with :meth:`close`."""

    def __init__(
        self,
        *,
        request_timeout_seconds: float,
        ca_file: Path | None = None,
        connection_limit: int = CONNECTION_LIMIT,
        pooled: bool = True,
    ) -> None:
        """``pooled=False`` leaves every call to the SDK's own path (to measure it)."""
        self._timeout = request_timeout_seconds
        self._ca_file = ca_file
        self._limit = connection_limit
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._contexts: dict[tuple[object, ...], ssl.SSLContext] = {}
        self.enabled = pooled and install()

    @contextlib.contextmanager
    def bound(self) -> Iterator[None]:
        """SDK calls awaited inside go through this transport (when the hook is installed)."""
        token = _current.set(self if self.enabled else None)
        try:
            yield
        finally:
            _current.reset(token)

    async def close(self) -> None:
        """Close this event loop's session and its connections. Safe to call twice."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()

    def prepare(self) -> None:
        """Build the SSL context of the operator's calls now: loading the CA bundles blocks for
        ~0.1 s, which the first call would otherwise spend inside a burst, on the event loop."""
        if self.enabled:
            self.ssl_context({})

    def ssl_context(self, runtime_option: Mapping[str, Any]) -> ssl.SSLContext:
        """The SSL context for these runtime options, built once (as the SDK builds it, plus
        the extra CA file)."""
        tls_min = runtime_option.get("tlsMinVersion")
        tls_min = getattr(tls_min, "value", tls_min)
        ca = runtime_option.get("ca")
        cert = runtime_option.get("cert")
        cert_key = tuple(cert) if isinstance(cert, list | tuple) else cert
        key = (ca, tls_min, cert_key)
        context = self._contexts.get(key)
        if context is None:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
            context = DaraCore._set_tls_minimum_version(context, tls_min)
            context.load_verify_locations(ca if ca is not None else certifi.where())
            if self._ca_file is not None:
                context.load_verify_locations(str(self._ca_file))
            if isinstance(cert, list | tuple):
                context.load_cert_chain(
                    certfile=cert[0], keyfile=cert[1] if len(cert) > 1 else None
                )
            elif cert is not None:
                context.load_cert_chain(certfile=cert, keyfile=None)
            self._contexts[key] = context
        return context

    async def perform(self, request: Any, runtime_option: Mapping[str, Any]) -> Any:
        """What ``DaraCore.async_do_action`` does, over the pooled session."""
        url = DaraCore.compose_url(request)
        protocol = str(request.protocol).upper()
        ssl_param: bool | ssl.SSLContext = False
        if protocol == "HTTPS" and not runtime_option.get("ignoreSSL", False):
            ssl_param = self.ssl_context(runtime_option)
        proxy = _proxy(protocol, runtime_option)
        connect = runtime_option.get("connectTimeout") or runtime_option.get("timeout")
        read = runtime_option.get("readTimeout") or runtime_option.get("timeout")
        timeout = aiohttp.ClientTimeout(
            total=self._timeout,  # waiting for a pooled connection counts
            sock_connect=int(connect) / 1000 if connect else self._timeout,
            sock_read=int(read) / 1000 if read else self._timeout,
        )
        body: bytes
        if isinstance(request.body, BaseStream):
            body = b"".join(request.body)
        elif isinstance(request.body, str):
            body = request.body.encode("utf-8")
        else:
            body = request.body or b""
        try:
            async with self._session().request(
                request.method,
                url,
                data=body,
                headers=request.headers,
                ssl=ssl_param,
                proxy=proxy,
                timeout=timeout,
            ) as response:
                answer = DaraResponse()
                answer.body = await response.read()
                answer.headers = {k.lower(): v for k, v in response.headers.items()}
                answer.status_code = response.status
                answer.status_message = response.reason
                answer.response = response
        except OSError as exc:  # as the SDK: timeouts and socket errors are a RetryError
            # The whole-call timeout has no text of its own: say what it was.
            text = str(exc) or f"{type(exc).__name__}: no answer within {self._timeout:g} s"
            raise RetryError(text) from exc
        return answer

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                limit_per_host=self._limit,
                ttl_dns_cache=DNS_CACHE_SECONDS,
                keepalive_timeout=KEEPALIVE_SECONDS,
            )
            # No cookies kept: the SDK's one-call sessions never carried any from call to call.
            session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar()
            )
            self._sessions[loop] = session
        return session


def _proxy(protocol: str, runtime_option: Mapping[str, Any]) -> str | None:
    """The proxy the SDK would use: the runtime option, else the environment."""
    if protocol == "HTTP":
        proxy = runtime_option.get("httpProxy")
        return proxy or os.environ.get("HTTP_PROXY") or os.environ.get("http_proxy")
    if protocol == "HTTPS":
        proxy = runtime_option.get("httpsProxy")
        return proxy or os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    return None
