"""From a plan to one statement of nested sub-selects, where the plan allows it.

Each object-valued field is a LATERAL sub-select run for each row of its parent (a relation's
rows of one parent row: a one-row look-up, a list, or a keyset page), which builds that
field's JSON and hands it up: PostGraphile's shape. `sql.py`'s statement materialises every
level as a CTE and joins the levels by id instead; on a building's households with their
residents that shape cost about twice as much backend CPU (each level's rows as composites
in a tuplestore, sorted for DISTINCT ON, hashed for the join, its JSON in another CTE).

A row's reasons are computed once in a LATERAL sub-select of their own (`OFFSET 0`: not
pulled up into each place that reads them) and read from there by the row's masked fields,
its guarded relations and the reasons it hands to its rows. The personal-data reads to
audit travel up with the JSON: each level also returns the text `field:household:reason` of
its rows' audited reads (comma-separated, NULL when none), and the statement returns them as
`sql.py`'s does (arrays of field, household and reason, distinct, in that order).

What this shape does not build (`nodes(ids)`, an interface's rows, a ranked relation, a
type whose rows are computed from its parent) is left to `sql.py`: `supports` says which."""

from __future__ import annotations

import re

from resolvers.compiled.planner import (
    Child,
    ConnectionField,
    Constant,
    FieldPlan,
    Gid,
    NodesField,
    ObjNode,
    Plan,
    Scalar,
)
from resolvers.compiled.sql import (
    AUDITED,
    VIEWER_FROM,
    Builder,
    _object,
    answer,
    global_id,
    viewer_cte,
)

_TABLE = re.compile(r"[a-z_]+")


def _fill(fragment: str, **values: str) -> str:
    """A declaration's SQL, the viewer read from the statement's `vw` row: every level lies
    within the top query, whose FROM is `vw`, so the viewer is a parameter there (not a
    sub-select of `vw` evaluated again each time a level runs for another parent row)."""
    return fragment.format(
        viewer="vw._v", viewer_from=VIEWER_FROM, county="vw._county", base_url="vw._base_url", **values
    )


def supports(plan: Plan) -> bool:
    """Whether every object of the plan is built by this shape."""
    if any(isinstance(p, NodesField) for _, p in plan.roots):
        return False
    for obj in plan.nodes:
        if obj.node_ids_param is not None or obj.variants is not None or obj.parent_type is not None:
            return False
        if obj.rank is not None or not _TABLE.fullmatch(obj.source.table):
            return False
        if any(isinstance(p, NodesField) or (isinstance(p, Gid) and p.type_sql) for _, p in obj.fields):
            return False
    return True


