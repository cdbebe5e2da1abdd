"""``python -m bench.sdkcpu``: client CPU per SMC call, over HTTP and HTTPS, as the SDK ships and
through the operator's transport.

::

    python -m bench.sdkcpu                     # 300 calls of each action at concurrency 20
    python -m bench.sdkcpu --calls 1000 --concurrency 50

One SMC emulator process per protocol (HTTPS with the CA it generates); for each (protocol,
path) a client process of its own (``python -m bench.sdkcpu client ...``) makes the calls
through :class:`smc_operator.smc.SmcClient`, StartReplicationJob then DescribeReplicationJobs
(one JobId each), and reads its own CPU with ``time.process_time`` around each batch, so the
server's work is never counted. ``shipped`` is darabonba's own transport (an SSL context,
connector and session per call); its HTTPS client trusts a bundle of the system store plus the
emulator's CA through ``SSL_CERT_FILE``, so it loads as many certificates as in the image.
``transport`` is :mod:`smc_operator.transport` with ``SMC_OPERATOR_CA_FILE``. Also measured:
the event loop's lag (a 10 ms ticker in the client), max and p99, during the calls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from bench import procs
from bench.driver import ACCESS_KEY_ID, ACCESS_KEY_SECRET, ROOT, Stack, base_env, percentile
from bench.smcapi import SmcControl

PATHS: Final = ("shipped", "transport")
TICK_SECONDS: Final = 0.01


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        due = loop.time() + TICK_SECONDS
        await asyncio.sleep(TICK_SECONDS)
        lags.append(max(0.0, loop.time() - due))


async def client(args: argparse.Namespace) -> dict[str, Any]:
    from smc_operator.credentials import AccessKey
    from smc_operator.outcomes import SmcFailure
    from smc_operator.settings import load_settings
    from smc_operator.smc import SmcClient
    from smc_operator.transport import Transport

    environ = {"SMC_OPERATOR_ENDPOINT": args.endpoint, "SMC_OPERATOR_QPS": "0"}
    if args.ca_file and args.path == "transport":
        environ["SMC_OPERATOR_CA_FILE"] = str(args.ca_file)
    settings = load_settings(environ)
    pool = Transport(
        request_timeout_seconds=settings.request_timeout_seconds,
        ca_file=settings.ca_file,
        pooled=args.path == "transport",
    )
    key = AccessKey(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    jobs = [f"{args.job_prefix}{n:08d}" for n in range(args.calls)]
    semaphore = asyncio.Semaphore(args.concurrency)
    failures: list[str] = []
    result: dict[str, Any] = {"path": args.path, "endpoint": args.endpoint}
    async with SmcClient(settings, transport=pool) as smc:

        async def start(job: str) -> None:
            async with semaphore:
                outcome = await smc.start_replication_job(
                    job, region_id="cn-hangzhou", access_key=key
                )
            if isinstance(outcome, SmcFailure):
                failures.append(outcome.message)

        async def describe(job: str) -> None:
            async with semaphore:
                outcome = await smc.describe_replication_jobs(
                    [job], region_id="cn-hangzhou", access_key=key
                )
            if isinstance(outcome, SmcFailure):
                failures.append(outcome.message)

        await describe(jobs[0])  # warm up: imports, the SDK client, the first connection
        for action, call in (("start", start), ("describe", describe)):
            lags: list[float] = []
            stop = asyncio.Event()
            ticker = asyncio.create_task(_ticker(lags, stop))
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(call(job) for job in jobs))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            stop.set()
            await ticker
            result[action] = {
                "calls": len(jobs),
                "cpuMsPerCall": 1000 * cpu / len(jobs),
                "callsPerSecond": len(jobs) / wall,
                "loopLagMaxMs": 1000 * max(lags, default=0.0),
                "loopLagP99Ms": 1000 * percentile(lags, 0.99),
            }
    result["failures"] = failures[:5]
    result["failureCount"] = len(failures)
    return result


def system_bundle_with(ca_file: Path, directory: Path) -> Path:
    """The system's CA bundle plus ``ca_file``: what the shipped path loads, as in the image."""
    paths = ssl.get_default_verify_paths()
    system = Path(paths.cafile or paths.openssl_cafile)
    bundle = directory / "system-plus-emulator-ca.pem"
    text = system.read_text() if system.exists() else ""
    bundle.write_text(text + "\n" + ca_file.read_text())
    return bundle


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix="smc-sdkcpu-"))
    rows: list[dict[str, Any]] = []
    for tls in (False, True):
        protocol = "https" if tls else "http"
        stack_dir = workdir / protocol
        async with (
            Stack(stack_dir, kube=False, tls=tls) as stack,
            SmcControl(stack.smc_url, stack.ca_file) as control,
        ):
            for path in PATHS:
                prefix = f"j-{path[:4]}{protocol}"
                prefix = prefix + "0" * (12 - len(prefix))
                await control.seed_jobs([f"{prefix}{n:08d}" for n in range(args.calls)])
                env = base_env()
                argv = [
                    procs.python(),
                    "-m",
                    "bench.sdkcpu",
                    "client",
                    "--endpoint",
                    stack.smc_url,
                    "--path",
                    path,
                    "--job-prefix",
                    prefix,
                    "--calls",
                    str(args.calls),
                    "--concurrency",
                    str(args.concurrency),
                    "--result",
                    str(stack_dir / f"{path}.json"),
                ]
                if stack.ca_file is not None:
                    argv += ["--ca-file", str(stack.ca_file)]
                    if path == "shipped":
                        env["SSL_CERT_FILE"] = str(system_bundle_with(stack.ca_file, stack_dir))
                print(f"# {protocol}, {path} ...", file=sys.stderr, flush=True)
                child = procs.Child(
                    f"sdkcpu-{path}", argv, log_path=stack_dir / f"{path}.log", env=env, cwd=ROOT
                )
                await child.start()
                assert child.process is not None
                await child.process.wait()
                await child.stop()
                result_file = stack_dir / f"{path}.json"
                if not result_file.exists():
                    raise RuntimeError(f"the client failed; see {child.log_path}")
                row = json.loads(result_file.read_text())
                row["protocol"] = protocol
                rows.append(row)
    return rows


