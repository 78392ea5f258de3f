"""The words of the authorization matrix (deploy.authz_matrix): who calls (``Caller``), what they get (``Outcome``,
``Access`` on their own object and on someone else's), a row of routes, and the common shapes of a row's access."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Caller(StrEnum):
    """Who calls, by the credential they present."""

    ANONYMOUS = "anonymous"  # nothing
    GRID_WORKER = "grid_worker"  # bearer token, role grid_worker (网格员), scope: a grid
    UNIT = "unit"  # bearer token, role unit (责任单位), subject: the unit
    TASK_FORCE = "task_force"  # bearer token, role task_force (街道工作专班), scope: a street
    DISTRICT = "district"  # bearer token, role district (区级督办), scope: a district
    ADMIN = "admin"  # bearer token, role admin
    ADMIN_TOKEN = "admin_token"  # header X-Admin-Token
    HOTLINE = "hotline"  # a 12345 platform's signed request (X-Heat-Integration, -Timestamp, -Signature)
    OPEN311 = "open311"  # an Open311 client's api_key
    SENSOR = "sensor"  # a sensor gateway's X-Api-Key
    ALERTMANAGER = "alertmanager"  # Alertmanager's webhook: Authorization: Bearer <notify.alert_token>


TITLES: Mapping[Caller, str] = MappingProxyType(
    {
        Caller.ANONYMOUS: "匿名",
        Caller.GRID_WORKER: "网格员",
        Caller.UNIT: "责任单位",
        Caller.TASK_FORCE: "街道专班",
        Caller.DISTRICT: "区",
        Caller.ADMIN: "admin",
        Caller.ADMIN_TOKEN: "X-Admin-Token",
        Caller.HOTLINE: "12345",
        Caller.OPEN311: "Open311",
        Caller.SENSOR: "采集器",
        Caller.ALERTMANAGER: "Alertmanager",
    }
)

# What "own" means for a caller that has one: the grid, unit, street, district or platform it acts for.
OWN_SCOPE: Mapping[Caller, str] = MappingProxyType(
    {
        Caller.GRID_WORKER: "本网格",
        Caller.UNIT: "本单位",
        Caller.TASK_FORCE: "本街道",
        Caller.DISTRICT: "本区",
        Caller.HOTLINE: "本平台",
    }
)


class Outcome(StrEnum):
    ALLOWED = "allowed"  # 2xx (3xx for a redirect), or 409 when the object's state refuses what was allowed
    UNAUTHENTICATED = "401"  # no credential, or not the one this route takes
    FORBIDDEN = "403"  # the credential's role may not do this
    HIDDEN = "404"  # someone else's object answers exactly like one that does not exist; a list leaves it out


@dataclass(frozen=True, slots=True)
class Access:
    """The outcome for one kind of caller: on its own object, and on someone else's (another grid, unit, street,
    district or 12345 platform). ``masked``: personal data is shown masked (李**, 138****1234)."""

    own: Outcome
    foreign: Outcome
    masked: bool = False
    scope: str = ""  # what "own" means here when it is not the caller's usual scope (e.g. 本社区)

    def label(self, caller: Caller) -> str:
        if self.own is not Outcome.ALLOWED:
            return self.own.value
        if self.foreign is Outcome.ALLOWED:
            text = "✓"
        else:
            text = self.scope or OWN_SCOPE[caller]
            if self.foreign is not Outcome.HIDDEN:
                text += f"·他处{self.foreign.value}"
        return text + ("·脱敏" if self.masked else "")


ANY = Access(Outcome.ALLOWED, Outcome.ALLOWED)
OWN = Access(Outcome.ALLOWED, Outcome.HIDDEN)
OWN_ELSE_403 = Access(Outcome.ALLOWED, Outcome.FORBIDDEN)
NO_401 = Access(Outcome.UNAUTHENTICATED, Outcome.UNAUTHENTICATED)
NO_403 = Access(Outcome.FORBIDDEN, Outcome.FORBIDDEN)
NO_404 = Access(Outcome.HIDDEN, Outcome.HIDDEN)
MASKED = Access(Outcome.ALLOWED, Outcome.ALLOWED, masked=True)
OWN_MASKED = Access(Outcome.ALLOWED, Outcome.HIDDEN, masked=True)


@dataclass(frozen=True, slots=True)
class Row:
    service: str  # intake, dispatch, followup; EVERY_SERVICE for the routes each of them has
    routes: tuple[str, ...]  # "METHOD /path" as the app declares it
    what: str
    access: Mapping[Caller, Access]


EVERY_SERVICE = "*"
SERVICES = ("intake", "dispatch", "followup")


def bearer(
    *, grid_worker: Access, unit: Access, task_force: Access, district: Access, admin: Access
) -> dict[Caller, Access]:
    """A route for people (Authorization: Bearer): every other credential is no credential at all."""
    return {c: NO_401 for c in Caller} | {
        Caller.GRID_WORKER: grid_worker,
        Caller.UNIT: unit,
        Caller.TASK_FORCE: task_force,
        Caller.DISTRICT: district,
        Caller.ADMIN: admin,
    }


def only(caller: Caller, access: Access = ANY, *, others: Access = NO_401) -> dict[Caller, Access]:
    return {c: others for c in Caller} | {caller: access}


PUBLIC: dict[Caller, Access] = {c: ANY for c in Caller}
ADMIN_ONLY = only(Caller.ADMIN_TOKEN)
GRID_ONLY = bearer(grid_worker=OWN_ELSE_403, unit=NO_403, task_force=NO_403, district=NO_403, admin=NO_403)
ASSIGNEES = bearer(grid_worker=OWN, unit=OWN, task_force=OWN, district=NO_403, admin=NO_403)
SUPERVISORS = bearer(grid_worker=NO_403, unit=NO_403, task_force=OWN, district=OWN, admin=ANY)
