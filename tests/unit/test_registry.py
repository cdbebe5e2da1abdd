from smc_operator.observations import Watched
from smc_operator.registry import Entry, Registry

CLAIM = ("cn-hangzhou", "j-0000000001")


def test_a_holder_is_another_object_that_holds_the_claim() -> None:
    registry = Registry()
    registry.put(("a", "first"), Entry("Started", CLAIM, holds=True))
    registry.put(("a", "second"), Entry("", CLAIM, holds=False))
    assert registry.holder(("a", "second"), CLAIM) == ("a", "first")
    assert registry.holder(("a", "first"), CLAIM) is None  # not itself
    assert registry.holder(("a", "first"), ("cn-hangzhou", "j-other")) is None


def test_a_deleted_or_changed_object_releases_its_claim() -> None:
    registry = Registry()
    registry.put(("a", "first"), Entry("Started", CLAIM, holds=True))
    registry.remove(("a", "first"))
    assert registry.holder(("b", "x"), CLAIM) is None
    registry.put(("a", "first"), Entry("Started", CLAIM, holds=True))
    registry.put(("a", "first"), Entry("Started", ("cn-hangzhou", "j-moved"), holds=True))
    assert registry.holder(("b", "x"), CLAIM) is None
    registry.put(("a", "first"), Entry("InvalidStatus", CLAIM, holds=False))
    assert registry.holder(("b", "x"), CLAIM) is None


def test_reasons_and_polling_cover_every_object() -> None:
    registry = Registry()
    watched = Watched("a", "w", "j-0000000001", "cn-hangzhou", None, None)
    registry.put(("a", "w"), Entry("Started", CLAIM, holds=True, watched=watched))
    registry.put(("a", "x"), Entry("Started"))
    registry.put(("a", "y"), Entry(""))
    registry.remove(("a", "missing"))  # harmless
    assert registry.reasons() == {"Started": 2, "": 1}
    assert registry.watched() == [watched]
    assert len(registry) == 3


def test_the_refreshers_writes_are_remembered() -> None:
    from smc_operator.model import JobObservation

    registry = Registry()
    watched = Watched("a", "w", "j-0000000001", "cn-hangzhou", None, None)
    registry.put(("a", "w"), Entry("Started", CLAIM, holds=True, watched=watched))
    job = JobObservation(status="Running", progress=3.0)
    registry.observed(("a", "w"), job)
    registry.observed(("a", "gone"), job)  # harmless
    assert [w.job for w in registry.watched()] == [job]
