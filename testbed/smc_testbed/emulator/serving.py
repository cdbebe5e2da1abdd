"""Running the emulator: in-process (:class:`SmcEmulator`), as a task (:func:`serve`), or as a
process (:func:`main_args`, behind ``smc-operator emulator`` and ``python -m
smc_testbed.emulator``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import string
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, TextIO

from aiohttp import web

from smc_operator import wire
from smc_testbed.emulator.calls import Call
from smc_testbed.emulator.server import Gateway, build_app
from smc_testbed.emulator.state import (
    DEFAULT_DELETE_SECONDS,
    DEFAULT_HOUR_SECONDS,
    DEFAULT_RUN_SECONDS,
    Clock,
    EmulatorState,
)
from smc_testbed.emulator.tls import TlsFiles, generate, server_context

#: How long stopping waits for answers still being written (delayed ones are cut short).
SHUTDOWN_SECONDS: Final = 1.0
#: How long an idle kept-alive connection stays open before the emulator closes it (aiohttp's
#: default, about what SMC's front ends do).
KEEPALIVE_SECONDS: Final = 75.0
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 9090
ENV_ACCESS_KEY_ID: Final = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET: Final = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN: Final = "ALIBABA_CLOUD_SECURITY_TOKEN"


@dataclass(frozen=True)
class TimeScale:
    """How fast the emulated SMC moves, and its job quota (the command line's flags)."""

    run_seconds: float = DEFAULT_RUN_SECONDS
    hour_seconds: float = DEFAULT_HOUR_SECONDS
    delete_seconds: float = DEFAULT_DELETE_SECONDS
    max_jobs: int = wire.MAX_JOBS_PER_ACCOUNT

    def state(self) -> EmulatorState:
        return EmulatorState(
            default_run_seconds=self.run_seconds,
            hour_seconds=self.hour_seconds,
            delete_seconds=self.delete_seconds,
            max_jobs=self.max_jobs,
        )


class SmcEmulator:
    """An SMC emulator on a local port.

    ``access_keys`` maps AccessKeyId to secret; ``sts_tokens`` maps an AccessKeyId (whose secret
    is in ``access_keys``) to the security token its callers must send. Both are live: change
    them while the emulator runs. ``clock`` is a monotonic clock in seconds (inject a fake one
    to move jobs along without sleeping); ``default_run_seconds`` is how long a started job runs
    unless seeded otherwise. With ``tls`` it serves HTTPS (:mod:`.tls` makes the files);
    ``keepalive_seconds`` is how long it keeps an idle connection open.
    """

    def __init__(
        self,
        *,
        access_keys: Mapping[str, str] | None = None,
        sts_tokens: Mapping[str, str] | None = None,
        clock: Clock = time.monotonic,
        default_run_seconds: float = DEFAULT_RUN_SECONDS,
        state: EmulatorState | None = None,
        tls: TlsFiles | None = None,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.state = state or EmulatorState(clock=clock, default_run_seconds=default_run_seconds)
        self.tls = tls
        self._keepalive = keepalive_seconds
        self.access_keys: dict[str, str] = dict(access_keys or {})
        self.sts_tokens: dict[str, str] = dict(sts_tokens or {})
        self._gateway: Gateway | None = None
        self._runner: web.AppRunner | None = None
        self._host = DEFAULT_HOST
        self._port: int | None = None

    async def start(self, host: str = DEFAULT_HOST, port: int = 0) -> None:
        """Listen on ``host:port`` (port 0: a free port; read it from :attr:`port`)."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        # The Gateway shares the dicts, so later changes to the credentials take effect.
        self._gateway = Gateway(self.access_keys, self.sts_tokens)
        runner = web.AppRunner(
            build_app(self.state, self._gateway),
            access_log=None,
            shutdown_timeout=SHUTDOWN_SECONDS,
            keepalive_timeout=self._keepalive,
        )
        await runner.setup()
        try:
            context = server_context(self.tls) if self.tls is not None else None
            site = web.TCPSite(runner, host, port, ssl_context=context)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._host = host
        address = runner.addresses[0]
        self._port = int(address[1])

    async def stop(self) -> None:
        """Stop listening; calls held by a latency fault are dropped. Safe to call twice."""
        runner, self._runner = self._runner, None
        if self._gateway is not None:
            self._gateway.stopping.set()
        if runner is not None:
            await runner.cleanup()
        self._port = None

    async def wait_for_calls(
        self,
        count: int = 1,
        *,
        action: str | None = None,
        job_id: str | None = None,
        decided: bool = False,
    ) -> list[Call]:
        """Wait until at least ``count`` matching calls arrived (with ``decided``: were answered
        or dropped); the matching calls. Bound it with ``asyncio.timeout`` in tests."""

        def matching() -> list[Call]:
            calls = self.state.calls.select(action=action, job_id=job_id)
            if decided:
                calls = [c for c in calls if c.http_status is not None or c.dropped]
            return calls

        if self._gateway is None:
            raise RuntimeError("the emulator is not running")
        await self._gateway.wait_until(lambda: len(matching()) >= count)
        return matching()

    async def __aenter__(self) -> SmcEmulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def endpoint(self) -> str:
        """``host:port``, as the SDK's ``Config(endpoint=..., protocol='http')`` wants it."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self.port}"

    @property
    def protocol(self) -> str:
        """``https`` when serving TLS, else ``http`` (the SDK's ``Config(protocol=...)``)."""
        return "https" if self.tls is not None else "http"

    @property
    def url(self) -> str:
        """``http(s)://host:port``, as the operator's ``SMC_OPERATOR_ENDPOINT`` wants it."""
        return f"{self.protocol}://{self.endpoint}"

    @property
    def ca_file(self) -> Path | None:
        """The CA clients should trust (``SMC_OPERATOR_CA_FILE``), when serving HTTPS."""
        return self.tls.ca if self.tls is not None else None

    @property
    def connections(self) -> int:
        """How many connections clients have made calls on so far."""
        return len(self._gateway.peers) if self._gateway is not None else 0


def demo_key_pair() -> tuple[str, str]:
    """A throwaway AccessKey pair for a local emulator, shaped like Alibaba's."""
    alphabet = string.ascii_letters + string.digits
    key_id = "LTAIdemo" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret = "".join(secrets.choice(alphabet) for _ in range(30))
    return key_id, secret


async def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    access_keys: Mapping[str, str] | None = None,
    *,
    sts_tokens: Mapping[str, str] | None = None,
    default_run_seconds: float = DEFAULT_RUN_SECONDS,
    out: TextIO | None = None,
    tls: TlsFiles | None = None,
    scale: TimeScale | None = None,
) -> None:
    """Run an emulator until cancelled, after printing one line with its URL (and, over HTTPS,
    the CA file to trust).

    Without ``access_keys`` a demo pair is generated and printed with its secret (a throwaway);
    configured secrets are never printed.
    """
    keys = dict(access_keys or {})
    demo: tuple[str, str] | None = None
    if not keys:
        demo = demo_key_pair()
        keys[demo[0]] = demo[1]
    scale = scale or TimeScale(run_seconds=default_run_seconds)
    emulator = SmcEmulator(access_keys=keys, sts_tokens=sts_tokens, state=scale.state(), tls=tls)
    await emulator.start(host, port)
    try:
        line = f"SMC emulator listening on {emulator.url}"
        if emulator.ca_file is not None:
            line += f" (trust {emulator.ca_file}: SMC_OPERATOR_CA_FILE)"
        if demo is not None:
            line += f" (demo AccessKeyId {demo[0]}, AccessKeySecret {demo[1]})"
        print(line, file=out or sys.stdout, flush=True)
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def parse_access_keys(pairs: Sequence[str]) -> dict[str, str]:
    """``ID:SECRET`` strings to a mapping; raises ValueError (without the secret) when malformed."""
    keys: dict[str, str] = {}
    for number, pair in enumerate(pairs, start=1):
        key_id, sep, secret = pair.partition(":")
        if not sep or not key_id or not secret:
            raise ValueError(f"--access-key #{number} is not ID:SECRET")
        keys[key_id] = secret
    return keys


async def _serve_until_signalled(
    host: str,
    port: int,
    access_keys: Mapping[str, str] | None,
    sts_tokens: Mapping[str, str] | None,
    scale: TimeScale,
    tls: TlsFiles | None,
) -> None:
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, signalled.set)
    serving = asyncio.create_task(
        serve(
            host,
            port,
            access_keys,
            sts_tokens=sts_tokens,
            tls=tls,
            scale=scale,
        )
    )
    waiting = asyncio.create_task(signalled.wait())
    await asyncio.wait((serving, waiting), return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if not serving.done():
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    else:
        serving.result()  # re-raise what stopped it (e.g. the port is taken)


def main_args(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    access_keys: Sequence[str] = (),
    *,
    run_seconds: float = DEFAULT_RUN_SECONDS,
    environ: Mapping[str, str] | None = None,
    tls_dir: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    scale: TimeScale | None = None,
) -> int:
    """Run the emulator in this process until SIGINT/SIGTERM; the exit status.

    HTTPS with ``tls_dir`` (a new CA and certificate written there, clients trust
    ``tls_dir/ca.pem``) or with ``tls_cert`` and ``tls_key`` (your own); plain HTTP otherwise.

    ``access_keys`` are ``ID:SECRET`` strings (``--access-key``, repeatable). Without any, the
    pair in ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` is used (with
    ``ALIBABA_CLOUD_SECURITY_TOKEN`` as its STS token if set), else a demo pair is generated and
    printed. Returns 0 when stopped by a signal, 2 for bad arguments, 1 when it cannot listen.
    """
    env = os.environ if environ is None else environ
    try:
        keys = parse_access_keys(access_keys)
    except ValueError as error:
        print(f"smc-operator emulator: {error}", file=sys.stderr)
        return 2
    if (tls_cert is None) != (tls_key is None) or (tls_dir is not None and tls_cert is not None):
        print(
            "smc-operator emulator: give --tls-dir, or both --tls-cert and --tls-key",
            file=sys.stderr,
        )
        return 2
    tls: TlsFiles | None = None
    if tls_dir is not None:
        tls = generate(tls_dir)
    elif tls_cert is not None and tls_key is not None:
        tls = TlsFiles(cert=tls_cert, key=tls_key)
    tokens: dict[str, str] = {}
    if not keys and env.get(ENV_ACCESS_KEY_ID) and env.get(ENV_ACCESS_KEY_SECRET):
        keys[env[ENV_ACCESS_KEY_ID]] = env[ENV_ACCESS_KEY_SECRET]
        if env.get(ENV_SECURITY_TOKEN):
            tokens[env[ENV_ACCESS_KEY_ID]] = env[ENV_SECURITY_TOKEN]
    try:
        timing = scale or TimeScale(run_seconds=run_seconds)
        asyncio.run(_serve_until_signalled(host, port, keys or None, tokens, timing, tls))
    except OSError as error:
        print(f"smc-operator emulator: cannot listen on {host}:{port}: {error}", file=sys.stderr)
        return 1
    return 0


def _positive(kind: type[float] | type[int]) -> Callable[[str], float | int]:
    def parse(text: str) -> float | int:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value

    return parse


def command_line(argv: Sequence[str], *, prog: str) -> int:
    """The emulator's command line (``smc-operator emulator`` and ``python -m ...emulator``)."""
    args = parser(prog).parse_args(list(argv))
    return main_args(
        args.host,
        args.port,
        args.access_key,
        tls_dir=args.tls_dir,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        scale=time_scale(args),
    )


def time_scale(args: argparse.Namespace) -> TimeScale:
    """The :class:`TimeScale` the parsed command line asks for."""
    return TimeScale(
        run_seconds=args.run_seconds,
        hour_seconds=args.hour_seconds,
        delete_seconds=args.delete_seconds,
        max_jobs=args.max_jobs,
    )


def parser(prog: str) -> argparse.ArgumentParser:
    """The emulator's argument parser."""
    parser = argparse.ArgumentParser(prog=prog, description="Run the local SMC emulator.")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    parser.add_argument(
        "--access-key",
        action="append",
        default=[],
        metavar="ID:SECRET",
        help="an accepted AccessKey pair (repeatable); default: the ALIBABA_CLOUD_ACCESS_KEY_* "
        "environment variables, else a printed demo pair",
    )
    parser.add_argument(
        "--run-seconds",
        type=float,
        default=DEFAULT_RUN_SECONDS,
        help="how long a started job stays Running unless seeded otherwise",
    )
    parser.add_argument(
        "--tls-dir",
        type=Path,
        help="serve HTTPS with a CA generated into this directory (clients trust DIR/ca.pem)",
    )
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the private key of --tls-cert (PEM)")
    parser.add_argument(
        "--hour-seconds",
        type=_positive(float),
        default=DEFAULT_HOUR_SECONDS,
        help="real seconds per SMC hour: compresses an incremental job's Frequency",
    )
    parser.add_argument(
        "--delete-seconds",
        type=_positive(float),
        default=DEFAULT_DELETE_SECONDS,
        help="how long a deleted job shows Deleting before it is gone",
    )
    parser.add_argument(
        "--max-jobs",
        type=_positive(int),
        default=wire.MAX_JOBS_PER_ACCOUNT,
        help="the account's job quota (QuotaExceeded.ReplicationJob beyond it)",
    )
    return parser
