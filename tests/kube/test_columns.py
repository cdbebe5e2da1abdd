"""``kubectl get rj`` and ``kubectl get rj -o wide`` as a user sees them, against the README.

The README's column table (section "Using it") names every column; here the real kubectl prints
them from the CRD's printer columns for a Started, a Retrying and an InvalidStatus object.
"""

from __future__ import annotations

import re

from smc_operator import wire
from smc_testbed.emulator import SmcEmulator
from testkit.kube import ROOT, KubeServer
from testkit.running import OperatorFactory

from .conftest import rj, seed, start_calls, wait_reason

#: Printed by kubectl for every resource, not from the CRD.
BUILTIN = ("NAME", "AGE")
#: DESIGN.md section 1: the columns only ``-o wide`` shows.
WIDE_ONLY = ("REQUEST ID", "ERROR CODE", "ATTEMPTS", "CREATED", "SUSPENDED", "CUTOVER", "JOB")
#: The lifecycle's wide columns (tests/kube/test_crd_lifecycle.py shows them filled in): empty
#: for these adopted jobs, but for JOB, which may show the adopted spec.jobId.
LIFECYCLE = ("CREATED", "SUSPENDED", "CUTOVER", "JOB")


def readme_columns() -> list[str]:
    """The column names of the README's ``kubectl get rj -o wide`` table, in order."""
    text = (ROOT / "README.md").read_text()
    table = text.split("`kubectl get rj -o wide` shows:", 1)[1].split("\n\n", 2)[1]
    names: list[str] = []
    for row in table.splitlines()[2:]:
        cell = row.split("|")[1].strip()
        names += [name.strip() for name in cell.split(",")]
    return names


def parse_table(output: str) -> list[dict[str, str]]:
    """kubectl's aligned table: each column starts where its header starts."""
    header, *rows = output.rstrip("\n").splitlines()
    starts = [match.start() for match in re.finditer(r"(?<!\S)\S+(?: \S+)*", header)]
    names = [header[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    return [
        {
            name: row[a:b].strip()
            for name, a, b in zip(names, starts, [*starts[1:], None], strict=True)
        }
        for row in rows
    ]


async def test_get_and_get_wide_show_the_readme_columns(
    kube: KubeServer, namespace: str, smc: SmcEmulator, start_operator: OperatorFactory
) -> None:
    seed(smc, "j-kubecolumns001")
    seed(smc, "j-kubecolumns002")
    seed(smc, "j-kubecolumns003", status=wire.JOB_RUNNING)
    smc.state.add_fault(
        wire.START_REPLICATION_JOB, job_id="j-kubecolumns002", code=wire.INTERNAL_ERROR, count=100
    )
    # A long backoff keeps the second object Retrying while we look at it.
    await start_operator(
        args=("--namespace", namespace), backoff_base_seconds="600", backoff_max_seconds="600"
    )
    kube.apply(rj(namespace, "started", "j-kubecolumns001"))
    kube.apply(rj(namespace, "retrying", "j-kubecolumns002"))
    kube.apply(rj(namespace, "invalid", "j-kubecolumns003"))
    for name, reason in (
        ("started", "Started"),
        ("retrying", "Retrying"),
        ("invalid", "InvalidStatus"),
    ):
        await wait_reason(kube, namespace, name, reason)

    plain = kube.kubectl("-n", namespace, "get", "rj", "--sort-by=.metadata.name").stdout
    wide = kube.kubectl(
        "-n", namespace, "get", "rj", "-o", "wide", "--sort-by=.metadata.name"
    ).stdout
    documented = readme_columns()
    plain_rows, wide_rows = parse_table(plain), parse_table(wide)
    wide_names = [n for n in wide_rows[0] if n not in BUILTIN]
    plain_names = [n for n in plain_rows[0] if n not in BUILTIN]
    assert wide_names == documented, wide
    assert plain_names == [n for n in documented if n not in WIDE_ONLY], plain

    rows = {row["NAME"]: row for row in wide_rows}
    # An accepted start adopts the job (CREATED True, JOB its ID); the others are not adopted
    # yet: no Start was accepted and a start is requested, so no Describe was made for it.
    adopted = {"started": ("True", "j-kubecolumns001")}
    for row in wide_rows:
        lifecycle = {name: row.pop(name) for name in LIFECYCLE}
        created, job = adopted.get(row["NAME"], ("", ""))
        assert lifecycle == {"CREATED": created, "SUSPENDED": "", "CUTOVER": "", "JOB": job}, row
    (ok_call,) = start_calls(smc, "j-kubecolumns001")
    (invalid_call,) = start_calls(smc, "j-kubecolumns003")
    (retry_call,) = start_calls(smc, "j-kubecolumns002")
    assert rows["started"] | {"AGE": ""} == {
        "NAME": "started", "JOB ID": "j-kubecolumns001", "START": "true", "STARTED": "True",
        "REASON": "Started", "JOB STATUS": "", "PROGRESS": "", "AGE": "",
        "REQUEST ID": ok_call.request_id, "ERROR CODE": "", "ATTEMPTS": "1",
    }  # fmt: skip
    assert rows["retrying"] | {"AGE": ""} == {
        "NAME": "retrying", "JOB ID": "j-kubecolumns002", "START": "true", "STARTED": "Unknown",
        "REASON": "Retrying", "JOB STATUS": "", "PROGRESS": "", "AGE": "",
        "REQUEST ID": retry_call.request_id, "ERROR CODE": wire.INTERNAL_ERROR, "ATTEMPTS": "1",
    }  # fmt: skip
    assert rows["invalid"] | {"AGE": ""} == {
        "NAME": "invalid", "JOB ID": "j-kubecolumns003", "START": "true", "STARTED": "False",
        "REASON": "InvalidStatus", "JOB STATUS": "", "PROGRESS": "", "AGE": "",
        "REQUEST ID": invalid_call.request_id, "ERROR CODE": wire.INVALID_STATUS, "ATTEMPTS": "1",
    }  # fmt: skip
    assert all(re.fullmatch(r"\d+s|\d+m\d*s?", row["AGE"]) for row in wide_rows)
    assert {row["NAME"]: row["REASON"] for row in plain_rows} == {
        "invalid": "InvalidStatus",
        "retrying": "Retrying",
        "started": "Started",
    }
