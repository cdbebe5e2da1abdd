"""The emulated Kubernetes API (smc_testbed.kubemock) behaves like a real API server where kopf,
kubectl and the operator rely on it. The tests talk HTTP to a server on 127.0.0.1 (the patch
document tests at the end are pure functions)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import pytest

from smc_testbed.kubemock import (
    CUSTOM_RESOURCE_DEFINITIONS,
    EVENTS,
    NAMESPACES,
    REPLICATION_JOBS,
    SECRETS,
    ApiError,
    ApiServerEmulator,
    EmulatedKubeApi,
    Fault,
    Resource,
)
from smc_testbed.kubemock.patches import PatchNotApplicableError, json_patch, merge_patch

RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
KUBECTL = shutil.which("kubectl")
# A bound on waiting for events that are expected to arrive; never a pause.
EVENT_TIMEOUT = 10.0


def job(name: str, *, job_id: str = "j-abcdefgh0001", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "smcoperator.io/v1alpha1",
        "kind": "ReplicationJob",
        "metadata": {"name": name},
        "spec": {"jobId": job_id},
        **extra,
    }


def version_of(obj: Mapping[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


@pytest.fixture
async def api() -> AsyncIterator[EmulatedKubeApi]:
    async with EmulatedKubeApi() as served:
        yield served


class WatchStream:
    """A raw watch request read line by line (as kopf and kubectl read it)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self) -> dict[str, Any]:
        async with asyncio.timeout(EVENT_TIMEOUT):
            line = await self.response.content.readline()
        assert line, "the stream has ended"
        event: dict[str, Any] = json.loads(line)
        return event

    async def ended(self) -> bool:
        async with asyncio.timeout(EVENT_TIMEOUT):
            return await self.response.content.readline() == b""


@pytest.fixture
async def session(api: EmulatedKubeApi) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=api.url) as client:
        yield client


async def open_watch(
    session: aiohttp.ClientSession, path: str, **params: str
) -> tuple[aiohttp.ClientResponse, WatchStream]:
    response = await session.get(path, params={"watch": "true", **params})
    assert response.status == 200
    return response, WatchStream(response)


# --- metadata, versions, generations --------------------------------------------------------------


async def test_create_answers_201_with_server_metadata(api: EmulatedKubeApi) -> None:
    created = await api.create(REPLICATION_JOBS, job("a"))

    meta = created["metadata"]
    assert meta["namespace"] == "default"
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert RFC3339_Z.match(meta["creationTimestamp"])
    assert meta["generation"] == 1
    assert version_of(created) > 0
    assert api.counters.count(verb="create", code=201, name="a") == 1


async def test_generation_bumps_only_on_spec_changes(api: EmulatedKubeApi) -> None:
    created = await api.create(REPLICATION_JOBS, job("a"))

    labelled = await api.patch(REPLICATION_JOBS, "a", {"metadata": {"labels": {"x": "y"}}})
    with_status = await api.patch(
        REPLICATION_JOBS, "a", {"status": {"phase": "Seen"}}, subresource="status"
    )
    restarted = await api.patch(REPLICATION_JOBS, "a", {"spec": {"start": True}})
    unchanged = await api.patch(REPLICATION_JOBS, "a", {"spec": {"start": True}})

    assert [obj["metadata"]["generation"] for obj in (created, labelled, with_status)] == [1, 1, 1]
    assert restarted["metadata"]["generation"] == 2
    assert version_of(created) < version_of(labelled) < version_of(with_status)
    assert version_of(with_status) < version_of(restarted)
    # A write that changes nothing is a no-op, as on a real server: same version, no event.
    assert unchanged == restarted


