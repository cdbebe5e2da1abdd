import pytest

from smc_operator.settings import Endpoint, SettingsError, load_settings, parse_endpoint


def test_defaults_match_the_design() -> None:
    settings = load_settings({})
    assert settings.smc_endpoint == Endpoint(host="smc.aliyuncs.com", protocol="https")
    assert settings.max_attempts == 10
    assert settings.backoff_base_seconds == 5
    assert settings.backoff_max_seconds == 300
    assert settings.qps == 5
    assert settings.poll_interval_seconds == 60
    assert settings.request_timeout_seconds == 10
    assert settings.metrics_port == 8080
    assert settings.health_port == 8081


def test_reads_prefixed_variables_and_ignores_others() -> None:
    settings = load_settings(
        {"SMC_OPERATOR_QPS": "0", "SMC_OPERATOR_REGION": "ap-southeast-1", "QPS": "99"}
    )
    assert settings.qps == 0
    assert settings.region == "ap-southeast-1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("smc.aliyuncs.com", Endpoint("smc.aliyuncs.com", "https")),
        ("https://smc.aliyuncs.com", Endpoint("smc.aliyuncs.com", "https")),
        ("https://smc.example.com:8443/", Endpoint("smc.example.com:8443", "https")),
        ("http://127.0.0.1:9090", Endpoint("127.0.0.1:9090", "http")),
        ("http://localhost:9090", Endpoint("localhost:9090", "http")),
        ("http://[::1]:9090", Endpoint("[::1]:9090", "http")),
        ("http://127.8.9.10", Endpoint("127.8.9.10", "http")),
    ],
)
def test_endpoints_that_are_accepted(raw: str, expected: Endpoint) -> None:
    assert parse_endpoint(raw) == expected


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("http://10.0.0.1:9090", "plain http is only allowed to a loopback host"),
        ("http://smc.aliyuncs.com", "plain http is only allowed to a loopback host"),
        ("http://localhost.evil.com", "plain http is only allowed to a loopback host"),
        ("ftp://smc.aliyuncs.com", "scheme must be https"),
        ("https://smc.aliyuncs.com/path", "no path or query"),
        ("https://:9090", "has no host"),
        ("https://host:99999", "invalid port"),
        ("  ", "must not be empty"),
    ],
)
def test_unsafe_or_malformed_endpoints_are_refused_naming_the_variable(
    raw: str, complaint: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"SMC_OPERATOR_ENDPOINT": raw})
    assert "SMC_OPERATOR_ENDPOINT" in str(caught.value)
    assert complaint in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMC_OPERATOR_MAX_ATTEMPTS", "0"),
        ("SMC_OPERATOR_MAX_ATTEMPTS", "ten"),
        ("SMC_OPERATOR_QPS", "-1"),
        ("SMC_OPERATOR_BACKOFF_BASE_SECONDS", "0"),
        ("SMC_OPERATOR_REQUEST_TIMEOUT_SECONDS", "0"),
        ("SMC_OPERATOR_METRICS_PORT", "70000"),
        ("SMC_OPERATOR_HEALTH_PORT", "-1"),
        ("SMC_OPERATOR_REGION", "Not A Region"),
        ("SMC_OPERATOR_LOG_LEVEL", "chatty"),
        ("SMC_OPERATOR_LOG_FORMAT", "xml"),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    assert name in str(caught.value)
    assert str(caught.value).count("SMC_OPERATOR_") == 1


def test_every_invalid_variable_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"SMC_OPERATOR_QPS": "-1", "SMC_OPERATOR_MAX_ATTEMPTS": "x"})
    assert "SMC_OPERATOR_QPS" in str(caught.value)
    assert "SMC_OPERATOR_MAX_ATTEMPTS" in str(caught.value)


def test_backoff_cap_below_base_is_refused() -> None:
    with pytest.raises(SettingsError, match="SMC_OPERATOR_BACKOFF_MAX_SECONDS"):
        load_settings(
            {"SMC_OPERATOR_BACKOFF_BASE_SECONDS": "10", "SMC_OPERATOR_BACKOFF_MAX_SECONDS": "5"}
        )


def test_zero_ports_disable_and_are_valid() -> None:
    settings = load_settings({"SMC_OPERATOR_METRICS_PORT": "0", "SMC_OPERATOR_HEALTH_PORT": "0"})
    assert (settings.metrics_port, settings.health_port) == (0, 0)


def test_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMC_OPERATOR_MAX_ATTEMPTS", "3")
    assert load_settings().max_attempts == 3
