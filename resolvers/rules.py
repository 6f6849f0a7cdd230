"""The rules of who may see and do what, as objects: the name of the rule the code runs and
a sentence saying who passes it. A root field or mutation declares its rules with
`permissions.described(...)` / `guarded(rules=...)`, so its SDL says "Requires: ..." in the
words of the rule it runs, and names it.

Where `sql` is true the rule is the SQL function of that name (migrations 0010, 0012, 0021,
0023 and 0027), called by the field's statements with the viewer (`viewer_of`); the others are checks
made in the resolver's body, named after the function or condition that makes them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    who: str
    sql: bool = True

    def text(self) -> str:
        return f"{self.who} (rule `{self.name}`)"


# --- visibility: one SQL rule per node type -------------------------------------------------

PAIRING_ACCESS = Rule(
    "pairing_access",
    "sees a pairing: COUNTY_ADMIN, staff in scope of the household, the cadre, the building's head, "
    "the household's members, the UNIT_ADMIN of the cadre's unit or of a unit adopting the area",
)
HOUSEHOLD_ACCESS = Rule(
    "household_access",
    "reads residents: the household's members, COUNTY_ADMIN, staff in scope, the building's head, "
    "a cadre paired with the household",
)
PERSON_ACCESS = Rule(
    "person_access",
    "reads a phone: the person, whoever reads their household, the residents they serve (others see it masked)",
)
# the same two rules as one-row set-returning functions PostgreSQL inlines into the statement
# that reads them (migration 0025): household_access and person_access read these
HOUSEHOLD_REASON = Rule("household_reason", HOUSEHOLD_ACCESS.who)
PERSON_REASON = Rule("person_reason", PERSON_ACCESS.who)
# and as expressions given the reason of the place the row lies in (migrations 0032 and 0037:
# the building's office, the household's reason), which household_reason and person_reason look
# up and hand to these; the office itself is a rule of the building's row
HOUSEHOLD_REASON_OF = Rule("household_reason_of", HOUSEHOLD_ACCESS.who)
PERSON_REASON_OF = Rule("person_reason_of", PERSON_ACCESS.who)
BUILDING_OFFICE_OF = Rule(
    "building_office_of",
    "serves a building by office: COUNTY_ADMIN of its county, staff in scope, its current responsible person",
)
ORDER_PARTIES = Rule(
    "order_parties",
    "a party of the order: staff in scope, the ordering household, the assignee (person, unit or its "
    "UNIT_ADMIN), the building's head (reads only)",
)
REGISTRATION_ACCESS = Rule(
    "registration_access",
    "sees a registration: staff in scope of the community, the registrant, the UNIT_ADMIN of the unit",
)
MEETING_ACCESS = Rule(
    "meeting_access", "sees a meeting: staff in scope of its community, the UNIT_ADMIN of a participant"
)
RESOURCE_ACCESS = Rule(
    "resource_access",
    "sees a resource: anyone of the county with a role beyond RESIDENT (all), a resident (those open "
    "to their community)",
)
NEED_ACCESS = Rule("need_access", "sees needs: anyone of the county with a role beyond RESIDENT")
EXCHANGE_ACCESS = Rule("exchange_access", "sees exchanges: anyone of the county with a role beyond RESIDENT")
RENOVATION_ACCESS = Rule("renovation_access", "sees renovation projects: every user of the county")
ACTIVITY_ACCESS = Rule("activity_access", "sees activities: every user of the county")
ACTIVITY_MANAGER = Rule(
    "activity_manager", "manages an activity: staff in scope of its community, the UNIT_ADMIN of a host"
)
SIGNUP_ACCESS = Rule("signup_access", "sees a sign-up: the person signed up, whoever manages the activity")
FINDING_ACCESS = Rule(
    "finding_access", "sees a finding: staff in scope of its compound (all), every user of the county (published)"
)
API_TOKEN_ACCESS = Rule("api_token_access", "sees API tokens: COUNTY_ADMIN, the UNIT_ADMIN of the organisation")
AUDIT_READER = Rule("audit_reader", "reads the audit log at all: COUNTY_ADMIN")
AUDIT_ACCESS = Rule("audit_access", "reads an audit entry: the `audit_reader` of the entry's county")
NOTIFICATION_ACCESS = Rule("notification_access", "reads notifications: the user they are for (not an API token)")
USER_ACCESS = Rule(
    "user_access", "sees accounts: COUNTY_ADMIN, staff in scope of where the person lives, the user themself"
)

# --- visibility of the county's places and people (SQL rules of 0022_place_rules.sql) ---------

AREA_ACCESS = Rule("area_access", "sees areas (every level): every user of the county")
ORGANISATION_ACCESS = Rule("organisation_access", "sees organisations: every user of the county")
POST_ACCESS = Rule("post_access", "sees posts (任职), current or past: every user of the county")
ADOPTION_ACCESS = Rule("adoption_access", "sees adoptions (包抓), current or past: every user of the county")
HOUSEHOLD_VISIBLE = Rule(
    "household_visible", "sees a household as an object: every user of the county (its residents: `household_access`)"
)
PERSON_VISIBLE = Rule("person_visible", "sees a person's name: every user of the county (the phone: `person_access`)")

# --- finding people (0026_read_rules.sql) ------------------------------------------------------

PERSON_FINDABLE = Rule(
    "findable_people",
    "finds people (查找居民): COUNTY_ADMIN anyone of the county, staff those living in their scope, a building's "
    "head (its current responsible person) those living in it",
)

# --- who may act: one SQL rule per check of a mutation (0023_may_act.sql) -------------------

STAFF_OF_AREA = Rule("staff_of_area", "COUNTY_ADMIN, or COMMUNITY_STAFF with the area in scope")
ADMINISTERS_ORGANISATION = Rule("administers_organisation", "COUNTY_ADMIN, or UNIT_ADMIN of the organisation")
ADOPTION_PARTIES = Rule("adoption_parties", "COUNTY_ADMIN, staff in scope of the area, the unit's UNIT_ADMIN")
VOLUNTEER_HOURS_READER = Rule(
    "volunteer_hours_reader", "the person themself, COUNTY_ADMIN, staff whose scope holds the person's household"
)
ACTIVITY_CREATOR = Rule("activity_creator", "staff in scope of the community, or the UNIT_ADMIN of one of the hosts")
EXCHANGE_PARTY = Rule(
    "exchange_party", "the provider's UNIT_ADMIN, or staff in scope of the need (COUNTY_ADMIN included)"
)
PAIRED_CADRE = Rule("paired_cadre", "the cadre of the pairing")
UNIT_ADMIN_OF_UNIT = Rule(
    "registers_for", "the unit's UNIT_ADMIN (a unit's party organisation), or the party member themself"
)
REPORT_READER = Rule(
    "report_reader",
    "staff in scope of the area, the head of a building on its path, the UNIT_ADMIN of a unit adopting it "
    "or an area above it",
)
HOUSEHOLD_MEMBER = Rule(
    "orders_for_household", "a member of the household the order is for, staff in scope, or the building's head"
)

# --- checks made in resolvers ---------------------------------------------------------------

SIGNED_IN = Rule("signed_in", "a valid bearer token (a user or a partner unit's API token)", sql=False)
ANYONE = Rule("anyone", "nothing: anyone may call it", sql=False)
IN_COUNTY = Rule("in_county", "the objects are of the viewer's county", sql=False)
IS_PERSON = Rule("is_person", "a user signed in with a password (not an API token)", sql=False)
ORDER_WORKFLOW = Rule("TRANSITIONS", "the order's party that the workflow table lets take this step", sql=False)

# --- who manages accounts and attaches files (0027_accounts_and_attachments.sql) -------------

ACCOUNT_MANAGER = Rule("account_manager", "COUNTY_ADMIN or COMMUNITY_STAFF, signed in as themself")
MANAGES_ACCOUNTS = Rule(
    "manages_account",
    "another account of the county: COUNTY_ADMIN, or staff for a person living in their scope who holds "
    "nothing staff could not grant",
)
CREATES_ACCOUNT = Rule("creates_account_for", "COUNTY_ADMIN, or COMMUNITY_STAFF for a person living in their scope")
GRANTS_ROLE = Rule("may_grant", "COUNTY_ADMIN any role of the county, COMMUNITY_STAFF RESIDENT on areas in their scope")
ATTACHMENT_SUBJECT = Rule(
    "may_attach",
    "a party of the order (household, assignee, staff in scope, building's head); staff in scope for a "
    "finding; the cadre for a visit",
)

NODE_RULES = Rule("nodes.register", "each object is shown by its own type's rule above (null where hidden)", sql=False)

ALL: tuple[Rule, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Rule))
