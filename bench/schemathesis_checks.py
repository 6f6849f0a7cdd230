"""The check that `bench/schemathesis_run.py` adds to schemathesis (loaded through
`SCHEMATHESIS_HOOKS=bench.schemathesis_checks`): every answer is a coded one.

schemathesis' own `not_a_server_error` fails on a 5xx, and in GraphQL mode also on any
`errors` entry that it cannot tell from a client's mistake, which includes this API's coded
refusals (`FORBIDDEN`, `NOT_FOUND`, `UNAUTHENTICATED` with a `path`). `coded_answers` is the
rule of README "Faults and abuse" instead: no 5xx, a JSON body, and every error with an
`extensions.code` other than `INTERNAL_SERVER_ERROR`. It also gives schemathesis values for
the `Upload` scalar, which it cannot make up: strings and numbers in place of a file, as a
client that does not send a multipart request would.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

schemathesis.graphql.scalar("Upload", st.one_of(st.text(max_size=20).map(nodes.String), st.integers().map(nodes.Int)))


@schemathesis.check
def coded_answers(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:300]}")
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"not JSON (HTTP {response.status_code}): {response.text[:300]}") from exc
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or []:
        code = (error.get("extensions") or {}).get("code")
        if code is None or code == "INTERNAL_SERVER_ERROR":
            raise AssertionError(f"error without a code or INTERNAL_SERVER_ERROR: {json.dumps(error)[:300]}")
    return None
