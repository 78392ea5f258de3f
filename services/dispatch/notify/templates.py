"""The notifier's words, from ``templates.yaml`` (data a city edits), and the digest a burst is sent as."""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from services.dispatch.notify.kinds import NotifyKind

TEMPLATES = Path(__file__).with_name("templates.yaml")
DIGEST_LINES = 20  # a digest names this many messages; the rest are counted


@dataclass(frozen=True)
class Template:
    title: str
    lines: tuple[str, ...]
    sms: str
    digest: str

    def placeholders(self) -> set[str]:
        found: set[str] = set()
        for text in (self.title, *self.lines, self.sms):
            found |= {name for _, name, _, _ in string.Formatter().parse(text) if name}
        return found


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:  # a value the router did not give: a dash, never a crash at 3 a.m.
        return "—"


@cache
def templates(path: Path = TEMPLATES) -> dict[NotifyKind, Template]:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        NotifyKind(kind): Template(t["title"], tuple(t.get("lines", ())), t.get("sms", t["title"]), t["digest"])
        for kind, t in raw.items()
    }


@dataclass(frozen=True)
class Rendered:
    title: str
    lines: tuple[str, ...]
    sms: str


def render(kind: NotifyKind, values: Mapping[str, str]) -> Rendered:
    t = templates()[kind]
    fill = _Blank(values)
    lines = tuple(line for line in (x.format_map(fill) for x in t.lines) if line.strip())
    return Rendered(t.title.format_map(fill)[:200], lines, t.sms.format_map(fill)[:300])


@dataclass(frozen=True)
class Item:
    """One row of a digest: its kind and what it said."""

    kind: str
    title: str
    lines: Sequence[str]
    urgent: bool


def digest(items: Sequence[Item]) -> Rendered:
    """Several messages to one target as one: ``新派单 12 件、催办 3 件`` and a line per message (urgent first)."""
    counts = Counter(i.kind for i in items)
    named = templates()
    parts = [f"{named[NotifyKind(k)].digest} {n} 件" for k, n in counts.most_common()]
    urgent = sum(1 for i in items if i.urgent)
    title = "、".join(parts)  # an urgent one among them: the channel tags the digest's title
    ordered = sorted(items, key=lambda i: not i.urgent)
    lines = [f"· {i.title}" + (f"（{i.lines[0]}）" if i.lines else "") for i in ordered[:DIGEST_LINES]]
    if len(items) > DIGEST_LINES:
        lines.append(f"另有 {len(items) - DIGEST_LINES} 条，请在调度台查看")
    sms = (
        f"【供暖调度】您有{len(items)}条新通知：{'、'.join(parts)}" + (f"，其中紧急{urgent}条" if urgent else "") + "。"
    )
    return Rendered(title[:200], tuple(lines), sms[:300])
