from prometheus_client import generate_latest

from smc_operator.metrics import MAX_CODES, Metrics


def test_code_labels_are_bounded() -> None:
    metrics = Metrics()
    metrics.observe_call("StartReplicationJob", "InternalError", 0.1, 0.0)
    metrics.observe_call("StartReplicationJob", "<html>", 0.1, 0.0)
    for n in range(MAX_CODES + 10):
        metrics.observe_call("StartReplicationJob", f"Code{n}", 0.1, 0.0)
    text = generate_latest(metrics.registry).decode()
    assert 'code="InternalError"' in text
    assert "<html>" not in text
    assert 'code="Other"' in text
    assert text.count('smc_operator_smc_calls_total{action="StartReplicationJob"') == MAX_CODES + 1


def test_start_calls_count_as_attempts() -> None:
    metrics = Metrics()
    metrics.observe_call("StartReplicationJob", "Success", 0.1, 0.0)
    metrics.observe_call("DescribeReplicationJobs", "Success", 0.1, 0.0)
    text = generate_latest(metrics.registry).decode()
    assert "smc_operator_start_attempts_total 1.0" in text


async def test_a_blocked_event_loop_shows_in_the_lag_histogram() -> None:
    import asyncio
    import contextlib
    import time

    metrics = Metrics()
    watching = asyncio.create_task(metrics.watch_event_loop(tick=0.001))
    ticked = 0.0
    while ticked < 3:  # a few unblocked ticks first
        await asyncio.sleep(0.001)
        ticked = metrics.registry.get_sample_value("smc_operator_event_loop_lag_seconds_count") or 0
    time.sleep(0.06)  # noqa: ASYNC251 - blocking the loop is what is measured
    while (metrics.registry.get_sample_value("smc_operator_event_loop_lag_seconds_count") or 0) < (
        ticked + 1
    ):
        await asyncio.sleep(0.001)
    watching.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watching
    late = metrics.registry.get_sample_value(
        "smc_operator_event_loop_lag_seconds_bucket", {"le": "0.05"}
    )
    total = metrics.registry.get_sample_value("smc_operator_event_loop_lag_seconds_count")
    assert total is not None and late is not None
    assert total - late >= 1  # one tick woke up more than 50 ms late