async def test_resource_versions_come_from_one_increasing_counter(api: EmulatedKubeApi) -> None:
    first = await api.create(REPLICATION_JOBS, job("a"))
    secret = await api.create(SECRETS, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    second = await api.create(REPLICATION_JOBS, job("b"))
    listing = await api.list(REPLICATION_JOBS)

    assert version_of(first) < version_of(secret) < version_of(second)
    assert int(listing["metadata"]["resourceVersion"]) == version_of(second)


async def test_generation_bumps_when_deletion_starts(api: EmulatedKubeApi) -> None:
    await api.create(REPLICATION_JOBS, job("a", metadata={"name": "a", "finalizers": ["x/y"]}))

    deleting = await api.delete(REPLICATION_JOBS, "a")

    assert deleting["metadata"]["generation"] == 2
    assert RFC3339_Z.match(deleting["metadata"]["deletionTimestamp"])


# --- optimistic concurrency ------------------------------------------------------------------------


async def test_stale_resource_version_in_a_patch_conflicts(api: EmulatedKubeApi) -> None:
    created = await api.create(REPLICATION_JOBS, job("a"))
    await api.patch(REPLICATION_JOBS, "a", {"spec": {"start": True}})

    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}}
    with pytest.raises(ApiError) as conflict:
        await api.patch(REPLICATION_JOBS, "a", {**stale, "spec": {"start": False}})

    assert conflict.value.code == 409
    assert conflict.value.reason == "Conflict"
    assert (await api.get(REPLICATION_JOBS, "a"))["spec"]["start"] is True


async def test_current_resource_version_in_a_patch_applies(api: EmulatedKubeApi) -> None:
    created = await api.create(REPLICATION_JOBS, job("a"))

    current = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}}
    patched = await api.patch(REPLICATION_JOBS, "a", {**current, "spec": {"start": True}})

    assert patched["spec"]["start"] is True


async def test_stale_replace_conflicts_and_a_current_one_applies(api: EmulatedKubeApi) -> None:
    created = await api.create(REPLICATION_JOBS, job("a"))
    await api.patch(REPLICATION_JOBS, "a", {"spec": {"start": True}})

    with pytest.raises(ApiError) as conflict:
        await api.replace(REPLICATION_JOBS, "a", created)
    current = await api.get(REPLICATION_JOBS, "a")
    replaced = await api.replace(REPLICATION_JOBS, "a", {**current, "spec": {"jobId": "j-new1"}})

    assert conflict.value.code == 409
    assert replaced["spec"] == {"jobId": "j-new1"}
    assert replaced["metadata"]["generation"] == current["metadata"]["generation"] + 1


async def test_creating_an_existing_name_answers_already_exists(api: EmulatedKubeApi) -> None:
    await api.create(REPLICATION_JOBS, job("a"))

    with pytest.raises(ApiError) as exists:
        await api.create(REPLICATION_JOBS, job("a"))

    assert (exists.value.code, exists.value.reason) == (409, "AlreadyExists")


async def test_failed_json_patch_test_answers_422(api: EmulatedKubeApi) -> None:
    await api.create(REPLICATION_JOBS, job("a"))

    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]},
    ]
    with pytest.raises(ApiError) as invalid:
        await api.patch(REPLICATION_JOBS, "a", ops)

    assert (invalid.value.code, invalid.value.reason) == (422, "Invalid")
    assert "finalizers" not in (await api.get(REPLICATION_JOBS, "a"))["metadata"]


async def test_passing_json_patch_test_applies(api: EmulatedKubeApi) -> None:
    created = await api.create(REPLICATION_JOBS, job("a"))

    ops = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": created["metadata"]["resourceVersion"],
        },
        {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]},
    ]
    patched = await api.patch(REPLICATION_JOBS, "a", ops)

    assert patched["metadata"]["finalizers"] == ["x/y"]


# --- status isolation -----------------------------------------------------------------------------


