"""The reasons table is the one source: the README's reason table and the CRD's documentation of
``reason`` are derived from it, and its rows are consistent with each other."""

from __future__ import annotations

from pathlib import Path

import yaml

from smc_operator.reasons import CONDITION_TYPES, REASONS, STARTED, Reason, RetryCurve

ROOT = Path(__file__).resolve().parents[2]
README_HEADER = "| CONDITIONS | STATUS | REASON | when | what to do |"


def readme_table() -> str:
    """The README's table as the reasons table renders it."""
    rows = [README_HEADER, "| --- | --- | --- | --- | --- |"]
    for reason, row in REASONS.items():
        conditions = (
            "all" if set(row.conditions) == set(CONDITION_TYPES) else ", ".join(row.conditions)
        )
        rows.append(
            f"| {conditions} | {row.status} | {reason.value} | {row.meaning} | {row.remedy} |".replace(
                "|  |", "| |"
            )
        )
    return "\n".join(rows)


def test_the_readme_reason_table_is_the_reasons_table() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(README_HEADER)
    end = readme.index("\n\n", start)
    assert readme[start:end] == readme_table(), (
        "README.md's reason table is out of step:\n" + readme_table()
    )


def crd_reason_description(path: Path) -> str:
    crd = yaml.safe_load(path.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    condition = schema["properties"]["status"]["properties"]["conditions"]["items"]
    return str(condition["properties"]["reason"]["description"])


def test_the_crd_documents_every_reason_and_no_other() -> None:
    for path in (ROOT / "crds").glob("*.yaml"):
        description = crd_reason_description(path)
        named = {word.strip(".,;:") for word in description.split()}
        assert {reason.value for reason in Reason} <= named, description
        assert description.endswith(", ".join(reason.value for reason in Reason) + ".")


def test_every_reason_is_camel_case_and_final_reasons_are_never_unknown() -> None:
    for reason, row in REASONS.items():
        assert reason.value[0].isupper() and reason.value.isalnum()
        if row.settled:
            assert row.status in ("True", "False")
        if row.retry is not None:
            assert not row.settled
            # Retried failures are Unknown; a wait may be False (NotModifiableInStatus).
            assert row.status == "Unknown" or row.retry is RetryCurve.POLL
        assert row.failed == (row.settled and row.status == "False")
        assert row.meaning


def test_only_a_started_or_in_progress_object_holds_its_job() -> None:
    holders = {reason for reason, row in REASONS.items() if row.holds_job}
    starting = {r for r, row in REASONS.items() if row.in_progress and STARTED in row.conditions}
    assert holders == {Reason.STARTED, *starting}


def test_objects_whose_calls_cannot_succeed_are_not_polled() -> None:
    unpolled = {
        reason for reason, row in REASONS.items() if not row.polled and STARTED in row.conditions
    }
    assert unpolled == {
        Reason.ACCESS_DENIED,
        Reason.JOB_NOT_FOUND,
        Reason.CREDENTIALS_NOT_FOUND,
        Reason.DUPLICATE_JOB_ID,
        Reason.INVALID_SPEC,
    }
