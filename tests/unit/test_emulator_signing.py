"""ACS3-HMAC-SHA256 checks against the SDK's own signing code (no servers)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from alibabacloud_tea_openapi.utils import (
    Utils,
    get_canonical_query_string,
    get_canonicalized_headers,
)
from darabonba.request import DaraRequest

from smc_operator import wire
from smc_testbed.emulator import signing
from smc_testbed.emulator.rejections import SmcError

AK = "LTAIunitAccessKey"
SECRET = "unit-secret"
STS_AK = "STS.unitKey"
STS_SECRET = "unit-sts-secret"
TOKEN = "unit-token"
KEYS = {AK: SECRET, STS_AK: STS_SECRET}
TOKENS = {STS_AK: TOKEN}


def sdk_signed(
    params: dict[str, str],
    *,
    access_key_id: str = AK,
    secret: str = SECRET,
    token: str | None = None,
    action: str = wire.START_REPLICATION_JOB,
    body: bytes = b"",
) -> signing.SignedRequest:
    """A request signed exactly as alibabacloud-tea-openapi's do_request signs it."""
    headers: dict[str, str] = {
        "host": "127.0.0.1:9090",
        "x-acs-version": wire.API_VERSION,
        "x-acs-action": action,
        "user-agent": "AlibabaCloud (Linux; x86_64) Python/3.11 Core/0.4.3 TeaDSL/2",
        "x-acs-date": "2024-05-01T08:00:00Z",
        "x-acs-signature-nonce": "0123456789abcdef0123456789abcdef",
        "accept": "application/json",
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    if token is not None:
        headers["x-acs-accesskey-id"] = access_key_id
        headers["x-acs-security-token"] = token
    sdk_request = DaraRequest()
    sdk_request.method = "POST"
    sdk_request.pathname = "/"
    sdk_request.query = dict(params)
    sdk_request.headers = dict(headers)
    headers["Authorization"] = Utils.get_authorization(
        sdk_request,
        wire.SIGNATURE_ALGORITHM,
        hashlib.sha256(body).hexdigest(),
        access_key_id,
        secret,
    )
    lowered = {name.lower(): [value] for name, value in headers.items()}
    return signing.SignedRequest("POST", "/", dict(params), lowered, body)


def with_header(request: signing.SignedRequest, name: str, value: str) -> signing.SignedRequest:
    return replace(request, headers={**request.headers, name: [value]})


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"JobId": "j-bw526m1vi6x21qxxxx"},
        {"JobId.1": "j-1", "JobId.10": "j-10", "JobId.2": "j-2", "PageSize": "50"},
        {"Name": "a b+c/é~*'()!", "Empty": ""},
    ],
)
def test_canonical_query_matches_sdk(params: dict[str, str]) -> None:
    assert signing.canonical_query(params) == get_canonical_query_string(params)


def test_canonical_headers_match_sdk() -> None:
    headers = {"Host": "h:1", "X-Acs-Action": " Start ", "accept": "application/json"}
    expected, signed = get_canonicalized_headers(headers)
    lowered = {name.lower(): [value] for name, value in headers.items()}
    assert signing.canonical_headers(lowered, signed.split(";")) == expected


def test_authorization_header_matches_sdk() -> None:
    request = sdk_signed({"JobId": "j-1"})
    names = [name for name in request.headers if name != "authorization"]
    ours = signing.authorization_header(request, AK, SECRET, names)
    assert ours == request.headers["authorization"][0]


def test_parse_authorization() -> None:
    parsed = signing.parse_authorization(
        "ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders=host;x-acs-action,Signature=ABCD"
    )
    assert parsed == signing.Authorization(
        "ACS3-HMAC-SHA256", "AKID", ("host", "x-acs-action"), "abcd"
    )
    assert signing.parse_authorization("Bearer xyz") is None
    assert signing.parse_authorization("ACS3-HMAC-SHA256 Credential=A") is None


def test_valid_signature_names_the_caller() -> None:
    assert signing.verify(sdk_signed({"JobId": "j-1"}), KEYS, TOKENS) == AK


def test_valid_sts_credentials_name_the_caller() -> None:
    request = sdk_signed({}, access_key_id=STS_AK, secret=STS_SECRET, token=TOKEN)
    assert signing.verify(request, KEYS, TOKENS) == STS_AK


def test_body_is_part_of_the_signature() -> None:
    request = sdk_signed({}, body=b"JobId=j-1")
    assert signing.verify(request, KEYS, TOKENS) == AK
    with pytest.raises(SmcError) as caught:
        signing.verify(replace(request, body=b"JobId=j-2"), KEYS, TOKENS)
    assert caught.value.code == wire.SIGNATURE_DOES_NOT_MATCH


