"""Every HTTP API of the three services fuzzed from its own OpenAPI schema with schemathesis, against the services
running as processes on the real stack, as every kind of caller.

Each service goes through ``schemathesis run`` once per role with that role's bearer token (grid worker, unit, task
force, district), then once as the admin (bearer and ``X-Admin-Token``), who also takes the operations that need no
token (public, operational, the console's sign-in) and intake's integrations (12345 requests signed one by one, the
Open311 ``api_key``, the sensor gateway key: ``fuzz_hooks.py``, which also draws boundary dates, non-ASCII digits
and control characters the schemas alone rarely yield). Positive and negative data, a fixed seed, at most
``FUZZ_EXAMPLES`` generated examples per operation in the example-driven phases (examples, fuzzing, stateful); the
coverage phase (boundaries and every kind of invalid value, hundreds of cases) in the admin's pass, or in every pass
with ``FUZZ_COVERAGE=all`` (``make fuzz``). Checks: no 5xx, every status code documented, the content type and the
body those of the documented response, and invalid input refused with a 4xx. A failure is listed with its curl line.

The services get databases and topics of their own: fuzzing writes a lot of junk.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.intake.config import DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, DEV_OPEN311_KEY, DEV_SENSOR_KEY
from shared.settings import DEV_ADMIN_TOKEN
from tests.e2e.conftest import Running, services_running
from tests.harness import run_command

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("FUZZ_SEED", "311"))
# The coverage phase (boundary values, every kind of invalid input, unexpected methods: hundreds of cases per caller
# whatever FUZZ_EXAMPLES says) runs in the admin's pass, which reaches every operation; "all" runs it for every role.
COVERAGE_FOR_ALL = os.environ.get("FUZZ_COVERAGE", "admin") == "all"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]
HOOKS = Path(__file__).with_name("fuzz_hooks.py")

# Operations that take no bearer token: fuzzed once, in the admin's pass (they ignore the Authorization header).
PUBLIC = r"^/(healthz|readyz|v1/public/|v1/login|console/)"
INTEGRATIONS = r"^/(hotline|open311)/|^/v1/sensor-readings$"  # credentials from fuzz_hooks.py
ADMIN = r"^/admin/"
ROLES = {"grid worker": "GW-01", "unit": "U-HEAT-1", "task force": "TF-JYG", "district": "DIST-CG"}
# The integrations' dev credentials, for fuzz_hooks.py.
CREDENTIALS = {
    "FUZZ_HOTLINE_INTEGRATION": DEV_HOTLINE_INTEGRATION,
    "FUZZ_HOTLINE_SECRET": DEV_HOTLINE_SECRET,
    "FUZZ_OPEN311_KEY": DEV_OPEN311_KEY,
    "FUZZ_SENSOR_KEY": DEV_SENSOR_KEY,
}
ALL_PHASES = "examples,coverage,fuzzing,stateful"


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str] = field(default_factory=dict)
    filters: tuple[str, ...] = ()
    phases: str = ALL_PHASES


def callers(tokens: dict[str, str]) -> list[Caller]:
    """Each role on the operations that take a bearer token; the admin on everything else as well."""
    bearer_only = ("--exclude-path-regex", f"{PUBLIC}|{INTEGRATIONS}|{ADMIN}")
    phases = ALL_PHASES if COVERAGE_FOR_ALL else "examples,fuzzing,stateful"
    out = [Caller(role, {"Authorization": f"Bearer {tokens[sub]}"}, bearer_only, phases) for role, sub in ROLES.items()]
    out.append(Caller("admin", {"Authorization": f"Bearer {tokens['admin']}", "X-Admin-Token": DEV_ADMIN_TOKEN}))
    return out


@dataclass
class Outcome:
    caller: str
    cases: int
    tested: int
    ok: bool
    report: str  # the failures and errors as schemathesis prints them, with curl lines


def fuzz(url: str, caller: Caller, workdir: Path) -> Outcome:
    report = workdir / f"{caller.name.replace(' ', '-')}.json"
    args = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--no-color",
        "run",
        f"{url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--mode",
        "all",
        "--phases",
        caller.phases,
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--output-sanitize",
        "false",  # the curl lines carry the dev tokens this test minted, so they can be pasted as they are
        "--report",
        "json",
        "--report-json-path",
        str(report),
        *caller.filters,
    ]
    for name, value in caller.headers.items():
        args += ["--header", f"{name}: {value}"]
    env = os.environ | CREDENTIALS | {"SCHEMATHESIS_HOOKS": str(HOOKS)}
    proc = run_command(args, cwd=workdir, env=env, timeout=600)
    if not report.exists():
        return Outcome(
            caller.name, 0, 0, False, f"exit {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
        )
    result = json.loads(report.read_text(encoding="utf-8"))
    ok = proc.returncode == 0 and not result["errors"] and result["test_cases"]["errored"] == 0
    return Outcome(
        caller.name,
        cases=result["test_cases"]["generated"],
        tested=result["operations"]["tested"],
        ok=ok,
        report="" if ok else _failures(proc.stdout) or proc.stdout[-8000:] + proc.stderr[-2000:],
    )


def _failures(stdout: str) -> str:
    """The FAILURES and ERRORS sections of schemathesis' output (each failure ends with its curl line)."""
    match = re.search(r"^=+ (?:FAILURES|ERRORS) =+$.*?(?=^=+ (?:WARNINGS|SUMMARY) =+$)", stdout, re.M | re.S)
    return match.group(0) if match else ""


# Per-caller rate limits far above what the fuzzer sends: it is to reach the handlers, not the limiter (whose 429 is
# documented where it applies, and tested in tests/integration).
UNLIMITED = {
    f"INTAKE_RATE_LIMIT_{kind}_{part}": value
    for kind in ("HOTLINE", "GRID_WORKER", "OPEN311")
    for part, value in (("PER_SECOND", "100000"), ("BURST", "100000"))
}


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Running]:
    with services_running("fuzz", extra_env=UNLIMITED) as r:
        yield r


@pytest.mark.parametrize("service", ["intake", "dispatch", "followup"])
def test_fuzz(service: str, fuzzed: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = fuzzed.services.url(service)
    started = time.monotonic()
    outcomes = [fuzz(url, caller, tmp_path) for caller in callers(fuzzed.client.tokens)]
    took = time.monotonic() - started
    with capsys.disabled():
        per_caller = ", ".join(f"{o.caller} {o.cases}" for o in outcomes)
        print(
            f"\nfuzz {service}: {sum(o.cases for o in outcomes)} cases in {took:.0f}s "
            f"(≤{EXAMPLES} examples per operation, seed {SEED}): {per_caller}"
        )
    failed = [o for o in outcomes if not o.ok]
    assert not failed, f"{service}: fuzzing found failures\n" + "\n".join(
        f"--- as {o.caller} ---\n{o.report}" for o in failed
    )
    assert all(o.tested > 0 for o in outcomes), [(o.caller, o.tested) for o in outcomes]
