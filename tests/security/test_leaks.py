"""Secrets never leak: the whole scenario set at DEBUG, then a scan of everything produced.

One operator process (``SMC_OPERATOR_LOG_LEVEL=DEBUG``: the root logger at DEBUG, so kopf's, the
SDK's and every library's debug output is on; metrics served) runs every scenario that handles a secret: a success, an
``InternalError`` retried, throttling, ``InvalidStatus``, refused credentials (unknown
AccessKeyId, wrong secret, wrong STS token), a working STS token, the operator's own identity from
its environment (the default chain), missing and broken Secrets (a missing key, whitespace, bytes
that are not UTF-8), and a rotation (the second object must use the new secret, no restart).

Then everything the operator produced is scanned for every secret value and STS token, plain,
base64, URL-encoded and as a 16-character prefix: its log (stdout and stderr), every
ReplicationJob (status included), every Event, the metrics page, and the SMC emulator's call log
(which may show AccessKeyIds, as SMC's own logs do, but no secret). Metrics labels carry no
AccessKeyId either.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import aiohttp

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import EVENTS, REPLICATION_JOBS, SECRETS, EmulatedKubeApi
from testkit.cluster import create_rj, create_secret, reason_is, seed, started, wait_rj
from testkit.ports import free_port

from .conftest import (
    ENV_KEY_ID,
    ENV_SECRET,
    KEY_ID,
    KEY_SECRET,
    ROTATED_SECRET,
    SECRET_VALUES,
    STS_KEY_ID,
    STS_SECRET,
    STS_TOKEN,
    WRONG_SECRET,
    WRONG_TOKEN,
    OperatorFactory,
    find_leaks,
    leak_forms,
)

ROTATING_KEY_ID = "LTAIsecScanRotating01"
ROTATING_FIRST_SECRET = "secScan-AK-first-4Kd8Pq2Xs6Vb"
NAMESPACE = "team-a"

#: name -> (Secret: None for the default chain, else name; SMC fault; seeding; expected reason).
SCENARIOS: dict[str, tuple[str | None, dict[str, object] | None, dict[str, str], str]] = {
    "ok": ("ak", None, {}, "Started"),
    "retried": ("ak", {"code": wire.INTERNAL_ERROR, "count": 2}, {}, "Started"),
    "throttled": ("ak", {"code": wire.THROTTLING_USER, "count": 1}, {}, "Started"),
    "refused": ("ak", None, {"status": wire.JOB_RUNNING}, "InvalidStatus"),
    "unknown-key": ("unknown-key", None, {}, "AccessDenied"),
    "wrong-secret": ("wrong-secret", None, {}, "AccessDenied"),
    "sts": ("sts", None, {}, "Started"),
    "sts-wrong-token": ("sts-wrong-token", None, {}, "AccessDenied"),
    "sts-expired": ("sts", {"code": wire.INVALID_SECURITY_TOKEN_EXPIRED}, {}, "AccessDenied"),
    "own-identity": (None, None, {}, "Started"),
    "no-secret": ("does-not-exist", None, {}, "CredentialsNotFound"),
    "lacks-secret-key": ("lacks-secret-key", None, {}, "CredentialsNotFound"),
    "whitespace": ("whitespace", None, {}, "CredentialsNotFound"),
    "not-utf8": ("not-utf8", None, {}, "CredentialsNotFound"),
}


def job_of(name: str) -> str:
    return "j-leak" + name.replace("-", "")[:10].ljust(10, "0")


async def make_secrets(kube: EmulatedKubeApi) -> None:
    await create_secret(kube, KEY_ID, KEY_SECRET, name="ak")
    await create_secret(kube, "LTAIsecScanUnknown01", WRONG_SECRET, name="unknown-key")
    await create_secret(kube, KEY_ID, WRONG_SECRET, name="wrong-secret")
    await create_secret(kube, STS_KEY_ID, STS_SECRET, name="sts", security_token=STS_TOKEN)
    await create_secret(
        kube, STS_KEY_ID, STS_SECRET, name="sts-wrong-token", security_token=WRONG_TOKEN
    )
    raw = {"accessKeyId": KEY_ID.encode(), "securityToken": STS_TOKEN.encode()}
    await create_secret(kube, "", "", name="lacks-secret-key", raw=raw)
    raw = {"accessKeyId": KEY_ID.encode(), "accessKeySecret": KEY_SECRET.encode() + b"\n"}
    await create_secret(kube, "", "", name="whitespace", raw=raw)
    raw = {"accessKeyId": KEY_ID.encode(), "accessKeySecret": KEY_SECRET.encode() + b"\xff"}
    await create_secret(kube, "", "", name="not-utf8", raw=raw)
    await create_secret(kube, ROTATING_KEY_ID, ROTATING_FIRST_SECRET, name="rotating")


async def get_text(url: str, ca_file: Path | None = None) -> str:
    trust = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            try:
                async with session.get(url, ssl=trust) as response:
                    return await response.text()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


async def test_no_secret_leaks_anywhere_across_the_scenario_set(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    smc.access_keys[ROTATING_KEY_ID] = ROTATING_FIRST_SECRET
    await make_secrets(kube_api)
    for name, (_secret, fault, seeding, _reason) in SCENARIOS.items():
        seed(smc, job_of(name), **seeding)  # type: ignore[arg-type]
        if fault is not None:
            smc.state.add_fault(wire.START_REPLICATION_JOB, job_id=job_of(name), **fault)  # type: ignore[arg-type]
    seed(smc, job_of("rotation-1"))
    seed(smc, job_of("rotation-2"))
    metrics_port = free_port()
    operator = await start_operator(
        log_level="DEBUG",
        metrics_port=str(metrics_port),
        poll_interval_seconds="0.3",
        environ={
            "ALIBABA_CLOUD_ACCESS_KEY_ID": ENV_KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ENV_SECRET,
        },
    )

    for name, (secret, *_rest) in SCENARIOS.items():
        await create_rj(kube_api, name, job_of(name), secret=secret)
    await create_rj(kube_api, "rotation-1", job_of("rotation-1"), secret="rotating")
    for name, (*_rest, reason) in SCENARIOS.items():
        await wait_rj(kube_api, name, reason_is(reason))
    await wait_rj(kube_api, "rotation-1", reason_is("Started"))

    # Rotation: SMC accepts only the new secret from now on; the Secret is updated in place.
    smc.access_keys[ROTATING_KEY_ID] = ROTATED_SECRET
    await kube_api.patch(
        SECRETS,
        "rotating",
        {"data": {"accessKeySecret": leak_forms(ROTATED_SECRET)["base64"]}},
        namespace=NAMESPACE,
    )
    await create_rj(kube_api, "rotation-2", job_of("rotation-2"), secret="rotating")
    rotated = await wait_rj(kube_api, "rotation-2", reason_is("Started", "AccessDenied"))
    assert started(rotated)["reason"] == "Started", started(rotated)
    assert operator.starts == 1, "no restart"
    (call,) = smc.state.calls.select(action=wire.START_REPLICATION_JOB, job_id=job_of("rotation-2"))
    assert call.code is None and call.access_key_id == ROTATING_KEY_ID

    # Let the refresher poll every credential group at least once more (0.3 s interval).
    describes = len(smc.state.calls.select(action=wire.DESCRIBE_REPLICATION_JOBS))
    async with asyncio.timeout(10):
        await smc.wait_for_calls(describes + 3, action=wire.DESCRIBE_REPLICATION_JOBS)
    metrics = await get_text(f"http://127.0.0.1:{metrics_port}/metrics")
    calls = await get_text(f"{smc.url}/_emulator/calls", smc.ca_file)
    objects = (await kube_api.list(REPLICATION_JOBS))["items"]
    events = (await kube_api.list(EVENTS))["items"]
    await operator.stop()
    log = operator.log()

    # The scan covered real material: debug output of kopf and the operator, every outcome.
    assert " DEBUG " in log and "[kopf." in log and "Merge-patching the status" in log
    for code in (
        wire.SIGNATURE_DOES_NOT_MATCH,
        wire.INVALID_ACCESS_KEY_NOT_FOUND,
        wire.INVALID_SECURITY_TOKEN_EXPIRED,
        wire.INTERNAL_ERROR,
        wire.THROTTLING_USER,
        wire.INVALID_STATUS,
    ):
        assert code in log and code in json.dumps(events), code
    assert len(objects) == len(SCENARIOS) + 2
    assert {e["reason"] for e in events} >= {"Started", "Retrying", "AccessDenied"}
    assert "smc_operator_smc_calls_total" in metrics
    assert KEY_ID in calls and STS_KEY_ID in calls and ENV_KEY_ID in calls

    texts = {
        "operator log": log,
        "objects": json.dumps(objects),
        "events": json.dumps(events),
        "metrics": metrics,
        "SMC call log": calls,
    }
    leaks = find_leaks(texts, (*SECRET_VALUES, ROTATING_FIRST_SECRET))
    assert leaks == [], leaks
    for key_id in (KEY_ID, STS_KEY_ID, ENV_KEY_ID, ROTATING_KEY_ID):
        assert key_id not in metrics, f"an AccessKeyId in a metrics label: {key_id}"
