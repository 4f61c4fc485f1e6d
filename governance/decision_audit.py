"""Re-checking stored decisions: `mopsgate audit verify` proves who approved exactly what.

The hash chain proves the audit log was not edited; the approvals and rejections live in their
own tables, and each carries its signed statement and proof. For every stored decision this
checks that the proof verifies, that the statement says what the row says (same change, plan
digest, manifest, reviewer, note, time and decision), and — where the manifest history holds
the text of the manifest the statement names — that this manifest declared the key for that
reviewer. An edited row (a reviewer swapped, a note changed, an approval inserted) fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mopsgate.governance.decision_proof import ProofError, SignedDecision, verify_proof
from mopsgate.governance.decision_statement import Verdict

# digest, reviewer -> fingerprints that manifest declared for the reviewer (None: not recorded)
DeclaredKeys = Callable[[str, str], frozenset[str] | None]


@dataclass(frozen=True)
class StoredDecision:
    """One approval or rejection as the database holds it."""

    change_id: str
    decision: Verdict
    reviewer: str
    note: str
    at: datetime
    proof: SignedDecision | None
    plan_digest: str
    manifest_digest: str
    unreadable: str = ""  # why the stored proof could not be parsed, if it could not


@dataclass
class DecisionsVerdict:
    checked: int = 0
    keys_proven: int = 0  # key found declared in the recorded manifest text
    keys_unrecorded: int = 0  # the manifest the statement names is not in the history
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def problem_of(d: StoredDecision) -> str | None:
    """What is wrong with one stored decision, or None."""
    if d.proof is None:
        return d.unreadable or "no signed statement is stored (a typed name proves nothing)"
    try:
        verify_proof(d.proof)
    except ProofError as exc:
        return str(exc)
    st = d.proof.statement
    row = {
        "change": (st.change_id, d.change_id),
        "decision": (st.decision, d.decision),
        "reviewer": (st.reviewer, d.reviewer),
        "note": (st.note, d.note),
        "time": (st.time, d.at),
        "plan digest": (st.plan_digest, d.plan_digest),
        "manifest digest": (st.manifest_digest, d.manifest_digest),
    }
    differs = [name for name, (signed, stored) in row.items() if signed != stored]
    if differs:
        return f"the stored {', '.join(differs)} differ(s) from the signed statement"
    return None


def check_decisions(decisions: list[StoredDecision], declared: DeclaredKeys) -> DecisionsVerdict:
    verdict = DecisionsVerdict()
    for d in decisions:
        verdict.checked += 1
        where = f"{d.decision} of {d.change_id} by {d.reviewer} at {d.at.isoformat()}"
        problem = problem_of(d)
        if problem is not None:
            verdict.problems.append(f"{where}: {problem}")
            continue
        assert d.proof is not None
        keys = declared(d.manifest_digest, d.reviewer)
        if keys is None:
            verdict.keys_unrecorded += 1
        elif d.proof.fingerprint in keys:
            verdict.keys_proven += 1
        else:
            verdict.problems.append(
                f"{where}: key {d.proof.fingerprint} was not declared for {d.reviewer} in the "
                f"manifest the decision names ({d.manifest_digest[:12]})"
            )
    return verdict
