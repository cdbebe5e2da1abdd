"""Credentials live only as long as they are needed, and Secret changes apply without a restart.

In process, one start attempt at a time (:class:`~smc_operator.starting.Starter` with the real SMC
and Kubernetes adapters, against the SMC emulator and the emulated API, on a fake clock), so the
SMC adapter's cache of SDK clients (each holding an AccessKey secret) can be inspected after a
rotation and after a deletion of the Secret. The Secret is read for every attempt, so a rotation
applies to the next one; an SDK client unused for ``CLIENT_IDLE_SECONDS`` is dropped with its key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from smc_operator.conditions import STARTED
from smc_operator.credentials import AccessKey
from smc_operator.decide import Limits, Observed
from smc_operator.kube import KubeClient, KubeConnection
from smc_operator.model import ReplicationJobSpec, ReplicationJobStatus, SecretReference
from smc_operator.settings import load_settings
from smc_operator.smc import CLIENT_IDLE_SECONDS, SmcClient
from smc_operator.starting import ObjectRef, Starter
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import SECRETS, EmulatedKubeApi
from testkit.cluster import NAMESPACE, SECRET, create_rj, create_secret, seed

from .conftest import (
    KEY_ID,
    KEY_SECRET,
    ROTATED_SECRET,
    STS_KEY_ID,
    STS_SECRET,
    STS_TOKEN,
    leak_forms,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def starter(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, clock: FakeClock
) -> AsyncIterator[Starter]:
    settings = load_settings(
        {
            "SMC_OPERATOR_ENDPOINT": smc.url,
            "SMC_OPERATOR_QPS": "0",
            "SMC_OPERATOR_CA_FILE": str(smc.ca_file),
        }
    )
    kube = KubeClient(KubeConnection(server=kube_api.url))
    smc_client = SmcClient(settings, clock=clock)
    try:
        yield Starter(
            smc=smc_client,
            kube=kube,
            limits=Limits(max_attempts=3, backoff_base_seconds=0.1, backoff_max_seconds=0.1),
            default_region=settings.region,
        )
    finally:
        await smc_client.close()
        await kube.close()


async def attempt(
    kube: EmulatedKubeApi, starter: Starter, name: str, job_id: str, secret: str = SECRET
) -> str:
    """Create a ReplicationJob and make one start attempt for it; the Started reason."""
    await create_rj(kube, name, job_id, secret=secret)
    observed = Observed(
        generation=1,
        retry_requested_at=None,
        spec=ReplicationJobSpec(
            job_id=job_id, start=True, credentials_secret_ref=SecretReference(name=secret)
        ),
        status=ReplicationJobStatus(),
    )
    result = await starter.attempt(ObjectRef(NAMESPACE, name, None), observed)
    assert result.write is not None
    condition = result.write.condition(STARTED)
    assert condition is not None
    return condition.reason


def cached_fingerprints(starter: Starter) -> set[str]:
    return {fingerprint for fingerprint, _region in starter.smc._clients}


async def rotate(kube: EmulatedKubeApi, smc: SmcEmulator) -> None:
    """SMC accepts only the new secret from now on; the Secret is updated in place."""
    smc.access_keys[KEY_ID] = ROTATED_SECRET
    data = {"accessKeySecret": leak_forms(ROTATED_SECRET)["base64"]}
    await kube.patch(SECRETS, SECRET, {"data": data}, namespace=NAMESPACE)


OLD = AccessKey(KEY_ID, KEY_SECRET).fingerprint
NEW = AccessKey(KEY_ID, ROTATED_SECRET).fingerprint


async def test_rotated_and_deleted_secrets_apply_at_once_and_leave_memory_when_idle(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, starter: Starter, clock: FakeClock
) -> None:
    for n in range(4):
        seed(smc, f"j-lifetime00000{n}")
    await create_secret(kube_api, KEY_ID, KEY_SECRET)
    await create_secret(kube_api, STS_KEY_ID, STS_SECRET, name="sts", security_token=STS_TOKEN)
    assert await attempt(kube_api, starter, "before", "j-lifetime000000") == "Started"
    assert cached_fingerprints(starter) == {OLD}

    await rotate(kube_api, smc)
    clock.now += 1
    assert await attempt(kube_api, starter, "after", "j-lifetime000001") == "Started"
    assert NEW in cached_fingerprints(starter)

    await kube_api.delete(SECRETS, SECRET, namespace=NAMESPACE)
    clock.now += 1
    assert await attempt(kube_api, starter, "gone", "j-lifetime000002") == "CredentialsNotFound"

    # Once idle for CLIENT_IDLE_SECONDS, the next SMC call drops both keys.
    clock.now += CLIENT_IDLE_SECONDS + 1
    assert await attempt(kube_api, starter, "other", "j-lifetime000003", "sts") == "Started"
    assert cached_fingerprints(starter) == {
        AccessKey(STS_KEY_ID, STS_SECRET, STS_TOKEN).fingerprint
    }


async def test_a_rotated_out_key_leaves_memory_without_waiting_for_another_call(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, starter: Starter, clock: FakeClock
) -> None:
    for n in range(2):
        seed(smc, f"j-lifetime00001{n}")
    await create_secret(kube_api, KEY_ID, KEY_SECRET)
    assert await attempt(kube_api, starter, "before", "j-lifetime000010") == "Started"
    await rotate(kube_api, smc)
    clock.now += 1
    assert await attempt(kube_api, starter, "after", "j-lifetime000011") == "Started"
    # The rotated-out key left with the read that found the new one.
    assert cached_fingerprints(starter) == {AccessKey(KEY_ID, ROTATED_SECRET).fingerprint}
    await kube_api.delete(SECRETS, SECRET, namespace=NAMESPACE)
    clock.now += CLIENT_IDLE_SECONDS + 1
    # No further SMC call: the operator's housekeeping drops the idle key of the deleted Secret.
    starter.smc.drop_idle()
    assert cached_fingerprints(starter) == set()
