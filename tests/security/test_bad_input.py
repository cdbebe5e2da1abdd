"""The bad-input corpus end to end: what reaches the operator gets a clear, final outcome.

The emulated API validates no schema, so objects a real API server would refuse at admission
(``tests/unit/test_bad_input_admission.py``) reach the operator here, as they would through an
edited CRD or a server that does not validate: each must end in a ``False`` condition with a
reason and a message that says what is wrong (``InvalidSpec``, ``CredentialsNotFound``), with no
SMC call, no crash, no traceback and no retry loop, while the operator goes on serving others.
What does reach SMC (garbled answers, duplicates, deletion mid-call, an unknown region) must
still start each job at most once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from smc_operator import model, wire
from smc_testbed.emulator import SmcEmulator
from smc_testbed.kubemock import REPLICATION_JOBS, SECRETS, EmulatedKubeApi
from testkit.cluster import (
    NAMESPACE,
    SECRET,
    create_rj,
    create_secret,
    events_of,
    reason_is,
    seed,
    start_calls,
    started,
    wait_rj,
)
from testkit.crdschema import admission_errors

from .conftest import KEY_ID, KEY_SECRET, OperatorFactory

VALID_JOB = "j-badinput000001"
OPERATOR_AGENTS = ("kopf", "smc-operator")


async def create_raw(kube: EmulatedKubeApi, name: str, spec: Any, *, has_spec: bool = True) -> None:
    """Create a ReplicationJob with any ``spec`` at all (the emulated API does not validate)."""
    body: dict[str, Any] = {
        "apiVersion": model.API_VERSION,
        "kind": model.KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
    }
    if has_spec:
        body["spec"] = spec
    await kube.ensure_namespace(NAMESPACE)
    await kube.create(REPLICATION_JOBS, body)


def operator_writes(kube: EmulatedKubeApi, name: str) -> int:
    counts = [kube.counters.per_object(REPLICATION_JOBS, agent=a) for a in OPERATOR_AGENTS]
    return sum(c[(NAMESPACE, name)].writes for c in counts if (NAMESPACE, name) in c)


async def settle(seconds: float = 1.0) -> None:
    """Give a wrong extra call or retry loop time to show before asserting that none happened."""
    await asyncio.sleep(seconds)


# name -> (spec, the field the message must name)
BAD_SPECS: dict[str, tuple[Any, str]] = {
    "job-id-missing": ({"start": True}, "spec.jobId"),
    "job-id-empty": ({"jobId": "", "start": True}, "spec.jobId"),
    "job-id-null": ({"jobId": None, "start": True}, "spec.jobId"),
    "job-id-overlong": ({"jobId": "j-" + "a" * 41, "start": True}, "spec.jobId"),
    "job-id-huge": ({"jobId": "j-" + "a" * 100_000, "start": True}, "spec.jobId"),
    "job-id-malformed": ({"jobId": "job-12345678", "start": True}, "spec.jobId"),
    "job-id-uppercase": ({"jobId": "J-BW526M1VI6X21Q", "start": True}, "spec.jobId"),
    "job-id-injection": ({"jobId": "j-abcdefgh1; rm -rf /", "start": True}, "spec.jobId"),
    "job-id-unicode": ({"jobId": "j-ünïcödé1234", "start": True}, "spec.jobId"),
    "job-id-control": ({"jobId": "j-abcdefgh1\x00\x1b[31m\n", "start": True}, "spec.jobId"),
    "job-id-bidi": ({"jobId": "j-abcdefgh1\u202e4321", "start": True}, "spec.jobId"),
    "job-id-number": ({"jobId": 12345678901, "start": True}, "spec.jobId"),
    "job-id-list": ({"jobId": [VALID_JOB], "start": True}, "spec.jobId"),
    "start-yes": ({"jobId": VALID_JOB, "start": "yes"}, "spec.start"),
    "start-one": ({"jobId": VALID_JOB, "start": 1}, "spec.start"),
    "start-null": ({"jobId": VALID_JOB, "start": None}, "spec.start"),
    "region-malformed": ({"jobId": VALID_JOB, "start": True, "regionId": "Hangzhou"}, "regionId"),
    "region-huge": (
        {"jobId": VALID_JOB, "start": True, "regionId": "cn-" + "x" * 100_000},
        "spec.regionId",
    ),
    "region-number": ({"jobId": VALID_JOB, "start": True, "regionId": 5}, "spec.regionId"),
    "secret-ref-string": (
        {"jobId": VALID_JOB, "start": True, "credentialsSecretRef": SECRET},
        "spec.credentialsSecretRef",
    ),
    "secret-ref-empty": (
        {"jobId": VALID_JOB, "start": True, "credentialsSecretRef": {}},
        "spec.credentialsSecretRef.name",
    ),
    "secret-ref-traversal": (
        {"jobId": VALID_JOB, "start": True, "credentialsSecretRef": {"name": "../team-b/creds"}},
        "spec.credentialsSecretRef.name",
    ),
    "spec-string": ("start the job please", "spec"),
    "spec-null": (None, "spec"),
    "spec-list": ([VALID_JOB, True], "spec"),
    "spec-missing": (..., "spec"),
}


async def test_bad_specs_past_admission_are_invalid_spec_without_any_smc_call(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(smc, VALID_JOB)
    await create_secret(kube_api, KEY_ID, KEY_SECRET)
    operator = await start_operator()
    for name, (spec, _field) in BAD_SPECS.items():
        await create_raw(kube_api, name, spec, has_spec=spec is not ...)

    for name, (spec, field) in BAD_SPECS.items():
        obj = await wait_rj(kube_api, name, reason_is("InvalidSpec"))
        condition = started(obj)
        message = condition["message"]
        assert condition["status"] == "False", name
        assert message.startswith("spec is invalid: "), (name, message)
        assert field in message, (name, message)
        assert message.isprintable() and len(message) <= model.MESSAGE_MAX_LENGTH, name
        assert obj["status"]["attempts"] == 0, name
        # A real API server would have refused each one at admission.
        body = {"apiVersion": model.API_VERSION, "kind": model.KIND, "metadata": {}}
        if spec is not ...:
            body["spec"] = spec
        assert admission_errors(body), name
    # The huge values are not copied into the condition (its message is bounded anyway).
    huge = await kube_api.get(REPLICATION_JOBS, "job-id-huge", namespace=NAMESPACE)
    assert "a" * 100 not in str(huge["status"]["conditions"])

    # The operator goes on: a valid object created after all of them starts.
    await create_rj(kube_api, "valid", VALID_JOB)
    await wait_rj(kube_api, "valid", reason_is("Started"))
    await settle()
    # Nothing reached SMC but the valid object's start.
    assert [(c.action, c.params) for c in smc.state.calls.all()] == [
        (wire.START_REPLICATION_JOB, (("JobId", VALID_JOB),))
    ]
    # Final and quiet: one Warning Event each, and no retry loop (the outcome, written once).
    for name in BAD_SPECS:
        events = await events_of(kube_api, name)
        assert [(e["type"], e["reason"]) for e in events] == [("Warning", "InvalidSpec")], name
        assert operator_writes(kube_api, name) <= 2, name
    assert operator.process is not None and operator.process.returncode is None
    assert "Traceback" not in operator.log()


async def test_unknown_spec_fields_are_ignored_as_pruning_would_drop_them(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(smc, VALID_JOB)
    await create_secret(kube_api, KEY_ID, KEY_SECRET)
    spec = {
        "jobId": VALID_JOB,
        "start": True,
        "stop": True,
        "endpoint": "http://attacker.example",
        "credentialsSecretRef": {"name": SECRET, "key": "other"},
    }
    body = {"apiVersion": model.API_VERSION, "kind": model.KIND, "metadata": {}, "spec": spec}
    errors = admission_errors(body)
    assert any(e.startswith("spec: Additional properties") for e in errors), errors
    assert any(e.startswith("spec.credentialsSecretRef: Additional") for e in errors), errors
    await start_operator()
    await create_raw(kube_api, "extra-fields", spec)
    obj = await wait_rj(kube_api, "extra-fields", reason_is("Started"))
    assert obj["status"]["attempts"] == 1
    (call,) = start_calls(smc, VALID_JOB)
    assert call.params == (("JobId", VALID_JOB),)


# name -> (Secret data as raw bytes, or a prepared ``data`` map, or None for no Secret; phrase)
BAD_SECRETS: dict[str, tuple[dict[str, Any] | None, str]] = {
    "missing": (None, "not found"),
    "lacks-secret": ({"accessKeyId": KEY_ID.encode()}, "lacks the key(s) accessKeySecret"),
    "lacks-both": ({"password": KEY_SECRET.encode()}, "lacks the key(s) accessKeyId"),
    "empty-id": (
        {"accessKeyId": b"", "accessKeySecret": KEY_SECRET.encode()},
        "has an empty accessKeyId",
    ),
    "empty-secret": (
        {"accessKeyId": KEY_ID.encode(), "accessKeySecret": b""},
        "has an empty accessKeySecret",
    ),
    "blank-token": (
        {
            "accessKeyId": KEY_ID.encode(),
            "accessKeySecret": KEY_SECRET.encode(),
            "securityToken": b"  ",
        },
        "has an empty securityToken",
    ),
    "newline": (
        {"accessKeyId": KEY_ID.encode(), "accessKeySecret": KEY_SECRET.encode() + b"\n"},
        "whitespace in accessKeySecret",
    ),
    "not-utf8": (
        {"accessKeyId": KEY_ID.encode(), "accessKeySecret": b"\xff\xfe" + KEY_SECRET.encode()},
        "accessKeySecret that is not UTF-8 text",
    ),
    "control-chars": (
        {"accessKeyId": KEY_ID.encode() + b"\x07", "accessKeySecret": KEY_SECRET.encode()},
        "characters in accessKeyId",
    ),
    "unicode": (
        {"accessKeyId": KEY_ID.encode(), "accessKeySecret": "密钥".encode() * 4},
        "characters in accessKeySecret",
    ),
}


async def test_broken_secrets_are_credentials_not_found_without_any_smc_call(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    jobs = {name: f"j-badsecret{n:05d}" for n, name in enumerate([*BAD_SECRETS, "deleted"])}
    for job_id in jobs.values():
        seed(smc, job_id)
    for name, (raw, _phrase) in BAD_SECRETS.items():
        if raw is not None:
            await create_secret(kube_api, "", "", name=f"secret-{name}", raw=raw)
    # Data a real API server would refuse to store (not base64; not strings) reach us here.
    await kube_api.create(
        SECRETS,
        {
            "metadata": {"name": "secret-not-base64", "namespace": NAMESPACE},
            "data": {"accessKeyId": "!!!", "accessKeySecret": "%%%"},
        },
    )
    await kube_api.create(
        SECRETS,
        {
            "metadata": {"name": "secret-not-text", "namespace": NAMESPACE},
            "data": {"accessKeyId": 42, "accessKeySecret": ["x"]},
        },
    )
    extra = {"not-base64": "invalid base64 in accessKeyId", "not-text": "non-string value"}
    for name in extra:
        jobs[name] = f"j-badsecret{len(jobs):05d}"
        seed(smc, jobs[name])
    await create_secret(kube_api, KEY_ID, KEY_SECRET, name="secret-deleted")
    await start_operator()

    # A Secret that worked once, then was deleted: the next request says so.
    await create_rj(kube_api, "before-delete", "j-badsecret99999", secret="secret-deleted")
    seed(smc, "j-badsecret99999")
    await wait_rj(kube_api, "before-delete", reason_is("Started"))
    await kube_api.delete(SECRETS, "secret-deleted", namespace=NAMESPACE)

    phrases = {**{n: p for n, (_r, p) in BAD_SECRETS.items()}, **extra, "deleted": "not found"}
    for name in phrases:
        await create_rj(kube_api, name, jobs[name], secret=f"secret-{name}")
    for name, phrase in phrases.items():
        obj = await wait_rj(kube_api, name, reason_is("CredentialsNotFound"))
        message = started(obj)["message"]
        assert started(obj)["status"] == "False", name
        assert f"Secret {NAMESPACE}/secret-{name}" in message, (name, message)
        assert phrase in message, (name, message)
        assert "retry-requested-at" in message, name  # what to do once it is fixed
        assert KEY_SECRET not in message and KEY_ID not in message, name
    await settle()
    for name in phrases:
        assert smc.state.calls.select(job_id=jobs[name]) == [], name


# name -> (fault on StartReplicationJob, fault on DescribeReplicationJobs, StartReplicationJob
# calls expected, whether the start was confirmed by Describe)
GARBLED: dict[str, tuple[dict[str, Any], dict[str, Any] | None, int, bool]] = {
    # Answers to a start that did happen: Describe confirms it, no second Start.
    "html-200": ({"body": "html", "http_status": 200}, None, 1, True),
    "empty-200": ({"body": "empty", "http_status": 200}, None, 1, True),
    "malformed-200": ({"body": "malformed", "http_status": 200}, None, 1, True),
    "no-request-id-200": ({"body": "no-request-id", "http_status": 200}, None, 1, True),
    "empty-500": ({"body": "empty", "http_status": 500}, None, 1, True),
    # Garbled answers to a start that did not happen: Describe shows Ready, so Start again.
    "html-502": ({"body": "html", "http_status": 502, "apply": False}, None, 2, False),
    "no-request-id-500": ({"code": wire.INTERNAL_ERROR, "body": "no-request-id"}, None, 2, False),
    # Garbled confirmation: it is retried before anything else is called.
    "describe-html": (
        {"code": wire.INTERNAL_ERROR},
        {"body": "html", "http_status": 200},
        2,
        False,
    ),
    # A huge (4 MiB) success body is read like any other.
    "huge-200": ({"body": "huge"}, None, 1, False),
}


async def test_garbled_smc_answers_never_start_a_job_twice(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    jobs = {name: f"j-garbled{n:07d}" for n, name in enumerate(GARBLED)}
    await create_secret(kube_api, KEY_ID, KEY_SECRET)
    for name, (start_fault, describe_fault, _calls, _confirmed) in GARBLED.items():
        seed(smc, jobs[name])
        smc.state.add_fault(wire.START_REPLICATION_JOB, job_id=jobs[name], **start_fault)
        if describe_fault is not None:
            smc.state.add_fault(wire.DESCRIBE_REPLICATION_JOBS, job_id=jobs[name], **describe_fault)
    operator = await start_operator()
    for name in GARBLED:
        await create_rj(kube_api, name, jobs[name])
    for name, (_start, _describe, calls, confirmed) in GARBLED.items():
        obj = await wait_rj(kube_api, name, reason_is("Started"))
        job = smc.state.job(jobs[name])
        assert job is not None and job.start_count == 1, name
        assert len(start_calls(smc, jobs[name])) == calls, name
        message = started(obj)["message"]
        assert ("confirmed by DescribeReplicationJobs" in message) is confirmed, (name, message)
        assert started(obj)["requestId"], name
    # The huge body's padding went nowhere.
    assert "x" * 100 not in operator.log()
    assert "Traceback" not in operator.log()


async def test_a_huge_error_body_ends_in_a_bounded_final_condition(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    job_id = "j-hugeerror00001"
    seed(smc, job_id, source_state=wire.SOURCE_UNAVAILABLE)
    smc.state.add_fault(
        wire.START_REPLICATION_JOB,
        job_id=job_id,
        code=wire.SOURCE_SERVER_STATE_INVALID,
        body="huge",
    )
    smc.state.add_fault(
        wire.START_REPLICATION_JOB,
        job_id=job_id,
        code=wire.INVALID_STATUS,
        message="ünïcode \x00\x1b[31m control " + "y" * 50_000,
    )
    await create_secret(kube_api, KEY_ID, KEY_SECRET)
    await start_operator()
    await create_rj(kube_api, "huge-error", job_id)
    obj = await wait_rj(kube_api, "huge-error", reason_is("SourceServerStateInvalid"))
    assert started(obj)["errorCode"] == wire.SOURCE_SERVER_STATE_INVALID
    # The next request meets the long message with control characters: kept printable, bounded.
    await kube_api.patch(
        REPLICATION_JOBS,
        "huge-error",
        {"metadata": {"annotations": {model.RETRY_ANNOTATION: "1"}}},
        namespace=NAMESPACE,
    )
    obj = await wait_rj(kube_api, "huge-error", reason_is("InvalidStatus"))
    message = started(obj)["message"]
    assert message.isprintable() and len(message) <= model.MESSAGE_MAX_LENGTH
    assert "ünïcode" in message and "\x1b" not in message
    events = await events_of(kube_api, "huge-error")
    assert all(len(e["message"]) <= 2 * model.MESSAGE_MAX_LENGTH for e in events)


async def test_duplicate_replication_jobs_start_the_job_once_and_say_so(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    racing, later = "j-duplicate00001", "j-duplicate00002"
    seed(smc, racing)
    seed(smc, later)
    for namespace in (NAMESPACE, "team-b"):
        await create_secret(kube_api, KEY_ID, KEY_SECRET, namespace=namespace)
    await start_operator()
    # Two objects for one job, created together: they race; SMC's state machine lets one win.
    await asyncio.gather(
        create_rj(kube_api, "racer-1", racing), create_rj(kube_api, "racer-2", racing)
    )
    # Later ones: same namespace, another namespace, the default region spelled out, another
    # region (a different claim, so only SMC can tell).
    await create_rj(kube_api, "first", later)
    await wait_rj(kube_api, "first", reason_is("Started"))
    await create_rj(kube_api, "same-namespace", later)
    await create_rj(kube_api, "other-namespace", later, namespace="team-b")
    await create_rj(kube_api, "region-spelled-out", later, regionId="cn-hangzhou")
    await create_rj(kube_api, "other-region", later, regionId="cn-shanghai")

    final_false = reason_is("DuplicateJobId", "InvalidStatus")
    outcomes = []
    for name in ("racer-1", "racer-2"):
        obj = await wait_rj(kube_api, name, reason_is("Started", "DuplicateJobId", "InvalidStatus"))
        outcomes.append(started(obj)["reason"])
    assert outcomes.count("Started") == 1, outcomes
    # The operator detects a duplicate from its index (DuplicateJobId, no call), or, if its view
    # lags behind, SMC's state machine refuses the second start (InvalidStatus). Another region
    # is another claim: only SMC can tell.
    either = {"DuplicateJobId", "InvalidStatus"}
    for name, namespace, reasons in (
        ("same-namespace", NAMESPACE, either),
        ("other-namespace", "team-b", either),
        ("region-spelled-out", NAMESPACE, either),
        ("other-region", NAMESPACE, {"InvalidStatus"}),
    ):
        obj = await wait_rj(kube_api, name, final_false, namespace=namespace)
        condition = started(obj)
        assert condition["status"] == "False", name
        assert condition["reason"] in reasons, (name, condition)
        if condition["reason"] == "DuplicateJobId":
            # The other object is named only to a reader in its own namespace (tenant isolation).
            holder = f"{NAMESPACE}/first" if namespace == NAMESPACE else "in another namespace"
            assert f"{holder} already starts SMC job {later}" in condition["message"]
            if namespace != NAMESPACE:
                assert NAMESPACE not in condition["message"]
            assert obj["status"]["attempts"] == 0
    await settle()
    for job_id in (racing, later):
        assert smc.state.job(job_id).start_count == 1  # type: ignore[union-attr]


async def test_objects_deleted_mid_call_or_mid_backoff_cause_no_harm(
    kube_api: EmulatedKubeApi, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    in_flight, backing_off, after = "j-deleted0000001", "j-deleted0000002", "j-deleted0000003"
    for job_id in (in_flight, backing_off, after):
        seed(smc, job_id)
    # A start that succeeds after 1 s; a start throttled with SMC's retry-after of 1 s.
    smc.state.add_fault(wire.START_REPLICATION_JOB, job_id=in_flight, latency_ms=1000)
    smc.state.add_fault(wire.START_REPLICATION_JOB, job_id=backing_off, retry_after=1)
    await create_secret(kube_api, KEY_ID, KEY_SECRET)
    operator = await start_operator()
    await create_rj(kube_api, "in-flight", in_flight)
    await create_rj(kube_api, "backing-off", backing_off)
    async with asyncio.timeout(10):
        await smc.wait_for_calls(1, action=wire.START_REPLICATION_JOB, job_id=in_flight)
    await kube_api.delete(REPLICATION_JOBS, "in-flight", namespace=NAMESPACE)
    await wait_rj(kube_api, "backing-off", reason_is("Throttled"))
    await kube_api.delete(REPLICATION_JOBS, "backing-off", namespace=NAMESPACE)
    async with asyncio.timeout(10):
        await smc.wait_for_calls(
            1, action=wire.START_REPLICATION_JOB, job_id=in_flight, decided=True
        )

    await create_rj(kube_api, "after", after)
    await wait_rj(kube_api, "after", reason_is("Started"))
    await settle(1.5)  # past the retry-after of the deleted object: it must not be retried
    assert smc.state.job(in_flight).start_count == 1  # type: ignore[union-attr]
    assert len(start_calls(smc, in_flight)) == 1
    assert len(start_calls(smc, backing_off)) == 1
    assert smc.state.job(backing_off).start_count == 0  # type: ignore[union-attr]
    for name in ("in-flight", "backing-off"):
        assert kube_api.store.find(REPLICATION_JOBS, NAMESPACE, name) is None, name
    assert operator.process is not None and operator.process.returncode is None
    assert "Traceback" not in operator.log()


@pytest.mark.parametrize("ambiguous_first", [False, True], ids=["first-try", "after-a-failure"])
async def test_a_well_formed_unknown_region_reaches_smc(
    kube_api: EmulatedKubeApi,
    smc: SmcEmulator,
    start_operator: OperatorFactory,
    ambiguous_first: bool,
) -> None:
    """An unknown region passes admission (regions are not listed: new ones appear) and reaches
    SMC. StartReplicationJob names no region (SMC's endpoint is central; the job ID is global),
    so the job starts; DescribeReplicationJobs filters by RegionId and does not find a job that
    lives in another region: the refresher says so in ``status.job.statusInfo``, and a
    confirmation after an ambiguous failure ends in ``JobNotFound``."""
    job_id = "j-region00000001"
    spec = {"jobId": job_id, "regionId": "xx-nowhere-1", "start": True}
    assert (
        admission_errors({"apiVersion": model.API_VERSION, "kind": model.KIND, "spec": spec}) == []
    )
    smc.state.seed_job(job_id, region_id="cn-hangzhou")
    if ambiguous_first:
        smc.state.add_fault(wire.START_REPLICATION_JOB, job_id=job_id, code=wire.INTERNAL_ERROR)
    await create_secret(kube_api, KEY_ID, KEY_SECRET)
    await start_operator(poll_interval_seconds="0.2")
    await create_rj(kube_api, "nowhere", job_id, regionId="xx-nowhere-1")
    if not ambiguous_first:
        obj = await wait_rj(kube_api, "nowhere", reason_is("Started"))
        assert smc.state.job(job_id).start_count == 1  # type: ignore[union-attr]
        obj = await wait_rj(kube_api, "nowhere", lambda o: "job" in o["status"])
        job = obj["status"]["job"]
        assert "status" not in job
        assert "region xx-nowhere-1 does not know job" in job["statusInfo"]
        assert "check spec.regionId" in job["statusInfo"]
    else:
        obj = await wait_rj(kube_api, "nowhere", reason_is("JobNotFound"))
        assert "DescribeReplicationJobs does not know job" in started(obj)["message"]
        assert smc.state.job(job_id).start_count == 0  # type: ignore[union-attr]
    (describe, *_) = smc.state.calls.select(action=wire.DESCRIBE_REPLICATION_JOBS)
    assert ("RegionId", "xx-nowhere-1") in describe.params
