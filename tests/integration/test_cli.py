"""The command line as a user runs it: `smc-operator emulator`, and settings refused at start-up."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from alibabacloud_smc20190601 import models
from alibabacloud_smc20190601.client import Client
from alibabacloud_tea_openapi.models import Config

from smc_operator.credentials import AccessKey
from smc_operator.outcomes import JobsReport, SmcFailure
from smc_operator.settings import load_settings
from smc_operator.smc import SmcClient

CLI = [sys.executable, "-m", "smc_operator.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMC_OPERATOR_", "ALIBABA_"))}
    return {**env, "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true", **extra}


async def test_the_emulator_command_serves_the_real_sdk() -> None:
    process = await asyncio.create_subprocess_exec(
        *CLI,
        "emulator",
        "--port",
        "0",
        "--access-key",
        "LTAIcliTestKey000001:cli-test-secret",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = (await process.stdout.readline()).decode()
        match = re.search(r"http://(127\.0\.0\.1:\d+)", line)
        assert match, line
        assert "cli-test-secret" not in line
        endpoint = match.group(1)
        client = Client(
            Config(
                access_key_id="LTAIcliTestKey000001",
                access_key_secret="cli-test-secret",
                endpoint=endpoint,
                protocol="http",
                region_id="cn-hangzhou",
            )
        )
        response = await client.describe_replication_jobs_async(
            models.DescribeReplicationJobsRequest(region_id="cn-hangzhou")
        )
        assert response.body.request_id
        assert response.body.total_count == 0
    finally:
        process.terminate()
        assert await process.wait() == 0


async def test_the_emulator_serves_https_with_the_ca_it_writes(tmp_path: Path) -> None:
    tls_dir = tmp_path / "tls"
    process = await asyncio.create_subprocess_exec(
        *CLI,
        "emulator",
        "--port",
        "0",
        "--access-key",
        "LTAIcliTestKey000001:cli-test-secret",
        "--tls-dir",
        str(tls_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = (await process.stdout.readline()).decode()
        match = re.search(r"(https://127\.0\.0\.1:\d+)", line)
        assert match, line
        assert str(tls_dir / "ca.pem") in line
        key = AccessKey("LTAIcliTestKey000001", "cli-test-secret")
        for ca_file in (tls_dir / "ca.pem", None):
            environ = {"SMC_OPERATOR_ENDPOINT": match.group(1)}
            if ca_file is not None:
                environ["SMC_OPERATOR_CA_FILE"] = str(ca_file)
            async with SmcClient(load_settings(environ)) as smc:
                outcome = await smc.describe_replication_jobs(
                    ["j-cli0000000000001"], region_id="cn-hangzhou", access_key=key
                )
            if ca_file is not None:
                assert isinstance(outcome, JobsReport), outcome
            else:  # the generated CA is trusted only when named
                assert isinstance(outcome, SmcFailure)
                assert "CERTIFICATE_VERIFY_FAILED" in outcome.message
    finally:
        process.terminate()
        assert await process.wait() == 0


def test_the_emulator_wants_both_tls_cert_and_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "emulator", "--port", "0", "--tls-cert", str(tmp_path / "cert.pem")],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "smc-operator emulator: give --tls-dir, or both --tls-cert and --tls-key"
    )


def test_invalid_settings_stop_the_operator_with_the_variable_named() -> None:
    result = subprocess.run(
        [*CLI, "run"],
        env=clean_env(SMC_OPERATOR_MAX_ATTEMPTS="many", SMC_OPERATOR_QPS="-3"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "SMC_OPERATOR_MAX_ATTEMPTS" in result.stderr
    assert "SMC_OPERATOR_QPS" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_lists_the_three_commands() -> None:
    result = subprocess.run(
        [*CLI, "--help"], capture_output=True, text=True, timeout=60, check=True, env=clean_env()
    )
    for command in ("run", "emulator", "demo"):
        assert command in result.stdout