async def test_main_resource_writes_ignore_status(api: EmulatedKubeApi) -> None:
    created = await api.create(REPLICATION_JOBS, job("a", status={"phase": "Forged"}))
    await api.patch(REPLICATION_JOBS, "a", {"status": {"phase": "Real"}}, subresource="status")

    patched = await api.patch(
        REPLICATION_JOBS, "a", {"spec": {"start": True}, "status": {"phase": "Forged"}}
    )

    assert "status" not in created
    assert patched["spec"]["start"] is True
    assert patched["status"] == {"phase": "Real"}


async def test_status_writes_change_only_status(api: EmulatedKubeApi) -> None:
    created = await api.create(REPLICATION_JOBS, job("a"))

    patched = await api.patch(
        REPLICATION_JOBS,
        "a",
        {"spec": {"start": True}, "metadata": {"labels": {"x": "y"}}, "status": {"phase": "Seen"}},
        subresource="status",
    )

    assert patched["status"] == {"phase": "Seen"}
    assert patched["spec"] == created["spec"]
    assert "labels" not in patched["metadata"]
    assert patched["metadata"]["generation"] == 1
    assert version_of(patched) > version_of(created)


async def test_resources_without_status_subresource_keep_status_in_main_writes(
    api: EmulatedKubeApi,
) -> None:
    plain = Resource(group="example.com", version="v1", plural="things", kind="Thing")
    api.emulator.declare(plain)

    created = await api.create(plain, {"metadata": {"name": "t"}, "status": {"a": 1}})
    with pytest.raises(ApiError) as no_subresource:
        await api.patch(plain, "t", {"status": {"a": 2}}, subresource="status")

    assert created["status"] == {"a": 1}
    assert no_subresource.value.code == 404


# --- lists and kubectl ----------------------------------------------------------------------------


async def test_lists_carry_kind_api_version_and_resource_version(api: EmulatedKubeApi) -> None:
    await api.create(REPLICATION_JOBS, job("a"))

    listing = await api.list(REPLICATION_JOBS)

    assert listing["kind"] == "ReplicationJobList"
    assert listing["apiVersion"] == "smcoperator.io/v1alpha1"
    assert int(listing["metadata"]["resourceVersion"]) == api.store.resource_version
    assert [item["metadata"]["name"] for item in listing["items"]] == ["a"]


async def test_lists_paginate_and_select(api: EmulatedKubeApi) -> None:
    for index in range(5):
        labels = {"tier": "gold" if index % 2 else "bronze"}
        await api.create(
            REPLICATION_JOBS,
            job(f"job-{index}", metadata={"name": f"job-{index}", "labels": labels}),
        )

    first = await api.request("GET", REPLICATION_JOBS.path(), params={"limit": "2"})
    second = await api.request(
        "GET",
        REPLICATION_JOBS.path(),
        params={"limit": "5", "continue": first["metadata"]["continue"]},
    )
    gold = await api.list(REPLICATION_JOBS, label_selector="tier in (gold)")
    named = await api.request(
        "GET", REPLICATION_JOBS.path("default"), params={"fieldSelector": "metadata.name=job-3"}
    )

    assert [item["metadata"]["name"] for item in first["items"]] == ["job-0", "job-1"]
    assert first["metadata"]["remainingItemCount"] == 3
    assert [item["metadata"]["name"] for item in second["items"]] == ["job-2", "job-3", "job-4"]
    assert "continue" not in second["metadata"]
    assert [item["metadata"]["name"] for item in gold["items"]] == ["job-1", "job-3"]
    assert [item["metadata"]["name"] for item in named["items"]] == ["job-3"]


async def test_namespaces_list_and_namespaced_objects_need_one(api: EmulatedKubeApi) -> None:
    namespaces = await api.list(NAMESPACES)
    with pytest.raises(ApiError) as missing:
        await api.create(REPLICATION_JOBS, job("a"), namespace="elsewhere")
    await api.ensure_namespace("elsewhere")
    created = await api.create(REPLICATION_JOBS, job("a"), namespace="elsewhere")

    assert namespaces["kind"] == "NamespaceList"
    assert {"default", "kube-system"} <= {ns["metadata"]["name"] for ns in namespaces["items"]}
    assert (missing.value.code, missing.value.message) == (404, 'namespaces "elsewhere" not found')
    assert created["metadata"]["namespace"] == "elsewhere"


