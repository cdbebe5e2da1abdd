"""The bad-input corpus for credentials Secrets, beyond ``test_credentials.py``.

Secrets shaped in ways a real API server would refuse to store (``data`` that is not a map, values
that are not strings) can still come from a non-conforming server or a test double; nothing may
crash, every problem is a :class:`CredentialsError` that names the Secret and the key, and no
message ever carries a value.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from smc_operator.credentials import CredentialsError, parse_secret

KEY_ID = "LTAI5tBadInputKeyId01"
SECRET = "badInput-secret-Zq8Wm3Xr7Tn2"
TOKEN = "badInput-token-CAIS-Pl4Ok9Ij"
WHERE = "team-a/smc-credentials"


def b64(value: str | bytes) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"data": "not a map"}, "lacks the key(s) accessKeyId, accessKeySecret"),
        ({"data": [b64(KEY_ID), b64(SECRET)]}, "lacks the key(s)"),
        ({"stringData": {"accessKeyId": 42, "accessKeySecret": SECRET}}, "lacks the key(s)"),
        (
            {"data": {"accessKeyId": b64(KEY_ID), "accessKeySecret": None}},
            "lacks the key(s) accessKeySecret",
        ),
        (
            {"data": {"accessKeyId": b64(KEY_ID), "accessKeySecret": {"v": SECRET}}},
            "non-string value in accessKeySecret",
        ),
        (
            {"data": {"accessKeyId": b64(KEY_ID), "accessKeySecret": b64(SECRET)[:-2] + "=@"}},
            "invalid base64 in accessKeySecret",
        ),
        (
            {"data": {"accessKeyId": b64(KEY_ID), "accessKeySecret": SECRET}},  # not encoded
            "accessKeySecret",
        ),
        (
            {"data": {"accessKeyId": b64(KEY_ID), "accessKeySecret": b64(SECRET + "\x00")}},
            "characters in accessKeySecret",
        ),
        (
            {"data": {"accessKeyId": b64(KEY_ID), "accessKeySecret": b64("\u202e" + SECRET)}},
            "characters in accessKeySecret",
        ),
        (
            {"data": {"accessKeyId": b64(KEY_ID), "accessKeySecret": b64(SECRET + " x")}},
            "characters in accessKeySecret",
        ),
        (
            {"data": {"accessKeyId": b64(KEY_ID), "accessKeySecret": b64("\r\n" + SECRET)}},
            "whitespace in accessKeySecret",
        ),
        (
            {
                "data": {
                    "accessKeyId": b64(KEY_ID),
                    "accessKeySecret": b64(SECRET),
                    "securityToken": b64(b"\xc3\x28" + TOKEN.encode()),
                }
            },
            "securityToken that is not UTF-8 text",
        ),
        (
            {
                "data": {
                    "accessKeyId": b64(KEY_ID),
                    "accessKeySecret": b64(SECRET),
                    "securityToken": b64(TOKEN + "\n"),
                }
            },
            "whitespace in securityToken",
        ),
    ],
)
def test_odd_secrets_are_explained_without_values(body: dict[str, Any], complaint: str) -> None:
    with pytest.raises(CredentialsError) as caught:
        parse_secret(body, where=WHERE)
    message = str(caught.value)
    assert complaint in message
    assert WHERE in message
    for value in (KEY_ID, SECRET, TOKEN, b64(SECRET), b64(TOKEN)):
        assert value not in message
    assert message.isprintable()


def test_data_wins_over_string_data_and_other_keys_are_ignored() -> None:
    key = parse_secret(
        {
            "data": {"accessKeyId": b64(KEY_ID), "accessKeySecret": b64(SECRET), "note": "?"},
            "stringData": {"accessKeySecret": "stale", "password": "hunter2"},
        },
        where=WHERE,
    )
    assert (key.access_key_id, key.access_key_secret, key.security_token) == (KEY_ID, SECRET, None)


@pytest.mark.parametrize(
    "keys",
    [
        ("AccessKeyId", "AccessKeySecret"),
        ("access_key_id", "access_key_secret"),
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    ],
)
def test_misspelt_keys_are_named_in_the_message(keys: tuple[str, str]) -> None:
    body = {"data": {keys[0]: b64(KEY_ID), keys[1]: b64(SECRET)}}
    with pytest.raises(CredentialsError) as caught:
        parse_secret(body, where=WHERE)
    message = str(caught.value)
    assert "lacks the key(s) accessKeyId, accessKeySecret" in message
    assert SECRET not in message and KEY_ID not in message
    assert f"it has: {', '.join(sorted(keys))}" in message
