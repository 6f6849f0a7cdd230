"""`gongjian serve` with no DATABASE_URL: the embedded PostgreSQL in the data folder."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving import environment, start, stop, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data folder under /tmp: the server runs as its own system user and needs every
    parent folder readable, which a folder in root's home is not."""
    with tempfile.TemporaryDirectory(prefix="gongjian-embedded-", dir="/tmp") as folder:
        os.chmod(folder, 0o755)  # noqa: S103 - the embedded server's own user must reach it
        try:
            yield Path(folder)
        finally:  # a failed test must not leave a server behind
            left = _postmaster(Path(folder))
            if left is not None:
                os.kill(left, signal.SIGTERM)
                _wait_stopped(Path(folder))


def _postmaster(data_dir: Path) -> int | None:
    """The pid of the embedded server when it runs, else None."""
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def _wait_stopped(data_dir: Path, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _postmaster(data_dir) is None:
            return True
        time.sleep(0.1)
    return False


def test_serve_without_database_url_starts_the_embedded_server(data_dir: Path) -> None:
    env = environment(None, data_dir)
    del env["GONGJIAN_SECRET"]
    served = start(env, data_dir / "serve.log")
    try:
        seconds = wait_ready(served)
        print(f"embedded: /readyz answered {seconds:.2f} s after `gongjian serve` started")
        assert httpx.post(served.url + "/graphql", json={"query": "{ __typename }"}).json() == {
            "data": {"__typename": "Query"}
        }
        assert f"data in {data_dir / 'pgdata'}" in served.log()
        assert _postmaster(data_dir) is not None
        assert (data_dir / "secret").exists()  # the signing secret is generated and kept
    finally:
        stop(served)
    assert served.process.returncode == 0
    assert _wait_stopped(data_dir), "SIGTERM left the embedded server running"


def test_orphan_of_a_killed_parent_is_reused_then_stopped(data_dir: Path) -> None:
    first = start(environment(None, data_dir), data_dir / "first.log")
    try:
        wait_ready(first)
        orphan = _postmaster(data_dir)
        assert orphan is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
    finally:
        stop(first)
    assert _postmaster(data_dir) == orphan, "the server should outlive a parent killed with -9"

    second = start(environment(None, data_dir), data_dir / "second.log")
    try:
        wait_ready(second)
        assert _postmaster(data_dir) == orphan  # reused, not a second server on the same data
        assert httpx.get(second.url + "/readyz").json() == {"status": "ready"}
    finally:
        stop(second)
    assert _wait_stopped(data_dir), "the last user did not stop the reused server"


def test_the_embedded_server_is_started_again_when_it_dies(data_dir: Path) -> None:
    served = start(environment(None, data_dir), data_dir / "serve.log")
    try:
        wait_ready(served)
        first = _postmaster(data_dir)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        again = None
        while time.monotonic() < deadline:  # a bound on waiting, not a timing assertion
            again = _postmaster(data_dir)
            if again not in (None, first):
                try:
                    if httpx.get(served.url + "/readyz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        assert again not in (None, first), served.log()
        answer = httpx.post(served.url + "/graphql", json={"query": "{ __typename }"}, timeout=10)
        assert answer.json() == {"data": {"__typename": "Query"}}
        assert "starting it again" in served.log()
    finally:
        stop(served)
    assert _wait_stopped(data_dir), "SIGTERM left the restarted embedded server running"
