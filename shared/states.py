"""Statuses as types and their transitions as tables.

Each aggregate (an assignment, a case, a visit, a spot-check, a 12345 callback) names its statuses in a ``StrEnum``
(the values are what the database stores and the APIs show, so nothing on disk or on the wire changes) and its moves
in a ``Transitions`` table: for each action, the statuses it may start from, the status it leads to, and the refusal
each other status gets. A use case asks the table (``ASSIGNMENT.move("sign_in", a.status)``) instead of testing
strings by hand, so the rules of an aggregate are in one place and get fast unit tests of their own.

A refusal is a ``Conflict`` (shared.errors): the HTTP layer answers it with 409 and its code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar, cast

from shared.errors import Conflict

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class Refusal:
    """What an action answers from a status it may not start from: a machine code and a Chinese message."""

    code: str
    message: str

    def error(self) -> Conflict:
        return Conflict(self.code, self.message)


@dataclass(frozen=True)
class Move(Generic[S]):
    """One action: from any of ``sources`` to ``target`` (None: the status stays, as for a progress note); from
    another status, its refusal in ``refusals`` or else ``otherwise``."""

    sources: frozenset[S]
    target: S | None
    otherwise: Refusal
    refusals: Mapping[S, Refusal] = field(default_factory=dict)


class Transitions(Generic[S]):
    """The moves of one aggregate, by action name."""

    def __init__(self, aggregate: str, statuses: type[S], moves: Mapping[str, Move[S]]) -> None:
        self.aggregate = aggregate
        self.statuses = statuses
        self.moves = dict(moves)
        for action, move in self.moves.items():
            if set(move.refusals) & move.sources:
                raise ValueError(f"{aggregate}.{action}: a status both allowed and refused")

    def allows(self, action: str, current: str) -> bool:
        return current in self.moves[action].sources

    def move(self, action: str, current: str) -> S:
        """The status ``action`` leads to from ``current``, or its refusal raised."""
        move = self.moves[action]
        if current in move.sources:
            return self.statuses(current) if move.target is None else move.target
        by_status = cast(Mapping[str, Refusal], move.refusals)  # StrEnum keys hash and compare as their values
        raise by_status.get(current, move.otherwise).error()

    def check(self, action: str, current: str) -> None:
        """Refuse ``action`` from ``current`` (an action that keeps the status, such as a progress note)."""
        self.move(action, current)

    def reachable(self) -> set[S]:
        """Every status some action leads to."""
        return {move.target for move in self.moves.values() if move.target is not None}


def among(*statuses: S) -> frozenset[S]:
    return frozenset(statuses)


def values(statuses: Iterable[StrEnum]) -> list[str]:
    """The stored values of ``statuses``, sorted: for SQL ``IN`` lists and stable output."""
    return sorted(str(s) for s in statuses)
