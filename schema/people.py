"""The compiled read path of `people` (the field and its type live in schema/areas.py; the
search and its audit in resolvers/people.py): the rule `findable_people` inline, each row's
reason audited as the ordinary path audits the search."""

from __future__ import annotations

from typing import Any

from resolvers import people
from resolvers.compiled import declarations as compiled
from resolvers.compiled import planner as compiled_planner

# db/people.py _FROM_WHERE: the rule's rows and their reasons, narrowed by the filter, found
# once a statement (`{once}`); the page and the count read them
_FOUND = (
    "SELECT f.person_id, f.reason FROM findable_people({viewer}) f JOIN persons p ON p.id = f.person_id "
    "WHERE ({arg_pattern} IS NULL OR p.name ILIKE {arg_pattern}) "
    "AND ({arg_digits} IS NULL OR regexp_replace(coalesce(p.phone, ''), '[^0-9]', '', 'g') "
    "LIKE '%' || {arg_digits}) "
    "AND ({arg_tag} IS NULL OR {arg_tag} = ANY(p.tags))"
)
_PEOPLE_WHERE = "{row}.id IN (SELECT f.person_id FROM {once} f)"


def _people_arguments(given: Any) -> dict[str, Any]:
    """The filter as resolvers/people.py `search_people` reads it (its refusals: the ordinary path's)."""
    f = compiled_planner.filter_of(given)
    search, tag = f.get("search"), f.get("tag")
    if not isinstance(search, str):
        raise compiled_planner.Fallback("search")
    pattern, digits, wanted = people.filters(search, tag)
    return {"pattern": pattern, "digits": digits, "tag": wanted}


compiled.declare_root(
    "people",
    compiled.RootConnection(
        "Person",
        "persons",
        _PEOPLE_WHERE,
        (("pattern", "text"), ("digits", "text"), ("tag", "text")),
        _people_arguments,
        # the rule's rows, asked once
        once=_FOUND,
        audit=compiled.Reason(
            "(SELECT f.reason FROM {once} f WHERE f.person_id = {row}.id)",
            "people",
            "{row}.household_id",
            "{row}.household_id IS NOT NULL",
        ),
    ),
)
