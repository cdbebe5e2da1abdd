from datetime import UTC, datetime, timedelta

import pytest

from smc_operator.peers import paused

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
ME = "pod-a@1"


def peering(**peers: tuple[int, float, int]) -> dict[str, object]:
    """peer -> (priority, seconds since last seen, lifetime)."""
    return {
        "status": {
            name.replace("_", "-"): {
                "priority": priority,
                "lastseen": (NOW - timedelta(seconds=ago)).isoformat(),
                "lifetime": lifetime,
            }
            for name, (priority, ago, lifetime) in peers.items()
        }
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, False),
        ({}, False),
        (peering(other=(99, 1, 60)), False),  # a lower priority: we are active
        (peering(other=(101, 1, 60)), True),  # a higher priority: we pause
        (peering(other=(100, 1, 60)), True),  # the same priority: everybody pauses (kopf's rule)
        (peering(other=(200, 61, 60)), False),  # a dead peer does not count
        ({"status": {"other": {"priority": 200}}}, False),  # no lastseen: unreadable, ignored
        ({"status": "garbage"}, False),
    ],
)
def test_paused_follows_kopfs_rule(body: dict[str, object] | None, expected: bool) -> None:
    assert paused(body, identity=ME, priority=100, now=NOW) is expected


def test_our_own_entry_never_pauses_us() -> None:
    body = {"status": {ME: {"priority": 500, "lastseen": NOW.isoformat(), "lifetime": 60}}}
    assert paused(body, identity=ME, priority=100, now=NOW) is False
