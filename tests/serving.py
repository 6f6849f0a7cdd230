"""Real `gongjian serve` processes for the end-to-end tests, each on a fresh database."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_SECRET, _with_database
from tests.support import REPO

GONGJIAN = str(Path(sys.executable).parent / "gongjian")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def environment(database_url: str | None, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONGJIAN_") and k != "DATABASE_URL"}
    env.update({"GONGJIAN_SECRET": TEST_SECRET, "GONGJIAN_DATA_DIR": str(data_dir), "GONGJIAN_POOL_MIN": "1"})
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def start(env: Mapping[str, str], log_path: Path, *args: str) -> Served:
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [GONGJIAN, "serve", "--port", str(port), *args], env=dict(env), stdout=log, stderr=log, cwd=REPO
        )
    return Served(process=process, port=port, log_path=log_path)


def wait_ready(served: Served, timeout: float = 60.0) -> float:
    """Seconds until /readyz answered 200; fails with the server's log otherwise."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if served.process.poll() is not None:
            pytest.fail(f"gongjian serve exited with {served.process.returncode}:\n{served.log()}")
        try:
            if httpx.get(served.url + "/readyz", timeout=1.0).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"gongjian serve was not ready within {timeout} s:\n{served.log()}")


def stop(served: Served, timeout: float = 30.0) -> int:
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGTERM)
        try:
            served.process.wait(timeout)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait()
    return served.process.returncode


@contextmanager
def serving(env: Mapping[str, str], log_path: Path, *args: str) -> Iterator[Served]:
    served = start(env, log_path, *args)
    try:
        wait_ready(served)
        yield served
    finally:
        stop(served)


@pytest.fixture
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database (not migrated), dropped afterwards."""
    name = f"gj_e2e_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")
