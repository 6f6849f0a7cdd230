"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's second choice).

Verification costs the same whether or not the user exists: unknown usernames are checked
against a dummy hash made with the same parameters, so timing tells nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import threading
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
# how much lower than the rest of the process argon2's threads run (Linux nice steps): on a
# machine busy with other work too, a flood of sign-ins then takes its CPU from the
# sign-ins themselves rather than from everybody else's requests
ARGON2_NICENESS = 10
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _lower_this_threads_priority() -> None:
    """Make the calling thread (on Linux a task with a nice value of its own) ARGON2_NICENESS
    nicer; where that is not possible it keeps its priority."""
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + ARGON2_NICENESS))


_argon2_threads = concurrent.futures.ThreadPoolExecutor(
    max_workers=ARGON2_SLOTS, thread_name_prefix="argon2", initializer=_lower_this_threads_priority
)


def _slots_of_this_loop() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(ARGON2_SLOTS)
    return slots


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """`verify_password` off the event loop (argon2 takes tens of milliseconds of CPU), at
    most ARGON2_SLOTS at once, in threads of a lower priority."""
    async with _slots_of_this_loop():
        return await asyncio.get_running_loop().run_in_executor(
            _argon2_threads, verify_password, password_hash, password
        )


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_argon2_threads, hash_password, password)
