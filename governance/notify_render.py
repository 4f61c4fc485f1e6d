"""The body a target receives: Slack's incoming-webhook shape, or mopsgate's own JSON.

Both are built only from a :class:`Notification`, which holds references and counts; nothing
here can add a person's data. Slack's ``mrkdwn`` gives ``&``, ``<`` and ``>`` meaning (links,
mentions), so they are escaped in every text taken from the manifest or the log.
"""

from __future__ import annotations

from typing import Literal

from pydantic import JsonValue

from mopsgate.governance.notify_events import Notification

SOURCE = "mopsgate"


def json_body(note: Notification) -> dict[str, JsonValue]:
    return {"source": SOURCE, **note.as_json()}


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(note: Notification) -> dict[str, JsonValue]:
    """``text`` is the fallback shown in push notifications; ``blocks`` the message itself."""
    lines = [f"*{_esc(note.summary)}*"]
    if note.to:
        lines.append("For: " + ", ".join(_esc(t) for t in note.to))
    if note.link:
        lines.append(f"<{_esc(note.link)}|Open in the review console>")
    facts = [f"{_esc(k)}: `{_esc(v)}`" for k, v in note.refs.items()]
    facts += [f"{_esc(k)}: {v}" for k, v in note.counts.items()]
    context = f"mopsgate · {_esc(str(note.event))} · {_esc(note.key)}"
    blocks: list[JsonValue] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
    ]
    if facts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": " · ".join(facts)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    fallback = _esc(note.summary) + (f" {_esc(note.link)}" if note.link else "")
    return {"text": fallback, "blocks": blocks}


def body_for(fmt: Literal["slack", "json"], note: Notification) -> dict[str, JsonValue]:
    return slack_body(note) if fmt == "slack" else json_body(note)