async def test_deleting_a_namespace_deletes_its_objects(api: EmulatedKubeApi) -> None:
    await api.ensure_namespace("doomed")
    await api.create(REPLICATION_JOBS, job("a"), namespace="doomed")

    await api.delete(NAMESPACES, "doomed")

    assert api.store.count(REPLICATION_JOBS) == 0
    assert api.store.find(NAMESPACES, None, "doomed") is None


async def test_secret_string_data_is_stored_as_base64_data(api: EmulatedKubeApi) -> None:
    created = await api.create(
        SECRETS, {"metadata": {"name": "creds"}, "stringData": {"accessKeyId": "LTAIexample"}}
    )

    assert created["data"] == {"accessKeyId": "TFRBSWV4YW1wbGU="}
    assert "stringData" not in created
    assert created["type"] == "Opaque"


async def test_generate_name_creates_unique_names(api: EmulatedKubeApi) -> None:
    body = {"metadata": {"generateName": "kopf-event-"}, "reason": "Test"}
    first = await api.create(EVENTS, body)
    second = await api.create(EVENTS, body)

    assert first["metadata"]["name"].startswith("kopf-event-")
    assert first["metadata"]["name"] != second["metadata"]["name"]


async def kubectl(api: EmulatedKubeApi, cache: Path, *args: str) -> str:
    # kubectl runs as a subprocess while this event loop serves it: never block the loop.
    assert KUBECTL is not None
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(api.kubeconfig),
        "--cache-dir",
        str(cache),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(cache)},
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
async def test_kubectl_applies_and_lists_replication_jobs(
    api: EmulatedKubeApi, tmp_path: Path
) -> None:
    manifest = tmp_path / "rj.yaml"
    manifest.write_text(
        "apiVersion: smcoperator.io/v1alpha1\n"
        "kind: ReplicationJob\n"
        "metadata:\n"
        "  name: from-kubectl\n"
        "spec:\n"
        "  jobId: j-abcdefgh0042\n",
        encoding="utf-8",
    )

    applied = await kubectl(
        api, tmp_path / "cache", "apply", "--validate=false", "-f", str(manifest)
    )
    listed = json.loads(
        await kubectl(api, tmp_path / "cache", "get", "replicationjobs", "-A", "-o", "json")
    )

    assert "created" in applied
    assert [item["spec"]["jobId"] for item in listed["items"]] == ["j-abcdefgh0042"]
    assert (await api.get(REPLICATION_JOBS, "from-kubectl"))["metadata"]["generation"] == 1
    assert api.counters.count(verb="create", agent="kubectl", code=201) == 1


# --- finalizers -----------------------------------------------------------------------------------


async def test_finalizers_keep_a_deleted_object_until_released(api: EmulatedKubeApi) -> None:
    await api.create(REPLICATION_JOBS, job("a", metadata={"name": "a", "finalizers": ["x/y"]}))

    marked = await api.delete(REPLICATION_JOBS, "a")
    still_there = await api.get(REPLICATION_JOBS, "a")
    with pytest.raises(ApiError) as no_new_finalizers:
        await api.patch(REPLICATION_JOBS, "a", {"metadata": {"finalizers": ["x/y", "x/z"]}})
    await api.patch(REPLICATION_JOBS, "a", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiError) as gone:
        await api.get(REPLICATION_JOBS, "a")

    assert marked["metadata"]["deletionTimestamp"] == still_there["metadata"]["deletionTimestamp"]
    assert no_new_finalizers.value.code == 422
    assert gone.value.code == 404


# --- watches --------------------------------------------------------------------------------------


