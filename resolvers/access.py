"""Personal-data masking (个人信息保护): who may read `Person.phone` and `Household.residents`.

The rules, as the contract states them:

- a household's residents (and their personal data) are visible to
  1. its own members,
  2. COUNTY_ADMIN of the county,
  3. COMMUNITY_STAFF whose scope contains the household,
  4. the building head of the household's building (its current responsible person),
  5. a cadre with an active pairing with the household;
- a person's phone is visible to the person themself and to everyone who may see their
  household (rules 1-5), and also to the residents that person serves:
  6. a person responsible for an area: the residents living inside that area,
  7. a cadre: the households they are paired with;
- everyone else reads `phone` as null and `residents` as empty: masked, never an error.

Reads granted by rules 3-5 (staff, building heads, cadres) are audited: one
`read.personalData` row per household and request batch.

The rules are written once, in SQL (`household_access` and `person_access`, migration
0007): each is evaluated for a whole batch of households or persons in one statement
(`db/access.py`), through the request's DataLoaders, and returns the reason access is
granted, which both masks and audits. API tokens of partner units never qualify.
"""

from __future__ import annotations

from db import access as db
from db.pool import Conn
from resolvers.context import Context
from resolvers.viewer import Viewer

# the reasons (rules 3-5, and an order's assignee reading its contact) whose reads are written
# to the audit log
AUDITED: frozenset[str] = frozenset({"STAFF", "BUILDING_HEAD", "CADRE", "ASSIGNEE"})


def viewer_key(viewer: Viewer) -> db.ViewerKey:
    """The viewer as the SQL rules take it (`viewer_of($user, $api_token)`)."""
    return (viewer.user_id, viewer.api_token_id)


async def _audit(ctx: Context, conn: Conn, viewer: Viewer, field: str, reads: dict[int, str]) -> None:
    """One `read.personalData` row per household read under rules 3-5."""
    if reads:
        await db.audit_reads(
            conn,
            county_id=viewer.county_id,
            user_id=viewer.user_id,
            api_token_id=viewer.api_token_id,
            request_id=ctx.request_id,
            reads=[(field, household, reason) for household, reason in sorted(reads.items())],
        )


async def audit_household_reads(ctx: Context, conn: Conn, field: str, reads: dict[int, str]) -> None:
    """Audit a list that returned households' personal data (e.g. a search of people):
    one row per household read under rules 3-5, as the masked fields do."""
    viewer = ctx.signed_in
    await _audit(ctx, conn, viewer, field, {h: r for h, r in reads.items() if r in AUDITED})


async def household_access(ctx: Context, keys: list[int]) -> list[str | None]:
    """Batch: why the viewer may read each household's residents (None: masked)."""
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        reasons = await db.household_access(conn, keys, viewer_key(viewer))
        await _audit(ctx, conn, viewer, "residents", {k: r for k, r in reasons.items() if r in AUDITED})
    return [reasons.get(k) for k in keys]


async def person_access(ctx: Context, keys: list[int]) -> list[str | None]:
    """Batch: why the viewer may read each person's phone (None: masked)."""
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.person_access(conn, keys, viewer_key(viewer))
        await _audit(ctx, conn, viewer, "phone", {h: r for r, h in found.values() if r in AUDITED and h is not None})
    return [found.get(k, (None, None))[0] for k in keys]


async def may_read_household(ctx: Context, household_id: int) -> bool:
    return await ctx.loader(household_access).load(household_id) is not None


async def may_read_person(ctx: Context, person_id: int) -> bool:
    return await ctx.loader(person_access).load(person_id) is not None
