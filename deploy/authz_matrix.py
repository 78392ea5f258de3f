"""Who may call what: every HTTP route of the three services × every kind of caller, with the outcome on the
caller's own object and on someone else's.

This is data, read by two tests and one tool: ``tests/integration/test_authorization.py`` drives every cell
against the services on the real stack (and fails when a route of an app has no row here), and
``python -m deploy.authz_table`` renders the table into the README, which ``tests/unit/test_authz_table.py`` keeps
in step.
"""

from __future__ import annotations

from collections.abc import Mapping

from deploy.authz_terms import (
    ADMIN_ONLY,
    ANY,
    ASSIGNEES,
    EVERY_SERVICE,
    GRID_ONLY,
    MASKED,
    NO_403,
    NO_404,
    OWN,
    OWN_ELSE_403,
    OWN_MASKED,
    PUBLIC,
    SERVICES,
    SUPERVISORS,
    TITLES,
    Access,
    Caller,
    Outcome,
    Row,
    bearer,
    only,
)

__all__ = ["EVERY_SERVICE", "MATRIX", "SERVICES", "TITLES", "Access", "Caller", "Outcome", "Row", "access", "rows_of"]


MATRIX: tuple[Row, ...] = (
    # -- every service -------------------------------------------------------------------------------------------
    Row(
        EVERY_SERVICE,
        (
            "GET /healthz",
            "GET /readyz",
            "GET /metrics",
            "GET /openapi.json",
            "GET /docs",
            "GET /docs/oauth2-redirect",
            "GET /docs/assets/{name}",
        ),
        "运行状态、指标（无个人信息）、接口文档",
        PUBLIC,
    ),
    # -- intake ----------------------------------------------------------------------------------------------------
    Row("intake", ("POST /v1/grid-reports",), "一键上报（本网格的住户、楼栋）", GRID_ONLY),
    Row("intake", ("POST /v1/visits",), "入户走访登记", GRID_ONLY),
    Row(
        "intake",
        ("GET /v1/visits", "GET /v1/visits/summary"),
        "走访台账（网格员只看本网格，不论传入哪个 grid_id）",
        bearer(grid_worker=OWN, unit=NO_403, task_force=OWN, district=OWN, admin=ANY),
    ),
    Row(
        "intake",
        ("GET /v1/reports/{report_id}",),
        "诉求状态与时间线",
        bearer(grid_worker=OWN, unit=NO_404, task_force=OWN, district=OWN, admin=ANY),
    ),
    Row(
        "intake",
        ("GET /v1/reports/{report_id}/contact",),
        "居民姓名电话：承办单位、本网格网格员见全文，督办方见脱敏",
        bearer(
            grid_worker=OWN,
            unit=Access(Outcome.ALLOWED, Outcome.HIDDEN, scope="本单位承办"),
            task_force=OWN_MASKED,
            district=OWN_MASKED,
            admin=MASKED,
        ),
    ),
    Row("intake", ("GET /v1/public/reports/{report_id}",), "居民凭诉求编号查询进度（无个人信息）", PUBLIC),
    Row("intake", ("POST /hotline/v1/orders",), "12345 工单（签名）", only(Caller.HOTLINE)),
    Row("intake", ("GET /hotline/v1/orders/{order_no}",), "12345 工单状态", only(Caller.HOTLINE, OWN)),
    Row(
        "intake",
        (
            "POST /hotline/v1/orders/{order_no}/withdraw",
            "POST /hotline/v1/orders/{order_no}/supplement",
            "POST /hotline/v1/orders/{order_no}/hurry",
        ),
        "12345 撤单、补充诉求、催单（签名，只及本平台的工单）",
        only(Caller.HOTLINE, OWN),
    ),
    Row("intake", ("POST /v1/sensor-readings",), "室温采集器读数", only(Caller.SENSOR)),
    Row(
        "intake",
        ("GET /v1/places",),
        "本网格的楼栋与住户（小区 · 楼栋 · 单元 · 室，无姓名电话）",
        bearer(grid_worker=OWN, unit=NO_403, task_force=NO_403, district=NO_403, admin=NO_403),
    ),
    Row(
        "intake",
        ("POST /v1/photos/uploads",),
        "照片上传授权（一键上报、走访的照片；只可用于本人的操作）",
        bearer(grid_worker=ANY, unit=NO_403, task_force=NO_403, district=NO_403, admin=NO_403),
    ),
    Row(
        "intake",
        (
            "PUT /admin/registry",
            "GET /admin/incidents/{group_id}",
            "GET /admin/hotline/callbacks",
            "POST /admin/hotline/callbacks/{callback_id}/redrive",
            "POST /admin/hotline/callbacks/redrive",
        ),
        "登记簿、事件组、12345 回调队列",
        ADMIN_ONLY,
    ),
    Row(
        "intake",
        (
            "GET /open311/v2/services.{fmt}",
            "GET /open311/v2/services/{service_code}.{fmt}",
            "GET /open311/v2/requests.{fmt}",
            "GET /open311/v2/requests/{service_request_id}.{fmt}",
        ),
        "Open311 公开查询（描述已去除电话、姓名）",
        PUBLIC,
    ),
    Row("intake", ("POST /open311/v2/requests.{fmt}",), "Open311 提交诉求", only(Caller.OPEN311, others=NO_403)),
    # -- dispatch --------------------------------------------------------------------------------------------------
    Row("dispatch", ("GET /v1/assignments",), "我的派单（不论传入什么筛选条件）", ASSIGNEES),
    Row(
        "dispatch",
        (
            "GET /v1/assignments/{assignment_id}",
            "POST /v1/assignments/{assignment_id}/sign-in",
            "POST /v1/assignments/{assignment_id}/arrive",
            "POST /v1/assignments/{assignment_id}/progress",
            "POST /v1/assignments/{assignment_id}/resolve",
            "POST /v1/assignments/{assignment_id}/return",
            "POST /v1/assignments/{assignment_id}/extensions",
        ),
        "派单办理：签收、到场、进展、办结、退单、申请延期",
        ASSIGNEES,
    ),
    Row(
        "dispatch",
        ("POST /v1/photos/uploads",),
        "照片上传授权（办结照片；只可用于本方的派单）",
        bearer(grid_worker=ANY, unit=ANY, task_force=ANY, district=NO_403, admin=NO_403),
    ),
    Row("dispatch", ("GET /v1/extensions",), "延期申请列表", SUPERVISORS),
    Row(
        "dispatch",
        ("POST /v1/extensions/{extension_id}/decision",),
        "延期审批",
        bearer(grid_worker=NO_404, unit=NO_404, task_force=OWN, district=OWN, admin=ANY),
    ),
    Row("dispatch", ("GET /v1/cases",), "案件列表（超时、升级在前）", SUPERVISORS),
    Row(
        "dispatch",
        ("GET /v1/cases/{case_id}",),
        "案件详情与时间线（承办方只见本方的派单、延期和办理记录）",
        bearer(grid_worker=OWN, unit=OWN, task_force=OWN, district=OWN, admin=ANY),
    ),
    Row(
        "dispatch",
        ("POST /v1/cases/{case_id}/tier",),
        "调整分级",
        bearer(grid_worker=NO_404, unit=NO_404, task_force=OWN, district=OWN, admin=ANY),
    ),
    Row(
        "dispatch",
        ("PUT /v1/districts/{district_id}/cold-snap",),
        "寒潮标记",
        bearer(grid_worker=NO_403, unit=NO_403, task_force=NO_403, district=OWN_ELSE_403, admin=ANY),
    ),
    Row(
        "dispatch",
        ("GET /v1/units",),
        "责任单位名录（编号、类型、名称，供页面显示单位名称）",
        bearer(grid_worker=ANY, unit=ANY, task_force=ANY, district=ANY, admin=ANY),
    ),
    Row(
        "dispatch",
        (
            "PUT /admin/units",
            "GET /admin/rules",
            "PUT /admin/rules",
            "POST /admin/rules/{version}/activate",
            "PUT /admin/accounts",
            "GET /admin/calendar/{year}",
            "PUT /admin/calendar/{year}",
        ),
        "单位登记簿、调度规则（含回滚到旧版本）、调度台账号、工作日历（节假日与调休）",
        ADMIN_ONLY,
    ),
    Row(
        "dispatch",
        (
            "PUT /admin/notify/targets",
            "GET /admin/notify/targets",
            "DELETE /admin/notify/targets/{target_id}",
            "GET /admin/notify/notifications",
            "POST /admin/notify/notifications/{notification_id}/redrive",
            "POST /admin/notify/notifications/redrive",
        ),
        "通知对象（单位、社区、街道、区、运维值班的群机器人、值班手机、自有系统）、通知记录与重发",
        ADMIN_ONLY,
    ),
    Row(
        "dispatch",
        ("GET /v1/notify/targets", "PUT /v1/notify/targets"),
        "本单位的通知对象（值班群机器人、值班手机、自有系统；只见、只设本单位的）",
        bearer(grid_worker=NO_403, unit=ANY, task_force=NO_403, district=NO_403, admin=NO_403),
    ),
    Row(
        "dispatch",
        ("DELETE /v1/notify/targets/{target_id}",),
        "删除本单位的通知对象",
        bearer(grid_worker=NO_403, unit=OWN, task_force=NO_403, district=NO_403, admin=NO_403),
    ),
    Row(
        "dispatch",
        ("POST /notify/v1/alertmanager",),
        "运维告警推送（Alertmanager 的 webhook）",
        only(Caller.ALERTMANAGER),
    ),
    Row("dispatch", ("POST /v1/login",), "调度台登录（凭用户名密码）", PUBLIC),
    Row("dispatch", ("GET /.well-known/jwks.json",), "令牌验签公钥（JWKS，无密钥）", PUBLIC),
    Row(
        "dispatch",
        ("GET /console", "GET /console/", "GET /console/config.json", "GET /console/{name}"),
        "调度台页面（静态文件）",
        PUBLIC,
    ),
    Row(
        "dispatch",
        ("GET /field", "GET /field/", "GET /field/config.json", "GET /field/{name}"),
        "现场端页面（静态文件，离线可用）",
        PUBLIC,
    ),
    Row(
        "dispatch",
        ("GET /console/events",),
        "调度台实时更新（令牌在查询串；只含版本号）",
        bearer(grid_worker=OWN, unit=OWN, task_force=OWN, district=OWN, admin=NO_403),
    ),
    # -- followup --------------------------------------------------------------------------------------------------
    Row(
        "followup",
        ("GET /v1/visits", "GET /v1/visits/{visit_id}"),
        "回访任务",
        bearer(grid_worker=OWN, unit=NO_403, task_force=OWN, district=OWN, admin=ANY),
    ),
    Row(
        "followup",
        ("POST /v1/visits/{visit_id}/record",),
        "回访记录",
        bearer(grid_worker=OWN, unit=NO_403, task_force=NO_403, district=NO_403, admin=NO_403),
    ),
    Row(
        "followup",
        ("POST /v1/photos/uploads",),
        "照片上传授权（回访测温照片、抽核照片；只可用于本人的操作）",
        bearer(grid_worker=ANY, unit=NO_403, task_force=ANY, district=NO_403, admin=NO_403),
    ),
    Row(
        "followup",
        ("POST /v1/spot-checks/draw",),
        "每周抽核抽样",
        bearer(grid_worker=NO_403, unit=NO_403, task_force=OWN, district=NO_403, admin=ANY),
    ),
    Row("followup", ("GET /v1/spot-checks", "GET /v1/spot-checks/{check_id}"), "抽核任务", SUPERVISORS),
    Row(
        "followup",
        ("POST /v1/spot-checks/{check_id}/record",),
        "抽核结果",
        bearer(grid_worker=NO_403, unit=NO_403, task_force=OWN, district=NO_403, admin=ANY),
    ),
    Row(
        "followup",
        ("GET /v1/scorecards",),
        "单位考核（单位只见本单位一行）",
        bearer(grid_worker=NO_403, unit=OWN, task_force=OWN, district=OWN, admin=ANY),
    ),
    Row(
        "followup",
        ("GET /v1/assessment",),
        "12345 热线考核（响应率/解决率/满意率；单位只见本单位一行）",
        bearer(grid_worker=NO_403, unit=OWN, task_force=OWN, district=OWN, admin=ANY),
    ),
    Row(
        "followup",
        ("GET /v1/reports/daily", "GET /v1/reports/season"),
        "日报告、季报告",
        bearer(
            grid_worker=Access(Outcome.ALLOWED, Outcome.HIDDEN, scope="本社区"),
            unit=NO_403,
            task_force=OWN,
            district=OWN,
            admin=ANY,
        ),
    ),
)


def rows_of(service: str) -> list[Row]:
    """The rows of one service, the routes every service has first."""
    return [r for r in MATRIX if r.service in (EVERY_SERVICE, service)]


def access(service: str, route: str) -> Mapping[Caller, Access] | None:
    """The cells of a route of a service, or None when the matrix has no row for it."""
    for row in rows_of(service):
        if route in row.routes:
            return row.access
    return None
