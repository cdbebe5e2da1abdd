"""Run the real operator (``smc-operator run``) as a child process against local servers.

End-to-end tests start the SMC emulator and the emulated Kubernetes API in the test's event loop,
then start the operator as a separate process, exactly as a user would (settings from the
environment, the kubeconfig on the command line). The process can be killed with SIGKILL to test
restarts. Its log goes to a file the test can read (and scan for secrets).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

#: Fast settings for tests: no rate limit, short backoff, no metrics or health ports.
FAST_SETTINGS: dict[str, str] = {
    "SMC_OPERATOR_QPS": "0",
    "SMC_OPERATOR_MAX_ATTEMPTS": "5",
    "SMC_OPERATOR_BACKOFF_BASE_SECONDS": "0.2",
    "SMC_OPERATOR_BACKOFF_MAX_SECONDS": "0.5",
    "SMC_OPERATOR_POLL_INTERVAL_SECONDS": "0",
    "SMC_OPERATOR_REQUEST_TIMEOUT_SECONDS": "5",
    "SMC_OPERATOR_METRICS_PORT": "0",
    "SMC_OPERATOR_HEALTH_PORT": "0",
    "SMC_OPERATOR_LOG_LEVEL": "DEBUG",
}


class OperatorProcess:
    """``smc-operator run`` in a child process; start, kill (SIGKILL) and restart it."""

    def __init__(
        self,
        *,
        kubeconfig: Path,
        smc_url: str,
        log_path: Path,
        settings: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.args = args
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SMC_OPERATOR_", "ALIBABA_CLOUD_", "KUBECONFIG"))
        }
        self.env.update(
            {
                "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
                "SMC_OPERATOR_ENDPOINT": smc_url,
                **FAST_SETTINGS,
                **(settings or {}),
                **(environ or {}),
            }
        )
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        if self.process is not None and self.process.returncode is None:
            raise RuntimeError("the operator is already running")
        self.starts += 1
        log = self.log_path.open("ab")
        try:
            log.write(f"\n===== operator start #{self.starts} =====\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "smc_operator.cli",
                "run",
                "--kubeconfig",
                str(self.kubeconfig),
                *self.args,
                env=self.env,
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            log.close()

    async def kill(self) -> None:
        """SIGKILL: no cleanup, no final patches, as when a node dies."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait (kopf stops gracefully); SIGKILL if it does not stop in time."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                await self.kill()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


#: Starts an operator: ``start(args=(...), environ={...}, smc_url=..., qps="0", ...)``; keyword
#: settings are ``SMC_OPERATOR_*`` values by their short, lower-case name.
OperatorFactory = Callable[..., Awaitable[OperatorProcess]]


@contextlib.asynccontextmanager
async def operator_factory(
    *, kubeconfig: Path, smc_url: str, log_dir: Path, ca_file: Path | None = None
) -> AsyncIterator[OperatorFactory]:
    """Start as many operator processes as a test needs; all are stopped at the end. With
    ``ca_file`` they trust it for SMC (``SMC_OPERATOR_CA_FILE``) unless told otherwise."""
    processes: list[OperatorProcess] = []

    async def start(
        *,
        args: tuple[str, ...] = (),
        environ: Mapping[str, str] | None = None,
        smc_url: str | None = None,
        **settings: str,
    ) -> OperatorProcess:
        process = OperatorProcess(
            kubeconfig=kubeconfig,
            smc_url=smc_url or default_smc_url,
            log_path=log_dir / f"operator-{len(processes)}.log",
            settings={
                **({"SMC_OPERATOR_CA_FILE": str(ca_file)} if ca_file is not None else {}),
                **{f"SMC_OPERATOR_{k.upper()}": v for k, v in settings.items()},
            },
            args=args,
            environ=environ,
        )
        processes.append(process)
        await process.start()
        return process

    default_smc_url = smc_url
    try:
        yield start
    finally:
        for process in processes:
            await process.stop()
