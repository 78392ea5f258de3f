"""The console's page, headers, stream authentication and password hashing — no database, no broker: the
dispatch app is driven without its lifespan, which only the API routes need."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from services.dispatch import console, passwords
from services.dispatch.config import DispatchSettings
from services.dispatch.main import create_app
from services.dispatch.notify.channels.base import ChannelKind
from services.dispatch.notify.channels.registry import validate_target
from services.dispatch.notify.channels.targets import TargetRefused
from services.dispatch.notify.kinds import NotifyKind
from services.followup import assessment
from services.followup import texts as followup_texts
from services.followup.schemas import AssessmentLineOut
from shared.auth import Principal, Role, issue
from shared.settings import DEV_AUTH_PRIVATE_KEY
from tests.keys import another_key
from tests.observability import CJK


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(DispatchSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (x.strip() for x in csp.split(";")) if d}


async def test_the_page_is_served_with_a_strict_content_security_policy(http: httpx.AsyncClient) -> None:
    r = await http.get("/console/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/console/app.js">' in r.text and '<html lang="zh-CN">' in r.text
    csp = directives(r.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    # dispatch itself, follow-up's reports and visits, and the photo store (uploads; thumbnails in img-src)
    assert csp["connect-src"] == ["'self'", "http://127.0.0.1:8003", "http://127.0.0.1:19000"]
    assert csp["img-src"] == ["'self'", "data:", "http://127.0.0.1:19000"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert "unsafe" not in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    redirect = await http.get("/console")
    assert redirect.status_code == 308 and redirect.headers["location"] == "/console/"


async def test_scripts_and_styles_are_served_with_their_types_and_nothing_else_is(http: httpx.AsyncClient) -> None:
    js = await http.get("/console/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "content-security-policy" in js.headers
    css = await http.get("/console/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    for path in ("/console/console.py", "/console/..%2Fconsole.py", "/console/%2e%2e/main.py", "/console/nope.js"):
        assert (await http.get(path)).status_code == 404, path
    config = await http.get("/console/config.json")
    assert config.json() == {"followup_url": "http://127.0.0.1:8003"}


async def test_the_followup_origin_comes_from_the_apps_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's own settings decide, not a second reading of the environment behind its back."""
    monkeypatch.setenv("DISPATCH_CONSOLE_FOLLOWUP_URL", "https://elsewhere.example.org/")
    app = create_app(DispatchSettings(console_followup_url="https://reports.example.org:8443/base/"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        page = await client.get("/console/")
        config = await client.get("/console/config.json")
    assert directives(page.headers["content-security-policy"])["connect-src"][:2] == [
        "'self'",
        "https://reports.example.org:8443",
    ]
    assert config.json() == {"followup_url": "https://reports.example.org:8443/base"}


def test_the_page_builds_the_dom_from_text_only() -> None:
    """Data reaches the page as text nodes (dom.js ``h``): no HTML parsing of anything, no eval, no inline code."""
    static = console.STATIC
    for path in static.glob("*.js"):
        source = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, f"{path.name} uses {sink}"
    html = (static / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and " on" not in html.lower()


def columns(source: str, name: str) -> list[tuple[str, str]]:
    """The [key, 中文] pairs of an exported column list of labels.js."""
    block = re.search(rf"export const {name} = \[(.*?)\n\];", source, re.S)
    assert block, f"labels.js exports {name}"
    return re.findall(r"\['(\w+)', '([^']+)'\]", block.group(1))


def test_the_assessment_is_shown_beside_the_scorecard_with_the_apis_fields_in_chinese() -> None:
    """The console's 12345 热线考核 table reads follow-up's GET /v1/assessment: every column a field of its
    answer, every rate and the composite shown, named as follow-up's CSV names them."""
    static = console.STATIC
    shown = columns((static / "labels.js").read_text(encoding="utf-8"), "ASSESSMENT_COLUMNS")
    keys = [k for k, _ in shown]
    assert set(keys) <= set(AssessmentLineOut.model_fields), "a column the API does not send"
    assert {*assessment.RATES, "composite"} <= set(keys)
    for key, text in shown:
        assert CJK.search(text), key
        if key != "key":
            assert text == followup_texts.ASSESSMENT_LABELS[key], key
    page = (static / "taskforce.js").read_text(encoding="utf-8")
    assert "followup('GET', '/v1/assessment')" in page and "ASSESSMENT_COLUMNS" in page
    # under the scorecard, in the same pane of the 日报与考核 tab
    assert "h('section', { class: 'pane' }, scores, assess)" in page


def mapping(source: str, name: str) -> dict[str, str]:
    """The {key: '中文'} entries of an exported object of labels.js."""
    block = re.search(rf"export const {name} = \{{(.*?)\n\}};", source, re.S)
    assert block, f"labels.js exports {name}"
    return dict(re.findall(r"^\s+(\w+): '([^']+)',$", block.group(1), re.M))


def test_the_notify_settings_name_every_channel_and_the_units_kinds_in_chinese() -> None:
    """通知设置 (notify.js) offers every channel dispatch sends on and the kinds a unit hears of, by the API's codes."""
    labels = (console.STATIC / "labels.js").read_text(encoding="utf-8")
    channels = mapping(labels, "NOTIFY_CHANNELS")
    assert set(channels) == {c.value for c in ChannelKind}
    kinds = mapping(labels, "NOTIFY_KINDS")
    assert set(kinds) == {"assigned", "reminder", "notice", "supervision", "hotline_hurry", "hotline_supplement"}
    assert set(kinds) <= {k.value for k in NotifyKind}
    assert all(CJK.search(text) for text in [*channels.values(), *kinds.values()])


@pytest.mark.parametrize(
    ("channel", "config"),
    [
        (ChannelKind.SMS, {"phones": ["12345"]}),
        (ChannelKind.SMS, {"phones": []}),
        (ChannelKind.SMS, {}),
        (ChannelKind.SMS, {"phones": ["13800000000"] * 1001}),
        (ChannelKind.WECOM, {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}),
        (ChannelKind.WECOM, {"url": "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}),
        (ChannelKind.WECOM, {"url": "qyapi.weixin.qq.com"}),
        (ChannelKind.WECOM, {"url": "https://qyapi.weixin.qq.com/?key=" + "k" * 2000}),
        (ChannelKind.WECOM, {"url": "https://qyapi.weixin.qq.com/?key=k", "mentions": ["1380000"]}),
        (ChannelKind.DINGTALK, {"url": "https://oapi.dingtalk.com/robot/send"}),
        (ChannelKind.DINGTALK, {"url": "https://oapi.dingtalk.com/robot/send?access_token=t", "secret": ""}),
        (ChannelKind.WEBHOOK, {"url": "https://example.org/hook"}),
        (ChannelKind.WEBHOOK, {"url": "https://example.org/hook", "secret": "s" * 201}),
    ],
)
def test_the_notify_settings_say_in_chinese_why_a_target_was_refused(channel: ChannelKind, config: object) -> None:
    """A target's check says why in English (channels/targets.py); labels.js TARGET_REASONS turns each reason a
    form can cause into Chinese for the field's error line."""
    with pytest.raises(TargetRefused) as refused:
        validate_target(channel, config)
    labels = (console.STATIC / "labels.js").read_text(encoding="utf-8")
    block = re.search(r"export const TARGET_REASONS = \[(.*?)\n\];", labels, re.S)
    assert block
    patterns = re.findall(r"^\s+\[/(.+)/, '[^']+'\],$", block.group(1), re.M)
    assert patterns and any(re.search(p, refused.value.reason) for p in patterns), refused.value.reason


async def test_the_stream_refuses_a_bad_token_like_the_api_does(http: httpx.AsyncClient) -> None:
    unit = Principal(role=Role.UNIT, sub="U-HEAT-1", scope="D-CG")
    for bad in (
        "",
        "not-a-token",
        issue(unit, another_key()),  # signed with a key nobody trusts
        issue(unit, DEV_AUTH_PRIVATE_KEY, ttl_seconds=-120),  # expired (beyond the 30 s leeway for clock skew)
        issue(unit, DEV_AUTH_PRIVATE_KEY)[:-2] + "xx",  # signature tampered with
    ):
        r = await http.get("/console/events", params={"token": bad})
        assert r.status_code == 401, bad
        assert r.json()["detail"]["message"] == "未登录或令牌无效"
    admin = await http.get("/console/events", params={"token": issue(Principal(role=Role.ADMIN), DEV_AUTH_PRIVATE_KEY)})
    assert admin.status_code == 403


async def test_cors_is_off_unless_origins_are_configured() -> None:
    origin = "http://127.0.0.1:8002"
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    for origins, allowed in (([], None), ([origin], origin)):
        app = create_app(DispatchSettings(cors_origins=origins))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            r = await client.options("/v1/assignments", headers=preflight)
            assert r.headers.get("access-control-allow-origin") == allowed
            other = await client.options("/v1/assignments", headers={**preflight, "Origin": "http://evil.example"})
            assert "access-control-allow-origin" not in other.headers


def test_passwords_are_salted_argon2_hashes_and_old_scrypt_ones_still_verify() -> None:
    one, two = passwords.hash_password("heat1-demo"), passwords.hash_password("heat1-demo")
    assert one != two and one.startswith("$argon2id$")  # a fresh salt each time
    assert passwords.verify("heat1-demo", one) == (True, None) and passwords.verify("heat1-demo", two)[0]
    assert passwords.verify("heat1-demo!", one) == (False, None)
    assert passwords.verify("heat1-demo", "garbage") == (False, None)
    assert passwords.verify("heat1-demo", "pbkdf2$1$2$3$AAAA$AAAA") == (False, None)
    legacy = passwords.ScryptHasher().hash("heat1-demo")
    assert legacy.startswith("scrypt$16384$8$1$")
    ok, upgraded = passwords.verify("heat1-demo", legacy)
    assert ok and upgraded is not None and upgraded.startswith("$argon2id$")  # replaced at the next sign-in
    assert passwords.verify("heat1-demo!", legacy) == (False, None)


def test_an_unknown_name_costs_as_much_as_a_wrong_password() -> None:
    stored = passwords.hash_password("right-password")
    passwords.check("warm-up", None)
    started = time.perf_counter()
    assert not passwords.check("wrong-password", stored)[0]
    wrong = time.perf_counter() - started
    started = time.perf_counter()
    assert not passwords.check("wrong-password", None)[0]
    unknown = time.perf_counter() - started
    assert unknown > wrong / 3  # both run one argon2; no early return for an unknown name
