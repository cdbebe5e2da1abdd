"""The chart's alerts, checked by Prometheus' own tool: ``promtool check rules`` on the rendered
PrometheusRule and ``promtool test rules`` (tests/prometheus/alerts.test.yaml) for every alert;
and docs/runbook.md has the section each alert links to."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from testkit.helm import rendered_prometheus_rule, run_helm, template_args

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests" / "prometheus" / "alerts.test.yaml"
RUNBOOK = ROOT / "docs" / "runbook.md"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (scripts/tools does)")
    return found


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rules")
    rule = rendered_prometheus_rule()
    (directory / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    shutil.copy(TESTS, directory / TESTS.name)
    return directory


def test_promtool_accepts_the_rendered_rules(rules_dir: Path) -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(rules_dir / "rules.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_every_alert_fires_exactly_as_its_unit_tests_say(rules_dir: Path) -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", TESTS.name],
        cwd=rules_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_and_a_runbook_section(rules_dir: Path) -> None:
    rules = yaml.safe_load((rules_dir / "rules.yaml").read_text())["groups"][0]["rules"]
    tested = set(re.findall(r"alertname: (\w+)", TESTS.read_text()))
    headings = {
        re.sub(r"[^a-z0-9-]", "", line.lstrip("#").strip().lower().replace(" ", "-"))
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }
    for rule in rules:
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool unit test"
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"]
        anchor = annotations["runbook_url"].rsplit("#", 1)[1]
        assert anchor == rule["alert"].lower() and anchor in headings, anchor


def test_the_rule_follows_its_values() -> None:
    rule = rendered_prometheus_rule(
        'metrics.prometheusRule.jobSelector=namespace="smc"',
        "metrics.prometheusRule.stuckFor=2h",
        "metrics.prometheusRule.runbookUrl=https://wiki.example.com/smc",
        "metrics.prometheusRule.labels.release=prometheus",
    )
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    by_name = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    assert by_name["SmcOperatorDown"]["expr"] == 'absent(up{namespace="smc"} == 1)'
    assert by_name["SmcOperatorReplicationJobsStuck"]["for"] == "2h"
    assert by_name["SmcOperatorSmcErrors"]["annotations"]["runbook_url"] == (
        "https://wiki.example.com/smc#smcoperatorsmcerrors"
    )
    for alert in by_name.values():
        assert 'namespace="smc"' in alert["expr"]


def test_no_rule_without_metrics() -> None:
    result = run_helm(
        *template_args(),
        "--set",
        "metrics.prometheusRule.enabled=true",
        "--set",
        "metrics.enabled=false",
    )
    assert result.returncode == 0, result.stderr
    assert "PrometheusRule" not in result.stdout
