"""The README's topics table is the one the contracts and the services' consumers give (no drift by hand)."""

from __future__ import annotations

from deploy.readme_block import README, current_block
from deploy.topics_table import BLOCK, render
from shared.contracts import catalogue
from shared.topics import Topics


def test_the_readme_block_is_the_rendered_table() -> None:
    block = current_block(README.read_text(encoding="utf-8"), BLOCK)
    assert block == render(), "README's topics table is stale: run python -m deploy.topics_table"


def test_every_event_of_every_topic_is_in_the_table() -> None:
    table = render()
    for topic, (producer, models) in catalogue(Topics()).items():
        (row,) = [line for line in table.splitlines() if line.startswith(f"| `{topic}` |")]
        assert f"| {producer} |" in row
        for model in models:
            assert model.event_type in row, (topic, model.event_type)
