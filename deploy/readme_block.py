"""Blocks of the README that are generated from the code (the authorization matrix, the topics table): the text
between two HTML comment markers, rewritten by a tool and held to the code by a unit test."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_block(text: str, name: str, block: str) -> str:
    start_mark, end_mark = markers(name)
    head, start, rest = text.partition(start_mark)
    _, end, tail = rest.partition(end_mark)
    if not start or not end:
        raise ValueError(f"README has no {start_mark} … {end_mark} block")
    return f"{head}{start_mark}\n{block}{end_mark}{tail}"


def current_block(text: str, name: str) -> str:
    start_mark, end_mark = markers(name)
    _, start, rest = text.partition(start_mark)
    block, end, _ = rest.partition(end_mark)
    if not start or not end:
        raise ValueError(f"README has no {start_mark} … {end_mark} block")
    return block.removeprefix("\n")
