"""The README's topics table, from the contracts (who produces which events on which topic) and the services'
consumers (who handles which of them): ``python -m deploy.topics_table`` rewrites the block between the markers;
``--check`` only says whether it is stale. ``tests/unit/test_topics_table.py`` fails when it drifts."""

from __future__ import annotations

import sys

from deploy import readme_block
from deploy.readme_block import README
from shared.contracts import catalogue
from shared.events import EventPayload
from shared.topics import Topics

BLOCK = "topics"
HEADER = (
    "| topic (key = case id, or the household before a case exists; `account:<name>` for revocations) "
    "| producer | events | consumers (what each handles) |"
)


def consumers() -> dict[str, dict[str, list[type[EventPayload]]]]:
    """service → topic → the event types its consumers handle (as the services wire them)."""
    from deploy.apidocs import consumed  # the services' handlers: imported late, they are heavy

    return consumed()


def render() -> str:
    topics = Topics()
    handled = consumers()
    lines = [HEADER, "|---|---|---|---|"]
    for topic, (producer, models) in catalogue(topics).items():
        everything = {m.event_type for m in models}
        readers = []
        for service in sorted(handled):
            mine = [m.event_type for m in handled[service].get(topic, [])]
            if not mine:
                continue
            what = "all" if set(mine) == everything else ", ".join(sorted(mine))
            readers.append(f"{service} ({what})")
        events = ", ".join(m.event_type for m in models)
        lines.append(f"| `{topic}` | {producer} | {events} | {'; '.join(readers) or '—'} |")
    lines.append(
        "| `<topic>.dlq` | any consumer | the original bytes, with `dlq.reason`, `dlq.error`, `dlq.consumer`, "
        "`dlq.original` headers | operators |"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    fresh = readme_block.replace_block(text, BLOCK, render())
    if "--check" in sys.argv[1:]:
        if fresh != text:
            sys.exit("README's topics table is stale: run python -m deploy.topics_table")
        return
    if fresh != text:
        README.write_text(fresh, encoding="utf-8")
    print("README.md: topics table written")


if __name__ == "__main__":
    main()
