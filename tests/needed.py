"""Programs some tests need beside Python: headless Chromium (the GraphiQL browser test) and
Node.js with npm packages (other people's clients and suites, tests/clients/).

On a developer's machine without them those tests are skipped, each with a one-line reason
in pytest's summary (`-ra`), so that `./dev test` passes on a new machine. Under CI
(`CI=true`), where `.ci/run` installs them, a missing program fails the test instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support import REPO

CLIENTS = REPO / "tests" / "clients"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(what: str, how: str) -> NoReturn:
    """Skip the test, or fail it under CI, because `what` is not installed."""
    message = f"{what} is not installed ({how})"
    if in_ci():
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(message)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    missing("headless Chromium", "apt-get install chromium; .ci/run installs it")


def node() -> str:
    path = shutil.which("node")
    if path is None:
        missing("Node.js", "apt-get install nodejs npm; .ci/run installs it")
    return path


def client_packages() -> Path:
    """tests/clients/node_modules, installed by `./dev test` where npm is present."""
    node()
    if not (CLIENTS / "node_modules" / ".package-lock.json").is_file():
        missing("the npm packages of tests/clients", "tests/clients/install runs `npm ci` there; ./dev test does")
    return CLIENTS / "node_modules"
