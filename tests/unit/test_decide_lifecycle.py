"""The decision's lifecycle steps (create, adopt, modify, suspend, cut over, delete), row by row."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from smc_operator import wire
from smc_operator.decide import Answer, Call, Limits, Observed, Remembered, Verdict, decide
from smc_operator.model import (
    UID_TAG,
    CutOverRequest,
    JobTemplate,
    ReplicationJobSpec,
    ReplicationJobStatus,
)
from smc_operator.outcomes import JobCreated, JobReport, JobsReport, SmcAccepted, SmcFailure
from testkit.verdicts import half

T0 = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
LIMITS = Limits(max_attempts=3, backoff_base_seconds=5, backoff_max_seconds=300, poll_seconds=30)
UID = "5f0c7c1e-0000-4000-8000-000000000001"
SOURCE = "s-src00000000001"
JOB = "j-new000000000001"


def observed(
    *, status: ReplicationJobStatus | None = None, generation: int = 1, **spec: object
) -> Observed:
    fields: dict[str, object] = {"job": JobTemplate(source_id=SOURCE), "start": True, **spec}
    return Observed(
        generation=generation,
        retry_requested_at=None,
        spec=ReplicationJobSpec.model_validate(fields),
        status=status or ReplicationJobStatus(),
        namespace="team-a",
        name="web",
        uid=UID,
    )


def run(obs: Observed) -> Verdict:
    return decide(obs, LIMITS, T0, half)


def reason(verdict: Verdict, type_: str) -> str | None:
    assert verdict.write is not None
    condition = verdict.write.condition(type_)
    return condition.reason if condition is not None else None


def report(
    status: str, business: str = "", *, run_once: bool = True, **extra: object
) -> JobsReport:
    # The job as created from the spec: its name, and the schedule of an incremental one.
    attributes: dict[str, object] = {"name": "team-a-web"}
    if not run_once:
        attributes.update(frequency=1, max_number_of_image_to_keep=2)
    attributes.update(extra)
    job = JobReport(
        job_id=JOB,
        status=status,
        business_status=business,
        run_once=run_once,
        **attributes,  # type: ignore[arg-type]
    )
    return JobsReport(request_id="R-D", jobs={JOB: job})


def test_a_new_object_writes_the_create_intent_then_creates_with_its_token_and_tag() -> None:
    verdict = run(observed())
    assert verdict.call is Call.CREATE
    assert reason(verdict, "Created") == "Creating"
    assert verdict.request is not None
    assert verdict.request.client_token == f"smc-operator-{UID}"
    assert verdict.request.name == "team-a-web"
    assert verdict.request.tags[UID_TAG] == UID


def test_a_created_job_is_started_in_the_same_run() -> None:
    intent = run(observed())
    after = run(
        observed(status=intent.write).answered(
            status=intent.write, answer=Answer(Call.CREATE, JobCreated("R-C", JOB))
        )
    )
    assert after.call is Call.START
    assert after.write is not None and after.write.job_id == JOB
    assert reason(after, "Created") == "Created"
    assert reason(after, "Synced") == "Synced"
    assert [e.reason for e in after.events] == ["Created"]


def test_an_unanswered_create_is_looked_up_before_any_repeat() -> None:
    intent = run(observed())
    lost = run(
        observed(status=intent.write).answered(
            status=intent.write, answer=Answer(Call.CREATE, SmcFailure(None, "timeout"))
        )
    )
    assert lost.retry_in is not None and reason(lost, "Created") == "Retrying"
    again = run(observed(status=lost.write))
    assert again.call is Call.FIND
    assert again.request is not None and again.request.tags == {UID_TAG: UID}
    found = JobsReport("R-F", {JOB: JobReport(job_id=JOB, status="Ready", tags={UID_TAG: UID})})
    adopted = run(observed(status=lost.write).answered(confirmation=found))
    assert adopted.write is not None and adopted.write.job_id == JOB
    assert adopted.call is Call.START  # and never a second Create
    not_found = run(observed(status=lost.write).answered(confirmation=JobsReport("R-F", {})))
    assert not_found.call is Call.CREATE
    assert not_found.request is not None and not_found.request.client_token == f"smc-operator-{UID}"
    assert not_found.write is not None and not_found.write.action_attempts["Created"] == 2


def test_a_job_tagged_for_another_uid_is_not_adopted() -> None:
    intent = run(observed())
    lost = run(
        observed(status=intent.write).answered(
            status=intent.write, answer=Answer(Call.CREATE, SmcFailure(None, "timeout"))
        )
    )
    other = JobsReport("R-F", {JOB: JobReport(job_id=JOB, tags={UID_TAG: "someone-else"})})
    assert run(observed(status=lost.write).answered(confirmation=other)).call is Call.CREATE


def test_create_errors_have_their_reasons_and_are_final_for_the_generation() -> None:
    for code, expected in [
        (wire.NAME_DUPLICATE, "NameDuplicate"),
        (wire.QUOTA_EXCEEDED, "QuotaExceeded"),
        (wire.IDEMPOTENT_PARAMETER_MISMATCH, "IdempotentParameterMismatch"),
        (wire.SOURCE_SERVER_STATE_INVALID, "SourceServerStateInvalid"),
        ("ReplicationJobDataDiskIndex.Invalid", "InvalidParameter"),
    ]:
        intent = run(observed())
        refused = run(
            observed(status=intent.write).answered(
                status=intent.write,
                answer=Answer(Call.CREATE, SmcFailure(code, "no", "R-X", 400)),
            )
        )
        assert reason(refused, "Created") == expected
        assert refused.failed and refused.retry_in is None and refused.call is None
        written = refused.write
        assert written is not None
        created = written.condition("Created")
        assert created is not None and (created.error_code, created.request_id) == (code, "R-X")
        assert run(observed(status=written)).call is None  # nothing until a new generation
        assert run(observed(status=written, generation=2)).call is Call.CREATE


def created_status(**spec: object) -> ReplicationJobStatus:
    intent = run(observed(**spec))
    done = run(
        observed(status=intent.write, **spec).answered(
            status=intent.write, answer=Answer(Call.CREATE, JobCreated("R-C", JOB))
        )
    )
    started = run(
        observed(status=done.write, **spec).answered(status=done.write, outcome=SmcAccepted("R-S"))
    )
    assert started.write is not None
    return started.write


def test_suspend_waits_for_syncing_then_stops() -> None:
    status = created_status()
    obs = observed(status=status, generation=2, suspend=True)
    assert run(obs).call is Call.DESCRIBE
    preparing = run(obs.answered(confirmation=report("Running", "Preparing")))
    assert reason(preparing, "Suspended") == "Stopping"
    assert preparing.retry_in == LIMITS.poll_seconds and preparing.call is None
    assert reason(preparing, "Started") == "Suspended"
    syncing = run(obs.answered(confirmation=report("Running", "Syncing")))
    assert syncing.call is Call.STOP
    stopped = run(obs.answered(status=syncing.write, answer=Answer(Call.STOP, SmcAccepted("R-T"))))
    assert reason(stopped, "Suspended") == "Stopped"


def test_a_long_wait_uses_up_no_attempts_of_the_stop_and_the_stops_are_limited() -> None:
    # Each poll of a wait is a handler retry: after fifty of them, a failed Stop is attempt 1.
    obs = dataclasses.replace(
        observed(status=created_status(), generation=2, suspend=True), retries=50
    )
    looked = run(obs.answered(confirmation=SmcFailure(wire.INTERNAL_ERROR, "busy", "R-E", 500)))
    assert reason(looked, "Suspended") == "Retrying"
    assert looked.write is not None and "Suspended" not in looked.write.action_attempts
    status = obs.status
    for attempt in range(1, LIMITS.max_attempts + 1):
        syncing = run(
            dataclasses.replace(obs, status=status).answered(
                confirmation=report("Running", "Syncing")
            )
        )
        assert syncing.call is Call.STOP
        assert syncing.write is not None
        assert syncing.write.action_attempts["Suspended"] == attempt
        failed = run(
            obs.answered(
                status=syncing.write,
                answer=Answer(Call.STOP, SmcFailure(wire.INTERNAL_ERROR, "busy", "R-F", 500)),
            )
        )
        assert failed.write is not None
        status = failed.write
        if attempt < LIMITS.max_attempts:
            assert reason(failed, "Suspended") == "Retrying" and not failed.failed
    # The last allowed Stop failed: final, until the spec changes.
    assert reason(failed, "Suspended") == "RetriesExhausted" and failed.failed
    assert run(dataclasses.replace(obs, status=status)).call is None


def test_resume_is_a_new_start_request() -> None:
    status = created_status()
    obs = observed(status=status, generation=2, suspend=True)
    syncing = run(obs.answered(confirmation=report("Running", "Syncing")))
    stopped = run(obs.answered(status=syncing.write, answer=Answer(Call.STOP, SmcAccepted("R-T"))))
    resumed = observed(status=stopped.write, generation=3, suspend=False)
    assert run(resumed).call is Call.DESCRIBE  # does the job still match spec.job?
    resumed = run(resumed.answered(confirmation=report("Stopped")))
    assert resumed.call is Call.START
    assert reason(resumed, "Suspended") == "Resumed"


def test_cut_over_only_an_incremental_job_and_only_when_waiting() -> None:
    incremental = {
        "job": JobTemplate(
            source_id=SOURCE, run_once=False, frequency=1, max_number_of_image_to_keep=2
        )
    }
    status = created_status(**incremental)
    obs = observed(
        status=status, generation=2, cut_over=CutOverRequest(sync_data=True), **incremental
    )
    running = run(obs.answered(confirmation=report("Running", "Syncing", run_once=False)))
    assert reason(running, "CutOver") == "WaitingForCycle" and running.retry_in == 30
    waiting = run(obs.answered(confirmation=report("Waiting", run_once=False)))
    assert waiting.call is Call.CUT_OVER
    assert waiting.request is not None and waiting.request.sync_data is True
    done = run(obs.answered(status=waiting.write, answer=Answer(Call.CUT_OVER, SmcAccepted("R-O"))))
    assert reason(done, "CutOver") == "CutOver"
    assert run(dataclasses.replace(obs, status=done.write)).call is None  # once
    schedule = {"frequency": 1, "max_number_of_image_to_keep": 2}
    one_off = run(obs.answered(confirmation=report("Waiting", run_once=True, **schedule)))
    assert reason(one_off, "CutOver") == "NotIncremental" and one_off.failed


def test_a_cut_over_without_an_answer_is_confirmed_only_by_finished_never_by_running() -> None:
    incremental = {
        "job": JobTemplate(
            source_id=SOURCE, run_once=False, frequency=1, max_number_of_image_to_keep=2
        )
    }
    obs = observed(
        status=created_status(**incremental),
        generation=2,
        cut_over=CutOverRequest(sync_data=False),
        **incremental,
    )
    intent = run(obs.answered(confirmation=report("Waiting", run_once=False)))
    assert intent.call is Call.CUT_OVER
    lost = run(
        obs.answered(
            status=intent.write, answer=Answer(Call.CUT_OVER, SmcFailure(None, "connection reset"))
        )
    )
    assert reason(lost, "CutOver") == "Retrying" and lost.retry_in is not None
    after = dataclasses.replace(obs, status=lost.write, retries=40)  # after many polls
    assert run(after).call is Call.DESCRIBE  # never a repeat CutOver before looking
    unseen = run(after.answered(confirmation=SmcFailure(wire.INTERNAL_ERROR, "busy", "R-E", 500)))
    assert unseen.write is not None and unseen.write.action_attempts["CutOver"] == 1  # no attempt
    # Running: the next cycle began (not cut over) or the last run (cut over): look again.
    running = run(after.answered(confirmation=report("Running", "Syncing", run_once=False)))
    assert running.call is None and running.retry_in == 30 and not running.failed
    assert reason(running, "CutOver") == "CuttingOver"
    assert "Running" in running.write.condition("CutOver").message  # type: ignore[union-attr]
    polled = dataclasses.replace(obs, status=running.write)
    again = run(polled.answered(confirmation=report("Waiting", run_once=False)))
    assert again.call is Call.CUT_OVER  # Waiting: the lost attempt did not cut it over
    assert again.write is not None and again.write.action_attempts["CutOver"] == 2
    finished = run(polled.answered(confirmation=report("Finished", run_once=False)))
    assert finished.call is None and reason(finished, "CutOver") == "CutOver"
    # The repeat refused because the job runs its next cycle: not a confirmation.
    refused = run(
        obs.answered(
            status=again.write,
            answer=Answer(
                Call.CUT_OVER,
                SmcFailure(wire.INVALID_STATUS, "the job status: Running is invalid", "R-I", 400),
            ),
        )
    )
    assert reason(refused, "CutOver") == "WaitingForCycle"


def test_modify_waits_for_a_status_that_allows_the_change() -> None:
    template = {
        "job": JobTemplate(
            source_id=SOURCE, run_once=False, frequency=6, max_number_of_image_to_keep=2
        )
    }
    status = created_status(**template)
    obs = observed(status=status, generation=2, **template)
    live = {"name": "team-a-web", "frequency": 2, "max_number_of_image_to_keep": 2}
    refused = run(obs.answered(confirmation=report("Running", "Syncing", run_once=False, **live)))
    assert reason(refused, "Synced") == "NotModifiableInStatus"
    written = refused.write
    assert written is not None
    synced = written.condition("Synced")
    assert synced is not None and "Running" in synced.message and "Frequency" in synced.message
    assert refused.retry_in == 30 and not refused.failed
    allowed = run(obs.answered(confirmation=report("Waiting", run_once=False, **live)))
    assert allowed.call is Call.MODIFY
    assert allowed.request is not None and allowed.request.changes is not None
    assert allowed.request.changes.frequency == 6 and allowed.request.changes.name is None


def test_delete_stops_a_syncing_job_deletes_and_waits_until_smc_forgets_it() -> None:
    status = created_status(deletion_policy="Delete")
    obs = dataclasses.replace(observed(status=status, deletion_policy="Delete"), deleting=True)
    assert run(obs).call is Call.DESCRIBE
    assert run(obs.answered(confirmation=report("Running", "Syncing"))).call is Call.STOP
    preparing = run(obs.answered(confirmation=report("Running", "Preparing")))
    assert reason(preparing, "Deleted") == "Deleting" and preparing.retry_in == 30
    assert run(obs.answered(confirmation=report("Stopped"))).call is Call.DELETE
    deleting = run(obs.answered(confirmation=report("Deleting")))
    assert deleting.retry_in == 30
    gone = run(obs.answered(confirmation=JobsReport("R-D", {})))
    assert gone.call is None and gone.retry_in is None and not gone.failed


def test_a_refused_deletion_never_ends_and_never_crashes() -> None:
    status = created_status(deletion_policy="Delete")
    obs = dataclasses.replace(observed(status=status, deletion_policy="Delete"), deleting=True)
    denied = run(
        obs.answered(answer=Answer(Call.DELETE, SmcFailure(wire.FORBIDDEN_RAM, "no", "R-N", 403)))
    )
    assert reason(denied, "Deleted") == "AccessDenied"
    assert denied.retry_in == 30 and not denied.failed


def test_a_deletion_that_keeps_failing_says_it_is_still_trying_never_that_it_gave_up() -> None:
    status = created_status(deletion_policy="Delete")
    obs = dataclasses.replace(observed(status=status, deletion_policy="Delete"), deleting=True)
    failing = Answer(Call.DELETE, SmcFailure(wire.INTERNAL_ERROR, "busy", "R-E", 500))
    for _ in range(LIMITS.max_attempts + 2):
        stopped = run(obs.answered(confirmation=report("Stopped")))
        assert stopped.call is Call.DELETE
        verdict = run(obs.answered(status=stopped.write, answer=failing))
        assert reason(verdict, "Deleted") == "Retrying"
        assert verdict.retry_in is not None and not verdict.failed
        obs = dataclasses.replace(obs, status=verdict.write)
    condition = verdict.write.condition("Deleted")  # type: ignore[union-attr]
    assert condition is not None and "retried until the job is deleted" in condition.message
    assert verdict.write.action_attempts["Deleted"] == LIMITS.max_attempts + 2  # type: ignore[union-attr]


def test_an_orphaned_object_leaves_smc_alone_when_deleted() -> None:
    status = created_status()
    obs = dataclasses.replace(observed(status=status), deleting=True)
    assert run(obs) == Verdict()


def test_a_remembered_outcome_reads_back_exactly_as_it_was_written() -> None:
    # Kept compactly (as JSON) for every settled object: nothing may change on the way back.
    incremental = {
        "job": JobTemplate(
            source_id=SOURCE, run_once=False, frequency=1, max_number_of_image_to_keep=2
        )
    }
    status = created_status(**incremental)
    obs = observed(status=status, cut_over=CutOverRequest(sync_data=True), **incremental)
    waiting = run(obs.answered(confirmation=report("Waiting", run_once=False)))
    assert waiting.write is not None and waiting.write.action_attempts
    for written in (status, waiting.write):
        assert Remembered.of(obs.request, written).status == written
