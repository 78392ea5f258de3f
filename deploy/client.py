"""A small client of the three services' public HTTP APIs, used by the demo, the e2e tests and the simulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from deploy.field_photo import field_jpeg

T = TypeVar("T")


class ApiFailure(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.request.method} {response.request.url} → {response.status_code}: {response.text}")
        self.response = response


class HeatingClient:
    def __init__(
        self, *, intake: str, dispatch: str, followup: str, tokens: dict[str, str], timeout: float = 10
    ) -> None:
        self.urls = {"intake": intake, "dispatch": dispatch, "followup": followup}
        self.tokens = tokens
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def call(self, service: str, method: str, path: str, *, who: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        r = self._http.request(method, self.urls[service] + path, headers=headers, **kwargs)
        if r.status_code >= 400:
            raise ApiFailure(r)
        return r.json()

    # photos (any service that takes them) ---------------------------------------------------------------
    def upload_photo(self, service: str, who: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Ask ``service`` for an upload grant, POST the photo to S3 with it, and return the key to name in an
        action (``photo_refs``) sent to the same service."""
        grant = self.call(service, "POST", "/v1/photos/uploads", who=who, json={"content_type": content_type})
        r = self._http.post(grant["url"], data=grant["fields"], files={"file": ("photo", data, content_type)})
        if r.status_code >= 300:
            raise ApiFailure(r)
        key: str = grant["key"]
        return key

    # grid worker -------------------------------------------------------------------------------------
    def grid_report(self, who: str, **body: Any) -> Any:
        return self.call("intake", "POST", "/v1/grid-reports", who=who, json=body)

    def report(self, who: str, report_id: str) -> Any:
        return self.call("intake", "GET", f"/v1/reports/{report_id}", who=who)

    def visits(self, who: str) -> Any:
        return self.call("followup", "GET", "/v1/visits", who=who)

    def record_visit(self, who: str, visit_id: str, **body: Any) -> Any:
        """回访. A visit at which the resident was reached carries a photo of the thermometer (follow-up's rule): one
        taken now is uploaded unless ``photo_refs`` is given (``photo_refs=[]`` sends none)."""
        if body.get("reached", True) and "photo_refs" not in body:
            body["photo_refs"] = [self.upload_photo("followup", who, field_jpeg(datetime.now(UTC)))]
        return self.call("followup", "POST", f"/v1/visits/{visit_id}/record", who=who, json=body)

    # unit ----------------------------------------------------------------------------------------------
    def assignments(self, unit: str) -> Any:
        return self.call("dispatch", "GET", "/v1/assignments", who=unit)

    def act(self, unit: str, assignment_id: str, action: str, **body: Any) -> Any:
        return self.call(
            "dispatch",
            "POST",
            f"/v1/assignments/{assignment_id}/{action}",
            who=unit,
            json=body or None,
        )

    def case(self, who: str, case_id: str) -> Any:
        return self.call("dispatch", "GET", f"/v1/cases/{case_id}", who=who)

    # waiting on the event flow ---------------------------------------------------------------------------
    @staticmethod
    def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60, every: float = 0.1) -> T:
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(every)

    def wait_case_of(self, who: str, report_id: str, timeout: float = 60) -> str:
        case_id: str = self.wait_for(
            f"a case for {report_id}", lambda: self.report(who, report_id).get("case_id"), timeout
        )
        return case_id

    def wait_assignment(self, unit: str, case_id: str, round_: int = 1, timeout: float = 60) -> dict[str, Any]:
        return self.wait_for(
            f"{unit}'s assignment for {case_id} round {round_}",
            lambda: next((a for a in self.assignments(unit) if a["case_id"] == case_id and a["round"] == round_), None),
            timeout,
        )

    def wait_visit(self, who: str, case_id: str, round_: int = 1, timeout: float = 60) -> dict[str, Any]:
        return self.wait_for(
            f"a return visit for {case_id} round {round_}",
            lambda: next((v for v in self.visits(who) if v["case_id"] == case_id and v["round"] == round_), None),
            timeout,
        )
