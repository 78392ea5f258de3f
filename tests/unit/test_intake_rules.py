"""Pure intake rules: priority, redaction of personal data, grouping keys, the sensor cold run, signatures,
callback back-off, and the Open311 XML shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from pydantic import ValidationError

from services.intake.config import DEV_HOTLINE_INTEGRATION, IntakeSettings
from services.intake.domain import ColdRun, advance, group_keys, joinable, priority_for, redact
from services.intake.open311 import ATTRIBUTES, service_list, to_xml
from shared import signing
from shared.contracts.common import Category, Priority
from tests.keys import REAL_PHOTOS

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def test_priority_uplift_for_emergencies_outages_and_priority_residents() -> None:
    assert priority_for(Category.BURST_PIPE, priority_resident=False, measured_temp_c=None) is Priority.EMERGENCY
    assert priority_for(Category.ICE_HAZARD, priority_resident=False, measured_temp_c=None) is Priority.EMERGENCY
    assert priority_for(Category.OUTAGE, priority_resident=False, measured_temp_c=None) is Priority.URGENT
    assert priority_for(Category.OUTAGE, priority_resident=True, measured_temp_c=None) is Priority.EMERGENCY
    assert priority_for(Category.COLD_ROOM, priority_resident=True, measured_temp_c=17.0) is Priority.URGENT
    assert priority_for(Category.FEE_DISPUTE, priority_resident=False, measured_temp_c=None) is Priority.NORMAL


def test_redaction_removes_phones_ids_and_names() -> None:
    text = "来电人王女士（电话138 0000 1234，座机0931-8123456，身份证62010219800101123X）反映暖气不热，我叫李兰平"
    out = redact(text, names=["李兰平"])
    for secret in ("138 0000 1234", "0931-8123456", "62010219800101123X", "王女士", "李兰平"):
        assert secret not in out, out
    assert "暖气不热" in out
    assert "维修师傅" in redact("维修师傅来过了")  # not a name


def test_group_keys_follow_household_building_and_substation() -> None:
    joins, own = group_keys(Category.COLD_ROOM, household_id="H1", building_id="B1", substation_id="SS1")
    assert [k.key for k in joins] == ["substation:SS1:outage", "household:H1:cold_room"]
    assert own.key == "household:H1:cold_room" and not own.windowed
    _, burst = group_keys(Category.BURST_PIPE, household_id="H1", building_id="B1", substation_id="SS1")
    assert burst.key == "building:B1:burst_pipe" and burst.windowed
    _, outage = group_keys(Category.OUTAGE, household_id="H1", building_id="B1", substation_id="SS1")
    assert outage.key == "substation:SS1:outage"
    _, no_net = group_keys(Category.OUTAGE, household_id=None, building_id="B2", substation_id=None)
    assert no_net.key == "building:B2:outage"
    joins, leak = group_keys(Category.LEAK, household_id="H1", building_id="B1", substation_id="SS1")
    assert [k.key for k in joins] == [leak.key] == ["household:H1:leak"]


def test_incident_window_is_sliding_and_household_groups_have_none() -> None:
    _, burst = group_keys(Category.BURST_PIPE, household_id=None, building_id="B1", substation_id=None)
    window = timedelta(hours=6)
    assert joinable(burst, last_report_at=T0, now=T0 + timedelta(hours=5), window=window)
    assert not joinable(burst, last_report_at=T0, now=T0 + timedelta(hours=7), window=window)
    _, cold = group_keys(Category.COLD_ROOM, household_id="H1", building_id="B1", substation_id=None)
    assert joinable(cold, last_report_at=T0, now=T0 + timedelta(days=5), window=window)


def readings(
    start: datetime, temps: list[float], every: timedelta = timedelta(minutes=15)
) -> list[tuple[datetime, float]]:
    return [(start + i * every, t) for i, t in enumerate(temps)]


def test_cold_run_reaches_two_hours_below_threshold() -> None:
    duration = timedelta(hours=2)
    run, reached = advance(ColdRun(None, None, None), readings(T0, [15.0] * 8), threshold_c=16, duration=duration)
    assert reached is None and run.cold_since == T0  # 7 × 15 min = 1 h 45
    run, reached = advance(run, readings(T0 + timedelta(hours=2), [15.5]), threshold_c=16, duration=duration)
    assert reached == T0 + timedelta(hours=2)


def test_a_warm_reading_breaks_the_run_and_old_readings_are_not_replayed() -> None:
    duration = timedelta(hours=2)
    temps = [15.0] * 6 + [17.0] + [15.0] * 6
    run, reached = advance(ColdRun(None, None, None), readings(T0, temps), threshold_c=16, duration=duration)
    assert reached is None and run.cold_since == T0 + timedelta(minutes=7 * 15)
    late, reached = advance(run, readings(T0, [10.0] * 3), threshold_c=16, duration=duration)
    assert late == run and reached is None


def test_signature_over_timestamp_dot_body_and_skew() -> None:
    body = b'{"order_no":"GD1"}'
    sig = signing.sign("s3cret", "1763600000", body)
    assert signing.signature_valid("s3cret", "1763600000", body, sig)
    assert signing.signature_valid("s3cret", "1763600000", body, sig.upper())
    assert not signing.signature_valid("s3cret", "1763600001", body, sig)
    assert not signing.signature_valid("other", "1763600000", body, sig)
    assert signing.timestamp_fresh("1763600000", now=1763600000 + 299, max_skew_seconds=300)
    assert not signing.timestamp_fresh("1763600000", now=1763600000 + 301, max_skew_seconds=300)
    assert not signing.timestamp_fresh("1763600000", now=1763600000 - 301, max_skew_seconds=300)
    assert not signing.timestamp_fresh("17636e5", now=1763600000, max_skew_seconds=300)


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = [signing.backoff_seconds(n, base=2, cap=60) for n in range(1, 8)]
    assert delays == [2, 4, 8, 16, 32, 60, 60]


def test_open311_xml_uses_the_specs_element_names() -> None:
    services = ET.fromstring(to_xml("services", service_list()))
    assert services.tag == "services"
    first = services.find("service")
    assert first is not None and first.findtext("service_code") == "cold_room"
    assert first.findtext("metadata") == "true" and first.findtext("type") == "realtime"
    definition = ET.fromstring(to_xml("service_definition", {"service_code": "leak", "attributes": ATTRIBUTES}))
    codes = [a.findtext("code") for a in definition.iter("attribute")]
    assert codes == ["household_id", "building_id", "measured_temp_c"]
    errors = ET.fromstring(to_xml("errors", [{"code": 403, "description": "api_key 无效"}]))
    assert errors.find("error/code") is not None and errors.findtext("error/code") == "403"


def test_dev_credentials_exist_only_outside_production_and_placeholders_are_refused() -> None:
    strong = "x" * 32
    dev = IntakeSettings(environment="development")
    assert DEV_HOTLINE_INTEGRATION in dev.integrations and dev.open311_api_keys and dev.sensor_gateway_keys
    jwks = "https://dispatch.example/.well-known/jwks.json"
    prod = IntakeSettings(environment="production", photos=REAL_PHOTOS, auth_jwks_url=jwks, admin_token=strong)
    assert prod.integrations == {} and prod.open311_api_keys == {} and prod.sensor_gateway_keys == {}
    with pytest.raises(ValidationError, match=r"hotline_integrations\.12345-CG"):
        IntakeSettings(
            environment="production",
            photos=REAL_PHOTOS,
            auth_jwks_url=jwks,
            admin_token=strong,
            hotline_integrations={"12345-CG": {"secret": "short", "callback_url": "https://12345.example/cb"}},
        )
