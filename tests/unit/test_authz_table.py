"""The authorization matrix in the README is the one the integration test drives, and the matrix is whole."""

from __future__ import annotations

from collections import Counter

from deploy.authz_matrix import EVERY_SERVICE, MATRIX, SERVICES, Access, Caller, Outcome
from deploy.authz_table import README, current_block, render, replace_block


def test_the_readme_block_is_the_rendered_matrix() -> None:
    block = current_block(README.read_text(encoding="utf-8"))
    assert block == render(), "README's authorization matrix is stale: run python -m deploy.authz_table"


def test_every_row_has_a_cell_for_every_caller_and_a_known_service() -> None:
    for row in MATRIX:
        assert row.service in (EVERY_SERVICE, *SERVICES), row
        assert set(row.access) == set(Caller), row.routes
        for route in row.routes:
            method, _, path = route.partition(" ")
            assert method in {"GET", "POST", "PUT", "DELETE", "PATCH"} and path.startswith("/"), route


def test_a_route_has_one_row_in_its_service() -> None:
    for service in SERVICES:
        routes = Counter(route for row in MATRIX if row.service in (EVERY_SERVICE, service) for route in row.routes)
        assert [r for r, n in routes.items() if n > 1] == [], service


def test_cells_read_as_the_legend_says() -> None:
    assert Access(Outcome.ALLOWED, Outcome.ALLOWED).label(Caller.ADMIN) == "✓"
    assert Access(Outcome.ALLOWED, Outcome.HIDDEN).label(Caller.UNIT) == "本单位"
    assert Access(Outcome.ALLOWED, Outcome.FORBIDDEN).label(Caller.DISTRICT) == "本区·他处403"
    assert Access(Outcome.ALLOWED, Outcome.HIDDEN, masked=True).label(Caller.TASK_FORCE) == "本街道·脱敏"
    assert Access(Outcome.ALLOWED, Outcome.HIDDEN, scope="本社区").label(Caller.GRID_WORKER) == "本社区"
    assert Access(Outcome.HIDDEN, Outcome.HIDDEN).label(Caller.UNIT) == "404"
    assert Access(Outcome.UNAUTHENTICATED, Outcome.UNAUTHENTICATED).label(Caller.ANONYMOUS) == "401"


def test_the_block_is_replaced_between_the_markers_only() -> None:
    text = "before\n<!-- authz-matrix:start -->\nold\n<!-- authz-matrix:end -->\nafter\n"
    assert (
        replace_block(text, "new\n") == "before\n<!-- authz-matrix:start -->\nnew\n<!-- authz-matrix:end -->\nafter\n"
    )
