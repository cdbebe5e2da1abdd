"""SMC actions over the emulator's state, the state's seeding and the call log (no servers)."""

from __future__ import annotations

import random
import re

import pytest

from smc_operator import wire
from smc_testbed.emulator import actions
from smc_testbed.emulator.calls import CallLog
from smc_testbed.emulator.rejections import SmcError
from smc_testbed.emulator.state import EmulatorState, SeedError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> EmulatorState:
    return EmulatorState(clock=clock, wall_clock=lambda: 1_700_000_000.0, rng=random.Random(1))


def describe(state: EmulatorState, **params: str) -> dict[str, object]:
    return actions.describe_replication_jobs(state, params)


def job_ids_of(body: dict[str, object]) -> list[str]:
    jobs = body["ReplicationJobs"]
    assert isinstance(jobs, dict)
    return [job["JobId"] for job in jobs["ReplicationJob"]]


def test_listed_reads_flattened_lists_in_index_order() -> None:
    params = {"JobId.2": "b", "JobId.10": "c", "JobId.1": "a", "JobIdX": "no", "Other.1": "no"}
    assert actions.listed(params, "JobId") == ["a", "b", "c"]
    assert actions.listed({"JobId": "x"}, "JobId") == ["x"]


def test_request_ids_are_uppercase_uuids(state: EmulatorState) -> None:
    pattern = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")
    assert all(pattern.match(state.new_request_id()) for _ in range(100))


def test_start_and_stop(state: EmulatorState, clock: Clock) -> None:
    state.seed_job("j-one00001", run_seconds=100)
    assert actions.start_replication_job(state, {"JobId": "j-one00001"}) == {}
    clock.now += 50
    assert actions.stop_replication_job(state, {"JobId": "j-one00001"}) == {}
    snapshot = state.job("j-one00001")
    assert snapshot is not None
    assert (snapshot.status, snapshot.start_count, snapshot.stop_count) == ("Stopped", 1, 1)


@pytest.mark.parametrize("action", [actions.start_replication_job, actions.stop_replication_job])
def test_unknown_and_missing_jobs(state: EmulatorState, action: actions.Action) -> None:
    with pytest.raises(SmcError) as caught:
        action(state, {"JobId": "j-nothere01"})
    assert (caught.value.http_status, caught.value.code) == (404, wire.JOB_NOT_FOUND)
    assert "j-nothere01" in caught.value.message
    with pytest.raises(SmcError) as missing:
        action(state, {})
    assert (missing.value.http_status, missing.value.code) == (400, wire.MISSING_PARAMETER)


def test_start_checks_the_source_server(state: EmulatorState) -> None:
    state.seed_source_server("s-broken", wire.SOURCE_UNAVAILABLE)
    state.seed_job("j-two00002", "s-broken")
    with pytest.raises(SmcError) as caught:
        actions.start_replication_job(state, {"JobId": "j-two00002"})
    assert caught.value.code == wire.SOURCE_SERVER_STATE_INVALID


def test_describe_filters_and_pages(state: EmulatorState, clock: Clock) -> None:
    for n in range(30):
        state.seed_job(f"j-many{n:04d}", f"s-{n % 3}", run_seconds=100)
    state.seed_job("j-region01", "s-0", region_id="cn-shanghai")
    actions.start_replication_job(state, {"JobId": "j-many0003"})
    clock.now += 50

    assert describe(state)["TotalCount"] == 31
    assert describe(state)["PageSize"] == wire.DESCRIBE_DEFAULT_PAGE_SIZE
    wanted = {"JobId.1": "j-many0005", "JobId.2": "j-many0001", "JobId.3": "j-nothere01"}
    assert job_ids_of(describe(state, **wanted)) == ["j-many0005", "j-many0001"]
    by_source = describe(state, **{"SourceId.1": "s-1"}, PageSize="4", PageNumber="2")
    assert by_source["TotalCount"] == 10
    assert job_ids_of(by_source) == ["j-many0013", "j-many0016", "j-many0019", "j-many0022"]
    running = describe(state, Status="Running")
    assert job_ids_of(running) == ["j-many0003"]
    jobs = running["ReplicationJobs"]
    assert isinstance(jobs, dict)
    (job,) = jobs["ReplicationJob"]
    assert (job["BusinessStatus"], job["Progress"], job["JobType"]) == ("Syncing", 44.44, 0)
    assert job["CreationTime"] == "2023-11-14T22:13:20Z"
    assert describe(state, BusinessStatus="Syncing")["TotalCount"] == 1
    assert describe(state, RegionId="cn-shanghai")["TotalCount"] == 31
    assert describe(state, RegionId="cn-beijing")["TotalCount"] == 30
    assert describe(state, Name="j-many0007")["TotalCount"] == 1
    assert describe(state, JobType="1")["TotalCount"] == 0
    assert job_ids_of(describe(state, PageNumber="9")) == []


