"""The bounded maps behind the request path's caches (gongjian/recent.py)."""

from __future__ import annotations

from gongjian.recent import Recent


def test_the_entry_used_longest_ago_leaves_first() -> None:
    kept: Recent[str, int | None] = Recent(3)
    kept["a"], kept["b"], kept["c"] = 1, None, 3
    assert kept.get("a") == 1  # read: now the newest
    assert "b" in kept and kept.get("b") is None  # a kept None is told apart by `in`
    kept["d"] = 4  # one more than three: "c" was used longest ago
    assert [k for k in "abcd" if k in kept] == ["a", "b", "d"]
    kept["a"] = 10  # rewritten: the newest, not a new entry
    kept["e"] = 5
    assert [k for k in "abcde" if k in kept] == ["a", "d", "e"]
    assert len(kept) == 3 and kept["a"] == 10 and kept.get("zz") is None
    kept.clear()
    assert len(kept) == 0
