"""JSON from clients, decoded so that no body or WebSocket message can crash the decoder.

Python's `json` raises RecursionError on deep nesting (and what it does parse, nested
900 deep, would then exhaust the recursion of every later walk over it), UnicodeDecodeError
on bytes that are not UTF-8, and ValueError on integers of more than 4,300 digits. Each
becomes a JSONDecodeError, which strawberry answers as a bad request (HTTP 400) or closes
the socket with 4400.
"""

from __future__ import annotations

import json
from typing import Any, Final

MAX_DEPTH: Final = 64  # arrays and objects inside one another; GraphQL inputs need a handful


class Refused(json.JSONDecodeError):
    """Well-formed enough to start, but not JSON we take (its `msg` says why)."""

    def __init__(self, reason: str, position: int = 0) -> None:
        super().__init__(reason, "", position)


def decode(data: str | bytes) -> Any:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Refused("the body is not UTF-8", exc.start) from None
    try:
        value = json.loads(data)
    except RecursionError:
        raise Refused(f"nested deeper than {MAX_DEPTH}") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # integers past sys.get_int_max_str_digits()
        raise Refused(str(exc).split(";")[0]) from None
    if too_deep(value):
        raise Refused(f"nested deeper than {MAX_DEPTH}")
    return value


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and dicts nest deeper than `limit` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
