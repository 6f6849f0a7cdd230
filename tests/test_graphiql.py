"""GraphiQL at GET /graphql, with its files served by the app so that it works offline."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest

from gongjian import graphiql, passwords, trusted_documents
from gongjian.config import Settings
from resolvers import ids
from tests import needed
from tests.probes import probe_api, probe_client
from tests.serving import environment, fresh_database, serving
from tests.support import Api, without_faketime

__all__ = ["fresh_database", "probe_api"]

HTML = {"accept": "text/html,application/xhtml+xml"}


def _asset_urls(html: str) -> list[tuple[str, str | None]]:
    """(URL, integrity) of every script and stylesheet the page loads."""
    found = []
    for tag in re.findall(r"<(?:script|link)\b[^>]*>", html):
        url = re.search(r'(?:src|href)="([^"]+)"', tag)
        if url and not url.group(1).startswith("data:"):
            integrity = re.search(r'integrity="([^"]+)"', tag)
            found.append((url.group(1), integrity.group(1) if integrity else None))
    return found


async def test_page_loads_only_local_files_when_installed(probe_api: Api) -> None:
    response = await probe_api.client.get("/graphql", headers=HTML)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    urls = _asset_urls(response.text)
    assert len(urls) == 7
    if not graphiql.installed():
        # only acceptable where npm is missing: then the page falls back to the CDN
        assert shutil.which("npm") is None, "npm is present: run gongjian/ide/install-assets (./dev does)"
        assert all(url.startswith("https://unpkg.com/") for url, _ in urls)
        return
    assert "unpkg.com" not in response.text
    for url, integrity in urls:
        assert url.startswith("/_ide/"), url
        asset = await probe_api.client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith(("text/javascript", "text/css"))
        assert integrity is not None
        digest = base64.b64encode(hashlib.sha384(asset.content).digest()).decode()
        assert integrity == f"sha384-{digest}", f"{url}: the integrity attribute no longer matches"


async def test_nothing_else_is_reachable_under_ide(probe_api: Api) -> None:
    for path in ("/_ide/react/package.json", "/_ide/../../gongjian/config.py", "/_ide/%2e%2e/secret", "/_ide/"):
        response = await probe_api.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_graphiql_off_by_configuration(conn: asyncpg.Connection, settings: Settings) -> None:
    async for api in probe_client(conn, replace(settings, graphiql=False)):
        response = await api.client.get("/graphql", headers=HTML)
        assert response.status_code == 404
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert "graphiql" not in response.text.lower()
        query = await api.client.get("/graphql", params={"query": "{ __typename }"}, headers=HTML)
        assert query.json() == {"data": {"__typename": "Query"}}  # queries over GET still work


def test_missing_files_fall_back_to_the_cdn_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="gongjian")
    html = graphiql.page(tmp_path)
    assert all(url.startswith("https://unpkg.com/") for url, _ in _asset_urls(html))
    assert any("public CDN" in r.getMessage() for r in caplog.records)


# --- in headless Chromium, against a real `gongjian serve` ---------------------------------

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
    # nothing but this machine resolves: the page must not need the internet
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-port=0",
]


class DevTools:
    """Just enough of the Chrome DevTools protocol: evaluate JavaScript in the page."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.next_id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(await self.socket.recv())
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message["result"]  # type: ignore[no-any-return]

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        body = await self.evaluate("document.body ? document.body.innerText.slice(0, 500) : ''")
        pytest.fail(f"GraphiQL: {what} did not happen within {timeout} s; the page shows: {body!r}")


async def _devtools(profile: Path, chromium: subprocess.Popen[bytes]) -> AsyncIterator[DevTools]:
    from websockets.asyncio.client import connect

    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        if chromium.poll() is not None or time.monotonic() > deadline:
            pytest.fail("Chromium did not start its DevTools endpoint")
        await asyncio.sleep(0.05)
    port = port_file.read_text().split()[0]
    async with httpx.AsyncClient() as client:
        targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
    page = next(t for t in targets if t["type"] == "page")
    async with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
        yield DevTools(socket)


RESPONSE = "(document.querySelector('.graphiql-response') || {}).innerText || ''"
# press the run button unless a run is in progress (then it is the stop button)
RUN = """(button => {
  if (!button || /stop/i.test(button.getAttribute('aria-label') || '')) return false;
  button.click();
  return true;
})(document.querySelector('.graphiql-execute-button'))"""