def render(rows: list[dict[str, Any]], calls: int, concurrency: int) -> str:
    lines = [
        f"Client CPU per SMC call, {calls} calls of each action at concurrency {concurrency}",
        "",
        "| protocol | path | Start CPU ms/call | Describe CPU ms/call | Start calls/s "
        "| Describe calls/s | loop lag p99 / max ms | failures |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        start, describe = row["start"], row["describe"]
        lag_p99 = max(start["loopLagP99Ms"], describe["loopLagP99Ms"])
        lag_max = max(start["loopLagMaxMs"], describe["loopLagMaxMs"])
        lines.append(
            f"| {row['protocol'].upper()} | {row['path']} | {start['cpuMsPerCall']:.2f} "
            f"| {describe['cpuMsPerCall']:.2f} | {start['callsPerSecond']:,.0f} "
            f"| {describe['callsPerSecond']:,.0f} | {lag_p99:.0f} / {lag_max:.0f} "
            f"| {row['failureCount']} |"
        )
    by = {(r["protocol"], r["path"]): r for r in rows}
    if ("http", "transport") in by and ("https", "transport") in by:
        ratio = (
            by[("https", "transport")]["start"]["cpuMsPerCall"]
            / by[("http", "transport")]["start"]["cpuMsPerCall"]
        )
        lines += ["", f"HTTPS / HTTP client CPU per Start through the transport: {ratio:.2f}x"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sdkcpu")
    parser.add_argument("command", nargs="?", default="measure", choices=("measure", "client"))
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--endpoint")
    parser.add_argument("--path", choices=PATHS)
    parser.add_argument("--job-prefix")
    parser.add_argument("--ca-file", type=Path)
    parser.add_argument("--result", type=Path)
    args = parser.parse_args(argv)
    if args.command == "client":
        result = asyncio.run(client(args))
        args.result.write_text(json.dumps(result), encoding="utf-8")
        return 0 if not result["failureCount"] else 1
    rows = asyncio.run(measure(args))
    print(render(rows, args.calls, args.concurrency))
    return 1 if any(row["failureCount"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
