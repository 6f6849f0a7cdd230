"""Configuration from the environment, checked once at start with one line per bad value."""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from db.pool import Timeouts

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def reads_pool_share(workers: int = 1, cores: int | None = None) -> int:
    """A worker's share of the compiled reads' connections: 2 x cores + 1 in all (the usual
    size of a pool whose statements keep the database's CPUs busy, HikariCP's "About Pool
    Sizing"), the cores being this machine's (where the embedded PostgreSQL runs, or a
    database server like it). A compiled read holds its connection only while PostgreSQL
    works on it: more connections than that only queue in the kernel's scheduler instead
    of the pool's (first come, first served), which on two cores cost BuildingHouseholds
    about 10% of its throughput and doubled its p99 (10 connections: 1,700 rps, p99
    15-38 ms; 5: 1,850 rps, p99 10-14 ms)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(2, -(-(2 * cores + 1) // max(1, workers)))


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    secret: str | None = None
    previous_secrets: tuple[str, ...] = ()
    data_dir: Path = field(default_factory=lambda: Path(".gongjian"))
    timezone: str = "Asia/Shanghai"
    allowed_origins: tuple[str, ...] = ()
    introspection: bool = True
    graphiql: bool = True
    pool_min: int = 1
    pool_max: int = 10
    reads_pool_max: int = field(default_factory=reads_pool_share)
    log_level: str = "INFO"
    token_hours: int = 12
    max_body_bytes: int = 256 * 1024
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_cost: int = 50_000
    trusted_documents_only: bool = False
    # answer the read operations whose fields are all declared in SQL with one statement (issue 13)
    compiled_reads: bool = True
    # rate limits (see gongjian/rate_limits.py): hits per window; 0 turns one off
    rate_window_seconds: int = 60
    rate_mutations_per_account: int = 60
    rate_mutations_per_address: int = 300
    rate_logins_per_address: int = 30
    # database timeouts in milliseconds (see gongjian/db_faults.py); 0 turns one off
    statement_timeout_ms: int = 15_000
    lock_timeout_ms: int = 5_000
    idle_in_transaction_timeout_ms: int = 60_000
    pool_acquire_timeout_ms: int = 5_000

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(self.statement_timeout_ms, self.lock_timeout_ms, self.idle_in_transaction_timeout_ms)

    @property
    def acquire_timeout(self) -> float | None:
        return self.pool_acquire_timeout_ms / 1000 if self.pool_acquire_timeout_ms else None

    persisted_queries_max: int = 10_000
    metrics: bool = True
    notify_interval_seconds: int = 60
    notify_webhook_url: str | None = None
    notify_webhook_secret: str | None = None
    max_upload_bytes: int = 10 * 1024 * 1024
    # attachments: "local" (the data folder) or "s3" (an S3-compatible store)
    storage: str = "local"
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def _flag(env: Mapping[str, str], name: str, default: bool, problems: list[str]) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    problems.append(f"{name}={raw!r}: expected true or false")
    return default


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int, problems: list[str]) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name}={raw!r}: expected a whole number")
        return default
    if not low <= value <= high:
        problems.append(f"{name}={value}: expected a number from {low} to {high}")
        return default
    return value


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check the environment; raise ConfigError listing every bad value."""
    env = os.environ if env is None else env
    problems: list[str] = []

    database_url = env.get("DATABASE_URL") or None
    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
        problems.append("DATABASE_URL: expected a postgresql:// URL")

    secret = env.get("GONGJIAN_SECRET") or None
    if secret is not None and len(secret) < 32:
        problems.append("GONGJIAN_SECRET: expected at least 32 characters")
    previous = tuple(s for s in (env.get("GONGJIAN_PREVIOUS_SECRETS") or "").split(",") if s)
    for old in previous:
        if len(old) < 32:
            problems.append("GONGJIAN_PREVIOUS_SECRETS: every secret needs at least 32 characters")
            break

    timezone = env.get("GONGJIAN_TIMEZONE") or "Asia/Shanghai"
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(f"GONGJIAN_TIMEZONE={timezone!r}: not a known time zone")
        timezone = "Asia/Shanghai"

    origins = tuple(o.strip() for o in (env.get("GONGJIAN_ALLOWED_ORIGINS") or "").split(",") if o.strip())
    for origin in origins:
        if not origin.startswith(("http://", "https://")):
            problems.append(f"GONGJIAN_ALLOWED_ORIGINS: {origin!r} is not an http(s) origin")

    log_level = (env.get("GONGJIAN_LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        problems.append(f"GONGJIAN_LOG_LEVEL={log_level!r}: expected one of {', '.join(LOG_LEVELS)}")
        log_level = "INFO"

    pool_min = _int(env, "GONGJIAN_POOL_MIN", 1, 0, 100, problems)
    pool_max = _int(env, "GONGJIAN_POOL_MAX", 10, 1, 500, problems)
    if pool_max < pool_min:
        problems.append(f"GONGJIAN_POOL_MAX={pool_max} is below GONGJIAN_POOL_MIN={pool_min}")

    webhook = env.get("GONGJIAN_NOTIFY_WEBHOOK_URL") or None
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        problems.append(f"GONGJIAN_NOTIFY_WEBHOOK_URL={webhook!r}: expected an http(s) URL")

    storage = (env.get("GONGJIAN_STORAGE") or "local").lower()
    s3 = {k: env.get(f"GONGJIAN_S3_{k.upper()}") or None for k in ("endpoint", "bucket", "access_key", "secret_key")}
    if storage not in ("local", "s3"):
        problems.append(f"GONGJIAN_STORAGE={storage!r}: expected local or s3")
    elif storage == "s3":
        problems.extend(f"GONGJIAN_S3_{k.upper()}: needed with GONGJIAN_STORAGE=s3" for k, v in s3.items() if not v)

    settings = Settings(
        database_url=database_url,
        secret=secret,
        previous_secrets=previous,
        data_dir=Path(env.get("GONGJIAN_DATA_DIR") or ".gongjian").absolute(),
        timezone=timezone,
        allowed_origins=origins,
        introspection=_flag(env, "GONGJIAN_INTROSPECTION", True, problems),
        graphiql=_flag(env, "GONGJIAN_GRAPHIQL", True, problems),
        pool_min=pool_min,
        pool_max=pool_max,
        reads_pool_max=_int(env, "GONGJIAN_READS_POOL_MAX", reads_pool_share(), 1, 500, problems),
        log_level=log_level,
        token_hours=_int(env, "GONGJIAN_TOKEN_HOURS", 12, 1, 24 * 30, problems),
        max_body_bytes=_int(env, "GONGJIAN_MAX_BODY_BYTES", 256 * 1024, 1024, 64 * 1024 * 1024, problems),
        max_depth=_int(env, "GONGJIAN_MAX_DEPTH", 12, 2, 100, problems),
        max_aliases=_int(env, "GONGJIAN_MAX_ALIASES", 30, 1, 1000, problems),
        max_tokens=_int(env, "GONGJIAN_MAX_TOKENS", 5000, 100, 1_000_000, problems),
        max_cost=_int(env, "GONGJIAN_MAX_COST", 50_000, 10, 100_000_000, problems),
        trusted_documents_only=_flag(env, "GONGJIAN_TRUSTED_DOCUMENTS_ONLY", False, problems),
        compiled_reads=_flag(env, "GONGJIAN_COMPILED_READS", True, problems),
        rate_window_seconds=_int(env, "GONGJIAN_RATE_WINDOW_SECONDS", 60, 1, 86_400, problems),
        rate_mutations_per_account=_int(env, "GONGJIAN_RATE_MUTATIONS_PER_ACCOUNT", 60, 0, 1_000_000, problems),
        rate_mutations_per_address=_int(env, "GONGJIAN_RATE_MUTATIONS_PER_ADDRESS", 300, 0, 1_000_000, problems),
        rate_logins_per_address=_int(env, "GONGJIAN_RATE_LOGINS_PER_ADDRESS", 30, 0, 1_000_000, problems),
        statement_timeout_ms=_int(env, "GONGJIAN_STATEMENT_TIMEOUT_MS", 15_000, 0, 3_600_000, problems),
        lock_timeout_ms=_int(env, "GONGJIAN_LOCK_TIMEOUT_MS", 5_000, 0, 3_600_000, problems),
        idle_in_transaction_timeout_ms=_int(
            env, "GONGJIAN_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60_000, 0, 3_600_000, problems
        ),
        pool_acquire_timeout_ms=_int(env, "GONGJIAN_POOL_ACQUIRE_TIMEOUT_MS", 5_000, 0, 3_600_000, problems),
        metrics=_flag(env, "GONGJIAN_METRICS", True, problems),
        persisted_queries_max=_int(env, "GONGJIAN_PERSISTED_QUERIES_MAX", 10_000, 0, 10_000_000, problems),
        notify_interval_seconds=_int(env, "GONGJIAN_NOTIFY_INTERVAL_SECONDS", 60, 0, 86_400, problems),
        notify_webhook_url=webhook,
        notify_webhook_secret=env.get("GONGJIAN_NOTIFY_WEBHOOK_SECRET") or None,
        max_upload_bytes=_int(env, "GONGJIAN_MAX_UPLOAD_BYTES", 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024, problems),
        storage=storage,
        s3_endpoint=s3["endpoint"],
        s3_bucket=s3["bucket"],
        s3_region=env.get("GONGJIAN_S3_REGION") or "us-east-1",
        s3_access_key=s3["access_key"],
        s3_secret_key=s3["secret_key"],
    )
    if problems:
        raise ConfigError(problems)
    return settings
