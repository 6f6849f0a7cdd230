"""The `gongjian` command: serve, migrate, demo, export-schema, import, user."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

from gongjian import config
from gongjian.config import Settings


def _fail(message: str) -> NoReturn:
    print(f"gongjian: {message}", file=sys.stderr)
    raise SystemExit(2)


def _settings() -> Settings:
    try:
        return config.load()
    except config.ConfigError as exc:
        for problem in exc.problems:
            print(f"gongjian: configuration: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _secret(settings: Settings) -> str:
    if settings.secret:
        return settings.secret
    path = settings.data_dir / "secret"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(value)
    return value


def resolve(settings: Settings) -> Settings:
    """Fill in DATABASE_URL (embedded server when unset) and the signing secret, and
    export both so that worker processes see the same values."""
    from dataclasses import replace

    url = settings.database_url
    if url is None:
        from gongjian import embedded

        print(
            f"gongjian: no DATABASE_URL: starting embedded PostgreSQL, data in {settings.data_dir / 'pgdata'}",
            file=sys.stderr,
        )
        try:
            url = embedded.start(settings.data_dir)
        except Exception as exc:  # the embedded server can fail in many ways; one line says which
            _fail(f"the embedded PostgreSQL did not start: {exc}")
    secret = _secret(settings)
    os.environ["DATABASE_URL"] = url
    os.environ["GONGJIAN_SECRET"] = secret
    os.environ["GONGJIAN_DATA_DIR"] = str(settings.data_dir)
    return replace(settings, database_url=url, secret=secret)


async def _check_database(url: str) -> None:
    from db.migrate import MigrationError, migrate
    from db.pool import connect

    try:
        raw = await connect(url, timeout=5.0)
    except Exception as exc:  # unreachable, wrong credentials, no such database ...
        _fail(f"cannot reach the database at DATABASE_URL: {type(exc).__name__}: {exc}".splitlines()[0])
    try:
        await migrate(raw)
    except MigrationError as exc:
        _fail(str(exc))
    finally:
        await raw.close()


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from gongjian import logs
    from gongjian.http_protocol import TurnHttpToolsProtocol

    given = _settings()
    settings = resolve(given)
    logs.configure(settings.log_level)
    assert settings.database_url is not None
    asyncio.run(_check_database(settings.database_url))
    if given.database_url is None:  # our own embedded server: start it again if it dies
        from gongjian import embedded

        embedded.watch(settings.data_dir)
    # uvicorn shuts down gracefully on SIGTERM and then raises the signal again; exit
    # normally then, so that exit handlers run (they stop the embedded PostgreSQL)
    signal.signal(signal.SIGTERM, _exit_quietly)
    if not os.environ.get("GONGJIAN_READS_POOL_MAX"):  # the workers share the compiled reads' connections
        os.environ["GONGJIAN_READS_POOL_MAX"] = str(config.reads_pool_share(args.workers))
    uvicorn.run(
        "gongjian.app:from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        timeout_graceful_shutdown=30,
        proxy_headers=True,
        http=TurnHttpToolsProtocol,  # a response's head and body in one write
        # WebSocket messages are capped like bodies (the app closes larger ones with 1009
        # too); uvicorn then never buffers more than that per message
        ws_max_size=settings.max_body_bytes,
    )


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = resolve(_settings())
    assert settings.database_url is not None
    asyncio.run(_check_database(settings.database_url))
    print("gongjian: database is up to date")


def cmd_export_schema(args: argparse.Namespace) -> None:
    from schema.root import sdl

    sys.stdout.write(sdl())


def cmd_trusted_documents(args: argparse.Namespace) -> None:
    from pathlib import Path

    from gongjian import trusted_documents
    from schema.root import build

    folder = Path(args.contract)
    files = sorted(folder.glob("*.graphql"))
    if not files:
        _fail(f"no .graphql files in {folder}")
    try:
        text = trusted_documents.dumps(trusted_documents.manifest_from_contract(files, build()._schema))
    except Exception as exc:  # a syntax error or an unnamed operation: one line says which
        _fail(f"cannot read the contract: {exc}".splitlines()[0])
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"gongjian: wrote {args.output}", file=sys.stderr)


def cmd_demo(args: argparse.Namespace) -> None:
    from db.demo import load
    from gongjian import clock

    settings = resolve(_settings())
    assert settings.database_url is not None
    asyncio.run(_check_database(settings.database_url))
    password = args.password
    if password is None:
        password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else __import__("getpass").getpass()
    if len(password) < 8:
        _fail("the demo password needs at least 8 characters")
    from gongjian.uploads import storage_for

    loaded = asyncio.run(
        load.run(settings.database_url, password, today=clock.today(settings.zone), storage=storage_for(settings))
    )
    if loaded:
        print("gongjian: the demo county is loaded", file=sys.stderr)
    elif args.if_empty:
        print("gongjian: the database already holds data; demo not loaded", file=sys.stderr)
    else:
        _fail("the database already holds data: the demo loads only into an empty database")


def _read_password(prompt: str) -> str:
    """A new password from the terminal (asked twice) or one line of stdin; never argv."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("again: ") != first:
        _fail("the two passwords differ")
    return first


