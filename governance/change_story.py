"""What a change touches, said in words a reviewer can judge: names, not only references.

``marketo:list:1001`` and ``marketo:lead:100011 __member__: false → true`` do not tell a
reviewer whether it is the right list or the right people. A story names the list or campaign,
what it feeds (which email campaigns send to it), and each person by name, email and company —
within the reviewer's own PII rights (``reviewers.<name>.pii``), never more. Looking the facts
up is the server's job (it holds the connectors); this is the data and the words, shared by the
console and ``mopsgate review show``. Every value in here came from a CRM and is untrusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mopsgate.governance.change_model import Change, PlannedRecord
from mopsgate.governance.manifest_model import AllowRule, Manifest, UseCase
from mopsgate.governance.planning import MEMBER, STATUS
from mopsgate.governance.policy import decide

PiiView = Literal["none", "masked", "unmasked"]


@dataclass(frozen=True)
class PersonFacts:
    ref: str
    name: str | None = None
    email: str | None = None
    company: str | None = None
    found: bool = True

    def line(self) -> str:
        """``Jane Doe <jane@acme.com>, Acme`` — whatever is known; the reference otherwise."""
        if not self.found:
            return "(no longer found in the CRM)"
        parts = [p for p in (self.name, f"<{self.email}>" if self.email else None) if p]
        text = " ".join(parts)
        if self.company:
            text = f"{text}, {self.company}" if text else self.company
        return text


@dataclass(frozen=True)
class CampaignFacts:
    ref: str
    name: str
    channel: str | None = None
    status: str | None = None
    active: bool | None = None
    sends_email: bool | None = False  # None: the vendor's read could not tell
    audience: str | None = None  # the audience list, by name when known

    def state(self) -> str:
        """``sends email, active, status Active``."""
        state = {True: "active", False: "inactive", None: "state unknown"}[self.active]
        if self.sends_email is None:
            what = "may send email (the vendor could not tell)"
        else:
            what = "sends email" if self.sends_email else (self.channel or "no email")
        return f"{what}, {state}{f', status {self.status}' if self.status else ''}"

    def line(self) -> str:
        return f"{self.name} ({self.state()})"


@dataclass(frozen=True)
class ListFacts:
    ref: str
    name: str
    kind: str
    size: int | None = None
    description: str | None = None
    feeds: tuple[CampaignFacts, ...] = ()  # email campaigns whose audience it is
    feeds_sends: bool = False  # what the compliance floor treats it as
    sends_why: str = ""

    def line(self) -> str:
        size = f", {self.size} members" if self.size is not None else ""
        return f"{self.name} ({self.kind} list{size})"


@dataclass(frozen=True)
class ChangeStory:
    """The facts found for one change (and one page of its records)."""

    pii: PiiView
    target: ListFacts | CampaignFacts | None = None
    people: Mapping[str, PersonFacts] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # lookups that failed; shown, never blocking a review

    def who(self, ref: str) -> str:
        facts = self.people.get(ref)
        return facts.line() if facts else ""

    @property
    def target_name(self) -> str | None:
        return self.target.name if self.target else None


def verb(record: PlannedRecord, target_name: str | None) -> str:
    """What happens to this person, in words: membership as "joins" / "leaves"."""
    where = f" {target_name}" if target_name else " the list"
    if record.action == "add":
        return f"joins{where}"
    if record.action == "remove":
        return f"leaves{where}"
    if record.action == "noop":
        return "nothing to do (already as planned)"
    return {
        "update": "fields change",
        "set_status": "campaign status changes",
        "trigger": f"is sent{where.replace(' the list', ' the campaign')}",
        "schedule": "is scheduled",
        "opt_out": "is opted out of email",
        "delete": "is deleted",
    }.get(record.action, record.action)


COUNTED = {
    "add": "join",
    "remove": "leave",
    "update": "updated",
    "set_status": "status set",
    "trigger": "sent",
    "schedule": "scheduled",
    "opt_out": "opted out",
    "delete": "deleted",
    "noop": "already as planned",
}


def counts(records: list[PlannedRecord]) -> str:
    """``3 record(s): 2 join, 1 already as planned`` — what the whole change does."""
    tally: dict[str, int] = {}
    for r in records:
        label = COUNTED.get(r.action, r.action)
        tally[label] = tally.get(label, 0) + 1
    detail = ", ".join(f"{n} {label}" for label, n in tally.items())
    return f"{len(records)} record(s)" + (f": {detail}" if detail else "")


def shown_changes(record: PlannedRecord) -> list[tuple[str, object, object]]:
    """The field changes worth a line: membership is said by :func:`verb` instead."""
    names = {STATUS: "campaign member status"}
    return [
        (names.get(c.field, c.field), c.before, c.after)
        for c in record.changes
        if c.field != MEMBER
    ]


def use_case_of(manifest: Manifest, change: Change) -> tuple[str, UseCase] | None:
    """The use case the change was proposed under: the one named by the rule that lets its
    requester use its tool on its connector (or the requester's only use case)."""
    decision = decide(manifest, change.requester, change.tool, change.connector)
    for rule in manifest.rules:
        if isinstance(rule, AllowRule) and rule.id == decision.rule_id and rule.use_case:
            found = manifest.use_cases.get(rule.use_case)
            return (rule.use_case, found) if found else None
    principal = manifest.principals.get(change.requester)
    if principal and len(principal.use_cases) == 1:
        name = principal.use_cases[0]
        found = manifest.use_cases.get(name)
        return (name, found) if found else None
    return None
