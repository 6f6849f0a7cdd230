"""What the bench scripts share: a scratch database on the server of `DATABASE_URL`
(created, and dropped at the end), migrating it or loading the demo county into it, a real
`gongjian serve` on a free port (started, awaited at `/readyz`, stopped at the end),
signing in, and percentiles.

    async with common.scratch_database("gj_bench") as url:
        await common.load_demo(url, "bench-password")
        async with common.serve(url, env={"GONGJIAN_RATE_LOGINS_PER_ADDRESS": "0"}) as server:
            token = server.token(user_id)  # or: await common.sign_in(http, username, password)

The scripts run from the repository's root folder with the project's `.venv`, either as
`python bench/NAME.py` or as `python -m bench.NAME`; importing this module makes the root
importable in both cases.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gongjian import tokens  # noqa: E402 - after the root is importable
from tests.support import contract_operations  # noqa: E402

OPERATIONS = contract_operations()
# the server's rate limits turned off (README "Faults and abuse"): a benchmark's clients
# share one address and a few accounts, and must meet the code, not the limiter
RATE_LIMITS_OFF = {
    "GONGJIAN_RATE_MUTATIONS_PER_ACCOUNT": "0",
    "GONGJIAN_RATE_MUTATIONS_PER_ADDRESS": "0",
    "GONGJIAN_RATE_LOGINS_PER_ADDRESS": "0",
}


def server_url() -> str:
    """The PostgreSQL server of `DATABASE_URL`, or the script ends saying it is needed."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("bench: set DATABASE_URL to a PostgreSQL server (a scratch database is created there)")
    return url


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The command line of a script whose docstring is `doc` (shown by `--help`)."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank `p` quantile (0 <= p <= 1) of `values`; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@asynccontextmanager
async def scratch_database(prefix: str = "gj_bench") -> AsyncIterator[str]:
    """A new, empty database on the server of `DATABASE_URL` (its URL), dropped afterwards
    whatever happened, with any connection still open to it."""
    server = server_url()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield with_database(server, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def connection(url: str, *, migrated: bool = False) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the database `url` (closed afterwards), which is first brought
    to the latest migration if `migrated`."""
    conn = await asyncpg.connect(url)
    try:
        if migrated:
            from db.migrate import migrate

            await migrate(conn)
        yield conn
    finally:
        await conn.close()


async def migrate_database(url: str) -> None:
    from db.migrate import migrate
    from db.pool import connect

    raw = await connect(url)
    try:
        await migrate(raw)
    finally:
        await raw.close()


async def load_demo(url: str, password: str, *, today: datetime.date | None = None) -> None:
    """Migrate the database and load the demo county into it (every demo user's password
    is `password`), as `gongjian demo` does."""
    from db.demo import load
    from gongjian import clock

    await migrate_database(url)
    loaded = await load.run(url, password, today=today or clock.today("Asia/Shanghai"))
    if not loaded:
        sys.exit("bench: the demo was not loaded (the database was not empty)")


@dataclass(frozen=True)
class Server:
    """A running `gongjian serve`: its base URL, process and token secret."""

    base: str
    process: subprocess.Popen[bytes]
    secret: str

    def token(self, user_id: int, seconds: int = 24 * 3600) -> str:
        """A signed-in token of `user_id`, as `login` would give (without the argon2 check)."""
        return tokens.sign(self.secret, user_id, seconds)[0]

    def rss_kib(self) -> int:
        """The server process's resident memory, KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


async def wait_ready(base: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Wait until `/readyz` answers 200; end the script if the server exits or never does."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for _ in range(int(seconds * 10)):
            if process.poll() is not None:
                sys.exit(f"bench: gongjian serve exited with {process.returncode}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    sys.exit("bench: the server did not become ready")


@asynccontextmanager
async def serve(
    url: str,
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    secret: str | None = None,
    log: Path | None = None,
) -> AsyncIterator[Server]:
    """`gongjian serve` on a free port of 127.0.0.1 against the database `url`, ready, and
    stopped afterwards. `env` adds to (or overrides) the environment, `args` to the command
    line; its output goes to the file `log`, or nowhere. Its data folder (uploaded files) is
    a temporary one unless `env` names one."""
    secret = secret or secrets.token_urlsafe(32)
    port = free_port()
    data = tempfile.TemporaryDirectory(prefix="gj_bench_data_")
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "GONGJIAN_SECRET": secret,
        "GONGJIAN_LOG_LEVEL": "WARNING",
        "GONGJIAN_DATA_DIR": data.name,
    }
    environment.update(env or {})
    output: Any = log.open("ab") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before any request
        [sys.executable, "-m", "gongjian.cli", "serve", "--port", str(port), *args],
        env=environment,
        cwd=ROOT,
        stdout=output,
        stderr=output,
    )
    try:
        server = Server(f"http://127.0.0.1:{port}", process, secret)
        await wait_ready(server.base, process)
        yield server
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        if log is not None:
            output.close()
        data.cleanup()


async def graphql(
    http: httpx.AsyncClient, query: str, variables: Mapping[str, Any] | None = None, token: str | None = None
) -> httpx.Response:
    """POST one operation to `/graphql` (signed in with `token`, if given)."""
    body = {"query": query, "variables": dict(variables or {})}
    return await http.post("/graphql", json=body, headers=bearer(token) if token else {})


async def sign_in(http: httpx.AsyncClient, username: str, password: str) -> str:
    """The token that the contract's `Login` gives `username`; the script ends if it fails."""
    response = await graphql(http, OPERATIONS["Login"], {"username": username, "password": password})
    login = (response.json().get("data") or {}).get("login") or {}
    if not login.get("token"):
        sys.exit(f"bench: {username} could not sign in: {response.text[:300]}")
    return str(login["token"])
