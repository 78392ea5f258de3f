"""What people read in a group or on a phone, rendered from a ``Message`` — the Chinese of the channels lives here.

Robots cap a message in UTF-8 bytes (企业微信 markdown 4096, text 2048; 钉钉 20000), and a message that is too long is
refused whole. So a rendering keeps the title and as many whole lines as fit, then says how many lines there were
and where the rest is (``…（共 N 条，余见控制台）``); a single line longer than the room left is cut on a character
boundary, never inside a multibyte character.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.dispatch.notify.channels.base import Message

URGENT = "紧急"
URGENT_PLAIN = "【紧急】"


def truncation_marker(total_lines: int) -> str:
    return f"…（共 {total_lines} 条，余见控制台）"


def cut_utf8(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding is at most ``limit`` bytes."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: max(0, limit)].decode("utf-8", errors="ignore")  # drops a partial character at the cut


def fit(head: str, lines: Sequence[str], limit: int, *, sep: str = "\n") -> str:
    """``head`` then ``lines`` joined by ``sep``, at most ``limit`` UTF-8 bytes; the lines that do not fit whole are
    replaced by the truncation marker (which always fits: the head is cut first if it must be). Only a first line
    too long for the room is cut, so that something of it shows."""
    whole = sep.join([head, *lines]) if lines else head
    if len(whole.encode()) <= limit:
        return whole
    marker = sep + truncation_marker(len(lines))
    room = limit - len(marker.encode())
    out = cut_utf8(head, room)
    used = len(out.encode())
    for kept, line in enumerate(lines):
        piece = sep + line
        size = len(piece.encode())
        if used + size > room:
            if kept == 0:  # the first line alone is too long: show what fits of it rather than nothing
                out += cut_utf8(piece, room - used).rstrip(sep)
            break
        out += piece
        used += size
    return out + marker


def markdown(message: Message, *, urgent_tag: str, limit: int, mentions: Sequence[str] = ()) -> str:
    """Markdown for a group robot: the title as a heading (urgent ones tagged), each line a line, then the @s —
    kept even when the lines are cut, since they are why the message rings someone's phone."""
    head = f"### {urgent_tag} {message.title}" if message.urgent else f"### {message.title}"
    if not mentions:
        return fit(head, message.lines, limit)
    ats = "\n" + " ".join(f"@{m}" for m in mentions)  # 钉钉 shows an @ only where the text carries it
    return fit(head, message.lines, limit - len(ats.encode())) + ats


def plain(message: Message, *, limit: int) -> str:
    """Plain text (a robot's text message): 【紧急】 before an urgent title, the lines below."""
    head = f"{URGENT_PLAIN}{message.title}" if message.urgent else message.title
    return fit(head, message.lines, limit)
