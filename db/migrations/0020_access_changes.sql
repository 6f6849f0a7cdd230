-- Open WebSockets end when the access they were opened with ends, on every server instance:
-- a change that can end a user's tokens or grants announces it on the channel
-- `access_changed` ({"user": id}, or {"token": id} for a revoked API token), delivered on
-- commit to each instance's listening connection, which checks that user's open sockets
-- again (resolvers/socket_watch.py). Triggers, so that every path (the API, `gongjian
-- user`, plain SQL) announces it.
CREATE FUNCTION announce_access_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_TABLE_NAME = 'api_tokens' THEN
        PERFORM pg_notify('access_changed', json_build_object('token', OLD.id)::text);
    ELSIF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('access_changed', json_build_object('user', OLD.id)::text);
    ELSE  -- role_grants: a grant removed, or changed (the old one is gone)
        PERFORM pg_notify('access_changed', json_build_object('user', OLD.user_id)::text);
    END IF;
    RETURN NULL;
END
$$;

-- a password change or disabling moves token_generation on (enabling does too)
CREATE TRIGGER users_access_change AFTER UPDATE OF token_generation, disabled ON users
FOR EACH ROW WHEN (OLD.token_generation IS DISTINCT FROM NEW.token_generation OR OLD.disabled IS DISTINCT FROM NEW.disabled)
EXECUTE FUNCTION announce_access_change();

CREATE TRIGGER role_grants_access_change AFTER DELETE OR UPDATE ON role_grants
FOR EACH ROW EXECUTE FUNCTION announce_access_change();

CREATE TRIGGER api_tokens_access_change AFTER UPDATE OF revoked_at ON api_tokens
FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
EXECUTE FUNCTION announce_access_change();
