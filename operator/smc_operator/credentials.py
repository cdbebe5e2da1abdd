"""AccessKey credentials from a Kubernetes Secret: parsed, validated, never printed.

A ``credentialsSecretRef`` names a Secret in the ReplicationJob's own namespace with the keys
``accessKeyId``, ``accessKeySecret`` and optionally ``securityToken`` (an STS token). Every way the
Secret can be wrong becomes a :class:`CredentialsError` whose message says what to fix and never
contains a value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

ACCESS_KEY_ID: Final = "accessKeyId"
ACCESS_KEY_SECRET: Final = "accessKeySecret"
SECURITY_TOKEN: Final = "securityToken"
REQUIRED_KEYS: Final = (ACCESS_KEY_ID, ACCESS_KEY_SECRET)


class CredentialsError(Exception):
    """The credentials Secret cannot be used; the message says why (never what it contains)."""


@dataclass(frozen=True)
class AccessKey:
    """An AccessKey pair, optionally with an STS security token. ``repr`` shows no secret."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    @property
    def fingerprint(self) -> str:
        """A digest of all parts: the SDK client cache key; changes when the Secret rotates."""
        digest = hashlib.sha256()
        for part in (self.access_key_id, self.access_key_secret, self.security_token or ""):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()[:32]

    def __repr__(self) -> str:
        kind = "sts" if self.security_token else "access_key"
        return f"AccessKey({mask(self.access_key_id)}, {kind})"

    __str__ = __repr__


def mask(access_key_id: str) -> str:
    """Enough of an AccessKeyId to recognise it in a log, not enough to use it."""
    if len(access_key_id) <= 8:
        return "****"
    return f"{access_key_id[:4]}****{access_key_id[-4:]}"


def parse_secret(secret: Mapping[str, object], *, where: str) -> AccessKey:
    """Read an AccessKey from a Secret object (its ``data``, base64, or ``stringData``).

    ``where`` names the Secret (``namespace/name``) in error messages.
    """
    values = _decoded_values(secret, where=where)
    missing = [key for key in REQUIRED_KEYS if key not in values]
    if missing:
        present = ", ".join(_key_names(secret)) or "none"
        raise CredentialsError(
            f"Secret {where} lacks the key(s) {', '.join(missing)} "
            f"(it has: {present}); it needs {ACCESS_KEY_ID} and {ACCESS_KEY_SECRET}, "
            f"and optionally {SECURITY_TOKEN}"
        )
    for key in (*REQUIRED_KEYS, SECURITY_TOKEN):
        if key in values and not values[key].strip():
            raise CredentialsError(f"Secret {where} has an empty {key}")
        if key in values and values[key] != values[key].strip():
            raise CredentialsError(
                f"Secret {where} has leading or trailing whitespace in {key} "
                f"(a newline from `echo` is the usual cause; use `echo -n` or --from-literal)"
            )
        if key in values and not _is_token_text(values[key]):
            raise CredentialsError(
                f"Secret {where} has characters in {key} that no AccessKey or token contains "
                f"(only printable ASCII without spaces is valid)"
            )
    return AccessKey(
        access_key_id=values[ACCESS_KEY_ID],
        access_key_secret=values[ACCESS_KEY_SECRET],
        security_token=values.get(SECURITY_TOKEN),
    )


def _key_names(secret: Mapping[str, object]) -> list[str]:
    """Every key the Secret has (names only): a misspelt key is then easy to spot."""
    names: set[str] = set()
    for part in ("data", "stringData"):
        section = secret.get(part)
        if isinstance(section, Mapping):
            names.update(str(name) for name in section)
    return sorted(names)


def _is_token_text(value: str) -> bool:
    return value.isascii() and value.isprintable() and " " not in value


def _decoded_values(secret: Mapping[str, object], *, where: str) -> dict[str, str]:
    wanted = (*REQUIRED_KEYS, SECURITY_TOKEN)
    values: dict[str, str] = {}
    data = secret.get("data")
    if isinstance(data, Mapping):
        for key in wanted:
            raw = data.get(key)
            if raw is None:
                continue
            if not isinstance(raw, str):
                raise CredentialsError(f"Secret {where} has a non-string value in {key}")
            try:
                decoded = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise CredentialsError(f"Secret {where} has invalid base64 in {key}") from None
            try:
                values[key] = decoded.decode("utf-8")
            except UnicodeDecodeError:
                raise CredentialsError(
                    f"Secret {where} has a value in {key} that is not UTF-8 text"
                ) from None
    # stringData is write-only on a real API server; test servers may keep it as given.
    string_data = secret.get("stringData")
    if isinstance(string_data, Mapping):
        for key in wanted:
            raw = string_data.get(key)
            if isinstance(raw, str) and key not in values:
                values[key] = raw
    return values
