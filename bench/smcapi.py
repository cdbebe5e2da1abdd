"""The SMC emulator's control API (``/_emulator/``) as the driver uses it."""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp


class SmcControl:
    def __init__(self, url: str, ca_file: Path | None = None) -> None:
        self.url = url.rstrip("/")
        self._ssl: ssl.SSLContext | bool = True
        if ca_file is not None:
            self._ssl = ssl.create_default_context(cafile=str(ca_file))
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SmcControl:
        self._session = aiohttp.ClientSession(
            base_url=self.url, connector=aiohttp.TCPConnector(ssl=self._ssl)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(
        self, method: str, path: str, body: Any = None, params: Mapping[str, str] | None = None
    ) -> Any:
        assert self._session is not None, "use `async with SmcControl(...)`"
        async with self._session.request(
            method, f"/_emulator{path}", json=body, params=params
        ) as response:
            payload = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"SMC control {method} {path}: {response.status} {payload}")
            return payload

    async def seed_jobs(self, job_ids: Sequence[str], *, run_seconds: float = 3600.0) -> None:
        for start in range(0, len(job_ids), 1000):
            chunk = job_ids[start : start + 1000]
            await self._call(
                "POST", "/jobs", [{"jobId": job, "runSeconds": run_seconds} for job in chunk]
            )

    async def seed_sources(self, source_ids: Sequence[str]) -> None:
        """Available source servers (for objects that create their jobs)."""
        for start in range(0, len(source_ids), 1000):
            chunk = source_ids[start : start + 1000]
            if chunk:
                await self._call("POST", "/source-servers", [{"sourceId": s} for s in chunk])

    async def add_fault(self, **fault: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "/faults", fault)
        return result

    async def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", "/faults")
        return result

    async def clear_faults(self) -> int:
        return int((await self._call("DELETE", "/faults"))["cleared"])

    async def calls(self, *, action: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        params = {"since": str(since)}
        if action:
            params["action"] = action
        result: list[dict[str, Any]] = await self._call("GET", "/calls", params=params)
        return result

    async def jobs(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", "/jobs")
        return result
