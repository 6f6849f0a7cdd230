"""The committed schema.graphql is the schema the code builds."""

from __future__ import annotations

from schema.root import sdl
from tests.support import REPO


def test_committed_sdl_matches_code() -> None:
    committed = (REPO / "schema.graphql").read_text(encoding="utf-8")
    assert committed == sdl(), "schema.graphql is stale: run `gongjian export-schema > schema.graphql`"
