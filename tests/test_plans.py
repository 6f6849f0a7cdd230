"""Plans that cannot flip: after five runs of a prepared statement PostgreSQL may switch to
a generic plan made for unknown parameters (`serviceOrders { totalCount }` went from 20 ms
to 6 s that way). The pool's sessions plan every run for its actual parameters."""

from __future__ import annotations

from typing import Any

from db import orders
from db.pool import Conn
from tests import builders


async def test_order_counts_and_lists_keep_custom_plans(committed_db: dict[str, Any]) -> None:
    async with committed_db["pool"].acquire() as raw:
        w = await builders.world(raw)
        await builders.service_categories(raw)
        for _ in range(30):
            await builders.service_order(raw, w)
        resident = (w.users["resident"], None)  # the viewer as the SQL rules take it: user, API token
        conn = Conn(raw)
        for _ in range(12):
            assert await orders.count_orders(conn, resident, orders.OrderFilter(), staff=False) == 30
            assert (
                len(await orders.list_orders(conn, resident, orders.OrderFilter(), after=None, limit=21, staff=False))
                == 21
            )
        plans = await raw.fetch(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement IN ($1, $2)",
            orders.COUNT_ORDERS,
            orders.LIST_ORDERS,
        )
        assert len(plans) == 2
        assert [(r["generic_plans"], r["custom_plans"]) for r in plans] == [(0, 12), (0, 12)]
