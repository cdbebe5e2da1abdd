"""The benchmark's results: the machine, the JSON document, and the markdown tables."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
PACKAGES: Final = (
    "kopf",
    "kmock",
    "aiohttp",
    "pydantic",
    "alibabacloud-smc20190601",
    "alibabacloud-tea-openapi",
    "darabonba-core",
)
MB: Final = 1024 * 1024


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, Python and library versions, and the code measured."""
    model = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_total = 0
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024
                break
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpuModel": model,
        "cores": os.cpu_count(),
        "usableCores": len(os.sched_getaffinity(0)),
        "memoryBytes": mem_total,
        "python": sys.version.split()[0],
        "kernel": platform.release(),
        "packages": versions,
        "git": git_state(),
    }


def git_state() -> dict[str, Any]:
    """The commit and whether ``operator/`` differs from it (read-only git commands)."""

    git = shutil.which("git")

    def run(*args: str) -> str:
        if git is None:
            return ""
        try:
            return subprocess.run(  # noqa: S603 - fixed, read-only git commands
                [git, *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": run("rev-parse", "HEAD"),
        "operatorDirty": bool(run("status", "--porcelain", "--", "operator")),
    }


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.1f}x" if denominator > 0 else "n/a"


def _ms(seconds: float) -> str:
    return "inf" if seconds == float("inf") else f"{1000 * seconds:g}"


def _s(seconds: float) -> str:
    return f"{seconds:.2f}"


def _latency(row: Mapping[str, Any]) -> str:
    lat = row.get("latencySeconds") or row.get("callSeconds") or {}
    return " / ".join(f"{lat.get(p, 0.0):.2f}" for p in ("p50", "p95", "p99"))


LABELS: Final = {
    "operator": "operator",
    "kopf": "kopf floor",
    "system": "system floor",
    "smc": "SMC floor",
}