async def test_watch_delivers_added_modified_deleted_with_versions(
    api: EmulatedKubeApi, session: aiohttp.ClientSession
) -> None:
    listing = await api.list(REPLICATION_JOBS)
    since = listing["metadata"]["resourceVersion"]
    response, stream = await open_watch(session, REPLICATION_JOBS.path(), resourceVersion=since)
    async with response:
        created = await api.create(REPLICATION_JOBS, job("a"))
        patched = await api.patch(REPLICATION_JOBS, "a", {"spec": {"start": True}})
        deleted = await api.delete(REPLICATION_JOBS, "a")

        events = [await stream.next() for _ in range(3)]

    assert [event["type"] for event in events] == ["ADDED", "MODIFIED", "DELETED"]
    versions = [version_of(event["object"]) for event in events]
    assert versions == [version_of(created), version_of(patched), version_of(deleted)]
    assert versions == sorted(versions)
    assert api.counters.watch_events["replicationjobs", "MODIFIED"] == 1


async def test_watch_resumes_after_a_resource_version(
    api: EmulatedKubeApi, session: aiohttp.ClientSession
) -> None:
    created = await api.create(REPLICATION_JOBS, job("a"))
    await api.patch(REPLICATION_JOBS, "a", {"spec": {"start": True}})
    await api.create(REPLICATION_JOBS, job("b"))

    response, stream = await open_watch(
        session, REPLICATION_JOBS.path(), resourceVersion=created["metadata"]["resourceVersion"]
    )
    async with response:
        replayed = [await stream.next() for _ in range(2)]

    assert [(e["type"], e["object"]["metadata"]["name"]) for e in replayed] == [
        ("MODIFIED", "a"),
        ("ADDED", "b"),
    ]


async def test_watch_without_version_starts_with_the_current_objects(
    api: EmulatedKubeApi, session: aiohttp.ClientSession
) -> None:
    await api.create(REPLICATION_JOBS, job("a"))
    await api.ensure_namespace("other")
    await api.create(REPLICATION_JOBS, job("b"), namespace="other")

    response, stream = await open_watch(session, REPLICATION_JOBS.path("other"))
    async with response:
        first = await stream.next()
        await api.patch(REPLICATION_JOBS, "a", {"spec": {"start": True}})  # other namespace
        await api.patch(REPLICATION_JOBS, "b", {"spec": {"start": True}}, namespace="other")
        second = await stream.next()

    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "b")
    assert (second["type"], second["object"]["metadata"]["name"]) == ("MODIFIED", "b")


async def test_initial_events_end_with_a_bookmark(
    api: EmulatedKubeApi, session: aiohttp.ClientSession
) -> None:
    await api.create(REPLICATION_JOBS, job("a"))

    response, stream = await open_watch(
        session,
        REPLICATION_JOBS.path(),
        sendInitialEvents="true",
        allowWatchBookmarks="true",
        resourceVersionMatch="NotOlderThan",
    )
    async with response:
        added = await stream.next()
        bookmark = await stream.next()

    assert added["type"] == "ADDED"
    assert bookmark["type"] == "BOOKMARK"
    annotations = bookmark["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) == api.store.resource_version


async def test_watch_from_a_version_older_than_the_history_is_expired() -> None:
    emulator = ApiServerEmulator(history_limit=2)
    async with EmulatedKubeApi(emulator) as api, aiohttp.ClientSession(base_url=api.url) as client:
        created = await api.create(REPLICATION_JOBS, job("a"))
        for index in range(10):
            await api.patch(REPLICATION_JOBS, "a", {"spec": {"n": index}})

        response, stream = await open_watch(
            client, REPLICATION_JOBS.path(), resourceVersion=created["metadata"]["resourceVersion"]
        )
        async with response:
            error = await stream.next()
            assert await stream.ended()

    assert error["type"] == "ERROR"
    assert (error["object"]["code"], error["object"]["reason"]) == (410, "Expired")


async def test_watch_ends_after_timeout_seconds(
    api: EmulatedKubeApi, session: aiohttp.ClientSession
) -> None:
    response, stream = await open_watch(session, REPLICATION_JOBS.path(), timeoutSeconds="0.01")
    async with response:
        assert await stream.ended()


async def test_quiet_watches_get_bookmarks() -> None:
    emulator = ApiServerEmulator(bookmark_interval=0.01)
    async with EmulatedKubeApi(emulator) as api, aiohttp.ClientSession(base_url=api.url) as client:
        await api.create(REPLICATION_JOBS, job("a"))
        since = str(api.store.resource_version)
        response, stream = await open_watch(
            client, REPLICATION_JOBS.path(), resourceVersion=since, allowWatchBookmarks="true"
        )
        async with response:
            bookmark = await stream.next()

    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["resourceVersion"] == since


async def test_single_object_and_legacy_watch_paths(
    api: EmulatedKubeApi, session: aiohttp.ClientSession
) -> None:
    await api.create(REPLICATION_JOBS, job("a"))
    await api.create(REPLICATION_JOBS, job("b"))

    legacy_path = "/apis/smcoperator.io/v1alpha1/watch/namespaces/default/replicationjobs/b"
    response = await session.get(legacy_path)
    async with response:
        event = await WatchStream(response).next()

    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "b")


