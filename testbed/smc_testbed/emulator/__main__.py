"""``python -m smc_testbed.emulator [--host H] [--port P] [--access-key ID:SECRET]...``"""

from __future__ import annotations

import argparse
import sys

from smc_testbed.emulator.serving import DEFAULT_HOST, DEFAULT_PORT, main_args
from smc_testbed.emulator.state import DEFAULT_RUN_SECONDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smc_testbed.emulator", description="Run the local SMC emulator."
    )
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
    args = parser.parse_args(argv)
    return main_args(args.host, args.port, args.access_key, run_seconds=args.run_seconds)


if __name__ == "__main__":
    sys.exit(main())
