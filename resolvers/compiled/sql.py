"""From a plan to one SQL statement that returns the `data` JSON as text.

Each object-valued field occurrence is a row set `r<k>` (the rows of its table reached
from the distinct visible rows of its parent, through a LATERAL page or list), with the
reasons its masked fields and guarded relations need; its JSON is built bottom-up in
`j<k>` (grouped by parent, joined by id), so PostgreSQL hash-joins levels instead of
running a subquery per parent. The statement only reads: beside the JSON (UTF-8 bytes,
sent to the client as they are) it returns the personal-data reads to audit, one per
household, field and reason as the ordinary path writes them, and the caller writes them
(`run.py`: one INSERT, only when there are any). A data-modifying CTE in the statement
cost every read its executor start (the audit log and its four indexes opened and locked)
though most viewers' reads write no row. Every SQL fragment is constant text from the
declarations; every value is a bind parameter."""

from __future__ import annotations

from db.identity import session_holds
from resolvers.compiled.declarations import AUDITED_REASONS, BASE64_LINE, Source, base64url_of_key, date_time
from resolvers.compiled.declarations import base64url as _b64
from resolvers.compiled.planner import (
    BASE_URL,
    GENERATION,
    REQUEST,
    TOKEN,
    USER,
    Child,
    ConnectionField,
    Constant,
    EdgesPart,
    FieldPlan,
    Gid,
    NodesField,
    ObjNode,
    PageInfoPart,
    Plan,
    Scalar,
)

VIEWER = "(SELECT _v FROM vw)"
# the viewer's one row (migration 0031), inlined where it is read from FROM
VIEWER_ROWS = f"viewer_rows({USER}::bigint, {TOKEN}::bigint)"
# the viewer as a FROM item: PostgreSQL inlines a rule (an SQL function) called on it, but not
# one called on the sub-select above when the rule reads its viewer more than once. The row
# of `vw`, not the rule again: the function scan runs once a statement (its argument is no
# row's), where `viewer_rows` inlined there would look the viewer up again for every row
VIEWER_FROM = f"unnest(ARRAY[{VIEWER}])"
# in a row set's reasons the viewer is a column of the one-row `vw` joined there: a
# set-returning rule (household_reason, person_reason: migration 0025) is inlined into
# the statement only when its arguments hold no sub-select
ROW_VIEWER = "vw._v"
# the viewer's county (the API token's, or the user's)
COUNTY = "(SELECT _county FROM vw)"
# whether the session token still signs its user in (db/identity.py `session_holds`, as the
# ordinary path's VIEWER_BY_USER asks): the statement answers NULL otherwise,
# writes no audit row, and the ordinary path answers as it would without a viewer
SIGNED_IN = "(SELECT _signed_in FROM vw)"
# the reasons whose reads are audited, as an SQL list
AUDITED = ", ".join(f"'{r}'" for r in AUDITED_REASONS)


def global_id(type_name: str, id_sql: str) -> str:
    """`Type:id` (a bigint: at most 20 characters) as resolvers/ids.py writes it."""
    assert len(type_name) + 1 + 20 <= BASE64_LINE, "a global id on one line of base64"
    return base64url_of_key(f"'{type_name}:' || {id_sql}")


def cursor(id_sql: str) -> str:
    return base64url_of_key(f"'[' || {id_sql} || ']'")


def time_cursor(time_sql: str, id_sql: str) -> str:
    """`[isoformat, id]` as resolvers/pagination.py `encode_cursor` writes it (orjson: no
    spaces): at most 2 + 32 + 2 + 20 + 1 bytes, a four-digit year (Python's)."""
    return base64url_of_key(f"'[\"' || {date_time(time_sql)} || '\",' || {id_sql} || ']'")


def _fill(fragment: str, viewer: str = VIEWER, **values: str) -> str:
    return fragment.format(
        viewer=viewer, viewer_from=VIEWER_FROM, county=COUNTY, base_url="(SELECT _base_url FROM vw)", **values
    )


