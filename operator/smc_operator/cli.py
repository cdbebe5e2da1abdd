"""The command line: ``smc-operator run | emulator | demo`` (docs/design.md, "Command line").

Settings are validated before anything starts: a bad ``SMC_OPERATOR_*`` variable exits with
status 2 and one line naming it. ``emulator`` and ``demo`` run the testbed (``smc_testbed``), a
separate distribution that a production install does not have: without it they say in one line
what to install.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence

from smc_operator.settings import LogFormat, Settings, SettingsError, load_settings

EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["emulator"]:
        # The testbed's own command line: its options are parsed there, in one place.
        if not _testbed_installed("emulator"):
            return EXIT_USAGE
        from smc_testbed.emulator import command_line

        return command_line(arguments[1:], prog="smc-operator emulator")
    parser = _parser()
    args = parser.parse_args(arguments)
    command: str = args.command
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"smc-operator: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if command == "run":
        return _run(args, settings)
    if command == "demo":
        if not _testbed_installed("demo"):
            return EXIT_USAGE
        from smc_testbed.demo import run_demo

        return run_demo(timeout=args.timeout, kubeconfig=args.kubeconfig)
    parser.error(f"unknown command {command!r}")
    return EXIT_USAGE  # unreachable: parser.error exits


def _testbed_installed(command: str) -> bool:
    """Whether the testbed is importable; if not, say in one line what to install."""
    try:
        import smc_testbed  # noqa: F401
    except ImportError:
        pass
    else:
        return True
    print(
        f"smc-operator {command}: needs the testbed, which production installs leave out: "
        "pip install ./testbed from a clone of the repository (scripts/demo does that)",
        file=sys.stderr,
    )
    return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smc-operator",
        description="Start Alibaba Cloud SMC replication jobs from Kubernetes, exactly once.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the operator against the current kubeconfig context or in-cluster",
        description="Run the operator. Settings come from SMC_OPERATOR_* variables.",
    )
    scope = run.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeatable); default: all namespaces",
    )
    scope.add_argument(
        "--all-namespaces", "-A", action="store_true", help="watch all namespaces (the default)"
    )
    run.add_argument(
        "--peering",
        metavar="NAME",
        help="take part in kopf peering under this name (for several replicas); default: off",
    )
    run.add_argument(
        "--priority", type=int, default=0, help="peering priority; replicas need distinct ones"
    )
    run.add_argument(
        "--workers",
        type=int,
        default=200,
        help="objects handled concurrently (kopf's worker limit); default 200",
    )
    run.add_argument(
        "--kubeconfig", help="a kubeconfig file; default: in-cluster, else $KUBECONFIG"
    )

    # Listed for --help; main() hands its arguments to the testbed's emulator command line.
    commands.add_parser(
        "emulator",
        help="run the local SMC emulator (from the testbed; --help there lists its options)",
        add_help=False,
    )

    demo = commands.add_parser(
        "demo",
        help="the local demo: SMC emulator, in-process Kubernetes API, operator and samples",
        description="Run the whole product locally and show sample ReplicationJobs settle.",
    )
    demo.add_argument(
        "--timeout", type=float, default=120.0, help="give up if the samples do not settle"
    )
    demo.add_argument(
        "--kubeconfig",
        help="run the samples on this real cluster (in a namespace of their own, deleted "
        "afterwards; the CRD must be installed) instead of the in-process Kubernetes API",
    )
    return parser


def configure_logging(settings: Settings) -> None:
    """One root handler, text or JSON, at the configured level; noisy libraries kept quiet."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format is LogFormat.JSON:
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", timestamp=True)
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s [%(name)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.value)
    # Access logs of the liveness endpoint would drown everything else.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from smc_operator.handlers import RunOptions, operate

    if args.workers < 1:
        print("smc-operator: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings)
    options = RunOptions(
        settings=settings,
        namespaces=tuple(args.namespace),
        peering=args.peering,
        priority=args.priority,
        workers=args.workers,
        kubeconfig=args.kubeconfig,
    )
    with contextlib.suppress(KeyboardInterrupt):  # kopf stops gracefully on SIGINT/SIGTERM
        asyncio.run(operate(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
