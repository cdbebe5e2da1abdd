"""kopf peering, read the way kopf reads it: is this operator paused in favour of another?

kopf pauses its handlers while the peering object lists another live operator with a higher
priority, or with the same one (then every operator pauses). Work the operator does outside kopf's
handlers (the job refresher) must pause too, or a standby would poll SMC and write status.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

#: kopf's default when a peer does not say how long its keep-alive lasts.
DEFAULT_LIFETIME_SECONDS = 60


def paused(
    peering: Mapping[str, Any] | None, *, identity: str, priority: int, now: datetime
) -> bool:
    """True while another live peer in ``peering`` (the object) has a priority >= ``priority``."""
    peers = (peering or {}).get("status") or {}
    if not isinstance(peers, Mapping):
        return False
    for peer_id, info in peers.items():
        if peer_id == identity or not isinstance(info, Mapping):
            continue
        try:
            lastseen = datetime.fromisoformat(str(info["lastseen"]).replace("Z", "+00:00"))
            lifetime = timedelta(seconds=int(info.get("lifetime", DEFAULT_LIFETIME_SECONDS)))
            peer_priority = int(info.get("priority", 0))
        except (KeyError, TypeError, ValueError):
            continue
        if lastseen.tzinfo is None:
            lastseen = lastseen.replace(tzinfo=now.tzinfo)
        if lastseen + lifetime > now and peer_priority >= priority:
            return True
    return False
