"""Signed, expiring bearer tokens: `v1.<payload>.<signature>`, HMAC-SHA256 over the payload.

Tokens signed with any of the previous secrets still verify, so the secret can be rotated
without signing everybody out; new tokens are always signed with the current one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from gongjian.config import Settings
from gongjian.recent import Recent

PREFIX = "v1"
API_TOKEN_PREFIX = "gjt_"  # noqa: S105 - marks API tokens apart, not a secret


# the purpose of a token that may only change the account's password (first sign-in)
PASSWORD_CHANGE = "password-change"  # noqa: S105 - a purpose, not a secret


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    expires_at: int  # unix seconds
    generation: int = 0  # the user's token generation when signed (a password change moves it on)
    purpose: str | None = None  # None: an ordinary bearer token


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), f"{PREFIX}.{payload}".encode(), hashlib.sha256).digest())


def sign(
    secret: str,
    user_id: int,
    lifetime_seconds: int,
    now: float | None = None,
    *,
    generation: int = 0,
    purpose: str | None = None,
) -> tuple[str, int]:
    expires_at = int((time.time() if now is None else now) + lifetime_seconds)
    claims: dict[str, object] = {"uid": user_id, "exp": expires_at, "gen": generation}
    if purpose is not None:
        claims["pur"] = purpose
    payload = _b64(orjson.dumps(claims))
    return f"{PREFIX}.{payload}.{_signature(secret, payload)}", expires_at


# the claims of tokens that verified, by the secrets they were checked against: a client sends
# the same token with every request, and its signature and payload never change (expiry is
# checked on every call); only well-signed tokens are kept, the oldest used leaving first
VERIFIED_MAX: Final = 10_000
_verified: Recent[tuple[tuple[str, ...], str], TokenClaims] = Recent(VERIFIED_MAX)


def verify(secrets: Sequence[str], token: str, now: float | None = None) -> TokenClaims | None:
    """The claims of a well-signed, unexpired token; None for anything else."""
    key = (tuple(secrets), token)
    claims = _verified.get(key)
    if claims is None:
        claims = _signed_claims(secrets, token)
        if claims is None:
            return None
        _verified[key] = claims
    if claims.expires_at <= (time.time() if now is None else now):
        return None
    return claims


def _signed_claims(secrets: Sequence[str], token: str) -> TokenClaims | None:
    """The claims of a token signed by one of `secrets`, expired or not."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX or len(token) > 1000 or not token.isascii():
        return None
    _, payload, signature = parts
    if not any(hmac.compare_digest(_signature(s, payload), signature) for s in secrets):
        return None
    try:
        claims = orjson.loads(_unb64(payload))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(claims, dict):
        return None
    uid, exp, gen = claims.get("uid"), claims.get("exp"), claims.get("gen", 0)
    if not isinstance(uid, int) or not isinstance(exp, int) or not isinstance(gen, int):
        return None
    purpose = claims.get("pur")
    if purpose is not None and not isinstance(purpose, str):
        return None
    return TokenClaims(user_id=uid, expires_at=exp, generation=gen, purpose=purpose)


def hash_api_token(token: str) -> str:
    """API tokens are random and long, so a plain SHA-256 is the right stored form."""
    return hashlib.sha256(token.encode()).hexdigest()


def secrets_of(settings: Settings) -> list[str]:
    assert settings.secret is not None, "the signing secret is set at start-up"
    return [settings.secret, *settings.previous_secrets]


def token_from_connection_params(params: dict[str, Any] | None) -> str | None:
    """The token of a graphql-transport-ws `connection_init` payload: `Authorization`
    (or `authorization`) as `Bearer <token>`, or a bare `token`."""
    if not params:
        return None
    for key in ("Authorization", "authorization"):
        value = params.get(key)
        if isinstance(value, str):
            return bearer(value)
    value = params.get("token")
    return value.strip() or None if isinstance(value, str) else None


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None
