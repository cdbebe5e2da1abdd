"""The transport's hook into darabonba: it replaces exactly the function it was written against.

If this fails after an SDK upgrade, re-read ``DaraCore.async_do_action`` of the new version
against ``Transport.perform`` (what it does with the request, the runtime options, the answer and
the errors), adapt ``perform``, then update ``EXPECTED_SOURCE_SHA256``.
"""

from __future__ import annotations

import inspect
import logging

import pytest
from darabonba.core import DaraCore

from smc_operator import transport


def test_the_sdk_function_is_the_one_the_transport_was_written_against() -> None:
    assert transport.source_sha256() == transport.EXPECTED_SOURCE_SHA256, (
        "darabonba-core's DaraCore.async_do_action changed: review smc_operator/transport.py"
    )
    assert list(inspect.signature(transport._sdk_async_do_action).parameters) == [
        "request",
        "runtime_option",
    ]


def test_installed_hook_dispatches_and_leaves_other_callers_to_the_sdk() -> None:
    assert transport.install() is True
    assert DaraCore.async_do_action is transport._dispatch
    assert transport._current.get() is None  # outside a bound call: the SDK's own path


def test_another_sdk_function_disables_the_hook_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(transport, "_installed", None)
    monkeypatch.setattr(transport, "EXPECTED_SOURCE_SHA256", "0" * 64)
    monkeypatch.setattr(DaraCore, "async_do_action", DaraCore.__dict__["async_do_action"])
    with caplog.at_level(logging.WARNING, logger=transport.__name__):
        first = transport.Transport(request_timeout_seconds=1)
        second = transport.Transport(request_timeout_seconds=1)
    assert (first.enabled, second.enabled) == (False, False)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "SDK's own transport" in warnings[0].getMessage()
    with first.bound():
        assert transport._current.get() is None  # bound, yet the SDK's path is used
