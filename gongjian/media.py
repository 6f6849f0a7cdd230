"""GraphQL over HTTP: which media type a response has, and its status.

A client that accepts `application/graphql-response+json` (Apollo Client, graphql-http,
GraphiQL's newer fetchers) gets it, with the GraphQL over HTTP specification's status
codes: a request error (the document does not parse or validate, the operation cannot be
chosen, a variable does not coerce, or one of our refusals before execution such as
PERSISTED_QUERY_NOT_FOUND or QUERY_TOO_COSTLY) is 400 with no `data` entry; once execution
has started the answer is 200. Everybody else (no Accept header, `*/*`, `application/json`)
keeps `application/json` with 200 for every GraphQL response, as before.
"""

from __future__ import annotations

from typing import Any, Final

from graphql import GraphQLError
from strawberry.types.execution import PreExecutionError

GRAPHQL_RESPONSE: Final = "application/graphql-response+json"
JSON: Final = "application/json"


def _ranges(accept: str) -> list[tuple[str, float]]:
    """The media ranges of an Accept header with their weights."""
    ranges = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if "/" not in media:
            continue
        weight = 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    weight = 0.0
        ranges.append((media, weight))
    return ranges


def _weight(media: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """The weight the client gives `media` (the most specific range decides) and how
    specific that range was: 2 named exactly, 1 `type/*`, 0 `*/*`, -1 not acceptable."""
    kind = media.split("/")[0]
    best = (0.0, -1)
    for given, weight in ranges:
        if given == media:
            specificity = 2
        elif given == f"{kind}/*":
            specificity = 1
        elif given == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[1]:
            best = (weight, specificity)
    return best


def negotiate(accept: str | None) -> str:
    """`application/graphql-response+json` when the client names it (or `application/*`)
    at least as gladly as `application/json`; otherwise `application/json`, also when
    the client accepts neither (the specification lets a server answer with its default)."""
    if not accept:
        return JSON
    ranges = _ranges(accept)
    new, new_specificity = _weight(GRAPHQL_RESPONSE, ranges)
    old, _ = _weight(JSON, ranges)
    if new > 0 and new_specificity >= 1 and new >= old:
        return GRAPHQL_RESPONSE
    return JSON


def accepts_html(accept: str | None) -> bool:
    """A browser asking for a page names text/html; curl's and fetch's `*/*` does not."""
    return any(media == "text/html" and weight > 0 for media, weight in _ranges(accept or ""))


def is_request_error(result: Any) -> bool:
    """Nothing was executed: refused before execution, or variables that do not coerce
    (graphql-core answers those with no data and errors without a path)."""
    if isinstance(result, PreExecutionError):
        return True
    errors: list[GraphQLError] = list(getattr(result, "errors", None) or [])
    return getattr(result, "data", None) is None and bool(errors) and all(e.path is None for e in errors)
