-- Rate limits shared by every instance: one row per key (an account or an address, and what
-- it does), counting hits in a fixed window. UNLOGGED: the counters are worth less than the
-- WAL they would cost, and a crash forgiving everyone's last minute is harmless.
CREATE UNLOGGED TABLE rate_limits (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL CHECK (hits > 0)
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);

-- failed sign-ins of every username are purged by age (unknown names included)
CREATE INDEX login_failures_at ON login_failures (at);