async def _run_until_answered(tools: DevTools, expected: str, timeout: float = 60.0) -> str:
    """Press the run button until the response pane shows `expected`: on a busy machine a
    click can come before GraphiQL has finished loading the schema and be lost."""
    deadline = time.monotonic() + timeout
    clicked = 0.0
    while time.monotonic() < deadline:
        shown = str(await tools.evaluate(RESPONSE))
        if expected in shown:
            return shown
        if time.monotonic() - clicked > 5.0 and await tools.evaluate(RUN):
            clicked = time.monotonic()
        await asyncio.sleep(0.1)
    body = await tools.evaluate("document.body.innerText.slice(0, 500)")
    pytest.fail(f"GraphiQL did not show the answer within {timeout} s; the page shows: {body!r}")


# every editor's text (query, variables, headers, response), whether shown or not
EDITORS = "Array.from(document.querySelectorAll('.CodeMirror')).map(e => e.CodeMirror.getValue()).join('\\n')"


@pytest.mark.e2e
@pytest.mark.browser
def _stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the browser and every helper process it started, so that its profile folder
    can be removed (a helper still writing there made the removal fail)."""
    for how, seconds in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, how)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            process.poll()  # reaps the leader, so that the group can empty
            time.sleep(0.05)
        else:
            continue
        break
    process.wait(5)


async def test_graphiql_welcomes_logs_in_and_signs_later_requests_offline_in_chromium(
    fresh_database: str, tmp_path: Path
) -> None:
    binary = needed.chromium()
    if not graphiql.installed():
        needed.missing("GraphiQL's files", "gongjian/ide/install-assets installs them with npm; ./dev does")
    with serving(environment(fresh_database, tmp_path / "data"), tmp_path / "serve.log") as served:
        raw = await asyncpg.connect(fresh_database)
        try:
            county = await raw.fetchval("INSERT INTO areas (level, name) VALUES ('COUNTY', '佛坪县') RETURNING id")
            await raw.execute(
                "INSERT INTO users (county_id, username, password_hash) VALUES ($1, 'ide', $2)",
                county,
                passwords.hash_password("ide-password"),
            )
        finally:
            await raw.close()
        login = json.dumps({"username": "ide", "password": "ide-password"})
        query = (
            f'{{ viewer {{ username }} node(id: "{ids.encode("County", county)}") {{ ... on Area {{ name level }} }} }}'
        )
        with tempfile.TemporaryDirectory(prefix="gongjian-chromium-") as profile:
            chromium = subprocess.Popen(  # noqa: ASYNC220 - started once; the test awaits nothing meanwhile
                [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # its helpers (zygote, renderers, crashpad) go with it
                env=without_faketime(os.environ),  # a browser is not ours: the real clock
            )
            try:
                async for tools in _devtools(Path(profile), chromium):
                    # the welcome, in Chinese and English, with a ready Login
                    await tools.call("Page.navigate", url=f"{served.url}/graphql?variables={quote(login)}")
                    await tools.wait_for("!!document.querySelector('.graphiql-execute-button')", "rendering")
                    shown = await tools.wait_for(
                        "(t => t.includes('mutation Login') && t)(document.body.innerText)", "the welcome"
                    )
                    for words in ("欢迎使用 Welcome", "登录 Log in", "Authorization", "Bearer <token>", "Headers"):
                        assert words in shown, words
                    screenshot = await tools.call("Page.captureScreenshot", format="png")
                    (tmp_path / "welcome.png").write_bytes(base64.b64decode(screenshot["data"]))
                    # Login: its token lands in the headers pane
                    answer = await _run_until_answered(tools, '"token": "v1.')
                    assert '"code"' not in answer
                    editors = await tools.wait_for(f"(t => t.includes('Bearer v1.') && t)({EDITORS})", "the header")
                    assert re.search(r'"Authorization": "Bearer v1\.[^"]+"', editors)
                    # a later request (a new page load, headers kept by the browser) is signed in
                    await tools.call("Page.navigate", url=f"{served.url}/graphql?q={quote(query)}")
                    await tools.wait_for("!!document.querySelector('.graphiql-execute-button')", "rendering again")
                    shown = await _run_until_answered(tools, "佛坪县")
                    assert '"username": "ide"' in shown and '"level": "COUNTY"' in shown
            finally:
                _stop_process_group(chromium)
    assert (tmp_path / "welcome.png").stat().st_size > 10_000


def test_the_welcomes_login_is_a_registered_operation() -> None:
    """So that it runs in trusted-documents-only mode too."""
    assert trusted_documents.kind_of(graphiql.LOGIN, 5000) == "registered"
