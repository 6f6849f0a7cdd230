-- Issue 13: the pairing reports read counts kept with the rows instead of recounting the
-- county. `report_counts` holds, for every area, the figures of its whole subtree that grow
-- with the households: households, residents, households with an active pairing, the cadres
-- of active pairings (one row per cadre), and the dated figures of `compliance`. Triggers on
-- households, persons, pairings and visits add each statement's changes as deltas to the
-- area of the household and to every area above it (`path`), so a report reads the rows of
-- one area. Every row carries county_id.
--
-- Dated figures: a row (figure, day, n) says that n pairings enter (n > 0) or leave (n < 0)
-- the figure on that day.
--   `pairings`: active pairings; a pairing enters on `since` and leaves the day after `until`.
--     Active at asOf: the sum of the rows up to asOf.
--   HOME_VISIT, HEART_TO_HEART, GOOD_DEED: pairings that met the obligation in its period
--     (month, half-year, year: `obligation_start`) and are active. Within one period a
--     pairing enters on its first visit of the kind (or on `since`, if later) and leaves the
--     day after `until`; every row lies inside the period it belongs to. Met at asOf: the sum
--     of the rows from the start of asOf's period to asOf.
--   ALL: pairings that met all three, per month: a pairing enters on the day its month's
--     home visit, its half-year's heart-to-heart and its year's good deed have all happened
--     (and it is active). Met at asOf: the sum of the rows from the first of asOf's month.
-- Counts never depend on the wall clock nor on a time zone: visits and pairings carry dates
-- of the county's calendar already.
--
-- Concurrency: counters change only by `INSERT ... ON CONFLICT DO UPDATE SET n = n + delta`,
-- each statement's rows in key order (no deadlock between two such statements). A trigger that
-- reads rows besides its transition tables first locks what they hang on, so that two
-- statements never count from the same stale state: visits lock their pairings (NO KEY
-- UPDATE) and households (SHARE), pairings their households (NO KEY UPDATE), persons their
-- households (SHARE); a household that moves is locked by its UPDATE. Always a pairing before
-- its household, as a mutation that locks a pairing and then changes it does, so two such
-- statements never wait for each other in a circle. Rows the transaction itself wrote are
-- left unlocked (nobody else sees them), which keeps bulk imports cheap. The app runs READ
-- COMMITTED: each statement of a trigger function sees what committed before it.

CREATE TABLE report_counts (
    county_id bigint NOT NULL,
    area_id   bigint NOT NULL,
    figure    text NOT NULL CHECK (figure IN ('households', 'residents', 'paired_households', 'cadre',
                                              'pairings', 'HOME_VISIT', 'HEART_TO_HEART', 'GOOD_DEED', 'ALL')),
    -- the cadre of a `cadre` row; 0 otherwise
    member    bigint NOT NULL DEFAULT 0,
    -- the day of a dated figure; -infinity for the others
    day       date NOT NULL DEFAULT '-infinity',
    n         bigint NOT NULL,
    -- (no CHECK that counts stay >= 0: PostgreSQL checks the row an upsert proposes, a delta,
    -- before it finds the row to add it to)
    PRIMARY KEY (area_id, figure, member, day)
);

-- A change of a figure for the household area at the end of `path` (and every area above it).
CREATE TYPE report_delta AS (path bigint[], figure text, member bigint, day date, n bigint);
-- A pairing as counted (+1) or as no longer counted (-1), in the area `path`.
CREATE TYPE report_pairing AS (sign integer, id bigint, path bigint[], since date, until date);
-- A visit of such a pairing state.
CREATE TYPE report_visit AS (sign integer, pairing_id bigint, kind text, occurred_on date);
-- A household as counted (+1) or no longer counted (-1) in the area `path`.
CREATE TYPE report_household AS (sign integer, id bigint, path bigint[]);

