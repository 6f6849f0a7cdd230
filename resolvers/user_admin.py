"""What the `gongjian user` command does: accounts, passwords and role grants, for admins
at the console. Each change is one transaction with an audit row (actor: the system)."""

from __future__ import annotations

import re

import asyncpg

from db import audit
from db import identity as db
from db.pool import Conn
from gongjian import passwords
from resolvers import ids
from resolvers.viewer import Role

MIN_PASSWORD = 8
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
ORGANISATION_ROLES = (Role.UNIT_ADMIN, Role.CADRE)


class AdminError(Exception):
    """A refusal to show the admin as one line."""


def _pk(text: str, *type_names: str) -> int:
    """A primary key from a global id of one of `type_names`, or a plain number."""
    if text.isascii() and text.isdigit():
        return int(text)
    pk = ids.decode_as(text, *type_names)
    if pk is None:
        raise AdminError(f"{text!r} is not an id of a {' or '.join(type_names)}")
    return pk


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AdminError(f"the password needs at least {MIN_PASSWORD} characters")
    if "\x00" in password:
        raise AdminError("the password may not hold NUL characters")


async def _audit(conn: Conn, county: int, action: str, user_id: int, detail: dict[str, object]) -> None:
    await audit.record(
        conn,
        county_id=county,
        user_id=None,
        api_token_id=None,
        action=action,
        target_type="User",
        target_id=user_id,
        request_id="cli",
        detail={"via": "gongjian user", **detail},
    )


async def add_user(conn: Conn, username: str, password: str, person: str | None, county: str | None) -> int:
    if not USERNAME.match(username):
        raise AdminError("a username has 2 to 64 letters, digits or . _ @ -")
    check_password(password)
    person_id = _pk(person, "Person") if person else None
    county_id = _pk(county, "County") if county else None
    if person_id is not None:
        person_county = await db.county_of(conn, "person", person_id)
        if person_county is None:
            raise AdminError("no such person")
        if county_id is not None and county_id != person_county:
            raise AdminError("the person lives in another county")
        county_id = person_county
    if county_id is None:
        counties = await db.counties(conn)
        if len(counties) != 1:
            raise AdminError("name the county with --county (the database holds none or several)")
        county_id = counties[0]
    elif await db.county_of(conn, "area", county_id) != county_id:
        raise AdminError("no such county")
    hashed = await passwords.hash_password_async(password)
    async with conn.transaction():
        try:
            user_id = await db.insert_user(conn, county_id, username, hashed, person_id)
        except asyncpg.UniqueViolationError:
            raise AdminError("that username (or that person's account) already exists") from None
        await _audit(conn, county_id, "user.add", user_id, {"username": username})
    return user_id


async def _user(conn: Conn, username: str) -> tuple[int, int]:
    found = await db.user_by_username(conn, username)
    if found is None:
        raise AdminError(f"no user {username!r}")
    return found


async def _scope(conn: Conn, role: Role, scope: str, county: int) -> tuple[int | None, int | None]:
    if role in ORGANISATION_ROLES:
        pk = _pk(scope, "Organisation")
        if await db.county_of(conn, "organisation", pk) != county:
            raise AdminError(f"{role.value} needs an organisation of the user's county")
        return None, pk
    pk = _pk(scope, *ids.AREA_TYPES.values())
    if await db.county_of(conn, "area", pk) != county:
        raise AdminError(f"{role.value} needs an area of the user's county")
    return pk, None


def _role(text: str) -> Role:
    try:
        return Role(text.upper())
    except ValueError:
        raise AdminError(f"roles are {', '.join(r.value for r in Role)}") from None


async def grant(conn: Conn, username: str, role_name: str, scope: str) -> None:
    role = _role(role_name)
    user_id, county = await _user(conn, username)
    area_id, organisation_id = await _scope(conn, role, scope, county)
    async with conn.transaction():
        try:
            await db.insert_grant(conn, county, user_id, role.value, area_id, organisation_id)
        except asyncpg.UniqueViolationError:
            raise AdminError("the user already holds that role there") from None
        await _audit(
            conn,
            county,
            "user.grant",
            user_id,
            {"role": role.value, "areaId": area_id, "organisationId": organisation_id},
        )


async def revoke(conn: Conn, username: str, role_name: str, scope: str) -> None:
    role = _role(role_name)
    user_id, county = await _user(conn, username)
    area_id, organisation_id = await _scope(conn, role, scope, county)
    async with conn.transaction():
        if await db.delete_grant(conn, user_id, role.value, area_id, organisation_id) is None:
            raise AdminError("the user does not hold that role there")
        await _audit(
            conn,
            county,
            "user.revoke",
            user_id,
            {"role": role.value, "areaId": area_id, "organisationId": organisation_id},
        )


async def set_password(conn: Conn, username: str, password: str) -> None:
    check_password(password)
    user_id, county = await _user(conn, username)
    hashed = await passwords.hash_password_async(password)
    async with conn.transaction():
        await db.set_password(conn, username, hashed)
        await db.clear_failures(conn, username)
        await _audit(conn, county, "user.setPassword", user_id, {})


async def set_disabled(conn: Conn, username: str, disabled: bool) -> None:
    """Disable (or enable again) an account: either way its tokens and sockets end."""
    user_id, county = await _user(conn, username)
    async with conn.transaction():
        await db.set_disabled(conn, username, disabled)
        await _audit(conn, county, "user.disable" if disabled else "user.enable", user_id, {})


async def list_users(conn: Conn) -> list[str]:
    lines = []
    for username, disabled, person, roles in await db.list_users(conn):
        flag = " (disabled)" if disabled else ""
        lines.append(f"{username}{flag}\t{person or '-'}\t{roles or '-'}")
    return lines
