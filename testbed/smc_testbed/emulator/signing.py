"""ACS3-HMAC-SHA256 request signatures, checked the way Alibaba's SDK computes them.

Pure: no I/O. The SDK (alibabacloud-tea-openapi 0.4.6, ``Utils.get_authorization``) signs::

    canonical_request = METHOD \\n PATH \\n CANONICAL_QUERY \\n CANONICAL_HEADERS \\n
                        SIGNED_HEADERS \\n hex(sha256(body))
    string_to_sign    = "ACS3-HMAC-SHA256" \\n hex(sha256(canonical_request))
    signature         = hex(hmac_sha256(secret, string_to_sign))

where CANONICAL_QUERY is ``key=quote(value, safe="~")`` pairs sorted by the raw key and joined by
``&`` (keys are not encoded), and CANONICAL_HEADERS is ``name:value\\n`` for each signed header,
lowercased, sorted, values stripped (repeated headers sorted and joined by ``,``). The SDK signs
every header it sets; the Authorization header names them in ``SignedHeaders``.

Refusals, checked in this order (codes from :mod:`smc_operator.wire`):

- no Authorization header: 400 ``MissingParameter``;
- not ``ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..``, or ``host`` or an
  ``x-acs-*`` header left unsigned: 400 ``IncompleteSignature``;
- unknown AccessKeyId: 404 ``InvalidAccessKeyId.NotFound``;
- signature differs (wrong secret, altered request, body not matching its hash, or an
  ``x-acs-accesskey-id`` header naming another key): 400 ``SignatureDoesNotMatch``;
- security token: an STS key (one with a configured token) called without a token, or a token
  sent with a long-term key: 400 ``InvalidSecurityToken.Malformed``; a token that is not the one
  configured for the key: 400 ``InvalidSecurityToken.Expired`` (SMC cannot tell a stale token
  from a wrong one either; both mean "get fresh credentials").

The signature is checked before the token, so only a caller holding the secret learns anything
about tokens. Not checked: the ``x-acs-date`` freshness window and nonce reuse (the emulator's
clock is monotonic and test-controlled), and the ACS3-HMAC-SM3 / ACS3-RSA-SHA256 algorithms.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from smc_operator import wire
from smc_testbed.emulator.rejections import SmcError, missing_parameter

AUTHORIZATION_HEADER: Final = "authorization"
ACCESS_KEY_ID_HEADER: Final = "x-acs-accesskey-id"
SECURITY_TOKEN_HEADER: Final = "x-acs-security-token"
#: Headers that must be signed whenever they are sent (besides every other ``x-acs-*`` header).
ALWAYS_SIGNED: Final = ("host",)


@dataclass(frozen=True, slots=True)
class Authorization:
    algorithm: str
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What signature checks need of an HTTP request. Header names are lowercase."""

    method: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, Sequence[str]]
    body: bytes


def parse_authorization(value: str) -> Authorization | None:
    """Split an ``Authorization`` header; None when it is not ACS3-shaped."""
    algorithm, _, rest = value.strip().partition(" ")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, field_value = part.strip().partition("=")
        if not sep:
            return None
        fields[key] = field_value
    credential = fields.get("Credential")
    signed = fields.get("SignedHeaders")
    signature = fields.get("Signature")
    if not algorithm or not credential or not signed or not signature:
        return None
    names = tuple(name.strip().lower() for name in signed.split(";"))
    return Authorization(algorithm, credential, names, signature.lower())


def claimed_access_key_id(headers: Mapping[str, Sequence[str]]) -> str | None:
    """The AccessKeyId a request claims (unverified), for the call log."""
    values = headers.get(AUTHORIZATION_HEADER)
    if not values:
        return None
    authorization = parse_authorization(values[0])
    return authorization.access_key_id if authorization else None


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{key}={quote(params[key], safe='~')}" for key in sorted(params))


def canonical_headers(headers: Mapping[str, Sequence[str]], names: Sequence[str]) -> str:
    lines = []
    for name in sorted(names):
        values = sorted(value.strip() for value in headers.get(name, ()))
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_request(request: SignedRequest, signed_headers: Sequence[str]) -> str:
    names = sorted(signed_headers)
    return "\n".join(
        (
            request.method.upper(),
            request.path or "/",
            canonical_query(request.params),
            canonical_headers(request.headers, names),
            ";".join(names),
            payload_hash(request.body),
        )
    )


def signature(secret: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    string_to_sign = f"{wire.SIGNATURE_ALGORITHM}\n{digest}"
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), "sha256").hexdigest()


def authorization_header(
    request: SignedRequest, access_key_id: str, secret: str, signed_headers: Sequence[str]
) -> str:
    """The Authorization value the SDK would send (for tests and hand-made clients)."""
    names = sorted(signed_headers)
    sig = signature(secret, canonical_request(request, names))
    return (
        f"{wire.SIGNATURE_ALGORITHM} Credential={access_key_id},"
        f"SignedHeaders={';'.join(names)},Signature={sig}"
    )


def _incomplete() -> SmcError:
    return SmcError(400, wire.INCOMPLETE_SIGNATURE, wire.INCOMPLETE_SIGNATURE_MESSAGE)


def _signature_mismatch() -> SmcError:
    return SmcError(400, wire.SIGNATURE_DOES_NOT_MATCH, wire.SIGNATURE_DOES_NOT_MATCH_MESSAGE)


def _bad_token(code: str) -> SmcError:
    return SmcError(400, code, wire.INVALID_SECURITY_TOKEN_MESSAGE)


def verify(
    request: SignedRequest,
    access_keys: Mapping[str, str],
    sts_tokens: Mapping[str, str],
) -> str:
    """The caller's verified AccessKeyId; raises :class:`SmcError` otherwise."""
    values = request.headers.get(AUTHORIZATION_HEADER)
    if not values:
        raise missing_parameter("Authorization")
    authorization = parse_authorization(values[0])
    if authorization is None or authorization.algorithm != wire.SIGNATURE_ALGORITHM:
        raise _incomplete()
    signed = set(authorization.signed_headers)
    for name in request.headers:
        if (name.startswith("x-acs-") or name in ALWAYS_SIGNED) and name not in signed:
            raise _incomplete()
    access_key_id = authorization.access_key_id
    secret = access_keys.get(access_key_id)
    if secret is None:
        raise SmcError(
            404, wire.INVALID_ACCESS_KEY_NOT_FOUND, wire.INVALID_ACCESS_KEY_NOT_FOUND_MESSAGE
        )
    expected = signature(secret, canonical_request(request, authorization.signed_headers))
    if not hmac.compare_digest(expected, authorization.signature):
        raise _signature_mismatch()
    claimed = request.headers.get(ACCESS_KEY_ID_HEADER)
    if claimed and claimed[0].strip() != access_key_id:
        raise _signature_mismatch()
    tokens = request.headers.get(SECURITY_TOKEN_HEADER)
    token = tokens[0].strip() if tokens else ""
    configured = sts_tokens.get(access_key_id)
    if configured is None:
        if token:
            raise _bad_token(wire.INVALID_SECURITY_TOKEN_MALFORMED)
    elif not token:
        raise _bad_token(wire.INVALID_SECURITY_TOKEN_MALFORMED)
    elif not hmac.compare_digest(token.encode("utf-8"), configured.encode("utf-8")):
        raise _bad_token(wire.INVALID_SECURITY_TOKEN_EXPIRED)
    return access_key_id
