-- Issue 13: `viewer_of` (0031), the viewer as the ordinary path's statements read it, was a
-- scalar SQL function whose body has a FROM: PostgreSQL never inlines it, and plans its body
-- again at every call site of every execution (about 0.6 ms of backend CPU each; the order
-- list's statements call it five times). In PL/pgSQL its one query is planned once per
-- session and kept (a generic plan: its parameters are a user and a token, for which one
-- plan serves), so a call costs its execution only. Same answers: the one row of the
-- inlinable `viewer_rows`, or a viewer of NULLs for a user that does not exist.
CREATE OR REPLACE FUNCTION viewer_of(v_user bigint, v_token bigint) RETURNS viewer
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    found viewer;
BEGIN
    SELECT * INTO found FROM viewer_rows(v_user, v_token);
    RETURN found;
END
$$;
