"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's second choice).

Verification costs the same whether or not the user exists: unknown usernames are checked
against a dummy hash made with the same parameters, so timing tells nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def dummy_hash() -> str:
    return _hasher.hash("no user has this password: it only makes unknown users cost the same")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; an absent or malformed hash costs a dummy check."""
    try:
        return _hasher.verify(password_hash or dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError):
        return False
    except InvalidHashError:
        with contextlib.suppress(VerificationError):
            _hasher.verify(dummy_hash(), password)
        return False


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """`verify_password` off the event loop (argon2 takes tens of milliseconds of CPU)."""
    return await asyncio.to_thread(verify_password, password_hash, password)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)