def _unsigned_authorization(request: signing.SignedRequest) -> signing.SignedRequest:
    headers = dict(request.headers)
    del headers["authorization"]
    return replace(request, headers=headers)


def _drop_signed_header(request: signing.SignedRequest) -> signing.SignedRequest:
    value = request.headers["authorization"][0].replace("x-acs-action;", "")
    return with_header(request, "authorization", value)


@pytest.mark.parametrize(
    ("request_", "status", "code"),
    [
        pytest.param(
            _unsigned_authorization(sdk_signed({})), 400, wire.MISSING_PARAMETER, id="no-auth"
        ),
        pytest.param(
            with_header(sdk_signed({}), "authorization", "garbage"),
            400,
            wire.INCOMPLETE_SIGNATURE,
            id="malformed",
        ),
        pytest.param(
            with_header(
                sdk_signed({}),
                "authorization",
                sdk_signed({})
                .headers["authorization"][0]
                .replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3"),
            ),
            400,
            wire.INCOMPLETE_SIGNATURE,
            id="other-algorithm",
        ),
        pytest.param(
            _drop_signed_header(sdk_signed({})),
            400,
            wire.INCOMPLETE_SIGNATURE,
            id="x-acs-header-unsigned",
        ),
        pytest.param(
            sdk_signed({}, access_key_id="LTAIunknown"),
            404,
            wire.INVALID_ACCESS_KEY_NOT_FOUND,
            id="unknown-key",
        ),
        pytest.param(
            sdk_signed({}, secret="wrong"), 400, wire.SIGNATURE_DOES_NOT_MATCH, id="wrong-secret"
        ),
        pytest.param(
            replace(sdk_signed({"JobId": "j-1"}), params={"JobId": "j-2"}),
            400,
            wire.SIGNATURE_DOES_NOT_MATCH,
            id="tampered-param",
        ),
        pytest.param(
            with_header(sdk_signed({}), "x-acs-action", wire.STOP_REPLICATION_JOB),
            400,
            wire.SIGNATURE_DOES_NOT_MATCH,
            id="tampered-header",
        ),
        pytest.param(
            sdk_signed({}, access_key_id=STS_AK, secret=STS_SECRET),
            400,
            wire.INVALID_SECURITY_TOKEN_MALFORMED,
            id="sts-without-token",
        ),
        pytest.param(
            sdk_signed({}, access_key_id=STS_AK, secret=STS_SECRET, token="stale"),
            400,
            wire.INVALID_SECURITY_TOKEN_EXPIRED,
            id="sts-wrong-token",
        ),
        pytest.param(
            sdk_signed({}, token=TOKEN),
            400,
            wire.INVALID_SECURITY_TOKEN_MALFORMED,
            id="token-with-long-term-key",
        ),
        pytest.param(
            sdk_signed({}, access_key_id=STS_AK, secret="wrong", token=TOKEN),
            400,
            wire.SIGNATURE_DOES_NOT_MATCH,
            id="sts-wrong-secret",
        ),
    ],
)
def test_refusals(request_: signing.SignedRequest, status: int, code: str) -> None:
    with pytest.raises(SmcError) as caught:
        signing.verify(request_, KEYS, TOKENS)
    assert (caught.value.http_status, caught.value.code) == (status, code)
    for secret in (SECRET, STS_SECRET, TOKEN):
        assert secret not in caught.value.message


def test_accesskey_header_must_match_the_credential() -> None:
    request = sdk_signed({}, access_key_id=STS_AK, secret=STS_SECRET, token=TOKEN)
    # Re-sign with a lying x-acs-accesskey-id header: the signature holds, the claim does not.
    lying = sdk_signed({}, access_key_id=STS_AK, secret=STS_SECRET, token=TOKEN)
    headers = {k: v for k, v in lying.headers.items() if k != "authorization"}
    headers["x-acs-accesskey-id"] = [AK]
    names = list(headers)
    auth = signing.authorization_header(
        replace(request, headers=headers), STS_AK, STS_SECRET, names
    )
    headers["authorization"] = [auth]
    with pytest.raises(SmcError) as caught:
        signing.verify(replace(request, headers=headers), KEYS, TOKENS)
    assert caught.value.code == wire.SIGNATURE_DOES_NOT_MATCH


def test_claimed_access_key_id_is_read_without_verification() -> None:
    request = sdk_signed({}, access_key_id="LTAIanyone", secret="whatever")
    assert signing.claimed_access_key_id(request.headers) == "LTAIanyone"
    assert signing.claimed_access_key_id({}) is None
