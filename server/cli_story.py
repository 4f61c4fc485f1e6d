"""What a change touches, said in the terminal: the same facts as the console's change page.

``mopsgate review show`` prints this above the diff: the list or campaign by name and what it
feeds, the use case and its owners, and the people of one page of records by name, email and
company within the reviewer's PII rights, with membership said as "joins" / "leaves". Names
came from a CRM and are untrusted: each is spelled out by ``visible`` and kept in the
untrusted colour, as ``Text`` (never markup), so a list called ``[bold]APPROVED`` stays text.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from mopsgate.governance.change_model import Change
from mopsgate.governance.change_story import CampaignFacts, ChangeStory, ListFacts, use_case_of
from mopsgate.governance.change_story import verb as verb_of
from mopsgate.governance.diff_lines import visible
from mopsgate.governance.manifest_model import Manifest
from mopsgate.server.console.change_view import Paging, records_on

UNTRUSTED = "cyan"


class Untrusted(str):
    """A value from the CRM: spelled out and shown in the untrusted colour."""


def _line(*parts: str) -> Text:
    text = Text()
    for part in parts:
        if isinstance(part, Untrusted):
            text.append(visible(str(part), quote=False), style=UNTRUSTED)
        else:
            text.append(part)
    return text


def _target(change: Change, story: ChangeStory) -> list[Text]:
    t = story.target
    if isinstance(t, ListFacts):
        size = f", {t.size} members" if t.size is not None else ""
        lines = [_line("List ", Untrusted(t.name), f" ({t.kind} list{size})  {t.ref}")]
        if t.description:
            lines.append(_line("  described as: ", Untrusted(t.description)))
        if t.feeds_sends:
            lines.append(_line(f"  Feeds email sends: {t.sends_why}."))
        else:
            lines.append(_line("  Feeds no email send that the vendor names."))
        lines += [_line("    - ", Untrusted(f.name), f" ({f.state()})  {f.ref}") for f in t.feeds]
        return lines
    if isinstance(t, CampaignFacts):
        audience = ["; its audience: ", Untrusted(t.audience)] if t.audience else []
        return [_line("Campaign ", Untrusted(t.name), f" ({t.state()})", *audience, f"  {t.ref}")]
    return [_line(f"Target {change.plan.target}")] if change.plan.target else []


def _use_case(manifest: Manifest, change: Change) -> Text:
    found = use_case_of(manifest, change)
    if found is None:
        return _line("Use case: unknown")
    name, uc = found
    o = uc.owners
    owners = (
        f"business {o.business or '-'}; technical {o.technical or '-'}; data {o.data or '-'}; "
        f"risk {o.risk or '-'}; escalation {o.escalation or '-'}"
    )
    return _line(
        f"Use case: {name}: {uc.purpose} (risk level {uc.risk_level}, review by "
        f"{uc.review_date}); owners: {owners}"
    )


def _people(change: Change, story: ChangeStory, paging: Paging, reviewer: str | None) -> list[Text]:
    rights = {
        "none": "references only",
        "masked": "names and emails masked",
        "unmasked": "names and emails in full",
    }[story.pii]
    whose = (
        f"{reviewer}'s PII rights: {rights}"
        if reviewer
        else "references only; add --reviewer NAME to see people within your PII rights"
    )
    lines = [
        Text(f"Records {paging.first}-{paging.last} of {paging.total} ({whose})", style="bold")
    ]
    for record in records_on(change, paging):
        who = story.who(record.ref)
        lines.append(
            _line(
                f"  {record.ref}  ",
                *([Untrusted(who), "  "] if who else []),
                Untrusted(verb_of(record, story.target_name)),  # it names the target
            )
        )
    if paging.page < paging.pages:
        lines.append(_line(f"  … {paging.total - paging.last} more: --page N (of {paging.pages})"))
    return lines


def render_story(
    manifest: Manifest, change: Change, story: ChangeStory, paging: Paging, reviewer: str | None
) -> Group:
    lines = [Text("What it touches", style="bold"), *_target(change, story)]
    lines.append(_use_case(manifest, change))
    lines += [Text(p, style="yellow") for p in story.problems]
    lines += _people(change, story, paging, reviewer)
    return Group(*lines, Text(""))
