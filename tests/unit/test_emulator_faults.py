"""Fault descriptions and matching (randomness injected, no servers)."""

from __future__ import annotations

import random

import pytest

from smc_operator import wire
from smc_testbed.emulator.faults import Effect, FaultBook, FaultError, make_fault, parse_fault
from smc_testbed.emulator.fields import DocumentError

START = wire.START_REPLICATION_JOB
DESCRIBE = wire.DESCRIBE_REPLICATION_JOBS


@pytest.mark.parametrize(
    ("doc", "effect", "code"),
    [
        ({"code": wire.INTERNAL_ERROR}, Effect.NEVER, wire.INTERNAL_ERROR),
        ({"drop": True}, Effect.NEVER, None),
        ({"latencyMs": 500}, Effect.AFTER_DELAY, None),
        ({"latencyMs": 500, "applyBeforeDelay": True}, Effect.BEFORE_DELAY, None),
        ({"drop": True, "applyBeforeDelay": True}, Effect.BEFORE_DELAY, None),
        ({"code": wire.INTERNAL_ERROR, "apply": True}, Effect.AFTER_DELAY, wire.INTERNAL_ERROR),
        ({"body": "html"}, Effect.AFTER_DELAY, None),
        ({"body": "html", "apply": False}, Effect.NEVER, None),
        ({"retryAfter": 2}, Effect.NEVER, wire.THROTTLING_USER),
    ],
)
def test_defaults(doc: dict[str, object], effect: Effect, code: str | None) -> None:
    fault = parse_fault({"action": START, **doc}, 1)
    assert (fault.effect, fault.code, fault.remaining) == (effect, code, 1)


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"action": START},
        {"action": START, "code": "X", "count": 2, "probability": 0.5},
        {"action": START, "code": "X", "count": 0},
        {"action": START, "code": "X", "probability": 1.5},
        {"action": START, "code": "X", "latencyMs": -1},
        {"action": START, "code": "X", "httpStatus": 99},
        {"action": START, "httpStatus": 500},
        {"action": START, "body": "xml"},
        {"action": START, "code": "X", "retryAfter": 0},
        {"action": START, "code": "X", "count": True},
        {"action": START, "code": 5},
        {"action": START, "code": "X", "colour": "red"},
        {"action": START, "latencyMs": 5, "applyBeforeDelay": True, "apply": False},
    ],
)
def test_nonsense_is_refused(doc: dict[str, object]) -> None:
    with pytest.raises(DocumentError):  # FaultError, or a field error, both DocumentErrors
        parse_fault(doc, 1)
    assert issubclass(FaultError, DocumentError)


def fired_id(book: FaultBook, action: str, job_ids: list[str]) -> int | None:
    fault = book.fire(action, job_ids)
    return fault.fault_id if fault is not None else None


def test_count_fires_that_many_times() -> None:
    book = FaultBook(random.Random(0))
    book.add(make_fault(1, START, code=wire.INTERNAL_ERROR, count=2))
    fired = [book.fire(START, ["j-1"]) for _ in range(3)]
    assert [f.fault_id if f else None for f in fired] == [1, 1, None]
    assert len(book) == 0


def test_faults_match_by_action_and_job() -> None:
    book = FaultBook(random.Random(0))
    book.add(make_fault(1, START, job_id="j-a", code=wire.INTERNAL_ERROR, count=10))
    book.add(make_fault(2, "*", code=wire.THROTTLING_USER, count=10))
    assert fired_id(book, START, ["j-b"]) == 2
    assert fired_id(book, START, ["j-a"]) == 1
    assert fired_id(book, START, ["j-x", "j-a"]) == 1
    assert fired_id(book, DESCRIBE, ["j-a"]) == 2


def test_probability_uses_the_injected_random() -> None:
    def hits(seed: int) -> list[bool]:
        book = FaultBook(random.Random(seed))
        book.add(make_fault(1, START, code=wire.INTERNAL_ERROR, probability=0.5))
        return [book.fire(START, []) is not None for _ in range(50)]

    assert hits(7) == hits(7)
    assert 5 < sum(hits(7)) < 45
    book = FaultBook(random.Random(0))
    book.add(make_fault(1, START, code=wire.INTERNAL_ERROR, probability=0.0))
    assert all(book.fire(START, []) is None for _ in range(20))


def test_remove_and_clear() -> None:
    book = FaultBook(random.Random(0))
    book.add(make_fault(1, START, code="A"))
    book.add(make_fault(2, START, code="B"))
    assert book.remove(1)
    assert not book.remove(1)
    assert book.clear() == 1
    assert book.fire(START, []) is None
