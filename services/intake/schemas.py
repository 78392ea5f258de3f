"""HTTP shapes of the intake API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.common import Category, Priority, UnitType
from shared.evidence import MAX_PHOTOS, PhotoKey, PhotoOut
from shared.inputs import BOUNDED, ISO, IsoDateTime
from shared.privacy import FreeText, PhotoRef
from shared.text import CLEAN, CleanText

# A registry id (area, building, household, sensor): ASCII letters and digits, then also ``. _ : -``. A building id is
# published as Open311's address_id and every id travels in events, URLs and XML, so an id is refused (422 naming the
# field) rather than stored with a character one of them cannot carry or would read differently.
REGISTRY_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
RegistryId = Annotated[str, Field(min_length=1, max_length=64, pattern=REGISTRY_ID)]


class AreaIn(BaseModel):
    id: RegistryId
    kind: Literal["district", "street", "community", "grid", "compound", "substation"]
    name: CleanText = Field(min_length=1, max_length=200)
    parent_id: RegistryId | None = None


class BuildingIn(BaseModel):
    id: RegistryId
    name: CleanText = Field(min_length=1, max_length=200)
    compound_id: RegistryId
    grid_id: RegistryId
    substation_id: RegistryId | None = None


class HouseholdIn(BaseModel):
    id: RegistryId
    building_id: RegistryId
    unit_no: CleanText = Field(max_length=16)
    room: CleanText = Field(max_length=16)
    resident_name: Annotated[str, Field(max_length=100), CLEAN] | None = None
    phone: Annotated[str, Field(max_length=32), CLEAN] | None = None
    priority_group: Literal["elderly_alone", "disabled", "low_income"] | None = None


class SensorIn(BaseModel):
    id: RegistryId = Field(description="The sensor's own id (室温采集器编号).")
    household_id: RegistryId


class RegistryIn(BaseModel):
    areas: list[AreaIn] = Field(default_factory=list, max_length=100_000)
    buildings: list[BuildingIn] = Field(default_factory=list, max_length=100_000)
    households: list[HouseholdIn] = Field(default_factory=list, max_length=1_000_000)
    sensors: list[SensorIn] = Field(default_factory=list, max_length=1_000_000)


class GridReportIn(BaseModel):
    """一键上报 by a grid worker: a household (or a whole building), what is wrong, what was measured."""

    household_id: str | None = Field(default=None, max_length=64)
    building_id: str | None = Field(default=None, max_length=64)
    category: Category | None = Field(default=None, description="Omitted: classified from the description.")
    description: FreeText = Field(min_length=1, max_length=2000, description="What is wrong, stored redacted.")
    measured_temp_c: float | None = Field(
        default=None, ge=-10, le=40, strict=True, description="Indoor temperature (°C)."
    )
    photo_refs: list[PhotoKey] = Field(
        default_factory=list,
        max_length=MAX_PHOTOS,
        description="Photos uploaded with intake's POST /v1/photos/uploads.",
    )
    idempotency_key: str | None = Field(default=None, max_length=80, description="Resend-safe client key.")


class ReportEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: str
    note: str
    at: datetime


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    channel: str
    category: str
    priority: str
    priority_resident: bool
    status: str
    case_id: str | None
    group_id: str | None = Field(default=None, description="The incident the report belongs to.")
    location: dict[str, Any]
    reported_at: datetime
    timeline: list[ReportEventOut] = []
    photos: list[PhotoOut] = Field(
        default_factory=list, description="The reporter's photos (short-lived links; in the report's detail only)."
    )


class ContactOut(BaseModel):
    """Whom to call about a report: the household's resident as the registry has them. In full for the unit
    assigned to the open case and the grid worker of the grid; masked (李**, 138****1234) for overseers."""

    report_id: str
    household_id: str | None = Field(description="None for a building-wide report: nobody to call.")
    resident_name: str | None
    phone: str | None
    masked: bool = Field(description="True: name and phone are masked.")


class PublicReportOut(BaseModel):
    """What a resident sees with the report number they were given: status, timeline, the deadline and the kind of
    unit handling it; no personal data, no unit's name."""

    id: str
    category: str
    status: str
    status_note: str
    reported_at: datetime
    updated_at: datetime
    expected_at: datetime | None = Field(
        default=None,
        description="The current deadline (办结时限): the latest resolve deadline of the units answering for the case, "
        "moved by an approved extension; none before the case is assigned.",
    )
    handling_unit_types: list[UnitType] = Field(
        default_factory=list,
        description="The types of the units answering for the case now (from dispatch's CaseAssigned, minus 退单 and "
        "re-tiering); never a unit's id, name or people.",
    )
    handled_by: str | None = Field(
        default=None, description="The same in Chinese, e.g. 供热企业、物业; none before the case is assigned."
    )
    timeline: list[ReportEventOut]


# -- 12345 ----------------------------------------------------------------------------------------------------


