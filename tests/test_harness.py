"""The test harness itself: what the rolled-back tests share must behave like the pool."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from db.pool import SingleConnectionDatabase


async def test_a_cancelled_caller_leaves_the_shared_transaction_usable(conn: asyncpg.Connection) -> None:
    """graphql-core cancels a field's siblings when the field fails; on a pool each
    sibling's statement has its own connection. On the tests' one connection, a statement
    cancelled on the server would abort the test's transaction, so that every later request
    of the test failed with InFailedSQLTransactionError (seen under load at the leap day)."""
    db = SingleConnectionDatabase(conn)
    await conn.execute("CREATE TEMPORARY TABLE harness_marks (n int) ON COMMIT DROP")
    async with db.connection() as shared:
        slow = asyncio.ensure_future(shared.fetchval("SELECT pg_sleep(0.4)"))
        await asyncio.sleep(0.1)  # the statement is on the server by now
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        await shared.execute("INSERT INTO harness_marks VALUES (1)")
        assert await shared.fetchval("SELECT count(*) FROM harness_marks") == 1
