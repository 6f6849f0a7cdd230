"""The compiled read path (issue 13): a query operation whose every field has an SQL
declaration (`declarations.py`, declared beside each type in `schema/`) is planned
(`planner.py`) into one SQL statement (`sql.py`) that returns the `data` JSON, with the
personal-data rules and their audit rows inside it; `run.py` runs it, or leaves the
operation to the ordinary resolvers."""
