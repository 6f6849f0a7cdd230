"""Fuzzing: schemathesis' GraphQL mode against a real `gongjian serve`, requiring that no
answer is a 5xx or an INTERNAL_SERVER_ERROR.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/schemathesis_run.py \\
        [--examples 50] [--user admin] [--seed N] [--max-time SECONDS]

It creates a scratch database, loads the demo county into it, starts `gongjian serve` on
it (rate limits off, so that the fuzzer meets the code and not the limiter), signs in as a
demo user (`--user`, the county admin by default: the widest rights reach the most code)
and runs `schemathesis run` over `/graphql` with that user's token in the `Authorization`
header: every query and mutation field, `--examples` cases each, valid and invalid
arguments, with two checks: schemathesis' `not_a_server_error` (a 5xx), reported as is,
and `coded_answers` (bench/schemathesis_checks.py: no 5xx, a JSON body, every error coded
and none INTERNAL_SERVER_ERROR), which decides the exit status. In GraphQL mode
`not_a_server_error` also counts a coded refusal with a `path` (FORBIDDEN, NOT_FOUND...) as
a "server error"; the script prints how many of its failures were of each kind. The
server's log (warnings and errors) is kept and its ERROR lines counted. The database is
dropped at the end.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

PASSWORD = "bench-password-1"  # noqa: S105 - the throwaway demo database's password
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


class Summary:
    """What schemathesis' ndjson events say: test cases, answers by HTTP status and error
    code, failed checks by check, kind and operation."""

    def __init__(self, report: Path) -> None:
        self.cases = 0
        self.answers: collections.Counter[str] = collections.Counter()
        self.failures: collections.Counter[str] = collections.Counter()
        if not report.exists():
            return
        for line in report.read_text(encoding="utf-8").splitlines():
            finished = json.loads(line).get("ScenarioFinished")
            if isinstance(finished, dict):
                self._scenario(finished.get("recorder") or {})

    def _scenario(self, recorder: dict[str, Any]) -> None:
        self.cases += len(recorder.get("cases") or {})
        for interaction in (recorder.get("interactions") or {}).values():
            response = interaction.get("response") or {}
            status = response.get("status_code")
            try:
                body = json.loads(base64.b64decode((response.get("content") or {}).get("$base64") or ""))
                errors = body.get("errors") or [] if isinstance(body, dict) else []
                codes = sorted({str((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e, dict)})
            except ValueError:
                codes = ["not JSON"]
            self.answers[f"{status} {','.join(codes) or 'data'}"] += 1
        for checks in (recorder.get("checks") or {}).values():
            for check in checks:
                if check.get("status") == "failure":
                    failure = (check.get("failure_info") or {}).get("failure") or {}
                    self.failures[f"{check.get('name')}: {failure.get('title')} in {failure.get('operation')}"] += 1


async def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--examples", type=int, default=50, help="test cases per operation (schemathesis -n)")
    parser.add_argument("--user", default="admin", help="the demo user whose token is sent")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-time", type=int, default=None, help="a time budget for the run, seconds")
    parser.add_argument("--workers", default="2")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gj_schemathesis_"))
    log = folder / "server.log"
    report = folder / "events.ndjson"
    async with common.scratch_database("gj_fuzz") as url:
        await common.load_demo(url, PASSWORD)
        env = {**common.RATE_LIMITS_OFF, "GONGJIAN_LOG_LEVEL": "WARNING"}
        async with common.serve(url, env=env, log=log) as server:
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
                token = await common.sign_in(http, args.user, PASSWORD)
            command = [
                str(SCHEMATHESIS),
                "run",
                f"{server.base}/graphql",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "not_a_server_error,coded_answers",
                "--max-examples",
                str(args.examples),
                "--workers",
                args.workers,
                "--continue-on-failure",
                "--generation-database",
                "none",
                "--report",
                "ndjson",
                "--report-ndjson-path",
                str(report),
                "--no-color",
            ]
            command += ["--seed", str(args.seed)] if args.seed is not None else []
            command += ["--max-time", str(args.max_time)] if args.max_time else []
            run = await asyncio.to_thread(
                subprocess.run,
                command,
                env={**os.environ, "SCHEMATHESIS_HOOKS": "bench.schemathesis_checks"},
                cwd=common.ROOT,
                check=False,
            )
    summary = Summary(report)
    server_errors = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if "ERROR" in line]
    requests = sum(summary.answers.values())
    print(f"\nschemathesis (exit {run.returncode}): {summary.cases} test cases, {requests} requests as {args.user!r}")
    print("answers (HTTP status, error codes):")
    for answer, n in summary.answers.most_common():
        print(f"  {n:>6}  {answer}")
    print("failed checks:" if summary.failures else "failed checks: none")
    for failure, n in summary.failures.most_common():
        print(f"  {n:>6}  {failure}")
    bad = sum(n for answer, n in summary.answers.items() if answer[:1] == "5" or "INTERNAL_SERVER_ERROR" in answer)
    coded = sum(n for failure, n in summary.failures.items() if failure.startswith("coded_answers"))
    print(f"5xx or INTERNAL_SERVER_ERROR: {bad} answers, {coded} coded_answers failures")
    print(f"server log: {len(server_errors)} ERROR lines ({log})")
    if bad or coded or server_errors or not summary.cases:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