async def test_dry_run_stores_nothing(api: EmulatedKubeApi) -> None:
    before = api.store.resource_version
    answer = await api.request(
        "POST", REPLICATION_JOBS.path("default"), body=job("a"), params={"dryRun": "All"}
    )

    assert answer["metadata"]["name"] == "a"
    assert api.store.find(REPLICATION_JOBS, "default", "a") is None
    assert api.store.resource_version == before


# --- efficiency -----------------------------------------------------------------------------------


async def test_served_requests_are_not_retained(
    api: EmulatedKubeApi, session: aiohttp.ClientSession
) -> None:
    response, _ = await open_watch(session, REPLICATION_JOBS.path())
    async with response:
        for index in range(300):
            await api.create(REPLICATION_JOBS, job(f"job-{index}"))
            await api.patch(REPLICATION_JOBS, f"job-{index}", {"spec": {"start": True}})
            await api.get(REPLICATION_JOBS, f"job-{index}")
            await api.request("GET", "/apis/smcoperator.io/v1alpha1")  # kmock's discovery
        await api.list(REPLICATION_JOBS)
        with pytest.raises(ApiError):
            await api.request("GET", "/openapi/v2")  # unknown paths: kmock keeps their 404s
        retained = api.emulator.retained_requests
        kept_errors = list(api.emulator.errors)

    # Only the open watch is in flight; the 1,201 answered requests are forgotten (kmock would
    # keep all of them, and scan them all on every new request).
    assert retained == 1
    assert kept_errors == []
    assert api.counters.count(agent="kubemock-client") == 1_202


async def test_objects_are_indexed_by_namespace(api: EmulatedKubeApi) -> None:
    await api.ensure_namespace("other")
    for index in range(50):
        await api.create(REPLICATION_JOBS, job(f"job-{index}"))
    await api.create(REPLICATION_JOBS, job("lonely"), namespace="other")

    assert api.store.count(REPLICATION_JOBS) == 51
    assert api.store.count(REPLICATION_JOBS, "other") == 1
    other = await api.list(REPLICATION_JOBS, namespace="other")
    assert [item["metadata"]["name"] for item in other["items"]] == ["lonely"]


# --- fault injection and counting -----------------------------------------------------------------


async def test_injected_conflicts_hit_only_the_first_patches(api: EmulatedKubeApi) -> None:
    await api.create(REPLICATION_JOBS, job("a"))
    fault = api.faults.add(Fault(verb="patch", resource=REPLICATION_JOBS, status=409, count=2))

    outcomes = []
    for start in (True, False, True):
        try:
            await api.patch(REPLICATION_JOBS, "a", {"spec": {"start": start}})
            outcomes.append(200)
        except ApiError as exc:
            outcomes.append(exc.code)

    assert outcomes == [409, 409, 200]
    assert fault.hits == 2
    assert api.counters.count(verb="patch", code=409) == 2


