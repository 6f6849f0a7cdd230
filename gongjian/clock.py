"""The one clock of the code base.

Everything that asks "what time is it?" in Python asks `now()`; "today" is always a date in
a given time zone (the county's). Tests that need a particular instant move this clock
(`monkeypatch.setattr(clock, "now", ...)`) or pass the date in; a whole run can be moved,
PostgreSQL's clock with it, by `./dev test --at INSTANT` (libfaketime).
"""

from __future__ import annotations

import datetime
import zoneinfo


def now() -> datetime.datetime:
    """The current instant, in UTC."""
    return datetime.datetime.now(datetime.UTC)


def today(zone: datetime.tzinfo | str) -> datetime.date:
    """The current date in `zone` (a tzinfo or an IANA name such as "Asia/Shanghai")."""
    tz = zoneinfo.ZoneInfo(zone) if isinstance(zone, str) else zone
    return now().astimezone(tz).date()