@pytest.mark.parametrize(
    "params",
    [
        {"PageSize": "0"},
        {"PageSize": "51"},
        {"PageSize": "ten"},
        {"PageNumber": "0"},
        {f"JobId.{n}": f"j-{n:08d}" for n in range(1, 52)},
        {f"SourceId.{n}": f"s-{n}" for n in range(1, 52)},
    ],
)
def test_describe_refuses_bad_parameters(state: EmulatorState, params: dict[str, str]) -> None:
    with pytest.raises(SmcError) as caught:
        actions.describe_replication_jobs(state, params)
    assert (caught.value.http_status, caught.value.code) == (400, wire.INVALID_PARAMETER)


def test_describe_accepts_fifty_job_ids(state: EmulatorState) -> None:
    params = {f"JobId.{n}": f"j-{n:08d}" for n in range(1, 51)}
    assert describe(state, **params)["TotalCount"] == 0


def test_describe_source_servers(state: EmulatorState) -> None:
    state.seed_source_server("s-a", name="web-1")
    state.seed_source_server("s-b", wire.SOURCE_IN_USE)
    state.seed_job("j-onsb0001", "s-b")
    body = actions.describe_source_servers(state, {"State": wire.SOURCE_IN_USE})
    servers = body["SourceServers"]
    assert isinstance(servers, dict)
    assert [(s["SourceId"], s["JobId"]) for s in servers["SourceServer"]] == [("s-b", "j-onsb0001")]
    assert actions.describe_source_servers(state, {"Name": "web-1"})["TotalCount"] == 1
    assert actions.describe_source_servers(state, {"JobId": "j-onsb0001"})["TotalCount"] == 1
    assert actions.describe_source_servers(state, {"SourceId.1": "s-a"})["TotalCount"] == 1


def test_seeding(state: EmulatorState, clock: Clock) -> None:
    job = state.seed_job("j-seed0001")
    assert (job.source_id, job.status, job.run_seconds) == ("s-seed0001", "Ready", 30.0)
    assert state.source_servers["s-seed0001"].state == wire.SOURCE_AVAILABLE
    running = state.seed_job("j-seed0002", status="Running", run_seconds=10)
    assert running.started_at == clock.now
    clock.now += 10
    finished = state.job("j-seed0002")
    assert finished is not None
    assert finished.status == "Finished"
    actions.start_replication_job(state, {"JobId": "j-seed0001"})
    reseeded = state.seed_job("j-seed0001", "s-other")
    assert (reseeded.start_count, reseeded.status) == (0, "Ready")
    assert state.jobs_by_source["s-seed0001"] == []
    with pytest.raises(SeedError):
        state.seed_job("j-seed0003", status="Paused")
    with pytest.raises(SeedError):
        state.seed_source_server("s-x", "Broken")
    state.reset()
    assert (state.jobs, state.source_servers, len(state.calls)) == ({}, {}, 0)


def test_call_log_filters() -> None:
    log = CallLog()
    for n, (action, job) in enumerate(
        [("Start", "j-a"), ("Describe", "j-a"), ("Start", "j-b"), ("Start", "j-a")]
    ):
        log.append(
            action=action,
            params={"JobId": job, "SecurityToken": "nope"},
            job_ids=[job],
            access_key_id="AK",
            request_id=f"R{n}",
            time=float(n),
        )
    assert [c.index for c in log.select()] == [0, 1, 2, 3]
    assert [c.index for c in log.select(action="Start")] == [0, 2, 3]
    assert [c.index for c in log.select(job_id="j-a")] == [0, 1, 3]
    assert [c.index for c in log.select(action="Start", job_id="j-a", since=1)] == [3]
    assert [c.index for c in log.select(since=3)] == [3]
    assert log.select(action="Stop") == []
    assert log[0].to_document()["params"] == {"JobId": "j-a"}
