"""SMC's refusals: an HTTP status, an error code and a message.

Every layer of the emulator (signature checks, the job state machine, parameter parsing) refuses a
call by raising :class:`SmcError`; the server turns it into SMC's JSON error body. The codes and
message templates come from :mod:`smc_operator.wire`.
"""

from __future__ import annotations

from smc_operator import wire


class SmcError(Exception):
    """A call SMC answers with an error body instead of doing it."""

    def __init__(self, http_status: int, code: str, message: str) -> None:
        super().__init__(f"{http_status} {code}: {message}")
        self.http_status = http_status
        self.code = code
        self.message = message


def missing_parameter(name: str) -> SmcError:
    return SmcError(400, wire.MISSING_PARAMETER, wire.MISSING_PARAMETER_MESSAGE % name)


def invalid_parameter(name: str) -> SmcError:
    return SmcError(400, wire.INVALID_PARAMETER, wire.INVALID_PARAMETER_MESSAGE % name)


def job_not_found(job_id: str) -> SmcError:
    # SMC's reference does not document this case; the code is ours (see wire.JOB_NOT_FOUND).
    return SmcError(404, wire.JOB_NOT_FOUND, wire.JOB_NOT_FOUND_MESSAGE % job_id)


def invalid_status(current: str, allowed: tuple[str, ...]) -> SmcError:
    """``ReplicationJob.InvalidStatus``; allowed states are listed as "Ready, Stopped, InError"."""
    return SmcError(
        400, wire.INVALID_STATUS, wire.INVALID_STATUS_MESSAGE % (current, ", ".join(allowed))
    )


def source_server_state_invalid(current: str) -> SmcError:
    return SmcError(
        400,
        wire.SOURCE_SERVER_STATE_INVALID,
        wire.SOURCE_SERVER_STATE_INVALID_MESSAGE % (current, wire.SOURCE_AVAILABLE),
    )


def name_duplicate(name: str) -> SmcError:
    return SmcError(400, wire.NAME_DUPLICATE, wire.NAME_DUPLICATE_MESSAGE % name)


def quota_exceeded(limit: int) -> SmcError:
    return SmcError(400, wire.QUOTA_EXCEEDED, wire.QUOTA_EXCEEDED_MESSAGE % limit)


def idempotent_parameter_mismatch() -> SmcError:
    return SmcError(
        400, wire.IDEMPOTENT_PARAMETER_MISMATCH, wire.IDEMPOTENT_PARAMETER_MISMATCH_MESSAGE
    )
