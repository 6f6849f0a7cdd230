"""Loaded first by every Python process of a `./dev test --at` run (PYTHONPATH), never otherwise.

libfaketime moves the wall clock of the run. It is told to leave the monotonic clock alone
(FAKETIME_DONT_FAKE_MONOTONIC=1): with a faked monotonic clock, every timed wait on a lock,
an event or a condition (glibc's sem_clockwait and pthread_cond_clockwait, which libfaketime
does not intercept) waits until the faked deadline, decades away in real time, and the run
hangs. Its `clock_nanosleep` wrapper still shifts an absolute monotonic deadline by the fake
offset, though, so CPython's `time.sleep` (an absolute CLOCK_MONOTONIC sleep) fails with
EINVAL; here it sleeps by a timed wait instead, which measures the real monotonic clock."""

from __future__ import annotations

import threading
import time
from typing import SupportsIndex


def _sleep(secs: float | SupportsIndex) -> None:
    seconds = float(secs)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    threading.Event().wait(seconds)


time.sleep = _sleep
