-- Apollo's automatic persisted queries: documents registered by clients (hash + text), so
-- that later the hash alone works on every instance. Bounded by the application
-- (GONGJIAN_PERSISTED_QUERIES_MAX, oldest registrations dropped first).

CREATE TABLE persisted_queries (
    sha256        text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    body          text NOT NULL CHECK (body <> ''),
    registered_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX persisted_queries_age ON persisted_queries (registered_at DESC, sha256 DESC);