def _key(key: str) -> str:
    assert key.replace("_", "a").isalnum(), "response keys are GraphQL names"
    return f"'{key}'"


def _object(pairs: list[tuple[str, str]]) -> str:
    return "json_build_object(" + ", ".join(f"{_key(k)}, {v}" for k, v in pairs) + ")"


def page_keys(keys: list[str], descending: bool, vis: str) -> tuple[str, str, str, str]:
    """A page's order and cursors from its keys (a time and the id, or one key): each edge's
    cursor, the ORDER BY of its rows, and the page's first and last cursor (aggregates over
    the rows where `vis`: on the page, not the one more row)."""
    edge_cursor = time_cursor(*keys) if len(keys) == 2 else cursor(keys[0])
    ascending, backwards = ", ".join(keys), ", ".join(f"{k} DESC" for k in keys)
    order, reverse = (backwards, ascending) if descending else (ascending, backwards)
    if len(keys) == 1:  # the first and last key of the page, then the cursor of each alone
        low, high = (f"{f}({keys[0]}) FILTER (WHERE {vis})" for f in ("min", "max"))
        first, last = (cursor(high), cursor(low)) if descending else (cursor(low), cursor(high))
    else:
        first = f"(array_agg({edge_cursor} ORDER BY {order}) FILTER (WHERE {vis}))[1]"
        last = f"(array_agg({edge_cursor} ORDER BY {reverse}) FILTER (WHERE {vis}))[1]"
    return edge_cursor, order, first, last


def viewer_cte() -> str:
    """`vw`: the viewer's one row, whether the session still signs its user in, and the
    request's fixed values. Every fixed parameter appears, typed, whether or not the statement
    needs it; the viewer is computed once (PostgreSQL would inline a CTE read once), from the
    set-returning form of the rule, which PostgreSQL inlines into the statement's plan
    (`viewer_of`, a function PostgreSQL cannot inline, would run its own query at each call).
    Its columns begin with `_`, as every name the statement makes: an unqualified name in a
    declaration's SQL (a table's alias `v`, say) is looked up as a column of every
    enclosing level first, and `vw` encloses them all."""
    return (
        f"vw AS MATERIALIZED (SELECT v AS _v, v.county_id AS _county, {REQUEST}::text AS _request_id, "
        f"{BASE_URL}::text AS _base_url, "
        f"({TOKEN}::bigint IS NOT NULL OR EXISTS (SELECT 1 FROM users u "
        f"WHERE {session_holds(f'{USER}::bigint', f'{GENERATION}::integer')})) AS _signed_in "
        f"FROM {VIEWER_ROWS} v)"
    )


