"""Builders shared by the change-lifecycle tests: changes made directly, a small manifest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mopsgate.governance.change_model import (
    ApprovalsRequired,
    BlockedRecord,
    Change,
    FieldChange,
    Plan,
    PlannedRecord,
    new_change,
)
from mopsgate.governance.manifest_load import load_manifest_text, manifest_digest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.risk import RiskClass
from mopsgate.server.catalogue import build_catalogue

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = b"k" * 32

MANIFEST = """\
version = 1
[connectors.hubspot]
environment = "sandbox"
[reviewers.lead]
name = "MOPs Lead"
roles = ["mops"]
risk_classes = ["update_fields", "audience", "lifecycle", "send"]
[reviewers.dpo]
name = "Compliance"
roles = ["compliance"]
risk_classes = ["consent", "send", "update_fields"]
[reviewers.ops2]
roles = ["mops"]
risk_classes = ["update_fields", "send"]
[use_cases.ops]
purpose = "ops"
risk_level = "medium"
review_date = 2027-01-01
[use_cases.ops.owners]
risk = "DPO"
business = "Head of Demand Gen"
technical = "MOPs Lead"
data = "Data Steward"
escalation = "oncall@example.com"
[approvals.send]
count = 2
roles = ["compliance"]
[principals.bot]
use_cases = ["ops"]
[principals.other]
use_cases = ["ops"]
[[rules]]
id = "bot-update"
effect = "allow"
principals = ["bot"]
use_case = "ops"
tools = ["propose_update_person"]
connectors = ["hubspot"]
write_fields = ["jobtitle", "company"]
modes = {{ update_fields = "propose" }}
{extra}
"""


def manifest(extra: str = "") -> Manifest:
    return load_manifest_text(MANIFEST.format(extra=extra), "test.toml", build_catalogue())


def plan(n: int = 2, connector: str = "hubspot") -> Plan:
    records = [
        PlannedRecord(
            ref=f"{connector}:contact:{1000 + i}",
            action="update",
            before={"jobtitle": f"Engineer {i}", "hs_email_optout": False},
            changes=[FieldChange(field="jobtitle", before=f"Engineer {i}", after="Manager")],
        )
        for i in range(n)
    ]
    blocked = [
        BlockedRecord(ref=f"{connector}:contact:9", reason_code="opted_out", reason="opted out")
    ]
    return Plan(operation="update_fields", connector=connector, records=records, blocked=blocked)


def change(
    *,
    requester: str = "bot",
    risk: RiskClass = RiskClass.UPDATE_FIELDS,
    count: int = 1,
    roles: tuple[str, ...] = (),
    digest: str | None = None,
    n: int = 2,
    now: datetime = NOW,
    ttl: timedelta = timedelta(hours=24),
    **plan_kw: Any,
) -> Change:
    return new_change(
        requester=requester,
        tool="propose_update_person",
        risk_class=risk,
        reason="Fix the job titles, please",
        plan=plan(n, **plan_kw),
        manifest_digest=digest if digest is not None else manifest_digest(manifest()),
        approvals_required=ApprovalsRequired(count=count, roles=list(roles), rule_id="test"),
        now=now,
        ttl=ttl,
    )
