"""The authorization matrix (``deploy.authz_matrix``) as a Markdown table in the README's security section.

``python -m deploy.authz_table`` rewrites the block between the markers; ``--check`` only says whether it is stale.
"""

from __future__ import annotations

import sys

from deploy import readme_block
from deploy.authz_matrix import EVERY_SERVICE, MATRIX, SERVICES, TITLES, Caller, Row
from deploy.readme_block import README

BLOCK = "authz-matrix"

_GROUPS = {EVERY_SERVICE: "每个服务 (every service)", **{s: s for s in SERVICES}}

LEGEND = (
    "✓ allowed · 本网格 / 本单位 / 本街道 / 本区 / 本平台: only the caller's own objects — someone else's answers "
    "404 exactly like one that does not exist, and lists leave it out (本单位承办: the unit assigned to the open "
    "case; 本社区: the grid's community) · ·他处403: someone else's answers 403 · ·脱敏: name and phone masked "
    "(李**, 138****1234) · 401: no credential, or not the one the route takes · 403: the role may not. "
    "Columns: bearer tokens by role; admin is a bearer token with role admin; X-Admin-Token the admin header; "
    "12345 a signed work-order request; Open311 an api_key; 采集器 a sensor gateway's X-Api-Key. "
    "Tested cell by cell in `tests/integration/test_authorization.py`; data in `deploy/authz_matrix.py`."
)


def _routes(row: Row) -> str:
    return "<br>".join(f"`{route}`" for route in row.routes)


def render() -> str:
    """The block between the markers (markers excluded), ending with a newline."""
    callers = list(Caller)
    lines = [
        "| endpoint | " + " | ".join(TITLES[c] for c in callers) + " |",
        "|---|" + "---|" * len(callers),
    ]
    for group in (EVERY_SERVICE, *SERVICES):
        lines.append(f"| **{_GROUPS[group]}** |" + " |" * len(callers))
        for row in (r for r in MATRIX if r.service == group):
            cells = " | ".join(row.access[c].label(c) for c in callers)
            lines.append(f"| {_routes(row)}<br>{row.what} | {cells} |")
    return "\n".join(lines) + "\n\n" + LEGEND + "\n"


def replace_block(text: str, block: str) -> str:
    return readme_block.replace_block(text, BLOCK, block)


def current_block(text: str) -> str:
    return readme_block.current_block(text, BLOCK)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    fresh = replace_block(text, render())
    if "--check" in sys.argv[1:]:
        if fresh != text:
            sys.exit("README's authorization matrix is stale: run python -m deploy.authz_table")
        return
    if fresh != text:
        README.write_text(fresh, encoding="utf-8")
    print(f"README.md: {len(MATRIX)} rows × {len(Caller)} callers")


if __name__ == "__main__":
    main()