class HotlineOrderIn(BaseModel):
    """A 12345 work order (工单). The order number is the idempotency key: sent again, it returns the same report."""

    order_no: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._:-]+$", description="工单编号")
    request_id: str | None = Field(
        default=None, max_length=80, description="The platform's id of this send; lets a resend carry a new signature."
    )
    household_id: str | None = Field(default=None, max_length=64, description="Registry household id.")
    building_id: str | None = Field(default=None, max_length=64, description="Registry building id (building-wide).")
    category: Category | None = Field(default=None, description="Omitted: classified from the content.")
    content: FreeText = Field(
        min_length=1, max_length=2000, description="诉求内容, as the operator typed it; stored redacted."
    )
    accepted_at: Annotated[datetime, ISO, BOUNDED] | None = Field(
        default=None, description="When 12345 took the call (受理时间)."
    )
    caller_name: Annotated[str, Field(max_length=100), CLEAN] | None = Field(
        default=None, description="Accepted and never stored."
    )
    caller_phone: Annotated[str, Field(max_length=32), CLEAN] | None = Field(
        default=None, description="Accepted and never stored."
    )
    photo_refs: list[PhotoRef] = Field(default_factory=list, max_length=20)


class HotlineOrderOut(BaseModel):
    order_no: str
    report_id: str
    status: str
    status_text: str
    case_id: str | None
    category: str
    priority: str
    grouped: bool = Field(description="Linked to an incident already being handled.")
    timeline: list[ReportEventOut] = []


_OPERATION_ID = Field(
    min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._:-]+$", description="The platform's id of this operation."
)
_CALLER_NAME = Field(default=None, description="Accepted and never stored: taken out of the text.")


class HotlineOperationIn(BaseModel):
    """What every operation on an order carries. ``operation_id`` is the idempotency key: the same operation sent
    again answers 200 with the order as it stands; the same id for another operation or order is refused (409)."""

    operation_id: str = _OPERATION_ID
    request_id: str | None = Field(
        default=None, max_length=80, description="The platform's id of this send; lets a resend carry a new signature."
    )
    caller_name: Annotated[str, Field(max_length=100), CLEAN] | None = _CALLER_NAME
    caller_phone: Annotated[str, Field(max_length=32), CLEAN] | None = _CALLER_NAME


class HotlineWithdrawIn(HotlineOperationIn):
    """撤单: the caller's problem is solved, or the order was misfiled."""

    reason: FreeText = Field(min_length=1, max_length=500, description="撤单原因; stored redacted.")


class HotlineSupplementIn(HotlineOperationIn):
    """补充诉求: the resident called again with more facts."""

    content: FreeText = Field(min_length=1, max_length=2000, description="补充内容; stored redacted.")
    priority: Priority | None = Field(
        default=None, description="The priority the new facts call for (e.g. water on the floor); never lowers it."
    )
    priority_resident: bool = Field(default=False, description="The new facts name a priority resident (重点人群).")


class HotlineHurryIn(HotlineOperationIn):
    """催单: the resident called again because nothing happened (a repeat complaint, 重复诉求)."""

    content: FreeText | None = Field(
        default=None, max_length=2000, description="What the caller said; stored redacted."
    )


class HotlineOperationOut(BaseModel):
    operation_id: str
    kind: Literal["withdraw", "supplement", "hurry"]
    accepted_at: datetime
    order: HotlineOrderOut


class CallbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    integration_id: str
    order_no: str
    report_id: str
    seq: int
    status: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class RedriveOut(BaseModel):
    redriven: int


# -- sensors and the visit ledger ---------------------------------------------------------------------------------


class ReadingIn(BaseModel):
    sensor_id: RegistryId = Field(description="A sensor id of the registry (ASCII letters, digits, . _ : -).")
    measured_at: IsoDateTime
    temp_c: float = Field(ge=-40, le=60, strict=True)


class ReadingsIn(BaseModel):
    readings: list[ReadingIn] = Field(min_length=1, max_length=50_000)


class ReadingsOut(BaseModel):
    stored: int
    reports: list[str] = Field(description="Reports the cold-room rule raised with this batch.")


class FindingIn(BaseModel):
    category: Category | None = Field(default=None, description="Omitted: classified from the description.")
    description: FreeText = Field(min_length=1, max_length=2000, description="What was found, stored redacted.")
    photo_refs: list[PhotoKey] = Field(
        default_factory=list,
        max_length=MAX_PHOTOS,
        description="Photos uploaded with intake's POST /v1/photos/uploads.",
    )


class VisitIn(BaseModel):
    """访民问暖 入户走访: one visit, what was measured, whom the worker spoke to, what was found."""

    household_id: str = Field(min_length=1, max_length=64)
    visited_at: IsoDateTime | None = Field(default=None, description="Omitted: now.")
    measured_temp_c: float | None = Field(default=None, ge=-10, le=40, strict=True)
    residents_reached: int = Field(ge=0, le=50, strict=True)
    findings: list[FindingIn] = Field(default_factory=list, max_length=10)
    idempotency_key: str | None = Field(default=None, max_length=80)


class PlaceOut(BaseModel):
    """A building (``household_id`` None: report for the whole building) or a household of the caller's grid."""

    building_id: str
    household_id: str | None
    compound_id: str
    compound: str
    building: str
    unit_no: str | None
    room: str | None
    label: str = Field(description="小区 · 楼栋 · 单元 · 室, e.g. 粮库家属院 · 1号楼 · 1单元 · 101室")
    priority_resident: bool = Field(description="A household of priority residents (独居老人、残障、低保…).")


class VisitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    household_id: str
    grid_id: str
    grid_worker_id: str
    visited_at: datetime
    measured_temp_c: float | None
    residents_reached: int
    problem_found: bool
    report_ids: list[str]


class VisitSummaryOut(BaseModel):
    """The ledger's part of the daily report: visits, residents reached, problems found."""

    grid_id: str
    day: str
    visits: int
    households: int
    residents_reached: int
    problems_found: int
    below_standard: int = Field(description="Visits whose measured temperature was under 18 °C.")
