"""The Marketo emulator's state: the narrow interface its routes and rules use, and the in-memory
instance behind it.

``InstanceState`` is the whole contract: leads (by id, by exact field value), static and smart
lists, programs with their members and channel ladders, smart campaigns, the activity log,
sales persons, and the record of what was triggered, scheduled and deleted. Nothing else
reaches into the data, so another store (``sqlite_state.SqliteInstance``, a file shared by
several processes) stands in for ``MemoryInstance`` without a route changing. Values handed
out are read-only views: change them through the write methods. A list's or a program's
``members`` is a live view: it shows a write made through the state right after it.

In memory, reads are dictionary lookups so the emulator keeps up with 10,000-person
plan/apply benchmarks; emails are indexed case-blind.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

Lead = dict[str, Any]
Activity = dict[str, Any]
Ladder = tuple[tuple[str, int, bool], ...]  # (status, step, success)


@dataclass
class StaticList:
    id: int
    name: str
    description: str
    created_at: datetime
    members: Mapping[int, str] = field(default_factory=dict)  # lead id -> added at (iso)


@dataclass(frozen=True)
class SmartList:
    id: int
    name: str
    description: str
    created_at: datetime
    rule_field: str
    rule_value: str


@dataclass(frozen=True)
class Member:
    status: str
    reached_success: bool
    membership_date: str
    updated_at: str


@dataclass
class Program:
    id: int
    name: str
    type: str
    channel: str
    status: str
    created_at: datetime
    members: Mapping[int, Member] = field(default_factory=dict)


@dataclass(frozen=True)
class SmartCampaign:
    id: int
    name: str
    type: str
    is_active: bool
    is_requestable: bool
    program_id: int
    audience_list_name: str | None
    created_at: datetime


class InstanceState(Protocol):
    # leads ----------------------------------------------------------------------------------
    def lead(self, lead_id: int) -> Lead | None: ...

    def find_leads(self, field: str, values: Iterable[str]) -> list[int]:
        """Ids whose ``field`` equals one of ``values`` (case-blind for text), in id order."""
        ...

    def add_lead(self, lead: Lead) -> None: ...

    def save_lead(self, lead_id: int, changes: Mapping[str, Any]) -> None: ...

    def remove_lead(self, lead_id: int) -> None:
        """Delete a lead; it leaves every list and program."""
        ...

    def lead_count(self) -> int: ...

    def new_lead_id(self) -> int:
        """An id no lead has had (a deleted lead's id is never given again)."""
        ...

    # static and smart lists -----------------------------------------------------------------
    def static_list(self, list_id: int) -> StaticList | None: ...

    def static_lists(self) -> list[StaticList]:
        """Every static list, by id."""
        ...

    def add_static_list(self, lst: StaticList) -> None: ...

    def remove_static_list(self, list_id: int) -> None:
        """Delete a static list (its leads stay in the database)."""
        ...

    def lists_of(self, lead_id: int) -> dict[int, str]:
        """list id -> added at, for every static list the lead is in."""
        ...

    def add_list_member(self, list_id: int, lead_id: int, at: str) -> None: ...

    def remove_list_member(self, list_id: int, lead_id: int) -> None: ...

    def smart_list(self, list_id: int) -> SmartList | None: ...

    def smart_lists(self) -> list[SmartList]: ...

    def add_smart_list(self, lst: SmartList) -> None: ...

    # programs, channels, smart campaigns ----------------------------------------------------
    def program(self, program_id: int) -> Program | None: ...

    def programs(self) -> list[Program]:
        """Every program, by id."""
        ...

    def add_program(self, program: Program) -> None: ...

    def programs_of(self, lead_id: int) -> dict[int, Member]:
        """program id -> membership, for every program the lead is a member of."""
        ...

    def save_member(self, program_id: int, lead_id: int, member: Member) -> None: ...

    def channel(self, name: str) -> Ladder | None: ...

    def channels(self) -> dict[str, Ladder]: ...

    def add_channel(self, name: str, ladder: Ladder) -> None: ...

    def smart_campaign(self, campaign_id: int) -> SmartCampaign | None: ...

    def smart_campaigns(self) -> list[SmartCampaign]:
        """Every smart campaign, by id."""
        ...

    def save_smart_campaign(self, campaign: SmartCampaign) -> None: ...

    # activities and sales persons -----------------------------------------------------------
    def activity_count(self) -> int: ...

    def activities(self, start: int, stop: int) -> list[Activity]:
        """The log between two positions; the log is in date order."""
        ...

    def activity_position(self, since: str) -> int:
        """Position of the first activity dated at or after ``since`` (``…Z`` form)."""
        ...

    def add_activity(self, activity: Activity) -> None:
        """Append to the log; an activity dated before the last one is dated with it."""
        ...

    def sales_persons(self) -> list[dict[str, Any]]:
        """Every sales person, by id."""
        ...

    def add_sales_person(self, person: dict[str, Any]) -> None: ...

    # what was run ---------------------------------------------------------------------------
    def record_run(self, kind: str, entry: dict[str, Any]) -> None:
        """``kind``: 'triggered', 'scheduled', 'deleted' or 'merged'."""
        ...

    def runs(self, kind: str) -> list[dict[str, Any]]: ...


class MemoryInstance:
    """``InstanceState`` in dicts."""

    def __init__(self) -> None:
        self._leads: dict[int, Lead] = {}
        self._highest_id = 0
        self._email_index: dict[str, set[int]] = {}
        self._static: dict[int, StaticList] = {}
        self._static_members: dict[int, dict[int, str]] = {}
        self._smart: dict[int, SmartList] = {}
        self._programs: dict[int, Program] = {}
        self._program_members: dict[int, dict[int, Member]] = {}
        self._channels: dict[str, Ladder] = {}
        self._campaigns: dict[int, SmartCampaign] = {}
        self._activities: list[Activity] = []
        self._sales_persons: dict[int, dict[str, Any]] = {}
        self._runs: dict[str, list[dict[str, Any]]] = {}

    def copy(self) -> MemoryInstance:
        """An instance of its own holding the same data (each fresh seeded state is one,
        ``seeded.py``): every lead, list, membership and index new; the values in them and the
        frozen records (smart lists and campaigns, program members) shared, since nothing can
        change them in place. tests/sandbox/test_seeded_copies.py checks that nothing mutable
        is shared and that aliases (a list's ``members`` view) stay aliases."""
        new = MemoryInstance()
        new._leads = {i: dict(lead) for i, lead in self._leads.items()}
        new._highest_id = self._highest_id
        new._email_index = {k: set(v) for k, v in self._email_index.items()}
        new._static_members = {i: dict(m) for i, m in self._static_members.items()}
        new._static = {
            i: replace(lst, members=new._static_members[i]) for i, lst in self._static.items()
        }
        new._smart = dict(self._smart)
        new._program_members = {i: dict(m) for i, m in self._program_members.items()}
        new._programs = {
            i: replace(p, members=new._program_members[i]) for i, p in self._programs.items()
        }
        new._channels = dict(self._channels)
        new._campaigns = dict(self._campaigns)
        new._activities = [
            {**a, "attributes": [dict(x) for x in a["attributes"]]} for a in self._activities
        ]
        new._sales_persons = {i: dict(p) for i, p in self._sales_persons.items()}
        new._runs = copy.deepcopy(self._runs)
        return new

    # leads ----------------------------------------------------------------------------------
    def lead(self, lead_id: int) -> Lead | None:
        return self._leads.get(lead_id)

    def find_leads(self, field: str, values: Iterable[str]) -> list[int]:
        if field == "email":
            found: set[int] = set()
            for v in values:
                found |= self._email_index.get(v.strip().casefold(), set())
            return sorted(found)
        if field == "id":
            wanted = {int(v) for v in values if v.strip().isdigit()}
            return sorted(w for w in wanted if w in self._leads)
        keys = {v.strip().casefold() for v in values}
        return sorted(
            lid for lid, rec in self._leads.items() if str(rec.get(field) or "").casefold() in keys
        )

    def add_lead(self, lead: Lead) -> None:
        self._leads[lead["id"]] = lead
        self._highest_id = max(self._highest_id, lead["id"])
        self._index(lead["id"], lead.get("email"), add=True)

    def save_lead(self, lead_id: int, changes: Mapping[str, Any]) -> None:
        lead = self._leads[lead_id]
        if "email" in changes:
            self._index(lead_id, lead.get("email"), add=False)
            self._index(lead_id, changes["email"], add=True)
        lead.update(changes)

    def remove_lead(self, lead_id: int) -> None:
        lead = self._leads.pop(lead_id)
        self._index(lead_id, lead.get("email"), add=False)
        for members in self._static_members.values():
            members.pop(lead_id, None)
        for program_members in self._program_members.values():
            program_members.pop(lead_id, None)

    def lead_count(self) -> int:
        return len(self._leads)

    def new_lead_id(self) -> int:
        return self._highest_id + 1

    def _index(self, lead_id: int, email: Any, *, add: bool) -> None:
        if not isinstance(email, str):
            return
        key = email.strip().casefold()
        if add:
            self._email_index.setdefault(key, set()).add(lead_id)
        else:
            self._email_index.get(key, set()).discard(lead_id)

    # static and smart lists -----------------------------------------------------------------
    def static_list(self, list_id: int) -> StaticList | None:
        return self._static.get(list_id)

    def static_lists(self) -> list[StaticList]:
        return [self._static[i] for i in sorted(self._static)]

    def add_static_list(self, lst: StaticList) -> None:
        members = dict(lst.members)
        self._static_members[lst.id] = members
        self._static[lst.id] = replace(lst, members=members)

    def remove_static_list(self, list_id: int) -> None:
        self._static.pop(list_id)
        self._static_members.pop(list_id, None)

    def lists_of(self, lead_id: int) -> dict[int, str]:
        return {
            i: members[lead_id]
            for i, members in sorted(self._static_members.items())
            if lead_id in members
        }

    def add_list_member(self, list_id: int, lead_id: int, at: str) -> None:
        self._static_members[list_id][lead_id] = at

    def remove_list_member(self, list_id: int, lead_id: int) -> None:
        self._static_members[list_id].pop(lead_id, None)

    def smart_list(self, list_id: int) -> SmartList | None:
        return self._smart.get(list_id)

    def smart_lists(self) -> list[SmartList]:
        return [self._smart[i] for i in sorted(self._smart)]

    def add_smart_list(self, lst: SmartList) -> None:
        self._smart[lst.id] = lst

    # programs, channels, smart campaigns ----------------------------------------------------
    def program(self, program_id: int) -> Program | None:
        return self._programs.get(program_id)

    def programs(self) -> list[Program]:
        return [self._programs[i] for i in sorted(self._programs)]

    def add_program(self, program: Program) -> None:
        members = dict(program.members)
        self._program_members[program.id] = members
        self._programs[program.id] = replace(program, members=members)

    def programs_of(self, lead_id: int) -> dict[int, Member]:
        return {
            i: members[lead_id]
            for i, members in sorted(self._program_members.items())
            if lead_id in members
        }

    def save_member(self, program_id: int, lead_id: int, member: Member) -> None:
        self._program_members[program_id][lead_id] = replace(member)

    def channel(self, name: str) -> Ladder | None:
        return self._channels.get(name)

    def channels(self) -> dict[str, Ladder]:
        return dict(self._channels)

    def add_channel(self, name: str, ladder: Ladder) -> None:
        self._channels[name] = ladder

    def smart_campaign(self, campaign_id: int) -> SmartCampaign | None:
        return self._campaigns.get(campaign_id)

    def smart_campaigns(self) -> list[SmartCampaign]:
        return [self._campaigns[i] for i in sorted(self._campaigns)]

    def save_smart_campaign(self, campaign: SmartCampaign) -> None:
        self._campaigns[campaign.id] = campaign

    # activities and sales persons -----------------------------------------------------------
    def activity_count(self) -> int:
        return len(self._activities)

    def activities(self, start: int, stop: int) -> list[Activity]:
        return self._activities[start:stop]

    def activity_position(self, since: str) -> int:
        return bisect.bisect_left(self._activities, since, key=lambda a: str(a["activityDate"]))

    def add_activity(self, activity: Activity) -> None:
        last = self._activities[-1]["activityDate"] if self._activities else None
        if last is not None and last > activity["activityDate"]:
            activity = {**activity, "activityDate": last}  # keep the log in date order
        self._activities.append(activity)

    def sales_persons(self) -> list[dict[str, Any]]:
        return [self._sales_persons[i] for i in sorted(self._sales_persons)]

    def add_sales_person(self, person: dict[str, Any]) -> None:
        self._sales_persons[person["id"]] = person

    # what was run ---------------------------------------------------------------------------
    def record_run(self, kind: str, entry: dict[str, Any]) -> None:
        self._runs.setdefault(kind, []).append(entry)

    def runs(self, kind: str) -> list[dict[str, Any]]:
        return self._runs.setdefault(kind, [])
