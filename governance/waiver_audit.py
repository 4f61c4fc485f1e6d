"""Re-checking stored exceptions: `mopsgate audit verify` proves who waived exactly what.

An exception widens a use case for a while, so its row is evidence like an approval: the grant
(and a revocation, if any) is stored with the reviewer's signed statement. For every stored
exception this checks that each proof verifies, that the statement says what the row says
(same id, use case, what, expiry, reviewer, ticket, reason, time; for a revocation who, why and
when) and — where the manifest history holds the text the statement names — that this manifest
declared the key for that reviewer. An edited row (a later expiry, a wider "what", another
reviewer, a revocation removed or forged) fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mopsgate.governance.decision_audit import DecisionsVerdict, DeclaredKeys
from mopsgate.governance.errors import NotPermitted
from mopsgate.governance.public_keys import ed25519_fingerprint
from mopsgate.governance.waiver_statement import SignedWaiver, verify_waiver_signature
from mopsgate.governance.waivers import Waiver


def _signed_side(signed: SignedWaiver) -> dict[str, object]:
    st = signed.statement
    return {
        "action": st.action,
        "exception id": st.exception_id,
        "use case": st.use_case,
        "what": st.what,
        "expiry": datetime.fromisoformat(st.expires_at),
        "ticket": st.ticket,
        "reviewer": st.reviewer,
        "reason": st.reason,
        "time": st.time,
    }


def problem_of(signed: SignedWaiver | None, row: dict[str, object], action: str) -> str | None:
    """What is wrong with one signed grant or revocation against its stored row, or None."""
    if signed is None:
        return f"the {action} has no signed statement (a typed name proves nothing)"
    try:
        verify_waiver_signature(signed)
    except NotPermitted as exc:
        return exc.message
    said = _signed_side(signed)
    differs = [name for name, value in {**row, "action": action}.items() if said[name] != value]
    if differs:
        return f"the stored {', '.join(differs)} differ(s) from the signed {action}"
    return None


def _rows(w: Waiver) -> list[tuple[str, SignedWaiver | None, dict[str, object]]]:
    common = {
        "exception id": w.id,
        "use case": w.use_case,
        "what": w.what,
        "expiry": w.expires_at,
        "ticket": w.ticket,
    }
    out: list[tuple[str, SignedWaiver | None, dict[str, object]]] = [
        (
            "grant",
            w.grant,
            {**common, "reviewer": w.reviewer, "reason": w.reason, "time": w.granted_at},
        )
    ]
    if w.revoked_at is not None or w.revoke is not None:
        revoked = {"reviewer": w.revoked_by, "reason": w.revoke_reason, "time": w.revoked_at}
        out.append(("revoke", w.revoke, {**common, **revoked}))
    return out


def check_exceptions(waivers: Sequence[Waiver], declared: DeclaredKeys) -> DecisionsVerdict:
    verdict = DecisionsVerdict()
    for w in waivers:
        for action, signed, row in _rows(w):
            verdict.checked += 1
            where = f"{action} of exception {w.id} ({w.what} for {w.use_case})"
            problem = problem_of(signed, row, action)
            if problem is not None:
                verdict.problems.append(f"{where}: {problem}")
                continue
            assert signed is not None
            st = signed.statement
            fingerprint = ed25519_fingerprint(signed.proof.public_key)
            keys = declared(st.manifest_digest, st.reviewer)
            if keys is None:
                verdict.keys_unrecorded += 1
            elif fingerprint in keys:
                verdict.keys_proven += 1
            else:
                verdict.problems.append(
                    f"{where}: key {fingerprint} was not declared for {st.reviewer} in the "
                    f"manifest the statement names ({st.manifest_digest[:12]})"
                )
    return verdict
