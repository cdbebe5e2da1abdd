import base64

import pytest

from smc_operator.credentials import AccessKey, CredentialsError, mask, parse_secret

ID = "LTAI5tExampleKeyId01"
SECRET = "s3cr3tValueThatMustNeverLeak"
TOKEN = "CAIS-sts-token-value-xyz"


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def secret(**data: str | bytes) -> dict[str, object]:
    return {"data": {key: b64(value) for key, value in data.items()}}


def test_an_access_key_pair() -> None:
    key = parse_secret(secret(accessKeyId=ID, accessKeySecret=SECRET), where="ns/creds")
    assert key == AccessKey(ID, SECRET, None)


def test_an_sts_token() -> None:
    key = parse_secret(
        secret(accessKeyId=ID, accessKeySecret=SECRET, securityToken=TOKEN), where="ns/creds"
    )
    assert key.security_token == TOKEN


def test_string_data_is_accepted_as_test_servers_keep_it() -> None:
    key = parse_secret(
        {"stringData": {"accessKeyId": ID, "accessKeySecret": SECRET}}, where="ns/creds"
    )
    assert key.access_key_id == ID


def test_repr_and_str_never_show_secrets() -> None:
    key = AccessKey(ID, SECRET, TOKEN)
    for text in (repr(key), str(key), f"{key}", f"{key!r}"):
        assert SECRET not in text and TOKEN not in text and ID not in text
    assert mask(ID) == "LTAI****Id01"
    assert mask("short") == "****"


def test_fingerprint_changes_with_any_part() -> None:
    base = AccessKey(ID, SECRET, None).fingerprint
    assert AccessKey(ID, SECRET + "x", None).fingerprint != base
    assert AccessKey(ID, SECRET, TOKEN).fingerprint != base
    assert SECRET not in base


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({}, "lacks the key(s) accessKeyId, accessKeySecret (it has: none)"),
        ({"data": None}, "lacks the key(s)"),
        (secret(accessKeyId=ID), "lacks the key(s) accessKeySecret (it has: accessKeyId)"),
        (secret(accessKeySecret=SECRET), "lacks the key(s) accessKeyId"),
        (secret(accessKeyId="", accessKeySecret=SECRET), "has an empty accessKeyId"),
        (secret(accessKeyId=ID, accessKeySecret="   "), "has an empty accessKeySecret"),
        (secret(accessKeyId=ID, accessKeySecret=SECRET + "\n"), "whitespace in accessKeySecret"),
        (
            secret(accessKeyId=ID, accessKeySecret=SECRET, securityToken=""),
            "has an empty securityToken",
        ),
        (
            secret(accessKeyId=ID, accessKeySecret=b"\xff\xfe\x00bad"),
            "accessKeySecret that is not UTF-8",
        ),
        (
            {"data": {"accessKeyId": "!!!not base64", "accessKeySecret": b64(SECRET)}},
            "invalid base64",
        ),
        ({"data": {"accessKeyId": 42, "accessKeySecret": b64(SECRET)}}, "non-string value"),
        (secret(accessKeyId="密钥", accessKeySecret=SECRET), "characters in accessKeyId"),
        (secret(accessKeyId="ab\x07cd", accessKeySecret=SECRET), "characters in accessKeyId"),
    ],
)
def test_every_broken_secret_is_explained_without_its_values(
    body: dict[str, object], complaint: str
) -> None:
    with pytest.raises(CredentialsError) as caught:
        parse_secret(body, where="team-a/smc-credentials")
    message = str(caught.value)
    assert complaint in message
    assert "team-a/smc-credentials" in message
    assert SECRET not in message and ID not in message
