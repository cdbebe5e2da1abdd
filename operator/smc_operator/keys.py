"""AccessKeys read from Secrets for SMC calls, and let go of when a Secret changes or goes away."""

from __future__ import annotations

from smc_operator.apis import KubeApi, SmcApi
from smc_operator.credentials import AccessKey, CredentialsError


async def read_access_key(
    kube: KubeApi, smc: SmcApi, namespace: str, secret_name: str
) -> AccessKey:
    """The key in the Secret now; raises :class:`CredentialsError` saying what is wrong.

    Every read tells the SMC client which key the Secret holds, so a rotated-out or deleted key
    is dropped from its client cache at once (rotation takes effect on the next call).
    """
    secret = (namespace, secret_name)
    try:
        access_key = await kube.read_access_key(namespace, secret_name)
    except CredentialsError:
        smc.remember_secret(secret, None)
        raise
    smc.remember_secret(secret, access_key)
    return access_key
