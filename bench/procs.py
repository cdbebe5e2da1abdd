"""Child processes of the benchmark, and what they cost, read from ``/proc/<pid>``.

CPU is ``utime + stime`` from ``/proc/<pid>/stat`` (the process's own threads, not its children);
memory is ``VmRSS`` (now) and ``VmHWM`` (the peak resident set) from ``/proc/<pid>/status``.
Linux only, like the rest of the benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    """A reading of one process: CPU seconds so far, resident memory now and at its peak."""

    cpu_seconds: float
    rss_bytes: int
    peak_rss_bytes: int


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of the process so far."""
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in bytes."""
    rss = peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return rss, peak


def usage(pid: int) -> Usage:
    rss, peak = memory(pid)
    return Usage(cpu_seconds(pid), rss, peak)


def children(pid: int) -> list[int]:
    """The direct children of a process (e.g. the Python process py-spy runs)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found.extend(int(p) for p in (task / "children").read_text().split())
    return found


class Child:
    """One child process: started with a log file, measured by pid, stopped or killed.

    ``ready_prefix``: wait for a line starting with it on stdout (the servers print their URL);
    the rest of the line is kept in :attr:`ready_line`. Output goes to ``log_path`` as well.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.process: asyncio.subprocess.Process | None = None
        self.ready_line = ""
        #: The pid to measure (differs from the process's pid when run under py-spy).
        self.measured_pid: int | None = None
        self._pump: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self, *, ready_prefix: str | None = None, limit: float = 30.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the driver does not hit the children directly
        )
        self.measured_pid = self.process.pid
        ready = asyncio.get_running_loop().create_future()
        self._pump = asyncio.create_task(self._copy_output(ready_prefix, ready))
        if ready_prefix is None:
            return
        try:
            async with asyncio.timeout(limit):
                self.ready_line = await ready
        except TimeoutError:
            await self.kill()
            raise RuntimeError(
                f"{self.name} did not print {ready_prefix!r} in {limit}s; see {self.log_path}"
            ) from None

    async def _copy_output(self, prefix: str | None, ready: asyncio.Future[str]) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        with self.log_path.open("ab") as log:
            async for line in self.process.stdout:
                log.write(line)
                log.flush()
                text = line.decode("utf-8", "replace").strip()
                if prefix is not None and not ready.done() and text.startswith(prefix):
                    ready.set_result(text[len(prefix) :].strip())
        if not ready.done():
            ready.set_exception(RuntimeError(f"{self.name} exited; see {self.log_path}"))
            ready.exception()  # retrieved: no "never retrieved" warning if nobody waits

    def usage(self) -> Usage:
        pid = self.measured_pid if self.measured_pid is not None else self.pid
        return usage(pid)

    async def stop(self, limit: float = 10.0, sig: int = signal.SIGTERM) -> int | None:
        """Signal (SIGTERM by default) and wait; SIGKILL if it does not stop in time."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            try:
                async with asyncio.timeout(limit):
                    await self.process.wait()
            except TimeoutError:
                await self.kill()
        await self._drain()
        return self.process.returncode

    async def kill(self) -> None:
        """SIGKILL, no cleanup: as when a node dies."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
        await self._drain()

    async def _drain(self) -> None:
        if self._pump is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self._pump
            self._pump = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


def python() -> str:
    return sys.executable


def py_spy() -> str | None:
    """py-spy from the interpreter's bin directory or PATH (only for ``--profile``)."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory) / "py-spy"
        if candidate.exists():
            return str(candidate)
    return None
