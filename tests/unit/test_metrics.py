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
