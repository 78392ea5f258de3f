"""Who oversees which area: the one rule of what a caller may see by where it is.

An admin oversees everything, a district (区住建局 / 12345 督办) its district, a street task force (街道工作专班) its
street, a grid worker (网格员) its grid. A unit oversees no area: it sees what is assigned to it, which each service
decides from its own rows. ``remit`` says it once; ``oversees`` asks it of one row's district / street / grid, and
``area_filter`` asks it of a table's columns in SQL, so a list and a lookup can never disagree about a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, false, true

from shared.auth import Principal, Role

Level = Literal["all", "district", "street", "grid"]

# The roles whose remit is an area (they oversee cases there), beside the grid worker's own grid.
SUPERVISORS = (Role.TASK_FORCE, Role.DISTRICT, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Remit:
    """The area a caller oversees: ``level`` ``all`` (``id`` empty) or one district, street or grid by ``id``."""

    level: Level
    id: str = ""

    @property
    def name(self) -> str:
        """``all``, or ``street:S`` and the like: how a scorecard or report names what it was computed over."""
        return "all" if self.level == "all" else f"{self.level}:{self.id}"


_LEVEL_OF: dict[Role, Level] = {
    Role.DISTRICT: "district",
    Role.TASK_FORCE: "street",
    Role.GRID_WORKER: "grid",
}


def remit(principal: Principal) -> Remit | None:
    """The area the caller oversees, or None (a unit, which oversees no area)."""
    if principal.role is Role.ADMIN:
        return Remit("all")
    level = _LEVEL_OF.get(principal.role)
    return Remit(level, principal.scope) if level else None


def oversees(
    principal: Principal, *, district_id: str | None = None, street_id: str | None = None, grid_id: str | None = None
) -> bool:
    """Whether the caller oversees a place in this district / street / grid. A level not given is one the place
    has not (a street-less district flag, a case with no grid): only a caller over all or over the given levels
    can then see it."""
    area = remit(principal)
    if area is None:
        return False
    if area.level == "all":
        return True
    at = {"district": district_id, "street": street_id, "grid": grid_id}[area.level]
    return at is not None and at == area.id


def area_filter(principal: Principal, *, district: Any, street: Any, grid: Any = None) -> ColumnElement[bool]:
    """``oversees`` over a table's columns: the rows the caller may see (nothing for a unit, or for a grid worker
    over a table that has no grid column)."""
    area = remit(principal)
    if area is None:
        return false()
    if area.level == "all":
        return true()
    column = {"district": district, "street": street, "grid": grid}[area.level]
    if column is None:
        return false()
    return column == area.id  # type: ignore[no-any-return]
