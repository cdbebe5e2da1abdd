"""``python -m smc_testbed.emulator [--host H] [--port P] [--access-key ID:SECRET]...
[--tls-dir DIR | --tls-cert PEM --tls-key PEM]``"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    parser.add_argument(
        "--tls-dir",
        type=Path,
        help="serve HTTPS with a CA generated into this directory (clients trust DIR/ca.pem)",
    )
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the private key of --tls-cert (PEM)")
    args = parser.parse_args(argv)
    return main_args(
        args.host,
        args.port,
        args.access_key,
        run_seconds=args.run_seconds,
        tls_dir=args.tls_dir,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )


if __name__ == "__main__":
    sys.exit(main())
