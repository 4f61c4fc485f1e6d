"""Signed decisions: the signature covers exactly the statement, and a statement proves a
decision only with the reviewer's own declared key, on this change's plan, under this manifest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mopsgate.governance.change_model import Change
from mopsgate.governance.decision_proof import (
    PasskeyProof,
    ProofError,
    SignedDecision,
    verify_proof,
)
from mopsgate.governance.decision_statement import DecisionStatement, new_statement
from mopsgate.governance.errors import InvalidInput, ManifestError, NotPermitted
from mopsgate.governance.manifest_load import manifest_digest
from mopsgate.governance.reviewer_keys import new_private_key, sign
from mopsgate.governance.reviewer_proof import check_signed, checklist_answers, key_owner
from mopsgate.governance.risk import RiskClass
from tests.governance.change_factory import NOW, change, manifest
from tests.support.reviewers import SoftPasskey, key_table, reviewer_key

PASSKEY = SoftPasskey()
M = manifest(key_table("lead") + key_table("dpo") + PASSKEY.table("ops2"))
DIGEST = manifest_digest(M)
ORIGIN, RP_ID = "http://localhost:8766", "localhost"


def statement(c: Change, reviewer: str = "lead", **over: object) -> DecisionStatement:
    fields: dict[str, object] = {
        "change_id": c.id,
        "plan_digest": c.plan_digest,
        "manifest_digest": DIGEST,
        "decision": "approve",
        "reviewer": reviewer,
        "note": "checked",
        "checklist": {},
        "at": NOW,
    }
    fields.update(over)
    return new_statement(**fields)  # type: ignore[arg-type]


def ready() -> Change:
    return change(digest=DIGEST)


def refusal(c: Change, signed: SignedDecision, decision: str = "approve") -> str:
    with pytest.raises(NotPermitted) as exc:
        check_signed(M, DIGEST, c, signed, decision, NOW)  # type: ignore[arg-type]
    return str(exc.value.details["reason_code"])


def test_a_signature_covers_every_field_of_the_statement() -> None:
    c = ready()
    signed = sign(statement(c), reviewer_key("lead"))
    verify_proof(signed)
    check_signed(M, DIGEST, c, signed, "approve", NOW)
    for edit in (
        {"note": "checked!"},
        {"decision": "reject"},
        {"reviewer": "dpo"},
        {"plan_digest": "0" * 64},
        {"checklist": {"ticket": "T-1"}},
    ):
        forged = signed.model_copy(update={"statement": signed.statement.model_copy(update=edit)})
        with pytest.raises(ProofError):
            verify_proof(forged)


def test_a_decision_needs_a_declared_key_of_its_own_reviewer() -> None:
    c = ready()
    assert refusal(c, sign(statement(c, "ops2"), reviewer_key("ops2"))) == "unknown_key"
    no_keys = manifest()
    with pytest.raises(NotPermitted) as exc:
        check_signed(
            no_keys,
            manifest_digest(no_keys),
            change(digest=manifest_digest(no_keys)),
            sign(statement(c), reviewer_key("lead")),
            "approve",
            NOW,
        )
    assert exc.value.details["reason_code"] == "no_credential"
    assert "mopsgate reviewer keygen --reviewer lead" in exc.value.hint
    # dpo's statement signed with lead's key: the key is someone else's.
    stolen = sign(statement(c, "dpo"), reviewer_key("lead"))
    assert refusal(c, stolen) == "foreign_key"
    assert key_owner(M, stolen.fingerprint) == "lead"
    assert refusal(c, sign(statement(c), new_private_key())) == "unknown_key"


def test_a_tampered_signature_is_refused() -> None:
    c = ready()
    signed = sign(statement(c), reviewer_key("lead"))
    sig = bytearray(signed.proof.signature.encode())
    sig[5] = ord("A") if sig[5] != ord("A") else ord("B")
    tampered = signed.model_copy(
        update={"proof": signed.proof.model_copy(update={"signature": sig.decode()})}
    )
    assert refusal(c, tampered) == "bad_signature"


def test_the_statement_must_name_this_change_its_plan_and_the_manifest_in_force() -> None:
    c = ready()
    key = reviewer_key("lead")
    assert refusal(c, sign(statement(c, plan_digest="a" * 64), key)) == "plan_digest_mismatch"
    assert refusal(c, sign(statement(c, change_id="chg_other"), key)) == "wrong_change"
    assert (
        refusal(c, sign(statement(c, manifest_digest="b" * 64), key)) == "manifest_digest_mismatch"
    )
    assert refusal(c, sign(statement(c), key), "reject") == "wrong_decision"
    assert refusal(c, sign(statement(c, at=NOW - timedelta(hours=1)), key)) == "statement_expired"
    assert refusal(c, sign(statement(c, at=NOW + timedelta(hours=1)), key)) == "statement_expired"


def _passkey_signed(c: Change, challenge: bytes | None = None, flags: int = 0x05) -> SignedDecision:
    st = statement(c, "ops2")
    response = PASSKEY.assert_(challenge or st.digest(), RP_ID, ORIGIN, flags=flags)
    proof = PasskeyProof(
        credential_id=PASSKEY.id,
        public_key=PASSKEY.public_key,
        authenticator_data=response["authenticatorData"],
        client_data_json=response["clientDataJSON"],
        signature=response["signature"],
        rp_id=RP_ID,
        origin=ORIGIN,
    )
    return SignedDecision(statement=st, proof=proof)


def test_a_passkey_assertion_over_the_statement_digest_is_the_signature() -> None:
    c = ready()
    check_signed(M, DIGEST, c, _passkey_signed(c), "approve", NOW)
    # An assertion made for another challenge (a login, another statement) proves nothing here.
    assert refusal(c, _passkey_signed(c, challenge=b"x" * 32)) == "bad_signature"
    # Without user verification (flags: present only) it is refused too.
    assert refusal(c, _passkey_signed(c, flags=0x01)) == "bad_signature"


def test_the_checklist_is_answered_completely_and_only() -> None:
    m = manifest(
        '[[approvals.send.checklist]]\nid = "consent-basis"\nlabel = "Consent basis checked"\n'
        '[[approvals.send.checklist]]\nid = "ticket"\nlabel = "Ticket id"\nanswer = "text"\n'
    )
    assert checklist_answers(m, RiskClass.SEND, {"consent-basis": "on", "ticket": " T-1 "}) == {
        "consent-basis": "yes",
        "ticket": "T-1",
    }
    with pytest.raises(InvalidInput, match="ticket"):
        checklist_answers(m, RiskClass.SEND, {"consent-basis": "yes"})
    with pytest.raises(InvalidInput, match="unknown checklist"):
        checklist_answers(m, RiskClass.SEND, {"consent-basis": "yes", "ticket": "1", "x": "y"})
    assert checklist_answers(m, RiskClass.UPDATE_FIELDS, {}) == {}


def test_the_manifest_refuses_bad_and_shared_keys_with_their_line() -> None:
    with pytest.raises(ManifestError) as exc:
        manifest('[[reviewers.lead.keys]]\npublic_key = "ed25519:bm90IGEga2V5"\n')
    assert "32 bytes" in str(exc.value.problems)
    with pytest.raises(ManifestError) as exc:
        manifest(key_table("lead") + key_table("dpo", reviewer_key("lead")))
    (problem,) = exc.value.problems
    assert "already declared at reviewers.lead.keys.0" in problem.message
    with pytest.raises(ManifestError) as exc:
        manifest('[[reviewers.lead.passkeys]]\nid = "AAAAAAAAAAAAAAAAAAAA"\npublic_key = "AAAA"\n')
    assert "COSE" in str(exc.value.problems)
