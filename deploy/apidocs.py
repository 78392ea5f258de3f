"""Write the API documents the tests compare against: each service's OpenAPI and the system's AsyncAPI.

``python -m deploy.apidocs`` (run it after changing an API or a contract, and commit docs/api/).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.dispatch.consumers import handlers as dispatch_handlers
from services.dispatch.main import create_app as dispatch_app
from services.followup.config import FollowupSettings
from services.followup.consumers import handlers as followup_handlers
from services.followup.main import create_app as followup_app
from services.intake.consumers import handlers as intake_handlers
from services.intake.main import create_app as intake_app
from shared.asyncapi import document
from shared.clock import SystemClock
from shared.topics import Topics

OUT = Path(__file__).resolve().parents[1] / "docs" / "api"


def consumed() -> dict[str, dict[str, list[Any]]]:
    """service → topic → the event types its consumers handle, as each service wires its handlers."""
    topics = Topics()
    consumes = {
        "intake": intake_handlers(topics, frozenset()),
        "dispatch": dispatch_handlers(topics, None, SystemClock()),  # type: ignore[arg-type]
        "followup": followup_handlers(FollowupSettings(), None),  # type: ignore[arg-type]
    }
    return {svc: {topic: list(by_type) for topic, by_type in h.items()} for svc, h in consumes.items()}


def generated() -> dict[str, Any]:
    docs: dict[str, Any] = {
        f"{name}.openapi.json": app().openapi()
        for name, app in (("intake", intake_app), ("dispatch", dispatch_app), ("followup", followup_app))
    }
    docs["asyncapi.json"] = document(consumed())
    return docs


def render(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, doc in generated().items():
        (OUT / name).write_text(render(doc), encoding="utf-8")
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
