"""axe-core (Deque's accessibility engine, npm ``axe-core``, pinned) run inside a page the tests drive.

``make browser`` installs the pinned version into ``.local/node/node_modules/axe-core`` (ignored by git). The
script is evaluated in the page through the DevTools protocol, which the page's Content-Security-Policy does not
govern, so the page under test keeps its real policy (no ``bypass_csp``): what axe sees is what a person gets.

    from tests.e2e.axe import assert_accessible
    assert_accessible(page, "console-phone-unit-list")

fails on any violation of impact serious or critical, naming each rule, its impact and the elements; every
violation (moderate and minor too) is written to ``artifacts/axe/<label>.json`` for reading.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from playwright.sync_api import Page

from deploy.local.services import REPO

AXE_VERSION = "4.14.1"  # also in the Makefile's `browser` target
AXE_SCRIPT = REPO / ".local" / "node" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "artifacts" / "axe"
FAILING = ("serious", "critical")


@cache
def _source() -> str:
    if not AXE_SCRIPT.exists():
        pytest.fail(
            f"{AXE_SCRIPT.relative_to(REPO)} is missing: `make browser` installs axe-core@{AXE_VERSION}", pytrace=False
        )
    return AXE_SCRIPT.read_text(encoding="utf-8")


def _inject(page: Page) -> None:
    if page.evaluate("() => typeof window.axe") == "object":
        return
    page.evaluate(_source())  # a plain script: it defines window.axe
    version = page.evaluate("() => window.axe.version")
    assert version == AXE_VERSION, f"axe-core {version} in .local/node, the tests pin {AXE_VERSION}: make browser"


def violations(page: Page) -> list[dict[str, Any]]:
    """Every rule axe finds broken on the page as it is now: id, impact, help, and each element's selector."""
    _inject(page)
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, { resultTypes: ['violations'] });
            return r.violations.map((v) => ({
                id: v.id,
                impact: v.impact,
                help: v.help,
                nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
            }));
        }"""
    )
    return found


def assert_accessible(page: Page, label: str) -> list[dict[str, Any]]:
    """No serious or critical axe violation on the page; returns all violations (the milder ones too)."""
    found = violations(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{label}.json").write_text(json.dumps(found, ensure_ascii=False, indent=2), encoding="utf-8")
    failing = [v for v in found if v["impact"] in FAILING]
    if failing:
        lines = [f"axe-core {AXE_VERSION} on {label}: {len(failing)} serious or critical violation(s)"]
        for v in failing:
            lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
            lines.extend(f"    {n['target']}: {n['summary']}" for n in v["nodes"][:8])
            if len(v["nodes"]) > 8:
                lines.append(f"    … and {len(v['nodes']) - 8} more")
        pytest.fail("\n".join(lines), pytrace=False)
    return found
