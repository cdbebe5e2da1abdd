"""``python -m smc_testbed.emulator [--host H] [--port P] [--access-key ID:SECRET]...
[--tls-dir DIR | --tls-cert PEM --tls-key PEM]``"""

from __future__ import annotations

import sys

from smc_testbed.emulator.serving import command_line

if __name__ == "__main__":
    sys.exit(command_line(sys.argv[1:], prog="python -m smc_testbed.emulator"))
