"""An SMC emulator: SMC's RPC protocol for the unmodified Alibaba SDK, on a local port.

It checks ACS3-HMAC-SHA256 signatures against configured AccessKeys (and STS tokens), serves
StartReplicationJob, StopReplicationJob, DescribeReplicationJobs and DescribeSourceServers over an
in-memory model of jobs and source servers with SMC's states and error bodies, injects faults
(errors, delays, dropped connections, garbled bodies), and logs every call. An unsigned JSON
control API under ``/_emulator/`` seeds it and reads it back.

Modules, each with one job (only :mod:`smc_operator.wire` is imported from the operator):

- ``rejections``: SMC's error answers as an exception (:class:`SmcError`);
- ``signing``: ACS3 signature checks (pure);
- ``jobs``: jobs, source servers and the job state machine (pure, time passed in);
- ``faults``: fault descriptions and which calls they hit (randomness injected);
- ``calls``: the call log;
- ``fields``: typed reads of control API documents;
- ``state``: the in-memory world (clock injected);
- ``actions``: the four SMC actions over the state (pure);
- ``server``: the aiohttp application (routing, error bodies, fault effects);
- ``control``: the ``/_emulator/`` API;
- ``serving``: :class:`SmcEmulator`, :func:`serve` and :func:`main_args`.

Use from tests::

    async with SmcEmulator(access_keys={"AKID": "secret"}, clock=fake_clock) as smc:
        smc.state.seed_job("j-0123456789abcdef", status="Ready")
        ...  # Config(endpoint=smc.endpoint, protocol="http", ...) or SMC_OPERATOR_ENDPOINT=smc.url

From the command line (``smc-operator emulator`` calls :func:`command_line`)::

    python -m smc_testbed.emulator --host 127.0.0.1 --port 9090 --access-key ID:SECRET
"""

from smc_testbed.emulator.jobs import Job, JobSnapshot, SourceServer
from smc_testbed.emulator.rejections import SmcError
from smc_testbed.emulator.serving import (
    SmcEmulator,
    command_line,
    demo_key_pair,
    main_args,
    serve,
)
from smc_testbed.emulator.state import EmulatorState

__all__ = [
    "EmulatorState",
    "Job",
    "JobSnapshot",
    "SmcEmulator",
    "SmcError",
    "SourceServer",
    "command_line",
    "demo_key_pair",
    "main_args",
    "serve",
]