def cmd_user(args: argparse.Namespace) -> None:
    from db.pool import Conn, connect
    from resolvers import user_admin

    settings = resolve(_settings())
    assert settings.database_url is not None
    asyncio.run(_check_database(settings.database_url))
    password = _read_password(f"password for {args.username}: ") if args.action in ("add", "set-password") else ""

    async def act() -> list[str]:
        assert settings.database_url is not None
        raw = await connect(settings.database_url)
        conn = Conn(raw)
        try:
            if args.action == "add":
                await user_admin.add_user(conn, args.username, password, args.person, args.county)
                return [f"user {args.username} added"]
            if args.action == "grant":
                await user_admin.grant(conn, args.username, args.role, args.scope)
                return [f"{args.username} now holds {args.role.upper()} in {args.scope}"]
            if args.action == "revoke":
                await user_admin.revoke(conn, args.username, args.role, args.scope)
                return [f"{args.username} no longer holds {args.role.upper()} in {args.scope}"]
            if args.action == "set-password":
                await user_admin.set_password(conn, args.username, password)
                return [f"password of {args.username} changed; its earlier tokens no longer work"]
            if args.action in ("disable", "enable"):
                await user_admin.set_disabled(conn, args.username, args.action == "disable")
                return [f"user {args.username} {args.action}d; its earlier tokens no longer work"]
            return await user_admin.list_users(conn)
        finally:
            await raw.close()

    try:
        lines = asyncio.run(act())
    except user_admin.AdminError as exc:
        _fail(str(exc))
    for line in lines:
        print(line)


def _user_commands(commands: Any) -> None:
    user = commands.add_parser(
        "user", help="manage accounts and role grants (passwords from a prompt or stdin, never arguments)"
    )
    actions = user.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a user; the password is read from the prompt or stdin")
    add.add_argument("username")
    add.add_argument("--person", help="id of the person the account belongs to")
    add.add_argument("--county", help="id of the county (needed when the database holds several)")
    for name, text in (("grant", "grant a role in a scope"), ("revoke", "revoke a role in a scope")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("username")
        sub.add_argument("role", help="COUNTY_ADMIN, COMMUNITY_STAFF, BUILDING_HEAD, CADRE, RESIDENT or UNIT_ADMIN")
        sub.add_argument("scope", help="id of the area (or the organisation for UNIT_ADMIN and CADRE)")
    reset = actions.add_parser("set-password", help="set a new password, read from the prompt or stdin")
    reset.add_argument("username")
    for name, text in (
        ("disable", "disable an account: its tokens and open sockets stop working at once"),
        ("enable", "enable a disabled account again (its earlier tokens stay ended)"),
    ):
        actions.add_parser(name, help=text).add_argument("username")
    actions.add_parser("list", help="list users with their roles")
    user.set_defaults(run=cmd_user)


def cmd_import(args: argparse.Namespace) -> None:
    files = {
        kind: Path(getattr(args, kind)) for kind in ("areas", "households", "people", "posts") if getattr(args, kind)
    }
    if not files:
        _fail("name at least one file: --areas, --households, --people or --posts")
    for path in files.values():
        if not path.is_file():
            _fail(f"no such file: {path}")
    settings = resolve(_settings())
    assert settings.database_url is not None
    asyncio.run(_check_database(settings.database_url))
    asyncio.run(_import(settings.database_url, args.county, files))


async def _import(url: str, county_code: str, files: dict[str, Path]) -> None:
    from db import audit, bulk_import
    from db.demo.load import Progress
    from db.pool import Conn, connect

    raw = await connect(url)
    progress = Progress(bulk_import.count_steps(files))

    def step(label: str) -> None:
        progress.done += 1
        progress.show(label)

    try:
        conn = Conn(raw)
        progress.show("reading")
        try:
            async with conn.transaction():
                report = await bulk_import.load(conn, county_code, files, step)
                await audit.record(
                    conn,
                    county_id=report.county_id,
                    user_id=None,
                    api_token_id=None,
                    action="import",
                    target_type="County",
                    target_id=report.county_id,
                    request_id="cli",
                    detail={"files": {k: str(v) for k, v in files.items()}, "rows": report.rows},
                )
        except bulk_import.ImportRefused as refused:
            sys.stderr.write("\n")
            for problem in refused.problems:
                print(f"gongjian: {problem}", file=sys.stderr)
            _fail(f"{len(refused.problems)} bad line(s): nothing was imported")
        progress.done = progress.total
        progress.show("done")
        sys.stderr.write("\n")
        counts = ", ".join(f"{n} {kind}" for kind, n in report.rows.items())
        print(f"gongjian: imported {counts}", file=sys.stderr)
    finally:
        await raw.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gongjian", description="Gongjian (共建) GraphQL backend")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve GraphQL at /graphql")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=cmd_serve)

    commands.add_parser("migrate", help="apply pending migrations").set_defaults(run=cmd_migrate)
    commands.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(run=cmd_export_schema)

    trusted = commands.add_parser(
        "trusted-documents", help="write the trusted-documents manifest: the contract's operations that validate"
    )
    trusted.add_argument("contract", nargs="?", default="../shared/contract", help="folder of the contract's .graphql")
    trusted.add_argument("-o", "--output", default="schema/trusted_documents.json", help="file to write, - for stdout")
    trusted.set_defaults(run=cmd_trusted_documents)

    demo = commands.add_parser("demo", help="load the demo county into an empty database")
    demo.add_argument("--password", help="password of every sample account (read from stdin when omitted)")
    demo.add_argument("--if-empty", action="store_true", help="skip quietly when the database holds data")
    demo.set_defaults(run=cmd_demo)

    _user_commands(commands)

    load = commands.add_parser(
        "import",
        help="import CSV files of areas, households, people and posts (all checked first; idempotent by code)",
    )
    load.add_argument("--county", required=True, help="code of the county (in the database or in the areas file)")
    load.add_argument("--areas", help="areas CSV: code,parent_code,level,name,compound_kind,address")
    load.add_argument("--households", help="households CSV: code,building_code,unit_code,label")
    load.add_argument(
        "--people", help="people CSV: code,name,household_code,phone,id_number,gender,birth_year,party_member"
    )
    load.add_argument("--posts", help="posts CSV: person_code,organisation,role,since,until")
    load.set_defaults(run=cmd_import)

    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
