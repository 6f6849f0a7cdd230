"""Database faults as coded errors instead of INTERNAL_SERVER_ERROR.

- STATEMENT_TIMEOUT: a statement ran past `GONGJIAN_STATEMENT_TIMEOUT_MS` (or the session
  sat idle in a transaction past its limit) and was cancelled;
- LOCK_TIMEOUT: a row it had to change stayed locked past `GONGJIAN_LOCK_TIMEOUT_MS`;
- SERVICE_UNAVAILABLE: no connection within `GONGJIAN_POOL_ACQUIRE_TIMEOUT_MS`, or
  PostgreSQL cannot be reached (down, restarting, out of connections). The request could
  not run: over HTTP the status is 503 with `Retry-After`.

Each carries `retryAfter` (seconds) in `extensions`; in every case the transaction was
rolled back, so retrying is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import asyncpg
from starlette.responses import Response

from db.pool import PoolExhausted


@dataclass(frozen=True)
class Fault:
    code: str
    message: str
    retry_after: int

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfter": self.retry_after}

    @property
    def unavailable(self) -> bool:
        return self.code == UNAVAILABLE.code


STATEMENT_TIMEOUT: Final = Fault("STATEMENT_TIMEOUT", "The database took too long to answer: try again", 1)
LOCK_TIMEOUT: Final = Fault("LOCK_TIMEOUT", "What this changes is in use by another request: try again", 1)
UNAVAILABLE: Final = Fault("SERVICE_UNAVAILABLE", "The service cannot reach its database right now: try again", 2)

_UNREACHABLE: Final = (
    PoolExhausted,
    asyncpg.PostgresConnectionError,  # includes ConnectionDoesNotExistError
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,  # "connection is closed", "pool is closing"
    ConnectionError,  # refused, reset
)


def classify(error: BaseException | None) -> Fault | None:
    """The fault `error` (or what caused it) stands for; None for anything else."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, asyncpg.QueryCanceledError | asyncpg.IdleInTransactionSessionTimeoutError):
            return STATEMENT_TIMEOUT
        if isinstance(error, asyncpg.LockNotAvailableError):
            return LOCK_TIMEOUT
        if isinstance(error, _UNREACHABLE):
            return UNAVAILABLE
        if isinstance(error, OSError) and error.errno is not None:  # no such socket, host unreachable
            return UNAVAILABLE
        error = error.__cause__ or error.__context__
        seen += 1
    return None


def answer_unavailable(response: Any, fault: Fault) -> None:
    """Make an HTTP answer 503 with Retry-After (nothing for a WebSocket)."""
    if isinstance(response, Response) and fault.unavailable:
        response.status_code = 503
        response.headers["Retry-After"] = str(fault.retry_after)