async def test_injected_lost_response_applies_the_write(api: EmulatedKubeApi) -> None:
    await api.create(REPLICATION_JOBS, job("a"))
    api.faults.add(Fault(verb="patch", subresource="status", status=500, after=True, count=1))

    with pytest.raises(ApiError) as lost:
        await api.patch(REPLICATION_JOBS, "a", {"status": {"phase": "X"}}, subresource="status")

    assert lost.value.code == 500
    assert (await api.get(REPLICATION_JOBS, "a"))["status"] == {"phase": "X"}


async def test_injected_delay_and_throttling(api: EmulatedKubeApi) -> None:
    await api.create(REPLICATION_JOBS, job("a"))
    delayed = api.faults.add(Fault(verb="get", delay=0.01, count=1))
    throttled = api.faults.add(Fault(verb="list", status=429, retry_after=3))

    fetched = await api.get(REPLICATION_JOBS, "a")
    with pytest.raises(ApiError) as too_many:
        await api.list(REPLICATION_JOBS)

    assert fetched["metadata"]["name"] == "a"
    assert (delayed.hits, throttled.hits) == (1, 1)
    assert too_many.value.code == 429
    assert too_many.value.details == {"retryAfterSeconds": 3}


async def test_watches_close_on_demand(
    api: EmulatedKubeApi, session: aiohttp.ClientSession
) -> None:
    plain, plain_stream = await open_watch(session, REPLICATION_JOBS.path())
    expiring, expiring_stream = await open_watch(session, SECRETS.path())
    async with plain, expiring:
        closed_plain = api.close_watches(REPLICATION_JOBS)
        closed_expiring = api.close_watches(SECRETS, gone=True)

        assert await plain_stream.ended()
        error = await expiring_stream.next()
        assert await expiring_stream.ended()

    assert (closed_plain, closed_expiring) == (1, 1)
    assert error["object"]["code"] == 410


async def test_counters_split_reads_and_writes_per_object(api: EmulatedKubeApi) -> None:
    await api.create(REPLICATION_JOBS, job("a"))
    await api.patch(REPLICATION_JOBS, "a", {"spec": {"start": True}})
    await api.get(REPLICATION_JOBS, "a")
    await api.get(REPLICATION_JOBS, "a")
    await api.list(REPLICATION_JOBS)

    per_object = api.counters.per_object(REPLICATION_JOBS)

    assert per_object[("default", "a")] == (2, 2)
    assert api.counters.reads(resource=REPLICATION_JOBS) == 3
    assert api.counters.writes(resource=REPLICATION_JOBS, agent="kubemock-client") == 2


# --- custom resource definitions -------------------------------------------------------------------


WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer"},
                                    "start": {"type": "boolean", "default": False},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {"phase": {"type": "string"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}
WIDGETS = Resource(
    group="example.com",
    version="v1",
    plural="widgets",
    kind="Widget",
    subresources=frozenset({"status"}),
)


async def test_crd_objects_register_resources_with_pruning_and_defaults(
    api: EmulatedKubeApi,
) -> None:
    await api.create(CUSTOM_RESOURCE_DEFINITIONS, WIDGET_CRD)

    discovered = await api.request("GET", "/apis/example.com/v1")
    created = await api.create(WIDGETS, {"metadata": {"name": "w"}, "spec": {"size": 1, "x": 2}})
    patched = await api.patch(
        WIDGETS, "w", {"status": {"phase": "Up", "undeclared": 1}}, subresource="status"
    )
    await api.delete(CUSTOM_RESOURCE_DEFINITIONS, "widgets.example.com")
    with pytest.raises(ApiError) as unserved:
        await api.list(WIDGETS)

    assert [entry["name"] for entry in discovered["resources"]] == ["widgets", "widgets/status"]
    assert created["spec"] == {"size": 1, "start": False}
    assert patched["status"] == {"phase": "Up"}
    assert unserved.value.code == 404
    assert api.store.count(WIDGETS) == 0


# --- kopf end to end --------------------------------------------------------------------------------


async def test_kopf_discovers_watches_and_patches_through_the_emulator(
    api: EmulatedKubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig))
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.create("smcoperator.io", "v1alpha1", "replicationjobs", registry=registry)
    def mark_seen(patch: kopf.Patch, **_: Any) -> None:
        patch.status["phase"] = "Seen"

    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    stop = asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=registry,
            settings=settings,
            clusterwide=True,
            standalone=True,
            stop_flag=stop,
        )
    )
    try:
        await api.create(REPLICATION_JOBS, job("seen-by-kopf"))
        async with asyncio.timeout(EVENT_TIMEOUT):
            seen = await api.wait_for(
                REPLICATION_JOBS,
                "seen-by-kopf",
                lambda obj: (obj.get("status") or {}).get("phase") == "Seen",
            )
    finally:
        stop.set()
        async with asyncio.timeout(EVENT_TIMEOUT):
            await operator

    assert seen["metadata"]["generation"] == 1
    assert api.counters.count(verb="list", resource=REPLICATION_JOBS, agent="kopf") >= 1
    assert api.counters.count(verb="watch", resource=REPLICATION_JOBS, agent="kopf") >= 1
    assert api.counters.count(verb="patch", subresource="status", agent="kopf", code=200) >= 1


async def test_emulator_without_bundle_serves_only_declared_resources() -> None:
    emulator = ApiServerEmulator(bundled=False, namespaces=(), strict_namespaces=False)
    async with EmulatedKubeApi(emulator) as api:
        apis = await api.request("GET", "/apis")
        created = await api.create(REPLICATION_JOBS, job("a"), namespace="anywhere")

    assert [group["name"] for group in apis["groups"]] == ["smcoperator.io"]
    assert created["metadata"]["namespace"] == "anywhere"


# --- patch documents ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "ops", "expected"),
    [
        ({"a": [1, 2]}, [{"op": "add", "path": "/a/1", "value": 9}], {"a": [1, 9, 2]}),
        ({"a": [1, 2]}, [{"op": "add", "path": "/a/-", "value": 9}], {"a": [1, 2, 9]}),
        ({"a": {"b": 1}}, [{"op": "remove", "path": "/a/b"}], {"a": {}}),
        ({"a": 1}, [{"op": "replace", "path": "/a", "value": {"x": 1}}], {"a": {"x": 1}}),
        ({"a": 1, "b": {}}, [{"op": "move", "from": "/a", "path": "/b/c"}], {"b": {"c": 1}}),
        ({"a/b": 1}, [{"op": "copy", "from": "/a~1b", "path": "/c"}], {"a/b": 1, "c": 1}),
    ],
)
def test_json_patch_operations(
    document: dict[str, Any], ops: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    assert json_patch(document, ops) == expected


def test_json_patch_is_atomic_and_leaves_its_input_alone() -> None:
    document = {"a": 1}
    ops = [{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/missing"}]

    with pytest.raises(PatchNotApplicableError):
        json_patch(document, ops)

    assert document == {"a": 1}


def test_merge_patch_follows_rfc_7386() -> None:
    target = {"a": {"b": 1, "c": 2}, "d": [1], "e": 1}

    patched = merge_patch(target, {"a": {"b": None, "x": 3}, "d": [2], "e": {"f": 1}})

    assert patched == {"a": {"c": 2, "x": 3}, "d": [2], "e": {"f": 1}}
    assert target == {"a": {"b": 1, "c": 2}, "d": [1], "e": 1}
