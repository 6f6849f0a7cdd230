"""A page that answers its field's rule in the same statement.

A list field refused to whoever its SQL rule refuses (`users`: `account_manager`,
`auditLog`: `audit_reader`) asks the rule in the statement that reads the page: the rule is
the column `allowed`, and the page's rows are joined to one row, so that an empty page still
answers it (one row with null columns) and a refusal needs no statement of its own.
"""

from __future__ import annotations

from typing import Any

import asyncpg


def ruled_page(rule: str, page: str, order: str) -> str:
    """The statement: `rule` (a boolean SQL expression over the parameters) as `allowed`,
    beside the rows of `page` (a SELECT with an `id` column), ordered by `order` (over
    `page.`)."""
    return f"""
SELECT {rule} AS allowed, page.*
FROM (SELECT) one
LEFT JOIN LATERAL (
{page}
) page ON true
ORDER BY {order}
"""  # noqa: S608 - constant SQL fragments of db/ modules, values only as parameters


def allowed_rows(found: list[asyncpg.Record]) -> list[dict[str, Any]] | None:
    """The page's rows (without `allowed`), or None when the rule refused."""
    if not found[0]["allowed"]:
        return None
    return [{k: v for k, v in r.items() if k != "allowed"} for r in found if r["id"] is not None]
