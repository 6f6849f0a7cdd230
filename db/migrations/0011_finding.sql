-- Finding people, households and duties: a household's full address (one line, unambiguous
-- in the county), and accounts that admin tooling manages (first-login password change,
-- last sign-in).

-- community, compound, building and stairwell unit of the dwelling, then its label:
-- 城关社区 幸福苑 3号楼 2单元 202
CREATE FUNCTION household_address(home bigint, label text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(x.name, ' ' ORDER BY array_position(h.path, x.id)) || ' ', '') || label
    FROM areas h
    JOIN areas x ON x.id = ANY(h.path) AND x.level IN ('COMMUNITY', 'COMPOUND', 'BUILDING', 'UNIT')
    WHERE h.id = home
$$;

ALTER TABLE users
    ADD COLUMN must_change_password boolean NOT NULL DEFAULT false,
    ADD COLUMN last_login_at timestamptz;

-- recordVisit's idempotency key: a double tap by the same user records once
ALTER TABLE visits ADD COLUMN idempotency_key text CHECK (idempotency_key IS NULL OR btrim(idempotency_key) <> '');
CREATE UNIQUE INDEX visits_idempotency ON visits (recorded_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
