-- Issue 12, continued: the visibility rules of the places and people of the county (areas of
-- every level, organisations, households, persons, posts, adoptions), written once as
-- functions of the viewer (`viewer_of`, 0010_authorization) like those of 0021. Lists,
-- nested connections and node()/nodes() call them; no Python copy of a rule exists.
--
-- These are the county's register: every signed-in user of the county (and a partner unit's
-- API token) sees its areas, organisations, posts and adoptions, and the households and
-- persons as objects. Personal data stays masked by reason: `household_access` and
-- `person_access` (0010) say why a viewer may read residents and phones.

-- Whether a viewer may see an area (county, town, community, district, compound, building,
-- stairwell unit): every user of its county.
CREATE FUNCTION area_access(a areas, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT a.county_id = v.county_id $$;

-- Whether a viewer may see an organisation: every user of its county.
CREATE FUNCTION organisation_access(o organisations, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT o.county_id = v.county_id $$;

-- Whether a viewer may see a post (任职), current or past: every user of its county.
CREATE FUNCTION post_access(p posts, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT p.county_id = v.county_id $$;

-- Whether a viewer may see an adoption (包抓), current or past: every user of its county.
CREATE FUNCTION adoption_access(d adoptions, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT d.county_id = v.county_id $$;

-- Whether a viewer may see a household as an object (its label, address, building): every
-- user of its county. Its residents are `household_access`'s.
CREATE FUNCTION household_visible(h households, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT h.county_id = v.county_id $$;

-- Whether a viewer may see a person as an object (name, party membership): every user of
-- their county. Their phone is `person_access`'s, where they live `household_access`'s.
CREATE FUNCTION person_visible(p persons, v viewer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT p.county_id = v.county_id $$;

-- The county's date: today in the county's time zone, the session's `gongjian.time_zone`
-- (the app sets it on each connection from its settings; Asia/Shanghai when unset), never
-- the server's own date.
CREATE FUNCTION county_today() RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT (now() AT TIME ZONE coalesce(nullif(current_setting('gongjian.time_zone', true), ''), 'Asia/Shanghai'))::date
$$;

-- Whether a post whose last day is `until` is active on `day`.
CREATE FUNCTION post_active_on(until date, day date) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT until IS NULL OR until >= day $$;

-- An active post: its last day has not passed in the county (the one definition; 0010 used
-- the server's date).
CREATE OR REPLACE FUNCTION post_active(until date) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT post_active_on(until, county_today()) $$;
