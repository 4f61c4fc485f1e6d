"""Rendering the risk report: HTML for the board, Markdown for a pull request, JSON for tools.

All three come from one :class:`~mopsgate.governance.report_model.RiskReport`. HTML and
Markdown are jinja2 templates (``report_templates/``); HTML is autoescaped and carries its CSS
and SVG charts inline, so the file is complete on its own. Text from the evidence (reasons,
names, purposes) is untrusted: HTML escapes it, Markdown neutralises table pipes, line breaks
and inline HTML, which GitHub would otherwise render.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from mopsgate.governance.report_model import Count, RiskReport
from mopsgate.server.report_svg import ALERT, bar_chart, day_chart

Format = Literal["html", "md", "json"]
TEMPLATES = Path(__file__).resolve().parent / "report_templates"


def stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 120:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def cell(value: object) -> str:
    """Untrusted text as one Markdown table cell."""
    if value in (None, ""):
        return "—"
    text = " ".join(str(value).split())
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(raw, safe)
    return text


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        # HTML escapes everything; Markdown neutralises untrusted text with the cell filter.
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters.update(stamp=stamp, day=day, duration=duration, cell=cell)
    return env


def render(report: RiskReport, fmt: Format) -> str:
    if fmt == "json":
        return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return _env().get_template("risk_review.md.j2").render(r=report)
    activity = report.activity
    load = [Count(key=r.reviewer, count=r.approvals + r.rejections) for r in activity.reviewer_load]
    charts = {
        "days": day_chart(activity.calls_by_day, activity.denials_by_day, "Calls per day"),
        "denials": bar_chart(activity.denials_by_rule, "Denials by rule", color=ALERT),
        "proposals": bar_chart(activity.proposals_by_risk_class, "Proposals by risk class"),
        "reviewers": bar_chart(load, "Decisions per reviewer"),
    }
    # The charts escape every label they draw (report_svg), so they are markup already.
    safe = {name: Markup(svg) for name, svg in charts.items()}  # noqa: S704
    return _env().get_template("risk_review.html.j2").render(r=report, charts=safe)
