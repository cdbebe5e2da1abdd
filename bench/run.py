"""``python -m bench``: run the phases for each N, print the tables, save the JSON.

::

    python -m bench                                  # N = 100, 1000, 5000; all three runs each
    python -m bench --objects 1000 --phases operator --profile
    python -m bench --objects 1000 --concurrency 5000 --operator-path /tmp/head/operator
    python -m bench --objects 1000 5000 --phases operator --kopf-setting queueing.idle_timeout=0.5
    python -m bench --objects 1000 --phases smc,system,kopf,operator    # with the kopf floor

For every N the SMC floor, the system floor (the kopf floor when named) and the operator run in
that order, each against
fresh server processes (see :mod:`bench.driver`). Results go to ``bench/results/<time>.json``
(git-ignored) and the tables to stdout. The exit status is 1 when a run has a problem (a time-out,
a double start, Start calls not equal to N, an object not Started).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

from bench import report
from bench.driver import Kind, PhaseOptions, run_phase
from bench.profiles import render as render_profile

RESULTS: Final = Path(__file__).resolve().parent / "results"
PHASES: Final[tuple[Kind, ...]] = ("smc", "system", "kopf", "operator")
#: What runs unless --phases says otherwise (the kopf floor is asked for by name).
DEFAULT_PHASES: Final[tuple[Kind, ...]] = ("smc", "system", "operator")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmark smc-operator against its two floors."
    )
    parser.add_argument("--objects", type=int, nargs="+", default=[100, 1000, 5000], metavar="N")
    parser.add_argument(
        "--phases",
        default=",".join(DEFAULT_PHASES),
        help="comma-separated: smc (SMC floor), system (system floor), kopf (kopf floor: the "
        "system floor's work in a bare kopf handler; not run unless named), operator",
    )
    parser.add_argument("--qps", type=float, default=0.0, help="SMC QPS limit; 0: unlimited")
    parser.add_argument(
        "--http",
        action="store_true",
        help="SMC over plain HTTP (loopback only); default: HTTPS with the emulator's own CA",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=200,
        help="the operator's --workers (kopf's worker limit) and the floors' concurrency",
    )
    parser.add_argument("--create-concurrency", type=int, default=20)
    parser.add_argument(
        "--credentials",
        choices=("env", "secret"),
        default="env",
        help="env: the default credential chain; secret: a credentialsSecretRef per object",
    )
    parser.add_argument(
        "--operator-env",
        action="append",
        default=[],
        metavar="SMC_OPERATOR_X=VALUE",
        help="extra operator settings (repeatable)",
    )
    parser.add_argument("--operator-path", type=Path, help="import smc_operator from here")
    parser.add_argument(
        "--kopf-setting",
        action="append",
        default=[],
        metavar="SECTION.NAME=JSON",
        help="what-if: start kopf's settings with this value, e.g. queueing.idle_timeout=0.5 "
        "(bench/whatif; settings the operator assigns itself still win)",
    )
    parser.add_argument("--profile", action="store_true", help="run the operator under py-spy")
    parser.add_argument("--profile-rate", type=int, default=100)
    parser.add_argument("--timeout", type=float, help="per phase; default 120 s + 0.2 s per object")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--workdir", type=Path, help="logs and profiles; default: a temp dir")
    parser.add_argument("--label", default="", help="a note stored with the results")
    parser.add_argument(
        "--kube",
        choices=("kmock", "real"),
        default="kmock",
        help="kmock: the emulated Kubernetes API; real: a real kube-apiserver from scripts/kube-up "
        "(needs Go; request counts from its audit log, no watch-event counts)",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    phases = [phase.strip() for phase in args.phases.split(",") if phase.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        raise SystemExit(f"unknown phases: {sorted(unknown)}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="smc-bench-"))
    settings = dict(item.split("=", 1) for item in args.operator_env)
    kopf_settings = {
        name: json.loads(value) for name, value in (s.split("=", 1) for s in args.kopf_setting)
    }
    document: dict[str, Any] = {
        "label": args.label,
        "startedAt": datetime.datetime.now(datetime.UTC).isoformat(),
        "machine": report.machine(),
        "options": {
            "objects": args.objects,
            "phases": phases,
            "qps": args.qps,
            "smcProtocol": "http" if args.http else "https",
            "concurrency": args.concurrency,
            "createConcurrency": args.create_concurrency,
            "credentials": args.credentials,
            "operatorEnv": settings,
            "operatorPath": str(args.operator_path) if args.operator_path else None,
            "kopfSettings": kopf_settings,
            "profile": args.profile,
            "kube": args.kube,
            "workdir": str(workdir),
        },
        "results": {},
    }
    for n in args.objects:
        document["results"][str(n)] = {}
        for kind in PHASES:
            if kind not in phases:
                continue
            options = PhaseOptions(
                kind=kind,
                objects=n,
                qps=args.qps,
                concurrency=args.concurrency,
                create_concurrency=args.create_concurrency,
                credentials=args.credentials,
                profile=args.profile and kind == "operator",
                profile_rate=args.profile_rate,
                timeout=args.timeout,
                workdir=workdir / f"{kind}-{n}",
                operator_settings=settings,
                operator_path=args.operator_path,
                kopf_settings=kopf_settings,
                kube=args.kube,
                tls=not args.http,
            )
            print(f"# N={n}: {kind} ...", file=sys.stderr, flush=True)
            result = await run_phase(options)
            document["results"][str(n)][kind] = result
            print(
                f"#   all settled in {result['allStartedSeconds']:.2f}s, "
                f"{result['target']['cpuMsPerObject']:.2f} ms CPU per object",
                file=sys.stderr,
                flush=True,
            )
    return document


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    document = asyncio.run(run(args))
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results / f"bench-{stamp}.json"
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    print(report.render(document))
    for n, phases in document["results"].items():
        profile = phases.get("operator", {}).get("profile")
        if profile:
            print(f"\n### Operator profile, N={n}\n")
            print(render_profile(profile))
    print(f"\nResults: {path}")
    return 1 if report.check(document) else 0


if __name__ == "__main__":
    sys.exit(main())
