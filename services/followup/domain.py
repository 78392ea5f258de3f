"""Pure follow-up rules: the verdict of a return visit. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts.common import Satisfaction
from shared.contracts.followup import ReopenReason

# Indoor readings outside this range are measurement errors, not verdicts.
PLAUSIBLE_INDOOR_C = (0.0, 35.0)


@dataclass(frozen=True, slots=True)
class Verdict:
    close: bool
    reason: ReopenReason | None
    min_temp_c: float


def verdict(room_temps_c: list[float], satisfaction: Satisfaction | None, *, standard_c: float) -> Verdict:
    """Close when every room meets the standard and the resident is not dissatisfied; else reopen with why."""
    if not room_temps_c:
        raise ValueError("at least one room temperature is required")
    coldest = min(room_temps_c)
    too_cold = coldest < standard_c
    dissatisfied = satisfaction is Satisfaction.DISSATISFIED
    if too_cold and dissatisfied:
        return Verdict(False, ReopenReason.BOTH, coldest)
    if too_cold:
        return Verdict(False, ReopenReason.TOO_COLD, coldest)
    if dissatisfied:
        return Verdict(False, ReopenReason.DISSATISFIED, coldest)
    return Verdict(True, None, coldest)
