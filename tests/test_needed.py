"""Tests that need Chromium or Node.js skip on a machine without them, and fail under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import needed


@pytest.mark.parametrize(("program", "what"), [(needed.chromium, "headless Chromium"), (needed.node, "Node.js")])
def test_a_missing_program_skips_here_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, program: object, what: str
) -> None:
    assert callable(program)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to be found
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=what):
        program()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        program()


def test_a_present_program_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "node"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    assert needed.node() == str(fake)
