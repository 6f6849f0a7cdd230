-- A user's bearer tokens carry the generation they were signed in; changing the password or
-- disabling the account moves it on, which ends every token (and socket) signed before.
ALTER TABLE users ADD COLUMN token_generation integer NOT NULL DEFAULT 0;
