"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's second choice).

Verification costs the same whether or not the user exists: unknown usernames are checked
against a dummy hash made with the same parameters, so timing tells nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import weakref

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


# argon2 checks running at once in this process: one core fewer than the machine has, so
# that a flood of sign-ins queues here (holding no connection) and leaves a core to
# everybody else's requests; one per event loop (tests run several loops)
ARGON2_SLOTS = max(1, (os.cpu_count() or 2) - 1)
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _slots_of_this_loop() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(ARGON2_SLOTS)
    return slots


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """`verify_password` off the event loop (argon2 takes tens of milliseconds of CPU), at
    most ARGON2_SLOTS at once."""
    async with _slots_of_this_loop():
        return await asyncio.to_thread(verify_password, password_hash, password)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)
