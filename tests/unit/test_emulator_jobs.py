"""The emulator's job state machine, driven by explicit times (no clock, no servers)."""

from __future__ import annotations

import pytest

from smc_operator import wire
from smc_testbed.emulator.jobs import STOPPABLE_DESCRIPTION, Job
from smc_testbed.emulator.rejections import SmcError


def make_job(
    status: str = wire.JOB_READY,
    *,
    job_type: int = wire.JOB_TYPE_FULL,
    run_seconds: float = 100.0,
    started_at: float | None = None,
) -> Job:
    return Job(
        job_id="j-unit0001",
        source_id="s-unit0001",
        status=status,
        job_type=job_type,
        run_seconds=run_seconds,
        created_at=0.0,
        started_at=started_at,
    )


@pytest.mark.parametrize("status", wire.STARTABLE_STATUSES)
def test_start_from_a_startable_status_runs_the_job(status: str) -> None:
    job = make_job(status)
    job.start(10.0, wire.SOURCE_AVAILABLE)
    snapshot = job.snapshot(10.0)
    assert (snapshot.status, snapshot.business_status, snapshot.progress) == (
        wire.JOB_RUNNING,
        wire.BUSINESS_PREPARING,
        0.0,
    )
    assert (snapshot.start_count, snapshot.started_at) == (1, 10.0)


@pytest.mark.parametrize(
    "status", [s for s in wire.JOB_STATUSES if s not in wire.STARTABLE_STATUSES]
)
def test_start_from_any_other_status_names_it(status: str) -> None:
    job = make_job(status, started_at=0.0 if status == wire.JOB_RUNNING else None)
    with pytest.raises(SmcError) as caught:
        job.start(1.0, wire.SOURCE_AVAILABLE)
    error = caught.value
    assert (error.http_status, error.code) == (400, wire.INVALID_STATUS)
    assert error.message == wire.INVALID_STATUS_MESSAGE % (status, "Ready, Stopped, InError")
    assert job.start_count == 0


@pytest.mark.parametrize(
    "source_state", [s for s in wire.SOURCE_STATES if s != wire.SOURCE_AVAILABLE]
)
def test_start_needs_an_available_source_server(source_state: str) -> None:
    job = make_job()
    with pytest.raises(SmcError) as caught:
        job.start(1.0, source_state)
    assert (caught.value.http_status, caught.value.code) == (400, wire.SOURCE_SERVER_STATE_INVALID)
    assert caught.value.message == wire.SOURCE_SERVER_STATE_INVALID_MESSAGE % (
        source_state,
        wire.SOURCE_AVAILABLE,
    )
    assert (job.status, job.start_count) == (wire.JOB_READY, 0)


def test_job_status_is_checked_before_the_source_server() -> None:
    job = make_job(wire.JOB_FINISHED)
    with pytest.raises(SmcError) as caught:
        job.start(1.0, wire.SOURCE_UNAVAILABLE)
    assert caught.value.code == wire.INVALID_STATUS


@pytest.mark.parametrize(
    ("elapsed", "job_type", "status", "business_status", "progress"),
    [
        (0.0, wire.JOB_TYPE_FULL, wire.JOB_RUNNING, wire.BUSINESS_PREPARING, 0.0),
        (9.99, wire.JOB_TYPE_FULL, wire.JOB_RUNNING, wire.BUSINESS_PREPARING, 0.0),
        (10.0, wire.JOB_TYPE_FULL, wire.JOB_RUNNING, wire.BUSINESS_SYNCING, 0.0),
        (55.0, wire.JOB_TYPE_FULL, wire.JOB_RUNNING, wire.BUSINESS_SYNCING, 50.0),
        (99.0, wire.JOB_TYPE_FULL, wire.JOB_RUNNING, wire.BUSINESS_SYNCING, 98.89),
        (100.0, wire.JOB_TYPE_FULL, wire.JOB_FINISHED, "", 100.0),
        (5000.0, wire.JOB_TYPE_FULL, wire.JOB_FINISHED, "", 100.0),
        (55.0, wire.JOB_TYPE_INCREMENTAL, wire.JOB_RUNNING, wire.BUSINESS_SYNCING, 50.0),
        (100.0, wire.JOB_TYPE_INCREMENTAL, wire.JOB_WAITING, "", 100.0),
    ],
)
def test_a_run_progresses_with_time(
    elapsed: float, job_type: int, status: str, business_status: str, progress: float
) -> None:
    job = make_job(job_type=job_type)
    job.start(1000.0, wire.SOURCE_AVAILABLE)
    snapshot = job.snapshot(1000.0 + elapsed)
    assert (snapshot.status, snapshot.business_status, snapshot.progress) == (
        status,
        business_status,
        progress,
    )


def test_a_finished_run_records_when_it_ended() -> None:
    job = make_job()
    job.start(1000.0, wire.SOURCE_AVAILABLE)
    assert job.snapshot(1500.0).ended_at == 1100.0


def test_a_run_of_zero_seconds_ends_at_once() -> None:
    job = make_job(run_seconds=0.0)
    job.start(5.0, wire.SOURCE_AVAILABLE)
    assert job.snapshot(5.0).status == wire.JOB_FINISHED


def test_a_finished_job_cannot_start_again() -> None:
    job = make_job()
    job.start(0.0, wire.SOURCE_AVAILABLE)
    with pytest.raises(SmcError) as caught:
        job.start(100.0, wire.SOURCE_AVAILABLE)
    assert "status: Finished is invalid" in caught.value.message
    assert job.start_count == 1


def test_stop_while_syncing_then_start_again() -> None:
    job = make_job()
    job.start(0.0, wire.SOURCE_AVAILABLE)
    job.stop(55.0)
    stopped = job.snapshot(70.0)
    assert (stopped.status, stopped.business_status, stopped.progress) == (
        wire.JOB_STOPPED,
        "",
        50.0,
    )
    job.start(80.0, wire.SOURCE_AVAILABLE)
    restarted = job.snapshot(80.0)
    assert (restarted.status, restarted.start_count, restarted.stop_count) == (
        wire.JOB_RUNNING,
        2,
        1,
    )


@pytest.mark.parametrize(
    ("status", "when", "current"),
    [
        (wire.JOB_RUNNING, 1.0, f"{wire.JOB_RUNNING}/{wire.BUSINESS_PREPARING}"),
        (wire.JOB_RUNNING, 200.0, wire.JOB_FINISHED),
        (wire.JOB_READY, 1.0, wire.JOB_READY),
        (wire.JOB_STOPPED, 1.0, wire.JOB_STOPPED),
        (wire.JOB_IN_ERROR, 1.0, wire.JOB_IN_ERROR),
    ],
)
def test_stop_outside_syncing_names_the_status(status: str, when: float, current: str) -> None:
    job = make_job(status, started_at=0.0 if status == wire.JOB_RUNNING else None)
    with pytest.raises(SmcError) as caught:
        job.stop(when)
    assert caught.value.code == wire.INVALID_STATUS
    assert caught.value.message == wire.INVALID_STATUS_MESSAGE % (current, STOPPABLE_DESCRIPTION)
    assert job.stop_count == 0


def test_start_clears_a_previous_error() -> None:
    job = make_job(wire.JOB_IN_ERROR)
    job.error_code = "S2I.InternalError"
    job.status_info = "boom"
    job.start(0.0, wire.SOURCE_AVAILABLE)
    snapshot = job.snapshot(0.0)
    assert (snapshot.error_code, snapshot.status_info) == ("", "")