class Nested:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.ctes = Builder(plan)  # the root connections' pages, counts and sets: as `sql.py` writes them
        self.audits: dict[int, bool] = {}
        for obj in reversed(plan.nodes):  # a child's after its parent's in the plan
            self.audits[obj.index] = self._audits(obj)

    def _audits(self, obj: ObjNode) -> bool:
        """Whether the object's rows, or rows below them, may make reads to audit."""
        own = any(obj.reason(name).audit_field is not None for name in obj.reasons)
        return own or any(self.audits[c.index] for c in self._children(obj))

    @staticmethod
    def _children(obj: ObjNode) -> list[ObjNode]:
        return [p.node for _, p in obj.fields if isinstance(p, Child | ConnectionField)]

    # --- a level --------------------------------------------------------------------------------

    @staticmethod
    def _row(obj: ObjNode) -> str:
        """A row of the level: the table's alias, or a page's row (a composite)."""
        return f"(k{obj.index}._row)" if obj.kind == "connection" else f"x{obj.index}"

    def _parent_row(self, obj: ObjNode) -> str:
        assert obj.parent is not None
        return self._row(obj.parent)

    def _reasons(self, obj: ObjNode) -> str:
        """The row's reasons, once a row."""
        if not obj.reasons:
            return ""
        row = self._row(obj)
        values = []
        for name in sorted(obj.reasons):
            handed = obj.handed.get(name)
            if handed is not None:
                assert obj.parent is not None, "a reason is handed by a relation's parent row"
                value = _fill(handed.sql, row=row, given=f"r{obj.parent.index}._r_{handed.given}")
            else:
                value = _fill(obj.reason(name).sql, row=row, **Builder._root_values(obj))
            values.append(f"({value}) AS _r_{name}")
        return f" CROSS JOIN LATERAL (SELECT {', '.join(values)} OFFSET 0) r{obj.index}"

    def _joins(self, obj: ObjNode) -> str:
        return "".join(f" LEFT JOIN LATERAL ({self.level(c)}) c{c.index} ON true" for c in self._children(obj))

    def _value(self, plan: FieldPlan, obj: ObjNode) -> str:
        row = self._row(obj)
        if isinstance(plan, Constant):
            return f"'{plan.value}'::text"
        if isinstance(plan, Gid):
            return global_id(plan.type_name, f"{row}.id")
        if isinstance(plan, Scalar):
            value = f"({_fill(plan.sql, row=row)})"
            if plan.masked_by is None:
                return value
            return f"CASE WHEN r{obj.index}._r_{plan.masked_by} IS NOT NULL THEN {value} END"
        assert isinstance(plan, Child | ConnectionField)
        c = f"c{plan.node.index}"
        return f"coalesce({c}._j, '[]'::json)" if plan.node.kind == "list" else f"{c}._j"

    def _json(self, obj: ObjNode) -> str:
        return _object([(k, self._value(p, obj)) for k, p in obj.fields])

    def _audit(self, obj: ObjNode) -> str:
        """The row's reads to audit, and those of the rows below it: text, NULL when none."""
        if not self.audits[obj.index]:
            return "NULL::text"
        row = self._row(obj)
        parts = []
        for name in sorted(obj.reasons):
            reason = obj.reason(name)
            if reason.audit_field is None:
                continue
            household = f"({_fill(reason.audit_household, row=row)})::bigint"
            when = _fill(reason.audit_when, row=row)
            r = f"r{obj.index}._r_{name}"
            parts.append(
                f"CASE WHEN {household} IS NOT NULL AND {r} IN ({AUDITED}) AND ({when}) "
                f"THEN '{reason.audit_field}:' || {household} || ':' || {r} END"
            )
        parts += [f"c{c.index}._a" for c in self._children(obj) if self.audits[c.index]]
        return f"nullif(concat_ws(',', {', '.join(parts)}), '')"

    def _gathered(self, obj: ObjNode, audit: str, vis: str | None = None) -> str:
        """The reads to audit of a list's or a page's rows (those on the page), one text."""
        if not self.audits[obj.index]:
            return "NULL::text"
        return f"string_agg({audit}, ',')" + (f" FILTER (WHERE {vis})" if vis else "")

    def _candidates(self, obj: ObjNode, alias: str, tail: str = "") -> str:
        """FROM and WHERE of a relation's rows of the parent row, the row named `alias`."""
        relation = obj.relation
        assert relation is not None and obj.parent is not None
        where = _fill(relation.where, row=alias, parent=self._parent_row(obj))
        # a single object leads only to a row node() returns for the viewer (the target's rule)
        rule = _fill(obj.source.node_filter, row=alias) if relation.kind == "one" else "true"
        guarded = f" AND r{obj.parent.index}._r_{relation.guard} IS NOT NULL" if relation.guard else ""
        return f"FROM {obj.source.table} {alias}{tail} WHERE ({where}) AND ({rule}){guarded}"

    def _page_rows(self, obj: ObjNode) -> str:
        """A connection's page: its rows (`_row`) and whether each is on the page (`_vis`: the
        one more row tells whether there is a next page). A root's page is `sql.py`'s: it lies
        in the top query, run once, where the viewer's sub-select is read once too."""
        if obj.root is not None:
            return self.ctes.root_page(obj)
        vis, page = self.ctes._page(obj)
        return f"SELECT x AS _row, {vis} {self._candidates(obj, 'x')} {page}"

    def level(self, obj: ObjNode) -> str:
        """A SELECT of one row: the field's JSON (`_j`) and its reads to audit (`_a`). The
        statement's own names begin with `_` (`_j`, `_a`, `_row`, `_vis`, `_r_...`): an
        unqualified name in a declaration's SQL is looked up as a column of every enclosing
        level before as a table's alias, so a level's column `a` made a count's
        `area_access(a, ...)` (its `FROM areas a`) read that text column instead."""
        n, json, audit = obj.index, self._json(obj), self._audit(obj)
        tail = f"{self._reasons(obj)}{self._joins(obj)}"
        if obj.kind == "connection":
            return self._connection(obj, json, audit, tail)
        if obj.node_param is not None:  # node(id), viewer
            where = f"x{n}.id = {obj.node_param} AND ({_fill(obj.source.node_filter, row=f'x{n}')})"
            return f"SELECT {json} AS _j, {audit} AS _a FROM {obj.source.table} x{n}{tail} WHERE {where}"
        candidates = self._candidates(obj, f"x{n}", tail)
        if obj.kind == "one":
            return f"SELECT {json} AS _j, {audit} AS _a {candidates} ORDER BY x{n}.id LIMIT 1"
        return f"SELECT json_agg({json} ORDER BY x{n}.id) AS _j, {self._gathered(obj, audit)} AS _a {candidates}"

    def _count(self, obj: ObjNode) -> str:
        if self.ctes._matched_once(obj):
            return f"(SELECT count(*) FROM m{obj.index})"
        if obj.root is not None:
            return f"({self.ctes._matching(obj, 'count(*)')})"
        assert obj.relation is not None and obj.relation.count is not None
        return f"({_fill(obj.relation.count, parent=self._parent_row(obj))})"

    def _connection(self, obj: ObjNode, json: str, audit: str, tail: str) -> str:
        """A page's object, from the aggregates of its rows (GROUP BY (): one row, if only of
        its totalCount)."""
        n, row, vis = obj.index, self._row(obj), f"k{obj.index}._vis"
        keys = [f"({_fill(obj.time, row=row)})", f"{row}.id"] if obj.time is not None else [f"{row}.id"]
        rows = (
            f"SELECT {self.ctes.page_columns(obj, json, keys, vis)}, {self._gathered(obj, audit, vis)} AS _a "
            f"FROM ({self._page_rows(obj)}) k{n}{tail} GROUP BY ()"
        )
        value = self.ctes._connection(self.ctes._field_of(obj), lambda: self._count(obj))
        return f"SELECT {value} AS _j, c{n}._a FROM ({rows}) c{n}"

    # --- the statement --------------------------------------------------------------------------

    def statement(self) -> str:
        ctes = [viewer_cte()]
        ctes += [self.ctes.once(o) for o in self.plan.nodes if o.root is not None and o.root.once is not None]
        ctes += [self.ctes.matched(o) for o in self.plan.nodes if self.ctes._matched_once(o)]
        rules = self.ctes.rules()
        pairs: list[tuple[str, str]] = []
        joins, audited = "", []
        for key, plan in self.plan.roots:
            if plan is None:
                pairs.append((key, "NULL::json"))
            elif isinstance(plan, Child | ConnectionField):
                obj = plan.node
                joins += f" LEFT JOIN LATERAL ({self.level(obj)}) c{obj.index} ON true"
                pairs.append((key, f"c{obj.index}._j"))
                if self.audits[obj.index]:
                    audited.append(f"c{obj.index}._a")
            else:
                assert isinstance(plan, Constant)
                pairs.append((key, f"'{plan.value}'::text"))
        audit = None
        if audited:
            order = "ORDER BY a.f, a.h, a.reason"
            audit = (
                f" CROSS JOIN LATERAL (SELECT array_agg(a.f {order}) AS f, array_agg(a.h {order}) AS h, "
                f"array_agg(a.reason {order}) AS reason FROM (SELECT DISTINCT split_part(e, ':', 1) AS f, "
                f"split_part(e, ':', 2)::bigint AS h, split_part(e, ':', 3) AS reason "
                f"FROM unnest(string_to_array(concat_ws(',', {', '.join(audited)}), ',')) e "
                f"WHERE e <> '' AND vw._signed_in) a) audit"
            )
        return answer(ctes, pairs, f"vw{joins}", rules, audit, "vw._signed_in", "vw._county")


def statement(plan: Plan) -> str:
    return Nested(plan).statement()
