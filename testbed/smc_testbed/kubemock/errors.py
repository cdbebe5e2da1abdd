"""The failures the emulated API answers with, as Kubernetes ``Status`` objects.

One exception type, :class:`ApiError`, carries the HTTP code, the machine-readable ``reason`` and
the message; the constructors below produce the exact reasons and message shapes a real API server
uses, so clients (kopf, kubectl, the kubernetes library) classify them as they would in a cluster:

======  ======================  =====================================================
code    reason                  when
======  ======================  =====================================================
400     BadRequest              malformed body, name/namespace mismatch, bad selector
403     Forbidden               creating in a namespace that is being deleted
404     NotFound                no such object, namespace, resource or path
405     MethodNotAllowed        e.g. create through the all-namespaces collection URL
409     AlreadyExists           create of an existing name
409     Conflict                stale ``metadata.resourceVersion`` or failed precondition
410     Expired                 watch from a resourceVersion older than the kept history
415     UnsupportedMediaType    a patch type the emulator does not speak (server-side apply)
422     Invalid                 failed JSON-patch ``test``/path, invalid name, new finalizer
                                on an object being deleted
429     TooManyRequests         fault injection only
500     InternalError           fault injection, or a bug in the emulator
======  ======================  =====================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smc_testbed.kubemock.resources import Resource

_DEFAULT_MESSAGES = {
    400: "the server rejected our request for an unknown reason",
    403: "forbidden",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    409: "the server reported a conflict",
    410: "the resource version is too old",
    415: "the body of the request was in an unknown format",
    422: "the server rejected our request due to an error in our request",
    429: "the server has received too many requests and has asked us to try again later",
    500: "an error on the server has prevented the request from succeeding",
    503: "the server is currently unable to handle the request",
}

_DEFAULT_REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


class ApiError(Exception):
    """A failure answered as a Kubernetes ``Status`` with this code, reason and message."""

    def __init__(
        self,
        code: int,
        reason: str | None = None,
        message: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.code = code
        self.reason = reason or _DEFAULT_REASONS.get(code, "Unknown")
        self.message = message or _DEFAULT_MESSAGES.get(code, f"HTTP {code}")
        self.details = dict(details or {})
        self.headers = dict(headers or {})
        super().__init__(f"{self.code} {self.reason}: {self.message}")

    def status(self) -> dict[str, Any]:
        """The ``Status`` body, as a real API server renders it."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body

    @classmethod
    def from_status(cls, code: int, body: object) -> ApiError:
        """Rebuild the error from a response (for the test helpers' client side)."""
        if isinstance(body, Mapping) and body.get("kind") == "Status":
            return cls(
                code,
                str(body.get("reason") or "") or None,
                str(body.get("message") or "") or None,
                details=body.get("details") if isinstance(body.get("details"), Mapping) else None,
            )
        return cls(code, message=str(body)[:256] if body else None)


def _details(resource: Resource, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"group": resource.group, "kind": resource.plural}
    if name is not None:
        details["name"] = name
    return details


def not_found(resource: Resource, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{resource.qualified_name} "{name}" not found',
        details=_details(resource, name),
    )


def namespace_not_found(namespace: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'namespaces "{namespace}" not found',
        details={"name": namespace, "kind": "namespaces"},
    )


def resource_not_found() -> ApiError:
    return ApiError(404, "NotFound")


def already_exists(resource: Resource, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{resource.qualified_name} "{name}" already exists',
        details=_details(resource, name),
    )


def conflict(resource: Resource, name: str, why: str | None = None) -> ApiError:
    why = why or (
        "the object has been modified; "
        "please apply your changes to the latest version and try again"
    )
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource.qualified_name} "{name}": {why}',
        details=_details(resource, name),
    )


def invalid(resource: Resource, name: str, message: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'{resource.kind}.{resource.group or "core"} "{name}" is invalid: {message}',
        details=_details(resource, name),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed")


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format "
        f"- accepted media types include: application/json-patch+json, "
        f"application/merge-patch+json, application/strategic-merge-patch+json "
        f"(got {content_type!r})",
    )


def gone(since: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {since} ({oldest})")
