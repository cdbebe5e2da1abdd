"""What-if measurements: kopf settings the operator does not expose, set without changing it.

``python -m bench --kopf-setting queueing.idle_timeout=0.5`` puts this directory first on the
operator's ``PYTHONPATH`` (Python imports ``sitecustomize`` at start-up) with the settings in
``BENCH_KOPF_SETTINGS`` (JSON: ``{"queueing.idle_timeout": 0.5}``). Every
``kopf.OperatorSettings()`` then starts with those values; settings the operator assigns itself
(``batching.worker_limit``, ``posting``, ``persistence`` storages, ...) still win. For
benchmarking only: the operator is measured as it would behave with that setting.
"""

import json
import os
from typing import Any


def _apply() -> None:
    raw = os.environ.get("BENCH_KOPF_SETTINGS")
    if not raw:
        return
    wanted = json.loads(raw)
    from kopf._cogs.configs import configuration

    original: Any = configuration.OperatorSettings.__init__

    def patched(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        for path, value in wanted.items():
            section, _, name = path.rpartition(".")
            target = getattr(self, section) if section else self
            if not hasattr(target, name):
                raise AttributeError(f"kopf has no setting {path!r}")
            setattr(target, name, value)

    setattr(configuration.OperatorSettings, "__init__", patched)  # noqa: B010 - on purpose


_apply()