-- The first and the last day of the period of an obligation containing `day` (the calendar
-- of resolvers/pairings.py): the calendar month (HOME_VISIT), half-year Jan-Jun / Jul-Dec
-- (HEART_TO_HEART), year (GOOD_DEED). Plain date arithmetic, no time zone.
CREATE FUNCTION obligation_start(kind text, day date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT make_date(extract(year FROM day)::integer,
                 CASE kind WHEN 'HOME_VISIT' THEN extract(month FROM day)::integer
                           WHEN 'HEART_TO_HEART' THEN CASE WHEN extract(month FROM day) <= 6 THEN 1 ELSE 7 END
                           ELSE 1 END,
                 1)
$$;

CREATE FUNCTION obligation_last(kind text, day date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT (obligation_start(kind, day) + CASE kind WHEN 'HOME_VISIT' THEN interval '1 month'
                                                WHEN 'HEART_TO_HEART' THEN interval '6 months'
                                                ELSE interval '1 year' END)::date - 1
$$;

-- Add the deltas to the counters of their areas and of every area above them, in key order
-- (what cancels out within the area first: a state counted as it was and as it is).
CREATE FUNCTION report_counts_add(deltas report_delta[]) RETURNS void
LANGUAGE sql
AS $$
WITH net AS (
    SELECT d.path, d.figure, d.member, d.day, sum(d.n) AS n FROM unnest(deltas) d
    GROUP BY d.path, d.figure, d.member, d.day
    HAVING sum(d.n) <> 0
)
INSERT INTO report_counts AS c (county_id, area_id, figure, member, day, n)
SELECT d.path[1], a.id, d.figure, d.member, d.day, sum(d.n)::bigint
FROM net d CROSS JOIN LATERAL unnest(d.path) AS a(id)
GROUP BY d.path[1], a.id, d.figure, d.member, d.day
HAVING sum(d.n) <> 0
ORDER BY a.id, d.figure, d.member, d.day
ON CONFLICT (area_id, figure, member, day) DO UPDATE SET n = c.n + EXCLUDED.n
$$;

-- The dated figures of pairing states with their visits (each visit counts with the state
-- of the same sign and pairing). Its joins are between arrays, whose sizes the planner does
-- not know: hash joins, never a nested loop over a whole county's visits.
CREATE FUNCTION pairing_days(ps report_pairing[], vs report_visit[]) RETURNS SETOF report_delta
LANGUAGE sql STABLE
SET enable_nestloop = off
AS $$
WITH firsts AS (
    SELECT v.sign, v.pairing_id, v.kind, obligation_start(v.kind, v.occurred_on) AS period,
           min(v.occurred_on) AS first
    FROM unnest(vs) v
    GROUP BY 1, 2, 3, 4
), spans AS (
    -- active from `since` on
    SELECT p.sign, p.path, 'pairings' AS figure, p.since AS start, 'infinity'::date AS last, p.until
    FROM unnest(ps) p
    UNION ALL
    -- each obligation met, within its period
    SELECT p.sign, p.path, f.kind, greatest(p.since, f.first), obligation_last(f.kind, f.period), p.until
    FROM unnest(ps) p JOIN firsts f ON f.sign = p.sign AND f.pairing_id = p.id
    UNION ALL
    -- all three met, within a month
    SELECT p.sign, p.path, 'ALL', greatest(p.since, m.first, h.first, y.first), obligation_last(m.kind, m.period),
           p.until
    FROM unnest(ps) p
    JOIN firsts m ON m.sign = p.sign AND m.pairing_id = p.id AND m.kind = 'HOME_VISIT'
    JOIN firsts h ON h.sign = p.sign AND h.pairing_id = p.id AND h.kind = 'HEART_TO_HEART'
                 AND h.period = obligation_start('HEART_TO_HEART', m.period)
    JOIN firsts y ON y.sign = p.sign AND y.pairing_id = p.id AND y.kind = 'GOOD_DEED'
                 AND y.period = obligation_start('GOOD_DEED', m.period)
)
SELECT path, figure, 0::bigint, start, sign::bigint FROM spans WHERE start <= least(last, until)
UNION ALL
SELECT path, figure, 0::bigint, until + 1, -sign::bigint FROM spans WHERE until < last AND start <= until
$$;

-- Every figure of households as they stand (their residents, active pairings and visits),
-- counted in the area `path` with `sign`.
CREATE FUNCTION household_figures(hs report_household[]) RETURNS SETOF report_delta
LANGUAGE sql STABLE
AS $$
SELECT h.path, 'households', 0::bigint, '-infinity'::date, h.sign::bigint FROM unnest(hs) h
UNION ALL
SELECT h.path, 'residents', 0, '-infinity', h.sign * count(*)
FROM unnest(hs) h JOIN persons pe ON pe.household_id = h.id
GROUP BY h.sign, h.id, h.path
UNION ALL
SELECT h.path, 'paired_households', 0, '-infinity', h.sign
FROM unnest(hs) h WHERE EXISTS (SELECT 1 FROM pairings p WHERE p.household_id = h.id AND p.until IS NULL)
UNION ALL
SELECT h.path, 'cadre', p.cadre_id, '-infinity', h.sign * count(*)
FROM unnest(hs) h JOIN pairings p ON p.household_id = h.id AND p.until IS NULL
GROUP BY h.sign, h.id, h.path, p.cadre_id
UNION ALL
SELECT * FROM pairing_days(
    ARRAY(SELECT (h.sign, p.id, h.path, p.since, p.until)::report_pairing
          FROM unnest(hs) h JOIN pairings p ON p.household_id = h.id),
    ARRAY(SELECT (h.sign, v.pairing_id, v.kind, v.occurred_on)::report_visit
          FROM unnest(hs) h JOIN pairings p ON p.household_id = h.id JOIN visits v ON v.pairing_id = p.id))
$$;

-- Whether a row was written by this transaction (nobody else can see it, so it needs no lock).
CREATE FUNCTION written_here(row_xmin xid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT row_xmin = pg_current_xact_id()::xid $$;

-- Households: a new one counts, a deleted one no longer does (its residents and pairings are
-- gone first, by their foreign keys); one that moves takes all its figures along.
CREATE FUNCTION households_report_counts() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    olds households[] := '{}';
    news households[] := '{}';
    moved bigint[];
BEGIN
    IF TG_OP <> 'INSERT' THEN olds := ARRAY(SELECT o FROM old_rows o); END IF;
    IF TG_OP <> 'DELETE' THEN news := ARRAY(SELECT n FROM new_rows n); END IF;
    IF TG_OP = 'UPDATE' THEN
        moved := ARRAY(SELECT o.id FROM unnest(olds) o JOIN unnest(news) n ON n.id = o.id
                       WHERE n.area_id IS DISTINCT FROM o.area_id);
        IF cardinality(moved) = 0 THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM report_counts_add(ARRAY(
        SELECT f FROM household_figures(ARRAY(
            SELECT (s.sign, s.id, a.path)::report_household
            FROM (SELECT -1 AS sign, o.id, o.area_id FROM unnest(olds) o
                  UNION ALL
                  SELECT 1, n.id, n.area_id FROM unnest(news) n) s
            JOIN areas a ON a.id = s.area_id
            WHERE TG_OP <> 'UPDATE' OR s.id IN (SELECT unnest(moved)))) f));
    RETURN NULL;
END
$$;

-- Residents: a person counts in the area of their household.
CREATE FUNCTION persons_report_counts() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    olds persons[] := '{}';
    news persons[] := '{}';
    leaving bigint[];
    joining bigint[];
BEGIN
    IF TG_OP <> 'INSERT' THEN olds := ARRAY(SELECT o FROM old_rows o); END IF;
    IF TG_OP <> 'DELETE' THEN news := ARRAY(SELECT n FROM new_rows n); END IF;
    -- one household id per person leaving it, and per person joining it
    leaving := ARRAY(SELECT o.household_id FROM unnest(olds) o LEFT JOIN unnest(news) n ON n.id = o.id
                     WHERE o.household_id IS NOT NULL AND n.household_id IS DISTINCT FROM o.household_id);
    joining := ARRAY(SELECT n.household_id FROM unnest(news) n LEFT JOIN unnest(olds) o ON o.id = n.id
                     WHERE n.household_id IS NOT NULL AND o.household_id IS DISTINCT FROM n.household_id);
    IF cardinality(leaving) + cardinality(joining) = 0 THEN
        RETURN NULL;
    END IF;
    -- a household moving meanwhile waits, or is waited for
    PERFORM 1 FROM households h
    WHERE h.id IN (SELECT unnest(leaving || joining)) AND NOT written_here(h.xmin)
    ORDER BY h.id FOR SHARE;
    PERFORM report_counts_add(ARRAY(
        SELECT (a.path, 'residents', 0, '-infinity', sum(s.sign))::report_delta
        FROM (SELECT -1 AS sign, unnest(leaving) AS household_id UNION ALL SELECT 1, unnest(joining)) s
        JOIN households h ON h.id = s.household_id JOIN areas a ON a.id = h.area_id
        GROUP BY a.path));
    RETURN NULL;
END
$$;

-- Pairings: the cadre's row, whether the household has an active pairing, and the dated
-- figures, for the pairing as it was (-1) and as it is (+1).
CREATE FUNCTION pairings_report_counts() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    olds pairings[] := '{}';
    news pairings[] := '{}';
    gone pairings[];
    come pairings[];
BEGIN
    IF TG_OP <> 'INSERT' THEN olds := ARRAY(SELECT o FROM old_rows o); END IF;
    IF TG_OP <> 'DELETE' THEN news := ARRAY(SELECT n FROM new_rows n); END IF;
    gone := ARRAY(SELECT o FROM unnest(olds) o LEFT JOIN unnest(news) n ON n.id = o.id
                  WHERE (n.household_id, n.cadre_id, n.since, n.until)
                        IS DISTINCT FROM (o.household_id, o.cadre_id, o.since, o.until));
    come := ARRAY(SELECT n FROM unnest(news) n LEFT JOIN unnest(olds) o ON o.id = n.id
                  WHERE (n.household_id, n.cadre_id, n.since, n.until)
                        IS DISTINCT FROM (o.household_id, o.cadre_id, o.since, o.until));
    IF cardinality(gone) + cardinality(come) = 0 THEN
        RETURN NULL;
    END IF;
    -- one statement at a time per household: whether it has an active pairing is counted
    -- from what the others committed
    PERFORM 1 FROM households h
    WHERE h.id IN (SELECT household_id FROM unnest(gone) UNION SELECT household_id FROM unnest(come))
      AND NOT written_here(h.xmin)
    ORDER BY h.id FOR NO KEY UPDATE;
    PERFORM report_counts_add(ARRAY(
        WITH states AS (
            SELECT -1 AS sign, g.* FROM unnest(gone) g
            UNION ALL
            SELECT 1, c.* FROM unnest(come) c
        ), placed AS (
            SELECT s.sign, s.id, s.household_id, s.cadre_id, s.since, s.until, a.path
            FROM states s JOIN households h ON h.id = s.household_id JOIN areas a ON a.id = h.area_id
        ), households_now AS (
            SELECT p.household_id, min(p.path) AS path,
                   sum(p.sign) FILTER (WHERE p.until IS NULL) AS change,
                   (SELECT count(*) FROM pairings x WHERE x.household_id = p.household_id AND x.until IS NULL) AS active
            FROM placed p GROUP BY p.household_id
        )
        SELECT (p.path, 'cadre', p.cadre_id, '-infinity', p.sign)::report_delta FROM placed p WHERE p.until IS NULL
        UNION ALL
        SELECT (h.path, 'paired_households', 0, '-infinity',
                (h.active > 0)::integer - (h.active - coalesce(h.change, 0) > 0)::integer)::report_delta
        FROM households_now h
        UNION ALL
        SELECT d FROM pairing_days(
            ARRAY(SELECT (p.sign, p.id, p.path, p.since, p.until)::report_pairing FROM placed p),
            ARRAY(SELECT (p.sign, v.pairing_id, v.kind, v.occurred_on)::report_visit
                  FROM placed p JOIN visits v ON v.pairing_id = p.id)) d));
    RETURN NULL;
END
$$;

-- Visits: the dated figures of their pairings, with the visits as they were (-1) and as
-- they are (+1).
CREATE FUNCTION visits_report_counts() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    olds visits[] := '{}';
    news visits[] := '{}';
    gone visits[];
    come visits[];
    touched bigint[];
BEGIN
    IF TG_OP <> 'INSERT' THEN olds := ARRAY(SELECT o FROM old_rows o); END IF;
    IF TG_OP <> 'DELETE' THEN news := ARRAY(SELECT n FROM new_rows n); END IF;
    gone := ARRAY(SELECT o FROM unnest(olds) o LEFT JOIN unnest(news) n ON n.id = o.id
                  WHERE (n.pairing_id, n.kind, n.occurred_on) IS DISTINCT FROM (o.pairing_id, o.kind, o.occurred_on));
    come := ARRAY(SELECT n FROM unnest(news) n LEFT JOIN unnest(olds) o ON o.id = n.id
                  WHERE (n.pairing_id, n.kind, n.occurred_on) IS DISTINCT FROM (o.pairing_id, o.kind, o.occurred_on));
    touched := ARRAY(SELECT pairing_id FROM unnest(gone) UNION SELECT pairing_id FROM unnest(come));
    IF cardinality(touched) = 0 THEN
        RETURN NULL;
    END IF;
    -- one statement at a time per pairing: its first visits are found among what the others committed
    PERFORM 1 FROM pairings p
    WHERE p.id IN (SELECT unnest(touched)) AND NOT written_here(p.xmin) ORDER BY p.id FOR NO KEY UPDATE;
    -- and its household does not move meanwhile
    PERFORM 1 FROM households h
    WHERE h.id IN (SELECT p.household_id FROM pairings p WHERE p.id IN (SELECT unnest(touched)))
      AND NOT written_here(h.xmin)
    ORDER BY h.id FOR SHARE;
    PERFORM report_counts_add(ARRAY(
        SELECT d FROM pairing_days(
            ARRAY(SELECT (s.sign, p.id, a.path, p.since, p.until)::report_pairing
                  FROM pairings p JOIN households h ON h.id = p.household_id JOIN areas a ON a.id = h.area_id
                  CROSS JOIN (VALUES (-1), (1)) s(sign)
                  WHERE p.id IN (SELECT unnest(touched))),
            ARRAY(SELECT (1, v.pairing_id, v.kind, v.occurred_on)::report_visit
                  FROM visits v WHERE v.pairing_id IN (SELECT unnest(touched))
                  UNION ALL
                  SELECT (-1, v.pairing_id, v.kind, v.occurred_on)::report_visit
                  FROM visits v
                  WHERE v.pairing_id IN (SELECT unnest(touched)) AND v.id NOT IN (SELECT c.id FROM unnest(come) c)
                  UNION ALL
                  SELECT (-1, g.pairing_id, g.kind, g.occurred_on)::report_visit FROM unnest(gone) g)) d));
    RETURN NULL;
END
$$;

-- One trigger per event (PostgreSQL allows transition tables on one event only), each once
-- per statement: TABLE_report_counts_insert, _update and _delete.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['households', 'persons', 'pairings', 'visits'] LOOP
        EXECUTE format('CREATE TRIGGER %1$s_report_counts_insert AFTER INSERT ON %1$s '
                       'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %1$s_report_counts()', t);
        EXECUTE format('CREATE TRIGGER %1$s_report_counts_update AFTER UPDATE ON %1$s '
                       'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %1$s_report_counts()', t);
        EXECUTE format('CREATE TRIGGER %1$s_report_counts_delete AFTER DELETE ON %1$s '
                       'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION %1$s_report_counts()', t);
    END LOOP;
END
$$;

-- All counts again from the rows: the backfill, and after a TRUNCATE (which no statement
-- trigger can count row by row).
CREATE FUNCTION report_counts_recount() RETURNS void
LANGUAGE sql
AS $$
DELETE FROM report_counts;
SELECT report_counts_add(ARRAY(
    SELECT f FROM household_figures(ARRAY(
        SELECT (1, h.id, a.path)::report_household FROM households h JOIN areas a ON a.id = h.area_id)) f));
$$;

CREATE FUNCTION report_counts_truncated() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM report_counts_recount();
    RETURN NULL;
END
$$;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['households', 'persons', 'pairings', 'visits'] LOOP
        EXECUTE format('CREATE TRIGGER %1$s_report_counts_truncate AFTER TRUNCATE ON %1$s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION report_counts_truncated()', t);
    END LOOP;
END
$$;

-- The counts of the rows already there.
SELECT report_counts_recount();

-- What a report reads: the sum of an area's rows of a figure from `first` to `last` (its
-- current count for an undated figure: -infinity to -infinity).
CREATE FUNCTION kept_count(area bigint, figure text, first date, last date) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(sum(c.n), 0)::bigint FROM report_counts c
WHERE c.area_id = kept_count.area AND c.figure = kept_count.figure AND c.member = 0
  AND c.day BETWEEN kept_count.first AND kept_count.last
$$;
