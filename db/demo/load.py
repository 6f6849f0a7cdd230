"""`gongjian demo`: load the demo county into an empty database, step by step with progress.

Each domain adds its step to STEPS; a step receives the connection (inside the one
transaction of the whole load) and the seeded random generator, so two loads are identical.
"""

from __future__ import annotations

import datetime
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from db.pool import Conn, connect
from db.storage import Storage

SEED = 20220601


@dataclass
class Demo:
    """What the steps share: the connection, the generator, the password hash and the ids
    that later steps look up (sample accounts, units, communities ...)."""

    conn: Conn
    rng: random.Random
    password: str
    # the load's "today" in the county's time zone: everything dated is placed relative to
    # it, so loads on one day are identical and the demo always looks current
    today: datetime.date
    ids: dict[str, Any] = field(default_factory=dict)
    # where the demo's photos go (None: no photos)
    storage: Storage | None = None


Step = Callable[[Demo], Awaitable[None]]
STEPS: list[tuple[str, Step]] = []


class Progress:
    """A progress bar on stderr: one line, redrawn, with the step's name."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.started = time.monotonic()

    def show(self, label: str) -> None:
        width = 30
        filled = width * self.done // max(self.total, 1)
        elapsed = time.monotonic() - self.started
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {label:<40.40} {elapsed:5.1f}s"
        )
        sys.stderr.flush()


async def is_empty(conn: Conn) -> bool:
    return not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM areas)")


async def run(database_url: str, password: str, *, today: datetime.date, storage: Storage | None = None) -> bool:
    """Load the demo as it stands on `today` (the county's date), its photos into `storage`;
    False (and nothing written) when the database already holds data."""
    raw = await connect(database_url)
    try:
        conn = Conn(raw)
        if not await is_empty(conn):
            return False
        demo = Demo(conn=conn, rng=random.Random(SEED), password=password, today=today, storage=storage)
        progress = Progress(len(STEPS))
        async with conn.transaction():
            for label, step in STEPS:
                progress.show(label)
                await step(demo)
                progress.done += 1
            progress.show("done")
        sys.stderr.write("\n")
        return True
    finally:
        await raw.close()


def _register_steps() -> None:
    """The domains' steps, in order (areas, identity, pairings, duallist, orders, life)."""
    from db.demo import areas, attachments, duallist, identity, life, orders, pairings

    STEPS.append(("areas: county, compounds, households, units", areas.step))
    STEPS.append(("identity: sample accounts", identity.step))
    STEPS.append(("pairings: adoptions, pairings, visits", pairings.step))
    STEPS.append(("dual list: resources, needs, exchanges", duallist.step))
    STEPS.append(("orders: categories, service orders and their timelines", orders.step))
    # community life comes last: it reads the sample accounts, units and households of the others
    STEPS.append(("life: activities, meetings, findings, renovations", life.step))
    STEPS.append(("attachments: photos of orders and findings", attachments.step))


_register_steps()
