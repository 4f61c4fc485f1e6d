"""Whether a signed decision proves that this reviewer decided this exact change.

The signature alone is not enough: the key must be one the manifest in force declares for the
reviewer named in the statement, and the statement must name this change, this change's plan
digest, the manifest in force and the decision being made. Each failure is refused with its own
reason code, so the audit row says precisely why (no credential, another reviewer's key, a
tampered signature, a different plan). Nothing here stores anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from mopsgate.governance.change_model import Change
from mopsgate.governance.decision_proof import ProofError, SignedDecision, verify_proof
from mopsgate.governance.decision_statement import Verdict
from mopsgate.governance.errors import InvalidInput, NotPermitted
from mopsgate.governance.manifest_model import ChecklistItem, Manifest
from mopsgate.governance.public_keys import ed25519_fingerprint, passkey_fingerprint
from mopsgate.governance.risk import RiskClass

# A statement is signed moments before it is submitted; one from far in the past or the future
# is a replay or a wrong clock, and neither should decide anything.
MAX_AGE = timedelta(minutes=15)
MAX_SKEW = timedelta(minutes=2)
TICKED = "yes"


def declared_keys(manifest: Manifest, reviewer: str) -> dict[str, str]:
    """Fingerprint → label of every key and passkey the manifest declares for ``reviewer``."""
    rv = manifest.reviewers.get(reviewer)
    if rv is None:
        return {}
    keys = {ed25519_fingerprint(k.public_key): k.label for k in rv.keys}
    keys.update({passkey_fingerprint(p.public_key): p.label for p in rv.passkeys})
    return keys


def key_owner(manifest: Manifest, fingerprint: str) -> str | None:
    """The reviewer who declares the key with this fingerprint, if any."""
    for name in manifest.reviewers:
        if fingerprint in declared_keys(manifest, name):
            return name
    return None


def checklist_for(manifest: Manifest, risk: RiskClass) -> tuple[ChecklistItem, ...]:
    policy = manifest.approvals.get(risk)
    return policy.checklist if policy else ()


def checklist_answers(
    manifest: Manifest, risk: RiskClass, answers: Mapping[str, str]
) -> dict[str, str]:
    """The answers as signed: every item of the risk class's checklist answered, nothing else.
    A tick is recorded as ``"yes"``; a text answer as written (trimmed)."""
    items = checklist_for(manifest, risk)
    known = {item.id for item in items}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise InvalidInput(
            f"unknown checklist item(s) {', '.join(unknown)} for {risk} changes",
            hint=f"the {risk} checklist is: {', '.join(sorted(known)) or 'empty'}",
            details={"reason_code": "checklist_unknown"},
        )
    out: dict[str, str] = {}
    missing: list[str] = []
    for item in items:
        value = answers.get(item.id, "").strip()
        if item.answer == "tick":
            value = TICKED if value.lower() in {TICKED, "on", "true", "1", "y"} else ""
        if not value:
            missing.append(f"{item.id} ({item.label})")
        out[item.id] = value
    if missing:
        raise InvalidInput(
            f"the {risk} checklist is not complete: {'; '.join(missing)}",
            hint="tick every item and fill in every text item, then approve again",
            details={"reason_code": "checklist_incomplete"},
        )
    return out


def _refuse(message: str, code: str, change: Change, hint: str = "") -> NotPermitted:
    return NotPermitted(message, hint=hint, details={"reason_code": code, "change_id": change.id})


def check_signed(
    manifest: Manifest,
    manifest_digest: str,
    change: Change,
    signed: SignedDecision,
    decision: Verdict,
    now: datetime,
) -> None:
    """Refuse unless ``signed`` proves its reviewer made ``decision`` on exactly ``change``
    under the manifest in force; NotPermitted with a reason code otherwise."""
    st = signed.statement
    reviewer = st.reviewer
    declared = declared_keys(manifest, reviewer)
    if not declared:
        raise _refuse(
            f"{reviewer} has no key or passkey declared in the manifest, so no decision can be "
            "proved to be theirs",
            "no_credential",
            change,
            hint=f"run `mopsgate reviewer keygen --reviewer {reviewer}` (or ask for a console "
            "invite) and have the manifest owner declare the printed key",
        )
    fingerprint = signed.fingerprint
    if fingerprint not in declared:
        owner = key_owner(manifest, fingerprint)
        if owner is not None:
            raise _refuse(
                f"the key {fingerprint} is {owner}'s, not {reviewer}'s: a reviewer decides "
                "only with their own key",
                "foreign_key",
                change,
                hint=f"sign with {reviewer}'s own key",
            )
        raise _refuse(
            f"the key {fingerprint} is not declared for {reviewer} in the manifest in force",
            "unknown_key",
            change,
            hint="use a declared key, or have the manifest owner declare this one",
        )
    try:
        verify_proof(signed)
    except ProofError as exc:
        raise _refuse(
            f"the decision's signature is not valid: {exc}", "bad_signature", change
        ) from exc
    if st.change_id != change.id:
        raise _refuse(
            f"the signed statement is for {st.change_id}, not {change.id}", "wrong_change", change
        )
    if st.plan_digest != change.plan_digest:
        raise _refuse(
            f"the signed statement is for plan {st.plan_digest[:12]}…, but {change.id}'s plan is "
            f"{change.plan_digest[:12]}…: the reviewer did not sign this diff",
            "plan_digest_mismatch",
            change,
            hint="review the change as it stands and decide again",
        )
    if st.manifest_digest != manifest_digest:
        raise _refuse(
            "the signed statement names another manifest than the one in force",
            "manifest_digest_mismatch",
            change,
            hint="decide again under the current manifest",
        )
    if st.decision != decision:
        raise _refuse(
            f"the signed statement says {st.decision}, not {decision}", "wrong_decision", change
        )
    if not now - MAX_AGE <= st.time <= now + MAX_SKEW:
        raise _refuse(
            f"the signed statement's time {st.at} is not within {MAX_AGE} of now",
            "statement_expired",
            change,
            hint="sign the decision again (and check this machine's clock)",
        )
