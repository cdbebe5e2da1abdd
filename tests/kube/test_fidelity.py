"""The same requests to the real API server and to kmock's fidelity layer (``smc_testbed.kubemock``).

Where they agree, the emulated API stands in for the real one in the fast tiers and the benchmark.
Where they differ, the difference is listed here, asserted as it is, so that a change on either
side shows up: the real server applies the CRD's schema (defaults, pruning, validation, strict
field validation); the emulated API registers ReplicationJobs without it, on purpose (the
integration tests put objects past admission that a real server refuses, to test the operator's
own ``InvalidSpec`` path and its refusal of a Secret in another namespace).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from smc_testbed.kubemock import ApiError, EmulatedKubeApi
from testkit.kube import KubeServer

from .conftest import rj

JOB = "j-bw526m1vi6x21qxxxx"


@pytest.fixture
async def mock() -> AsyncIterator[EmulatedKubeApi]:
    async with EmulatedKubeApi() as api:
        yield api


async def on_mock(
    api: EmulatedKubeApi, method: str, path: str, body: Any = None, **params: str
) -> tuple[int, Any]:
    try:
        answer = await api.request(method, path, body=body, params=params or None)
    except ApiError as error:
        return error.code, {"reason": error.reason, "message": error.message}
    return (201 if method == "POST" else 200), answer


def outline(answer: Any) -> Any:
    if answer.get("kind") == "Status" or "reason" in answer:
        return answer["reason"]
    return answer.get("spec")


async def test_where_the_emulated_api_agrees_with_the_real_one_and_where_it_does_not(
    kube: KubeServer, mock: EmulatedKubeApi, namespace: str
) -> None:
    await mock.ensure_namespace(namespace)
    path = f"/apis/smcoperator.io/v1alpha1/namespaces/{namespace}/replicationjobs"

    def body(name: str, spec: Any) -> dict[str, Any]:
        obj = rj(namespace, name, JOB)
        obj["spec"] = spec
        return obj

    # (what, method, path, body, query) -> (real, emulated), each (HTTP status, reason or spec)
    cases: list[tuple[str, str, str, Any, dict[str, str], tuple[Any, Any]]] = [
        # Agreements.
        (
            "duplicate name",
            "POST",
            path,
            body("a", {"jobId": JOB, "start": True}),
            {},
            ((409, "AlreadyExists"), (409, "AlreadyExists")),
        ),
        ("missing object", "GET", f"{path}/zzz", None, {}, ((404, "NotFound"), (404, "NotFound"))),
        (
            "missing namespace",
            "POST",
            "/apis/smcoperator.io/v1alpha1/namespaces/nope/replicationjobs",
            {**body("n", {"jobId": JOB}), "metadata": {"name": "n", "namespace": "nope"}},
            {},
            ((404, "NotFound"), (404, "NotFound")),
        ),
        # Differences: the schema's default (spec.start: false) ...
        (
            "default",
            "POST",
            path,
            body("b", {"jobId": JOB}),
            {},
            (
                (201, {"jobId": JOB, "start": False, "suspend": False, "deletionPolicy": "Orphan"}),
                (201, {"jobId": JOB}),
            ),
        ),
        # ... validation (kubectl's default is strict field validation) ...
        (
            "pattern",
            "POST",
            path,
            body("c", {"jobId": "J-UPPER"}),
            {},
            ((422, "Invalid"), (201, {"jobId": "J-UPPER"})),
        ),
        (
            "no spec",
            "POST",
            path,
            {**body("d", None), "spec": None},
            {},
            ((422, "Invalid"), (201, None)),
        ),
        (
            "strict",
            "POST",
            path,
            body("e", {"jobId": JOB, "x": 1}),
            {"fieldValidation": "Strict"},
            ((400, "BadRequest"), (201, {"jobId": JOB, "x": 1})),
        ),
        # ... and pruning of unknown fields when validation is not strict.
        (
            "pruned",
            "POST",
            path,
            body("f", {"jobId": JOB, "start": True, "x": 1}),
            {},
            (
                (201, {"jobId": JOB, "start": True, "suspend": False, "deletionPolicy": "Orphan"}),
                (201, {"jobId": JOB, "start": True, "x": 1}),
            ),
        ),
    ]
    kube.request("POST", path, body("a", {"jobId": JOB, "start": True}))
    await on_mock(mock, "POST", path, body("a", {"jobId": JOB, "start": True}))
    for what, method, where, payload, params, (real, emulated) in cases:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        status, answer = kube.request(method, where, payload, query=query)
        assert (status, outline(answer)) == real, (what, answer)
        status, answer = await on_mock(mock, method, where, payload, **params)
        assert (status, outline(answer)) == emulated, (what, answer)

    # Agreement: writes to the main resource ignore status; /status changes only status, and
    # only spec changes move the generation.
    for patch_path, patch, generation, has_status in (
        (f"{path}/a", {"status": {"attempts": 7}}, 1, False),
        (f"{path}/a/status", {"status": {"attempts": 7}, "spec": {"start": False}}, 1, True),
        (f"{path}/a", {"metadata": {"annotations": {"x": "y"}}}, 1, True),
        (f"{path}/a", {"spec": {"start": False}}, 2, True),
    ):
        real_obj = _merge_patch_real(kube, patch_path, patch)
        emulated_obj = await mock.request(
            "PATCH", patch_path, body=patch, content_type="application/merge-patch+json"
        )
        for obj in (real_obj, emulated_obj):
            assert obj["metadata"]["generation"] == generation, (patch_path, patch)
            assert ("status" in obj) == has_status, (patch_path, patch)
            assert obj["spec"]["start"] is (generation == 1)


def _merge_patch_real(kube: KubeServer, path: str, patch: dict[str, Any]) -> dict[str, Any]:
    name = path.rsplit("/replicationjobs/", 1)[1]
    subresource = ()
    if name.endswith("/status"):
        name, subresource = name.removesuffix("/status"), ("--subresource=status",)
    namespace = path.split("/namespaces/", 1)[1].split("/", 1)[0]
    result = kube.kubectl(
        "-n",
        namespace,
        "patch",
        "rj",
        name,
        *subresource,
        "--type=merge",
        "-p",
        json.dumps(patch),
        "-o",
        "json",
    )
    obj: dict[str, Any] = json.loads(result.stdout)
    return obj
