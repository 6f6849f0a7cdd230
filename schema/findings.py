"""Joint inspections (联合巡查), rectification (整改) and public notice (通报曝光)."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db.areas import AreaRow
from db.attachments import AttachmentRow
from db.findings import FindingRow
from resolvers import findings as r
from resolvers import ids, rules
from resolvers.compiled import declarations as compiled
from resolvers.compiled import planner as compiled_planner
from resolvers.context import ResolverInfo
from resolvers.pagination import Page
from resolvers.permissions import SignedIn, described
from schema.areas import Compound
from schema.attachments import Attachment, attachments_field, of_subject
from schema.base import FILTER, INPUT, After, Connection, First, Node, UserError, UserErrorRows, is_row


@strawberry.enum(description="What an inspection found")
class FindingCategory(enum.Enum):
    DISORDERLY_PARKING = strawberry.enum_value("DISORDERLY_PARKING", description="Disorderly parking (乱停乱放)")
    PILING = strawberry.enum_value("PILING", description="Piling of goods or debris (乱堆乱放)")
    OVERHEAD_CABLES = strawberry.enum_value("OVERHEAD_CABLES", description="Tangled overhead cables (飞线)")
    RUBBISH = strawberry.enum_value("RUBBISH", description="Rubbish (垃圾)")
    SEWAGE = strawberry.enum_value("SEWAGE", description="Sewage (污水)")
    ILLEGAL_STRUCTURE = strawberry.enum_value("ILLEGAL_STRUCTURE", description="Illegal structure (违章建筑)")
    BILLBOARD = strawberry.enum_value("BILLBOARD", description="Large outdoor billboard (户外大型广告牌)")
    OTHER = strawberry.enum_value("OTHER", description="Anything else")


@strawberry.enum(description="Where a finding stands, derived from its deadline (county time) and rectification")
class FindingStatus(enum.Enum):
    OPEN = strawberry.enum_value("OPEN", description="Awaiting rectification, deadline not passed")
    OVERDUE = strawberry.enum_value("OVERDUE", description="Deadline passed unrectified: published")
    RECTIFIED = strawberry.enum_value("RECTIFIED", description="Rectified (已整改)")


async def _compound(root: FindingRow, info: ResolverInfo) -> AreaRow | None:
    from resolvers.areas import area_by_id

    return await info.context.loader(area_by_id).load(root.compound_id)


@strawberry.type(description="A problem found by a joint inspection (联合巡查), with a rectification deadline")
class Finding(Node):
    is_type_of = is_row(FindingRow)
    category: FindingCategory = strawberry.field(description="What kind of problem")
    description: str = strawberry.field(description="What was found, where")
    deadline: datetime.date = strawberry.field(description="Rectify by this day (county time)")
    status: FindingStatus = strawberry.field(description="OPEN, OVERDUE or RECTIFIED, derived at read time")
    published: bool = strawberry.field(
        description="On the public notice list (通报曝光): its deadline passed before it was rectified"
    )
    reported_at: datetime.datetime = strawberry.field(description="When it was reported")
    rectified_at: datetime.datetime | None = strawberry.field(description="When it was rectified")
    rectification_note: str | None = strawberry.field(description="How it was rectified")
    compound: AreaRow | None = strawberry.field(
        resolver=_compound, graphql_type=Compound, description="The compound inspected"
    )
    attachments: list[AttachmentRow] = strawberry.field(
        resolver=attachments_field,
        graphql_type=list[Attachment],
        description="Photos and documents (照片和文件), oldest first",
    )


@strawberry.input(description="Which findings to list")
class FindingFilter:
    area_id: strawberry.ID | None = strawberry.field(default=None, description="Only compounds under this area")
    status: FindingStatus | None = strawberry.field(default=None, description="Only findings in this state")


async def _findings(
    info: Info[Any, Any],
    filter: Annotated[FindingFilter | None, FILTER] = None,
    first: First = None,
    after: After = None,
) -> Page[FindingRow]:
    f = filter or FindingFilter()
    return await r.findings(
        info.context, area_id=f.area_id, status=f.status.name if f.status else None, first=first, after=after
    )


async def _public_notices(
    info: Info[Any, Any],
    area_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="Only findings under this area; absent: the county")
    ] = None,
    first: First = None,
    after: After = None,
) -> Page[FindingRow]:
    return await r.public_notices(info.context, area_id=area_id, first=first, after=after)


@strawberry.type
class FindingQuery:
    findings: Page[FindingRow] = strawberry.field(
        resolver=_findings,
        graphql_type=Connection[Finding],
        permission_classes=[SignedIn],
        description=described(
            "Findings in the viewer's scope (community staff, county admin; others: empty), newest first",
            rules.FINDING_ACCESS,
        ),
    )
    public_notices: Page[FindingRow] = strawberry.field(
        resolver=_public_notices,
        graphql_type=Connection[Finding],
        permission_classes=[SignedIn],
        description=described(
            "The public notice list (通报曝光): published findings, readable by every signed-in user",
            rules.FINDING_ACCESS,
        ),
    )


@strawberry.input(description="Report a finding of a joint inspection")
class ReportFindingInput:
    compound_id: strawberry.ID = strawberry.field(description="The compound inspected")
    category: FindingCategory = strawberry.field(description="What kind of problem")
    description: str = strawberry.field(description="What was found, where (not blank)")
    deadline: datetime.date = strawberry.field(description="Not in the past (county time)")


@strawberry.input(description="Mark a finding rectified")
class RectifyFindingInput:
    finding_id: strawberry.ID = strawberry.field(description="The finding rectified")
    note: str = strawberry.field(description="How it was rectified")


@strawberry.type(description="A finding, or why not")
class FindingPayload:
    finding: FindingRow | None = strawberry.field(
        graphql_type=Finding | None, description="The finding; null when refused"
    )
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError], description="Why it was refused; empty on success"
    )


async def _report(info: Info[Any, Any], input: Annotated[ReportFindingInput, INPUT]) -> FindingPayload:
    outcome = await r.report_finding(
        info.context,
        compound_id=input.compound_id,
        category=input.category.name,
        description=input.description,
        deadline=input.deadline,
    )
    return FindingPayload(finding=outcome.value, user_errors=outcome.user_errors)


async def _rectify(info: Info[Any, Any], input: Annotated[RectifyFindingInput, INPUT]) -> FindingPayload:
    outcome = await r.rectify_finding(info.context, finding_id=input.finding_id, note=input.note)
    return FindingPayload(finding=outcome.value, user_errors=outcome.user_errors)


@strawberry.type
class FindingMutation:
    report_finding: FindingPayload = strawberry.mutation(
        resolver=_report,
        permission_classes=[SignedIn],
        description=described(
            "Report a finding (staff in scope of the compound); the deadline may not be in the past",
            rules.STAFF_OF_AREA,
        ),
    )
    rectify_finding: FindingPayload = strawberry.mutation(
        resolver=_rectify,
        permission_classes=[SignedIn],
        description=described("Rectify an OPEN or OVERDUE finding, with a note (staff in scope)", rules.FINDING_ACCESS),
    )


ALL_TYPES = [Finding]


# --- the compiled read path: the type's SQL, declared once (resolvers/compiled) -------------

# db/findings.py ROWS: the status derived from the county's calendar
_STATUS = (
    "(CASE WHEN {row}.rectified_at IS NOT NULL THEN 'RECTIFIED' WHEN {row}.deadline < county_today() THEN 'OVERDUE' "
    "ELSE 'OPEN' END)"
)
# why the viewer sees a finding (`finding_access`, 0026): STAFF, PUBLISHED or NULL
_REASON = "(SELECT finding_access({row}, w) FROM {viewer_from} w)"

compiled.declare(
    "Finding",
    compiled.Source(
        "findings",
        _REASON + " IS NOT NULL",
        {
            "id": compiled.GlobalId(),
            "category": compiled.Column("{row}.category"),
            "description": compiled.Column("{row}.description"),
            "deadline": compiled.Column(compiled.date("{row}.deadline")),
            "status": compiled.Column(_STATUS),
            "published": compiled.Column("finding_published({row})"),
            "reportedAt": compiled.Column(compiled.date_time("{row}.reported_at")),
            "rectifiedAt": compiled.Column(compiled.date_time("{row}.rectified_at")),
            "rectificationNote": compiled.Column("{row}.rectification_note"),
            "compound": compiled.Relation("Compound", "one", "{row}.id = {parent}.compound_id"),
            "attachments": of_subject("Finding"),  # whoever sees the finding sees its photos
        },
    ),
)

# db/findings.py LIST_WHERE: the reasons listed; `areaId` as resolvers/life.py `area_filter`
# reads it (an area of the viewer's county, else nothing) narrows to the compounds under it
_FINDINGS_WHERE = (
    _REASON  # noqa: S608 - constant text
    + " = ANY({arg_reasons}) AND ({arg_area} IS NULL OR EXISTS (SELECT 1 FROM areas c, areas a "
    "WHERE c.id = {row}.compound_id AND a.id = {arg_area} AND a.county_id = {county} AND a.id = ANY(c.path))) "
    "AND ({arg_status} IS NULL OR " + _STATUS + " = {arg_status}) "
    "AND (NOT {arg_published} OR finding_published({row}))"
)


def _finding_arguments(reasons: list[str], published: bool) -> Callable[[Any], dict[str, Any]]:
    """The filter (`findings`) or the arguments (`publicNotices`) as the resolvers read them."""

    def read(given: Any) -> dict[str, Any]:
        f = compiled_planner.filter_of(given)
        status = f.get("status")
        return {
            "reasons": reasons,
            "area": ids.filter_key(f.get("areaId"), *ids.AREA_TYPES.values()),
            "status": status.name if isinstance(status, FindingStatus) else None,
            "published": published,
        }

    return read


for _field, _reasons, _published in (("findings", ["STAFF"], False), ("publicNotices", ["STAFF", "PUBLISHED"], True)):
    compiled.declare_root(
        _field,
        compiled.RootConnection(
            "Finding",
            "findings",
            _FINDINGS_WHERE,
            (("reasons", "text[]"), ("area", "bigint"), ("status", "text"), ("published", "boolean")),
            _finding_arguments(_reasons, _published),
            descending=True,
        ),
    )
