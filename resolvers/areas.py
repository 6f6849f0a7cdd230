"""Areas, organisations, households and people: loaders and field resolvers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from db import areas as db
from db import audit
from db.access import ViewerKey
from db.areas import AreaRow, HouseholdRow, OrganisationRow, PersonRow, PostRow
from db.pool import Conn
from resolvers import access, ids, mutations, relations
from resolvers.access import viewer_key
from resolvers.context import BatchFn, Context
from resolvers.errors import ErrorCode, Refusal, bad_user_input
from resolvers.loading import keyed, visible_grouped, visible_keyed
from resolvers.mutations import Audited, Outcome
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows

# what the viewer sees, by the SQL rules of 0022_place_rules.sql (area_access, organisation_access,
# household_visible, person_visible, post_access)
visible_area_by_id = visible_keyed(db.visible_areas_by_id)
visible_organisation_by_id = visible_keyed(db.visible_organisations_by_id)
visible_household_by_id = visible_keyed(db.visible_households_by_id)
visible_person_by_id = visible_keyed(db.visible_persons_by_id)
visible_post_by_id = visible_keyed(db.visible_posts_by_id)

# The loaders every relation to a place or person reads (a node's parent, path and building,
# a household's building, a person's household, a post's person and organisation, an
# adoption's unit and area, `responsible` and the responsibility chain, an order's household,
# community and assignee, a pairing's cadre and household, ...): the type's SQL rule with the
# viewer, in the one statement of the batch, so a relation answers what node() answers for the
# same viewer (null where the rule hides it), and shares node()'s statement. Every rule of these
# types admits the whole county, and every rule of a source admits only its county: a relation
# from an object the viewer sees always leads to one they see (a non-null relation asserts it).
area_by_id = visible_area_by_id
organisation_by_id = visible_organisation_by_id
household_by_id = visible_household_by_id
person_by_id = visible_person_by_id

# node(id) and the relations declared in SQL read the same loaders (resolvers/relations.py)
AREA_TYPES = ids.AREA_TYPES
for _level, _type_name in AREA_TYPES.items():
    relations.register(_type_name, visible_area_by_id, level=_level)
relations.register("Area", visible_area_by_id, node=False)  # the interface: a row of any level
relations.register("Organisation", visible_organisation_by_id)
relations.register("Household", visible_household_by_id)
relations.register("Person", visible_person_by_id)


# --- relations ---------------------------------------------------------------------------------

AREA_NAMES = tuple(AREA_TYPES.values())
LEVEL_NAMES = tuple(AREA_TYPES)


async def responsible_by_area(ctx: Context, keys: list[int]) -> list[PersonRow | None]:
    async with ctx.db.connection() as conn:
        found = await db.responsible_by_area(conn, keys)
    people = await ctx.loader(person_by_id).load_many([found[k] for k in keys if k in found])
    by_id = {p.id: p for p in people if p is not None}
    return [by_id.get(found[k]) if k in found else None for k in keys]


async def responsible(root: AreaRow, ctx: Context) -> PersonRow | None:
    return await ctx.loader(responsible_by_area).load(root.id)


async def responsibility_history_batch(ctx: Context, keys: list[int]) -> list[list[db.ResponsibilityRow]]:
    if ctx.viewer is None:
        return [[] for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.responsibility_histories(conn, keys, access.viewer_key(ctx.viewer))
    return [found.get(k, []) for k in keys]


async def responsibility_history(root: AreaRow, ctx: Context) -> list[db.ResponsibilityRow]:
    """Who was responsible when, newest first: to COUNTY_ADMIN and staff in scope (others: empty)."""
    return await ctx.loader(responsibility_history_batch).load(root.id)


async def responsibility_person(root: db.ResponsibilityRow, ctx: Context) -> PersonRow:
    found = await ctx.loader(person_by_id).load(root.person_id)
    assert found is not None, "a responsibility's person exists (foreign key)"
    return found


async def path(root: AreaRow, ctx: Context) -> list[AreaRow]:
    rows = await ctx.loader(area_by_id).load_many(list(root.path))
    return [r for r in rows if r is not None]


async def household_count_by_area(ctx: Context, keys: list[int]) -> list[int]:
    if ctx.viewer is None:
        return [0 for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.household_counts(conn, viewer_key(ctx.viewer), keys)
    return [found.get(k, 0) for k in keys]


async def household_count(root: AreaRow, ctx: Context) -> int:
    return await ctx.loader(household_count_by_area).load(root.id)


organisations_at_area = visible_grouped(db.organisations_at_areas)


async def attached(root: AreaRow, ctx: Context, kind: str) -> OrganisationRow | None:
    """The organisation of `kind` attached to an area (the first, if several)."""
    rows = await ctx.loader(organisations_at_area).load(root.id)
    return next((o for o in rows if o.kind == kind), None)


async def owner_committee(root: AreaRow, ctx: Context) -> OrganisationRow | None:
    return await attached(root, ctx, "OWNER_COMMITTEE")


async def functional_branch(root: AreaRow, ctx: Context) -> OrganisationRow | None:
    return await attached(root, ctx, "FUNCTIONAL_BRANCH")


async def organisation_area(root: OrganisationRow, ctx: Context) -> AreaRow | None:
    if root.area_id is None:
        return None
    return await ctx.loader(area_by_id).load(root.area_id)


children_by_organisation = visible_grouped(db.child_organisations)
relations.register_children("Organisation", "parent_id", children_by_organisation)


# nested connections: one statement per (first, after) for every parent of the request
T = TypeVar("T")
PageKey = tuple[int, int, int]  # parent id, first, after id


def _after_id(after: str | None) -> int:
    return decode_id_cursor(after) or 0


def _grouped(keys: list[PageKey]) -> dict[tuple[int, int], list[int]]:
    groups: dict[tuple[int, int], list[int]] = {}
    for parent, first, after in keys:
        groups.setdefault((first, after), []).append(parent)
    return groups


def _pages(
    fetch: Callable[[Conn, ViewerKey, list[int], int, int], Awaitable[dict[int, list[T]]]],
) -> BatchFn[PageKey, list[T]]:
    """A batch of nested pages of what the viewer sees: one statement per (first, after) for
    all the parents."""

    async def batch(ctx: Context, keys: list[PageKey]) -> list[list[T]]:
        if ctx.viewer is None:
            return [[] for _ in keys]
        viewer = viewer_key(ctx.viewer)
        found: dict[PageKey, list[T]] = {}
        async with ctx.db.connection() as conn:
            for (first, after), parents in _grouped(keys).items():
                pages = await fetch(conn, viewer, parents, after, first + 1)
                for p in parents:
                    found[(p, first, after)] = pages.get(p, [])
        return [found[k] for k in keys]

    batch.__name__ = batch.__qualname__ = f"pages_{fetch.__name__}"
    return batch


async def _building_pages(
    conn: Conn, viewer: ViewerKey, compounds: list[int], after: int, limit: int
) -> dict[int, list[AreaRow]]:
    return await db.child_area_pages(conn, viewer, compounds, "BUILDING", after, limit)


building_pages = _pages(_building_pages)
household_page_batch = _pages(db.household_pages)
member_page_batch = _pages(db.member_pages)


async def building_count_by_compound(ctx: Context, keys: list[int]) -> list[int]:
    if ctx.viewer is None:
        return [0 for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.child_area_counts(conn, viewer_key(ctx.viewer), keys, "BUILDING")
    return [found.get(k, 0) for k in keys]


async def buildings(root: AreaRow, ctx: Context, first: int | None, after: str | None) -> Page[AreaRow]:
    n, after_id = checked_first(first), _after_id(after)
    rows = await ctx.loader(building_pages).load((root.id, n, after_id))

    async def count() -> int:
        return await ctx.loader(building_count_by_compound).load(root.id)

    return page_from_rows(rows, n, lambda r: [r.id], count)


async def households(root: AreaRow, ctx: Context, first: int | None, after: str | None) -> Page[HouseholdRow]:
    n, after_id = checked_first(first), _after_id(after)
    rows = await ctx.loader(household_page_batch).load((root.id, n, after_id))

    async def count() -> int:
        return await ctx.loader(household_count_by_area).load(root.id)

    return page_from_rows(rows, n, lambda r: [r.id], count)


async def member_counts_by_organisation(ctx: Context, keys: list[int]) -> list[tuple[int, int]]:
    if ctx.viewer is None:
        return [(0, 0) for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.member_counts(conn, viewer_key(ctx.viewer), keys)
    return [found.get(k, (0, 0)) for k in keys]


async def members(root: OrganisationRow, ctx: Context, first: int | None, after: str | None) -> Page[PostRow]:
    n, after_id = checked_first(first), _after_id(after)
    rows = await ctx.loader(member_page_batch).load((root.id, n, after_id))

    async def count() -> int:
        return (await ctx.loader(member_counts_by_organisation).load(root.id))[0]

    return page_from_rows(rows, n, lambda r: [r.id], count)


async def member_count(root: OrganisationRow, ctx: Context) -> int:
    """Distinct people holding a current post in the organisation."""
    return (await ctx.loader(member_counts_by_organisation).load(root.id))[1]


post_by_id = visible_post_by_id


relations.register("Post", visible_post_by_id)


# --- personal data (masked by resolvers/access.py) ---------------------------------------------


residents_batch = visible_grouped(db.residents_by_household)


async def residents(root: HouseholdRow, ctx: Context) -> list[PersonRow]:
    if not await access.may_read_household(ctx, root.id):
        return []
    return await ctx.loader(residents_batch).load(root.id)


async def phone(root: PersonRow, ctx: Context) -> str | None:
    if root.phone is None or not await access.may_read_person(ctx, root.id):
        return None
    return root.phone


async def person_household(root: PersonRow, ctx: Context) -> HouseholdRow | None:
    """Where a person lives is personal data: shown to those who may read that household's
    residents (not to the residents a responsible person or cadre serves)."""
    if root.household_id is None or not await access.may_read_household(ctx, root.household_id):
        return None
    return await ctx.loader(household_by_id).load(root.household_id)


address_by_household = keyed(db.household_addresses)


async def full_address(root: HouseholdRow, ctx: Context) -> str:
    found = await ctx.loader(address_by_household).load(root.id)
    return found if found is not None else root.label


@dataclass(frozen=True)
class ChainLink:
    level: str
    area: AreaRow | None
    responsible: PersonRow | None


async def responsibility_chain(root: HouseholdRow, ctx: Context) -> list[ChainLink]:
    """COUNTY down to BUILDING, and UNIT where the dwelling is in a stairwell unit."""
    home = await ctx.loader(area_by_id).load(root.area_id)
    chain_path = list(home.path) if home is not None else list(root.path)
    areas = [a for a in await ctx.loader(area_by_id).load_many(chain_path) if a is not None]
    people = await ctx.loader(responsible_by_area).load_many([a.id for a in areas])
    by_level = {a.level: (a, p) for a, p in zip(areas, people, strict=True)}
    levels = [lv for lv in LEVEL_NAMES if lv != "UNIT" or "UNIT" in by_level]
    return [ChainLink(lv, *by_level.get(lv, (None, None))) for lv in levels]


# --- lists ------------------------------------------------------------------------------------


def _pattern(search: str | None) -> str | None:
    return db.like_pattern(search) if search else None


def decode_area_argument(global_id: str | None, argument: str) -> int | None:
    """An area id argument: None when absent; BAD_USER_INPUT when it names no area."""
    if global_id is None:
        return None
    pk = ids.decode_as(global_id, *AREA_NAMES)
    if pk is None:
        raise bad_user_input(f"`{argument}` is not the id of an area", argument=argument)
    return pk


async def area_list(
    ctx: Context, parent_id: str | None, level: str | None, search: str | None, first: int | None, after: str | None
) -> Page[AreaRow]:
    viewer = ctx.signed_in
    n, after_id = checked_first(first), _after_id(after)
    parent = decode_area_argument(parent_id, "parentId")
    pattern = _pattern(search)
    async with ctx.db.connection() as conn:
        rows = await db.areas_page(conn, viewer_key(viewer), parent, level, pattern, after_id, n + 1)

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.areas_count(conn, viewer_key(viewer), parent, level, pattern)

    return page_from_rows(rows, n, lambda r: [r.id], count)


async def compound_list(
    ctx: Context, within: str | None, search: str | None, first: int | None, after: str | None
) -> Page[AreaRow]:
    viewer = ctx.signed_in
    n, after_id = checked_first(first), _after_id(after)
    area = decode_area_argument(within, "within")
    pattern = _pattern(search)
    async with ctx.db.connection() as conn:
        rows = await db.compounds_page(conn, viewer_key(viewer), area, pattern, after_id, n + 1)

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.compounds_count(conn, viewer_key(viewer), area, pattern)

    return page_from_rows(rows, n, lambda r: [r.id], count)


async def organisation_list(
    ctx: Context, kind: str | None, search: str | None, first: int | None, after: str | None
) -> Page[OrganisationRow]:
    viewer = ctx.signed_in
    n, after_id = checked_first(first), _after_id(after)
    pattern = _pattern(search)
    async with ctx.db.connection() as conn:
        rows = await db.organisations_page(conn, viewer_key(viewer), kind, pattern, after_id, n + 1)

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.organisations_count(conn, viewer_key(viewer), kind, pattern)

    return page_from_rows(rows, n, lambda r: [r.id], count)


@dataclass(frozen=True)
class CrossAppointment:
    person: PersonRow
    posts: list[PostRow]


async def cross_appointments(ctx: Context, community_id: str) -> list[CrossAppointment]:
    viewer = ctx.signed_in
    community = ids.decode_as(community_id, "Community")
    if community is None:
        raise bad_user_input("`communityId` is not the id of a community", argument="communityId")
    async with ctx.db.connection() as conn:
        posts = await db.cross_appointments(conn, viewer_key(viewer), community)
    by_person: dict[int, list[PostRow]] = {}
    for p in posts:
        by_person.setdefault(p.person_id, []).append(p)
    people = await ctx.loader(person_by_id).load_many(list(by_person))
    return [CrossAppointment(person=p, posts=by_person[p.id]) for p in people if p is not None]


# --- assignResponsible ------------------------------------------------------------------------


async def assign_responsible(ctx: Context, area_id: str, person_id: str) -> Outcome[AreaRow]:
    viewer = ctx.signed_in
    area_pk = ids.decode_as(area_id, *AREA_NAMES)
    person_pk = ids.decode_as(person_id, "Person")

    async def body(conn: Conn) -> tuple[AreaRow, Audited]:
        locked = await db.lock_area(conn, area_pk, access.viewer_key(viewer)) if area_pk is not None else None
        if locked is None or locked[0].county_id != viewer.county_id:
            raise Refusal(ErrorCode.NOT_FOUND, "No such area", "areaId")
        area, staff = locked
        if not staff:
            raise Refusal(ErrorCode.FORBIDDEN, "Only the county admin or staff in scope may assign", "areaId")
        person = (await db.persons_by_id(conn, [person_pk])).get(person_pk) if person_pk is not None else None
        if person is None:
            raise Refusal(ErrorCode.NOT_FOUND, "No such person", "personId")
        if person.county_id != area.county_id:
            raise Refusal(ErrorCode.INVALID, "The person belongs to another county", "personId")
        previous = await db.current_responsible(conn, area.id)
        changed = await db.replace_responsible(conn, area, person.id, viewer.user_id)
        if changed and area.level == "BUILDING":
            # a building's head is its responsible person: the role grant follows, audited
            for action, user_id in await db.follow_building_head(conn, area.id):
                await audit.record(
                    conn,
                    county_id=viewer.county_id,
                    user_id=viewer.user_id,
                    api_token_id=viewer.api_token_id,
                    action=action,
                    target_type="Building",
                    target_id=area.id,
                    request_id=ctx.request_id,
                    detail={"user": user_id, "role": "BUILDING_HEAD", "by": "assignResponsible"},
                )
        detail = {
            "person": ids.encode("Person", person.id),
            "previous": ids.encode("Person", previous) if previous is not None else None,
            "changed": changed,
        }
        return area, Audited(AREA_TYPES[area.level], area.id, detail)

    # the area row's lock queues concurrent assignments: the one-current index always holds
    return await mutations.run(ctx, "assignResponsible", body)