class Builder:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    # --- row sets ---------------------------------------------------------------------------

    @staticmethod
    def _root_values(obj: ObjNode) -> dict[str, str]:
        """What a root connection's fragments name: its arguments' parameters, its `once` set."""
        values = {f"arg_{k}": v for k, v in obj.root_params.items()}
        if obj.root is not None and obj.root.once is not None:
            values["once"] = f"o{obj.index}"
        return values

    def once(self, obj: ObjNode) -> str:
        assert obj.root is not None and obj.root.once is not None
        values = {k: v for k, v in self._root_values(obj).items() if k != "once"}
        return f"o{obj.index} AS MATERIALIZED ({_fill(obj.root.once, **values)})"

    def _reasons(self, obj: ObjNode) -> str:
        return "".join(f", ({self._reason(obj, name)}) AS _r_{name}" for name in sorted(obj.reasons))

    def _reason(self, obj: ObjNode, name: str) -> str:
        """A reason of a row: its rule, or the rule given the parent row's reason (`Handed`)."""
        handed = obj.handed.get(name)
        if handed is not None:
            return _fill(handed.sql, ROW_VIEWER, row="(q._row)", given=f"q._given_{handed.given}")
        return _fill(obj.reason(name).sql, ROW_VIEWER, row="(q._row)", **self._root_values(obj))

    def _page(self, obj: ObjNode) -> tuple[str, str]:
        """The visibility column and the ORDER/LIMIT of a row set."""
        if obj.time is not None:
            key = f"({_fill(obj.time, row='x')}, x.id)"
            after = f"({obj.after_time_param}, {obj.after_param})"
            order, compare = ("DESC", "<") if obj.descending else ("", ">")
            by = f"{_fill(obj.time, row='x')} {order}, x.id {order}"
            return (
                f"row_number() OVER (ORDER BY {by}) <= {obj.first_param} AS _vis",
                f"AND ({obj.after_time_param} IS NULL OR {key} {compare} {after}) "
                f"ORDER BY {by} LIMIT {obj.first_param} + 1",
            )
        if obj.kind == "connection" and obj.descending:
            return (
                f"row_number() OVER (ORDER BY x.id DESC) <= {obj.first_param} AS _vis",
                f"AND ({obj.after_param} IS NULL OR x.id < {obj.after_param}) "
                f"ORDER BY x.id DESC LIMIT {obj.first_param} + 1",
            )
        if obj.kind == "connection":
            return (
                f"row_number() OVER (ORDER BY x.id) <= {obj.first_param} AS _vis",
                f"AND x.id > {obj.after_param} ORDER BY x.id LIMIT {obj.first_param} + 1",
            )
        if obj.kind == "one":
            return "true AS _vis", "ORDER BY x.id LIMIT 1"
        return "true AS _vis", "ORDER BY x.id"

    def root_page(self, obj: ObjNode, columns: str = "") -> str:
        """A root connection's page: its rows (`x` as `_row`, after `columns`) and whether each
        is on the page (`_vis`: the one more row tells whether there is a next page)."""
        assert obj.root is not None
        vis, page = self._page(obj)
        if self._matched_once(obj):  # the page's ids, then their rows
            where = f"x.id IN (SELECT x.id FROM m{obj.index} x WHERE true {page})"
        elif obj.root.alternatives:  # each alternative's page, then the page of them all
            each = " UNION ALL ".join(f"({q} {page})" for q in self._alternatives(obj, "x.id"))
            where = f"x.id IN (SELECT u.id FROM ({each}) u)"
        else:
            where = _fill(obj.root.where, row="x", **self._root_values(obj))
        if obj.root.rule is not None:
            where = f"({_fill(obj.root.rule)}) AND ({where})"
        return f"SELECT {columns}x AS _row, {vis} FROM {obj.root.table} x WHERE ({where}) {page}"

    def rows(self, obj: ObjNode) -> str:
        source: Source = obj.source
        if obj.node_ids_param is not None:  # nodes(ids): the visible rows of this type's ids
            inner = (
                f"SELECT x.id AS _p, x AS _row, true AS _vis FROM {source.table} x "
                f"WHERE x.id = ANY({obj.node_ids_param}) AND ({_fill(source.node_filter, row='x')})"
            )
        elif obj.parent is None and obj.root is None:  # node(id)
            inner = (
                f"SELECT 0::bigint AS _p, x AS _row, true AS _vis FROM {source.table} x "
                f"WHERE x.id = {obj.node_param} AND ({_fill(source.node_filter, row='x')})"
            )
        elif obj.parent is None:
            assert obj.root is not None
            inner = self.root_page(obj, "0::bigint AS _p, ")
        else:
            relation = obj.relation
            assert relation is not None
            given = sorted({h.given for h in obj.handed.values()})  # the parent's reasons handed
            guard = "".join(f", _r_{name}" for name in sorted({*given, *([relation.guard] if relation.guard else [])}))
            guarded = f" AND par._r_{relation.guard} IS NOT NULL" if relation.guard else ""
            vis, page = self._page(obj)
            variant = ""
            if obj.parent_type is not None:  # a field of one type of an interface's row
                assert obj.parent.type_sql is not None
                variant = f" AND ({_fill(obj.parent.type_sql, row='(_row)')}) = '{obj.parent_type}'"
            where = _fill(relation.where, row="x", parent="(par._row)")
            # a single-object relation leads only to a row node() returns for the viewer (the
            # target's rule); a list's rows are chosen by its own `where`
            rule = _fill(source.node_filter, row="x") if relation.kind == "one" else "true"
            table = _fill(source.table, parent="(par._row)")  # a table, or rows computed from the parent
            candidates = f"FROM {table} x WHERE ({where}) AND ({rule}){guarded}"
            if relation.rank is not None and relation.kind == "list":  # all of them, in the rank's order
                order = _fill(relation.rank, row="x", parent="(par._row)")
                page_of = (
                    f"SELECT z._row, z._rank, true AS _vis FROM (SELECT x AS _row, "
                    f"row_number() OVER (ORDER BY {order}) AS _rank {candidates}) z"
                )
            elif relation.rank is not None:  # the page of ranks after the cursor's
                order = _fill(relation.rank, row="x", parent="(par._row)")
                after, first = obj.after_param, obj.first_param
                page_of = (
                    f"SELECT z._row, z._rank, z._rank <= {after} + {first} AS _vis FROM (SELECT x AS _row, "
                    f"row_number() OVER (ORDER BY {order}) AS _rank {candidates}) z "
                    f"WHERE z._rank > {after} ORDER BY z._rank LIMIT {first} + 1"
                )
            else:
                page_of = f"SELECT x AS _row, {vis} {candidates} {page}"
            inner = (
                f"SELECT par._id AS _p, y._row, y._vis{', y._rank' if relation.rank else ''}"
                f"{''.join(f', par._r_{name} AS _given_{name}' for name in given)} "
                f"FROM (SELECT DISTINCT ON (_id) _id, _row{guard} FROM r{obj.parent.index} WHERE _vis{variant}) par "
                f"CROSS JOIN LATERAL ({page_of}) y"
            )
        viewer = " CROSS JOIN vw" if obj.reasons else ""
        rank = ", q._rank" if obj.rank is not None else ""
        return (
            f"r{obj.index} AS (SELECT q._p, q._row, (q._row).id AS _id, q._vis{rank}{self._reasons(obj)} "
            f"FROM ({inner}) q{viewer})"
        )

    # --- JSON -------------------------------------------------------------------------------

    def _value(self, plan: FieldPlan, row: str) -> str:
        if isinstance(plan, Constant):
            return f"'{plan.value}'::text"
        if isinstance(plan, Gid) and plan.type_sql is not None:
            return _b64(f"({_fill(plan.type_sql, row=f'({row}._row)')}) || ':' || ({row}._row).id")
        if isinstance(plan, Gid):
            return global_id(plan.type_name, f"({row}._row).id")
        if isinstance(plan, Scalar):
            value = f"({_fill(plan.sql, row=f'({row}._row)')})"
            if plan.masked_by is None:
                return value
            return f"CASE WHEN {row}._r_{plan.masked_by} IS NOT NULL THEN {value} END"
        if isinstance(plan, NodesField):
            return self._nodes(plan)
        if isinstance(plan, Child):
            c = f"c{plan.node.index}"
            return f"{c}._json" if plan.node.kind == "one" else f"coalesce({c}._json, '[]'::json)"
        return self._connection(plan, lambda: self._count(plan, row))

    @staticmethod
    def _nodes(plan: NodesField) -> str:
        """`nodes(ids)`: each id's object of its type's `j<k>` (keyed by id), in the ids' order."""
        if not plan.nodes:
            return "'[]'::json"
        found = [f"n{obj.index}._json" for obj in plan.nodes]
        value = found[0] if len(found) == 1 else f"coalesce({', '.join(found)})"
        joins = "".join(
            f" LEFT JOIN j{obj.index} n{obj.index} ON u.t = '{obj.type_name}' AND n{obj.index}._p = u.id"
            for obj in plan.nodes
        )
        return (
            f"(SELECT coalesce(json_agg({value} ORDER BY u.n), '[]'::json) "
            f"FROM unnest({plan.types_param}, {plan.ids_param}) WITH ORDINALITY u(t, id, n){joins})"
        )

    def _matched_once(self, obj: ObjNode) -> bool:
        """A root connection whose totalCount is asked too and counts the rows its `where`
        selects: those rows are found once (`m<k>`, each row's rule asked once), and the page
        and the count read them."""
        if obj.root is None:
            return False
        if obj.time is not None:  # `m<k>` holds the ids alone: the page by time reads the rows
            return False
        return any(
            isinstance(plan, ConnectionField) and plan.node is obj and any(p == "totalCount" for _, p in plan.parts)
            for _, plan in self.plan.roots
        )

    def _matching(self, obj: ObjNode, select: str) -> str:
        """The rows of a root connection's table its `where` selects."""
        assert obj.root is not None
        if obj.root.alternatives:
            # each alternative reads the ids alone: a join of the table (a view) that no
            # alternative reads is dropped, which `x.*` kept
            return f"SELECT {select} FROM ({' UNION ALL '.join(self._alternatives(obj, 'x.id'))}) x"
        where = _fill(obj.root.where, row="x", **self._root_values(obj))
        return f"SELECT {select} FROM {obj.root.table} x WHERE ({where})"

    def _alternatives(self, obj: ObjNode, select: str) -> list[str]:
        """A SELECT of `select` per alternative of a root connection's `where`."""
        assert obj.root is not None
        values = self._root_values(obj)
        return [
            f"SELECT {select} FROM {a.table or obj.root.table} x WHERE ({_fill(a.where, row='x', **values)})"
            for a in obj.root.alternatives
        ]

    def matched(self, obj: ObjNode) -> str:
        return f"m{obj.index} AS MATERIALIZED ({self._matching(obj, 'x.id')})"

    def _count(self, plan: ConnectionField, row: str) -> str:
        obj = plan.node
        if self._matched_once(obj):
            return f"(SELECT count(*) FROM m{obj.index})"
        if obj.root is not None:
            return f"({self._matching(obj, 'count(*)')})"
        assert obj.relation is not None and obj.relation.count is not None
        return f"({_fill(obj.relation.count, parent=f'({row}._row)')})"

    def _connection(self, plan: ConnectionField, count: object) -> str:
        c = f"c{plan.node.index}"
        pairs: list[tuple[str, str]] = []
        for key, part in plan.parts:
            if part == "totalCount":
                assert callable(count)
                pairs.append((key, str(count())))
            elif part == "__typename":
                pairs.append((key, f"'{plan.typename}'::text"))
            elif isinstance(part, PageInfoPart):
                info = {
                    "hasNextPage": f"coalesce({c}._more, false)",
                    "hasPreviousPage": "false",
                    "startCursor": f"{c}._start",
                    "endCursor": f"{c}._end",
                    "__typename": "'PageInfo'::text",
                }
                pairs.append((key, _object([(k, info[what]) for k, what in part.keys])))
            elif isinstance(part, EdgesPart):
                pairs.append((key, f"coalesce({c}._edges, '[]'::json)"))
        return _object(pairs)

    @staticmethod
    def _all_fields(obj: ObjNode) -> list[tuple[str, FieldPlan]]:
        """An object's fields, those of each of its types included (an interface's row)."""
        return [f for variant in (obj.variants or {}).values() for f in variant] + obj.fields

    def _children(self, obj: ObjNode) -> list[ObjNode]:
        return [p.node for _, p in self._all_fields(obj) if isinstance(p, Child | ConnectionField)]

    def _row_json(self, obj: ObjNode) -> str:
        """A row's JSON object: of its fields, or of its own type's (an interface's row)."""
        if obj.variants is None:
            return _object([(k, self._value(p, "r")) for k, p in obj.fields])
        assert obj.type_sql is not None
        cases = "".join(
            f" WHEN '{name}' THEN {_object([(k, self._value(p, 'r')) for k, p in fields])}"
            for name, fields in obj.variants.items()
        )
        return f"(CASE ({_fill(obj.type_sql, row='(r._row)')}){cases} END)"

    def _joins(self, obj: ObjNode) -> str:
        return "".join(f" LEFT JOIN j{c.index} c{c.index} ON c{c.index}._p = r._id" for c in self._children(obj))

    def _field_of(self, obj: ObjNode) -> ConnectionField:
        parent = obj.parent
        fields = self._all_fields(parent) if parent is not None else self.plan.roots
        for _, plan in fields:
            if isinstance(plan, ConnectionField) and plan.node is obj:
                return plan
        raise AssertionError("a connection's rows belong to its field")

    def _edges_part(self, obj: ObjNode) -> EdgesPart | None:
        return next((p for _, p in self._field_of(obj).parts if isinstance(p, EdgesPart)), None)

    def _page_info(self, obj: ObjNode) -> set[str]:
        """What the connection's pageInfo asks (hasNextPage, startCursor, endCursor...)."""
        return {what for _, p in self._field_of(obj).parts if isinstance(p, PageInfoPart) for _, what in p.keys}

    def json(self, obj: ObjNode) -> str:
        value = self._row_json(obj)
        # MATERIALIZED: built once. PostgreSQL would otherwise inline a `j` read once into its
        # parent's join and, estimating one row per CTE, rebuild it for every parent row (a
        # building's 20 households rebuilt their residents' JSON 20 times: 1.5 of 2.2 ms)
        head = f"j{obj.index} AS MATERIALIZED (SELECT r._p"
        tail = f" FROM r{obj.index} r{self._joins(obj)}"
        if obj.kind == "one":
            return f"{head}, {value} AS _json{tail} WHERE r._vis)"
        if obj.kind == "list":
            order = "r._rank" if obj.rank is not None else "r._id"
            return f"{head}, json_agg({value} ORDER BY {order}) AS _json{tail} WHERE r._vis GROUP BY r._p)"
        if obj.time is not None:
            keys = [f"({_fill(obj.time, row='(r._row)')})", "r._id"]
        else:
            keys = ["r._rank" if obj.rank is not None else "r._id"]
        return f"{head}, {self.page_columns(obj, value, keys, 'r._vis')}{tail} GROUP BY r._p)"

    def page_columns(self, obj: ObjNode, value: str, keys: list[str], vis: str) -> str:
        """The aggregates of a page's rows that its connection's object reads (`_connection`):
        the edges (`value` each row's JSON, `keys` its order), and only the parts of pageInfo
        asked; `vis` tells a row of the page from the one more row."""
        edges = self._edges_part(obj)
        edge_cursor, order, first, last = page_keys(keys, obj.descending, vis)
        edge = "NULL::json"
        if edges is not None:
            parts = {"cursor": edge_cursor, "node": value, "__typename": f"'{edges.typename}'::text"}
            edge = _object([(k, parts[what]) for k, what in edges.keys])
        info = self._page_info(obj)
        asked = [("hasNextPage", f"bool_or(NOT {vis}) AS _more"), ("startCursor", f"{first} AS _start")]
        asked.append(("endCursor", f"{last} AS _end"))
        page = "".join(f", {sql}" for what, sql in asked if what in info)
        return f"json_agg({edge} ORDER BY {order}) FILTER (WHERE {vis}) AS _edges{page}"

    # --- audit ------------------------------------------------------------------------------

    def audit(self) -> str | None:
        """The personal-data reads to audit (arrays of field, household and reason, in that
        order); none where the statement answers nothing (not signed in; a field's rule
        refuses: no row at all)."""
        reads: list[str] = []
        for obj in self.plan.nodes:
            for name in sorted(obj.reasons):
                reason = obj.reason(name)
                if reason.audit_field is None:  # handed to a relation's rows only
                    continue
                household = _fill(reason.audit_household, row="(r._row)")
                when = _fill(reason.audit_when, row="(r._row)")
                reads.append(
                    f"SELECT '{reason.audit_field}'::text AS f, ({household})::bigint AS h, r._r_{name} AS reason "
                    f"FROM r{obj.index} r WHERE r._vis AND ({when})"
                )
        if not reads:
            return None
        order = "ORDER BY a.f, a.h, a.reason"
        return (
            f"audit AS (SELECT array_agg(a.f {order}) AS f, array_agg(a.h {order}) AS h, "
            f"array_agg(a.reason {order}) AS reason "
            f"FROM (SELECT DISTINCT f, h, reason FROM ({' UNION ALL '.join(reads)}) u "
            f"WHERE h IS NOT NULL AND reason IN ({AUDITED}) AND {SIGNED_IN}) a)"
        )

    # --- the statement ----------------------------------------------------------------------

    def rules(self) -> list[str]:
        """The fields' own rules: where one refuses, no row (the ordinary path answers)."""
        rules = [
            f"({_fill(plan.node.root.rule)})"
            for _, plan in self.plan.roots
            if isinstance(plan, ConnectionField) and plan.node.root is not None and plan.node.root.rule is not None
        ]
        if self.plan.users_only:
            rules.append(f"{TOKEN}::bigint IS NULL")
        return rules

    def statement(self) -> str:
        ctes = [viewer_cte()]
        ctes += [self.once(obj) for obj in self.plan.nodes if obj.root is not None and obj.root.once is not None]
        ctes += [self.matched(obj) for obj in self.plan.nodes if self._matched_once(obj)]
        ctes += [self.rows(obj) for obj in self.plan.nodes]
        ctes += [self.json(obj) for obj in reversed(self.plan.nodes)]
        rules = self.rules()
        audit = self.audit()
        if audit is not None:
            ctes.append(audit)
        pairs: list[tuple[str, str]] = []
        joins = ""
        for key, plan in self.plan.roots:
            if plan is None:
                pairs.append((key, "NULL::json"))
                continue
            if isinstance(plan, Child | ConnectionField):
                joins += f" LEFT JOIN j{plan.node.index} c{plan.node.index} ON true"
            if isinstance(plan, ConnectionField):
                pairs.append((key, self._connection(plan, lambda plan=plan: self._count(plan, "top"))))
            else:
                pairs.append((key, self._value(plan, "top")))
        audit_join = " CROSS JOIN audit" if audit is not None else None
        return answer(ctes, pairs, f"(SELECT 1) top{joins}", rules, audit_join, SIGNED_IN, COUNTY)


def answer(
    ctes: list[str],
    pairs: list[tuple[str, str]],
    source: str,
    rules: list[str],
    audit: str | None,
    signed_in: str,
    county: str,
) -> str:
    """The statement's one row: the `data` JSON as UTF-8 bytes where the session signs its
    user in, and the reads to audit (`audit`: the FROM item `audit` of arrays f, h, reason
    joined to `source`; None: no read to audit) with the viewer's county."""
    where = f" WHERE {' AND '.join(rules)}" if rules else ""
    if audit is not None:
        columns, source = f"{county}, audit.f, audit.h, audit.reason", f"{source}{audit}"
    else:
        columns = "NULL::bigint, NULL::text[], NULL::bigint[], NULL::text[]"
    return (
        f"WITH {', '.join(ctes)} SELECT CASE WHEN {signed_in} THEN convert_to({_object(pairs)}::text, 'UTF8') END, "
        f"{columns} FROM {source}{where}"
    )


def statement(plan: Plan) -> str:
    return Builder(plan).statement()