def render(document: Mapping[str, Any]) -> str:
    """Markdown: the machine, then the two tables (time, cost per object) and the ratios."""
    m = document["machine"]
    options = document["options"]
    what_if = options.get("kopfSettings")
    lines = [
        f"Machine: {m['cpuModel']}, {m['usableCores']} cores, {m['memoryBytes'] / 2**30:.1f} GiB, "
        f"Python {m['python']}, Linux {m['kernel']}; kopf {m['packages'].get('kopf')}, "
        f"kmock {m['packages'].get('kmock')}, aiohttp {m['packages'].get('aiohttp')}. "
        f"Code: {m['git']['commit'][:12]}"
        f"{' (operator/ modified)' if m['git']['operatorDirty'] else ''}"
        f"{', operator from ' + options['operatorPath'] if options.get('operatorPath') else ''}"
        f"{', what-if kopf settings ' + str(what_if) if what_if else ''}.",
        f"Settings: QPS {options['qps'] or 'unlimited'}, concurrency (kopf workers / floor "
        f"semaphore) {options['concurrency']}, creates {options['createConcurrency']} at a time, "
        f"credentials {options['credentials']}, Kubernetes API "
        + (
            "a real kube-apiserver (scripts/kube-up; requests counted from its audit log, "
            "watch events not counted)."
            if options.get("kube") == "real"
            else "emulated (kmock with the fidelity layer)."
        ),
        "",
        "| N | run | all Started (s) | latency p50 / p95 / p99 (s) | Start calls | Describe "
        "calls | time vs system floor | time vs SMC floor |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, phases in document["results"].items():
        system = phases.get("system", {}).get("allStartedSeconds", 0.0)
        smc = phases.get("smc", {}).get("allStartedSeconds", 0.0)
        for kind in ("operator", "kopf", "system", "smc"):
            row = phases.get(kind)
            if row is None:
                continue
            seconds = row["allStartedSeconds"]
            vs_system = _ratio(seconds, system) if kind != "system" else "1.0x"
            vs_smc = _ratio(seconds, smc) if kind != "smc" else "1.0x"
            lines.append(
                f"| {n} | {LABELS[kind]} | {_s(seconds)} | {_latency(row)} | {row['startCalls']} "
                f"| {row['describeCalls']} | {vs_system} | {vs_smc} |"
            )
    lines += [
        "",
        "| N | run | RJ writes/obj (status + main) | Event creates/obj | reads/obj | watch "
        "events/obj | CPU ms/obj | peak RSS MB | kube API CPU ms/obj | SMC emulator CPU ms/obj |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, phases in document["results"].items():
        count = int(n)
        for kind in ("operator", "kopf", "system", "smc"):
            row = phases.get(kind)
            if row is None:
                continue
            target = row["target"]
            smc_cpu = 1000 * row["smcEmulator"]["cpuSeconds"] / count
            if kind == "smc":
                lines.append(
                    f"| {n} | {LABELS[kind]} | - | - | - | - | {target['cpuMsPerObject']:.2f} | "
                    f"{target['peakRssBytes'] / MB:.0f} | - | {smc_cpu:.2f} |"
                )
                continue
            per = row["kube"]["perObject"]
            kube_cpu = 1000 * row["kubeApi"]["cpuSeconds"] / count
            lines.append(
                f"| {n} | {LABELS[kind]} | {per['rjWrites']:.2f} ({per['rjStatusPatches']:.2f} + "
                f"{per['rjMainPatches']:.2f}) | {per['eventCreates']:.2f} | {per['allReads']:.2f} "
                f"| {per['watchEvents']:.2f} | {target['cpuMsPerObject']:.2f} | "
                f"{target['peakRssBytes'] / MB:.0f} | {kube_cpu:.2f} | {smc_cpu:.2f} |"
            )
    lines += [
        "",
        f"SMC client and event loop (SMC over {options.get('smcProtocol', 'http').upper()}): "
        "client CPU per call from the SMC floor (the SDK on the operator's transport), the "
        "operator's CPU per object, and the operator's event-loop lag during the phase "
        "(bucket upper bounds of smc_operator_event_loop_lag_seconds)",
        "",
        "| N | client CPU ms per Start | client CPU ms per Describe | operator CPU ms/obj "
        "| operator loop lag p99 / max (ms) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, phases in document["results"].items():
        floor, op = phases.get("smc"), phases.get("operator")
        start = f"{floor['target']['cpuMsPerObject']:.2f}" if floor else "-"
        describe = f"{floor['target'].get('describeCpuMsPerCall', 0.0):.2f}" if floor else "-"
        cpu = f"{op['target']['cpuMsPerObject']:.2f}" if op else "-"
        lag = (op or {}).get("eventLoopLag") or {}
        lag_text = (
            f"≤ {_ms(lag['p99Seconds'])} / ≤ {_ms(lag['maxSeconds'])}" if lag.get("ticks") else "-"
        )
        lines.append(f"| {n} | {start} | {describe} | {cpu} | {lag_text} |")
    lines += ["", "Ratios (operator / floor):", ""]
    lines += [
        "| N | time / system floor | time / SMC floor | CPU per object / system floor |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for n, phases in document["results"].items():
        op, system, smc = phases.get("operator"), phases.get("system"), phases.get("smc")
        if op is None:
            continue
        seconds = op["allStartedSeconds"]
        cpu = op["target"]["cpuMsPerObject"]
        time_system = _ratio(seconds, system["allStartedSeconds"]) if system else "n/a"
        time_smc = _ratio(seconds, smc["allStartedSeconds"]) if smc else "n/a"
        cpu_system = _ratio(cpu, system["target"]["cpuMsPerObject"]) if system else "n/a"
        lines.append(f"| {n} | {time_system} | {time_smc} | {cpu_system} |")
    if any("kopf" in phases for phases in document["results"].values()):
        lines += _kopf_ratios(document)
    problems = check(document)
    if problems:
        lines += ["", "Problems:", *(f"- {problem}" for problem in problems)]
    return "\n".join(lines)


def _kopf_ratios(document: Mapping[str, Any]) -> list[str]:
    """Where the gap lies: what kopf adds to the system floor, what our code adds to kopf."""
    lines = [
        "",
        "The kopf floor (the system floor's work in a kopf handler, no code of ours):",
        "",
        "| N | kopf floor / system floor: time | CPU per object | operator / kopf floor: time "
        "| CPU per object |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, phases in document["results"].items():
        kopf, system, op = phases.get("kopf"), phases.get("system"), phases.get("operator")
        if kopf is not None:
            lines.append(f"| {n} | {_time_cpu(kopf, system)} | {_time_cpu(op, kopf)} |")
    return lines


def _time_cpu(upper: Mapping[str, Any] | None, lower: Mapping[str, Any] | None) -> str:
    """Two table cells: ``upper``'s time and CPU per object against ``lower``'s."""
    if upper is None or lower is None:
        return "n/a | n/a"
    time = _ratio(upper["allStartedSeconds"], lower["allStartedSeconds"])
    cpu = _ratio(upper["target"]["cpuMsPerObject"], lower["target"]["cpuMsPerObject"])
    return f"{time} | {cpu}"


def check(document: Mapping[str, Any]) -> list[str]:
    """What went wrong in a run (a time-out, a double start, Start calls != N, ...)."""
    problems: list[str] = []
    for n, phases in document["results"].items():
        for kind, row in phases.items():
            label = f"N={n} {LABELS.get(kind, kind)}"
            if row.get("timedOut"):
                problems.append(f"{label}: timed out ({row.get('settledObjects')} settled)")
            if row["startCalls"] != int(n):
                problems.append(f"{label}: {row['startCalls']} StartReplicationJob calls, not {n}")
            if row.get("doubleStarts"):
                problems.append(f"{label}: {row['doubleStarts']} jobs started more than once")
            if kind != "smc" and row.get("startedTrue") != int(n):
                problems.append(f"{label}: {row.get('startedTrue')} of {n} Started=True")
            replaced = (row.get("requestIds") or {}).get("replaced", 0)
            if replaced:
                problems.append(
                    f"{label}: {replaced} objects show a later call's RequestId instead of the "
                    "accepted Start call's (the handler ran again on a stale body)"
                )
            if row.get("failures"):
                problems.append(f"{label}: {row['failures']} failed calls")
    return problems


def summary_lines(results: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f"{r['kind']} N={r['objects']}: {r['allStartedSeconds']:.2f}s" for r in results]
