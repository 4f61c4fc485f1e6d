"""Manifest loading: every rejection says what is wrong and where, and the digest is stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_load import (
    Problem,
    check_manifest,
    load_manifest,
    load_manifest_text,
    manifest_digest,
)
from mopsgate.server.catalogue import build_catalogue

CAT = build_catalogue()
ROOT = Path(__file__).resolve().parents[2]

BASE = """\
version = 1
[connectors.marketo]
environment = "sandbox"
[reviewers.lead]
roles = ["mops", "compliance"]
risk_classes = ["update_fields", "send", "audience"]
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
[principals.bot]
use_cases = ["ops"]
[[rules]]
id = "bot-read"
effect = "allow"
principals = ["bot"]
use_case = "ops"
tools = ["search_people", "get_person"]
connectors = ["marketo"]
[[rules]]
id = "bot-write"
effect = "allow"
principals = ["bot"]
use_case = "ops"
tools = ["propose_update_person"]
connectors = ["marketo"]
write_fields = ["title"]
modes = { update_fields = "propose" }
"""


def problems(text: str) -> list[Problem]:
    try:
        load_manifest_text(text, "m.toml", CAT)
    except ManifestError as exc:
        found = exc.problems
        assert found, "a ManifestError must list its problems"
        return list(found)
    return []


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_base_and_shipped_manifests_load() -> None:
    assert problems(BASE) == []
    assert check_manifest(ROOT / "permissions.toml", CAT) == []
    manifest = load_manifest(ROOT / "permissions.toml", CAT)
    assert set(manifest.principals) == {"assistant", "analyst"}
    assert set(manifest.reviewers) == {"mops-lead", "compliance"}
    assert {c: manifest.environment(c) for c in CAT.objects} == dict.fromkeys(
        CAT.objects, "sandbox"
    )
    assert manifest.use_cases["campaign-ops"].owners.risk


# (text, expected message fragment, expected line or None)
# fmt: off
REJECTIONS = [
    pytest.param(edit('connectors = ["marketo"]\n[[rules]]', 'connectors = ["marketo"\n[[rules]]'),
                 "invalid TOML", 26, id="malformed-toml"),
    pytest.param("", "manifest is empty", 1, id="empty"),
    pytest.param("   \n# only a comment\n", "manifest is empty", 1, id="blank"),
    pytest.param("\ufeff" + BASE, "byte order mark", 1, id="bom"),
    pytest.param("version = 2\n", "version: Input should be 1", 1, id="version"),
    pytest.param(edit('use_cases = ["ops"]', 'use_cases = ["ops"]\ndescripton = "x"'),
                 "principals.bot: unknown key 'descripton' (did you mean 'description'?)", 19,
                 id="unknown-key"),
    pytest.param(edit('"get_person"]', '"get_persn"]'),
                 "rule 'bot-read': unknown tool 'get_persn'; did you mean 'get_person'", 24,
                 id="unknown-tool"),
    pytest.param(edit('connectors = ["marketo"]', 'connectors = ["marketoo"]'),
                 "unknown connector 'marketoo'; did you mean 'marketo'", 25,
                 id="unknown-connector"),
    pytest.param(edit("[connectors.marketo]", "[connectors.pardot]"), "unknown connector 'pardot'",
                 2, id="unknown-connector-table"),
    pytest.param(edit('connectors = ["marketo"]', 'connectors = ["marketo"]\nobjects = ["leads"]'),
                 "unknown object 'leads' on marketo; did you mean 'lead'", 26, id="unknown-object"),
    pytest.param(edit('write_fields = ["title"]', 'write_fields = ["titel"]'),
                 "unknown field 'titel' on marketo; did you mean 'title'", 33, id="unknown-field"),
    pytest.param(edit('use_cases = ["ops"]', 'use_cases = ["opz"]'),
                 "principal 'bot' names unknown use case 'opz'", 18, id="unknown-use-case"),
    pytest.param(edit('use_case = "ops"\ntools = ["propose', 'use_case = "opz"\ntools = ["propose'),
                 "rule 'bot-write': unknown use case 'opz'", 30, id="rule-unknown-use-case"),
    pytest.param(edit('principals = ["bot"]', 'principals = ["bott"]'), "unknown principal 'bott'",
                 22, id="unknown-principal"),
    pytest.param(BASE + '[approvals.update_fields]\nreviewers = ["nobody"]\n',
                 "approvals.update_fields.reviewers: unknown reviewer 'nobody'", 36,
                 id="unknown-reviewer"),
    pytest.param(edit('use_cases = ["ops"]', "use_cases = []"), "principal 'bot' has no use case",
                 18, id="principal-without-use-case"),
    pytest.param(edit('risk = "DPO"\n', "", edit('risk_level = "medium"', 'risk_level = "low"')),
                 "use case 'ops' has no risk owner", 11, id="no-risk-owner"),
    pytest.param(edit('risk = "DPO"\n', "", edit('escalation = "oncall@example.com"\n', "")),
                 "use case 'ops' has risk_level 'medium', so it must name all four owners and an "
                 "escalation contact; missing: owners.risk (who answers for this use of AI); "
                 "owners.escalation (who is told when something goes wrong)",
                 11, id="medium-risk-owners"),
    pytest.param(edit('tools = ["search_people", "get_person"]',
                      'tools = ["search_people", "get_person"]\nread_fields = ["email"]\n'
                      'deny_fields = ["email"]'),
                 "field 'email' is both in read_fields and deny_fields", 26, id="read-and-deny"),
    pytest.param(edit('write_fields = ["title"]',
                      'write_fields = ["title"]\ndeny_fields = ["title"]'),
                 "field 'title' is in write_fields but also in deny_fields", 33, id="write-denied"),
    pytest.param(edit("max_records_per_change", "x", BASE + "max_records_per_change = 20000\n"),
                 "rules[1]: unknown key 'x'", 35, id="unknown-key-in-rule"),
    pytest.param(BASE + "max_records_per_change = 20000\n",
                 "max_records_per_change: Input should be less than or equal to 10000", 35,
                 id="out-of-range"),
    pytest.param(BASE + "[principals.bot.rate_limit]\ncalls_per_minute = 0\nrecords_per_hour = 5\n",
                 "calls_per_minute: Input should be greater than or equal to 1", 36,
                 id="rate-limit-range"),
    pytest.param(edit("[principals.bot]", '[principals."b\u043et"]'),
                 "U+043E CYRILLIC SMALL LETTER O", 17, id="homoglyph"),
    pytest.param(edit('id = "bot-read"', 'id = "bot\u200b-read"'), "U+200B ZERO WIDTH SPACE", 20,
                 id="zero-width"),
    pytest.param(edit('id = "bot-write"', 'id = "bot-read"'),
                 "duplicate rule id 'bot-read' (also rules[0])", 27, id="duplicate-rule-id"),
    pytest.param(edit( 'modes = { update_fields = "propose" }',
                 'approvals = { update_fields = 0 }\nmodes = { update_fields = "propose" }', ),
                 "approvals.update_fields = 0 is below the compliance floor of 1 approval(s)", 34,
                 id="floor-rule-approvals"),
    pytest.param(BASE + '[approvals.send]\ncount = 1\nroles = ["compliance"]\n',
                 "approvals.send.count = 1 is below the compliance floor of 2", 36,
                 id="floor-approvals-count"),
    pytest.param(BASE + '[approvals.delete]\ncount = 1\n',
                 "approvals.delete.count = 1 is below the compliance floor of 2 approval(s) for "
                 "delete; the compliance floor cannot be lowered", 36,
                 id="floor-delete-needs-two-reviewers"),
    pytest.param(BASE + '[approvals.send]\ncount = 2\nroles = ["mops"]\n',
                 "approvals.send.roles must include 'compliance'", 37, id="floor-send-roles"),
    pytest.param(edit('write_fields = ["title"]', 'write_fields = ["title", "unsubscribed"]'),
                 "consent changes go through propose_opt_out only; "
                 "re-subscribing is never possible",
                 33, id="floor-consent-write"),
    pytest.param(edit("version = 1\n", "version = 1\n[floor]\nmin_approvals = 0\n"),
                 "the compliance floor is built in and cannot be changed by the manifest", 2,
                 id="floor-table"),
    pytest.param(BASE + "allow_resubscribe = true\n",
                 "the compliance floor is built in and cannot be changed by the manifest", 35,
                 id="floor-key"),
    pytest.param(edit('environment = "sandbox"', 'environment = "sandbox"\nclient_secret = "s3"'),
                 "credentials do not belong in the manifest; put them in .env", 4,
                 id="credentials"),
    pytest.param(edit('roles = ["mops", "compliance"]',
                      'roles = ["mops", "compliance"]\npassword = "x"'),
                 "reviewers.lead.password: credentials do not belong", 6, id="password"),
    pytest.param(edit('use_case = "ops"\ntools = ["search', 'tools = ["search'),
                 "allow rules need a use_case", 21, id="allow-without-use-case"),
    pytest.param(BASE + '[[rules]]\nid = "no"\neffect = "deny"\nprincipals = ["bot"]\n'
                 'tools = ["get_person"]\n',
                 "deny rules need a reason", 35, id="deny-without-reason"),
    pytest.param(edit('effect = "allow"', 'effect = "permit"'), 'effect must be "allow" or "deny"',
                 21, id="bad-effect"),
    pytest.param(edit('modes = { update_fields = "propose" }', "modes = {}"),
                 "names tool 'propose_update_person' but modes.update_fields is not \"propose\"",
                 34, id="write-tool-without-propose"),
    pytest.param(edit('modes = { update_fields = "propose" }',
                      'modes = { update_fields = "maybe" }'),
                 "modes.update_fields: Input should be 'deny', 'read' or 'propose'", 34,
                 id="bad-mode"),
    pytest.param(edit('write_fields = ["title"]', 'write_fields = ["*"]'),
                 "write_fields must name fields explicitly", 33, id="write-wildcard"),
    pytest.param(edit('write_fields = ["title"]', 'write_fields = ["id"]'),
                 "field 'id' is read-only", 33, id="write-read-only"),
]
# fmt: on


@pytest.mark.parametrize(("text", "fragment", "line"), REJECTIONS)
def test_rejections_name_the_problem_and_line(text: str, fragment: str, line: int | None) -> None:
    found = problems(text)
    matching = [p for p in found if fragment in p.message]
    assert matching, f"{fragment!r} not in {[p.message for p in found]}"
    if line is not None:
        assert matching[0].line == line, matching[0]
    assert all(p.path == "m.toml" and p.col >= 1 for p in found)


def test_conflicting_allow_rules_are_rejected() -> None:
    extra = (
        '[[rules]]\nid = "bot-unmasked"\neffect = "allow"\nprincipals = ["bot"]\n'
        'use_case = "ops"\ntools = ["get_person"]\nconnectors = ["marketo"]\npii = "unmasked"\n'
    )
    msgs = [p.message for p in problems(BASE + extra)]
    assert any("'bot-read' and 'bot-unmasked'" in m and "disagree on pii" in m for m in msgs)
    mode = extra.replace('pii = "unmasked"', 'modes = { read = "deny" }')
    msgs = [p.message for p in problems(BASE + mode)]
    assert any("disagree on modes.read ('read' vs 'deny')" in m for m in msgs)


def test_write_field_withheld_by_deny_rule_is_rejected() -> None:
    deny = (
        '[[rules]]\nid = "no-title"\neffect = "deny"\nprincipals = ["*"]\ntools = ["*"]\n'
        'fields = ["title"]\nreason = "titles are sensitive"\n'
    )
    msgs = [p.message for p in problems(BASE + deny)]
    assert any("deny rule 'no-title' withholds it" in m for m in msgs)


REVIEWER2 = '[reviewers.second]\nroles = ["mops"]\nrisk_classes = ["update_fields"]\n'


def test_too_few_reviewers_for_a_class_is_rejected() -> None:
    prod = edit('environment = "sandbox"', 'environment = "production"')
    found = problems(prod)
    assert [p.message for p in found] == [
        "update_fields changes on marketo need 2 approvals but only 1 reviewer(s) may approve "
        "update_fields; add reviewers or extend their risk_classes"
    ]
    assert found[0].line == 4  # the first [reviewers.*] table
    assert problems(prod + REVIEWER2) == []


def test_unmasked_pii_on_production_needs_a_riskier_use_case() -> None:
    text = edit('environment = "sandbox"', 'environment = "production"', BASE + REVIEWER2)
    text = edit('risk_level = "medium"', 'risk_level = "low"', text)
    text = edit('connectors = ["marketo"]', 'connectors = ["marketo"]\npii = "unmasked"', text)
    msgs = [p.message for p in problems(text)]
    assert any("unmasks PII on production connector 'marketo'" in m for m in msgs)
    ok = edit('risk_level = "low"', 'risk_level = "high"', text)
    assert problems(ok) == []


def test_problems_are_all_reported_and_sorted() -> None:
    text = edit('"get_person"]', '"get_persn"]', edit('use_cases = ["ops"]', "use_cases = []"))
    found = problems(text)
    assert len(found) >= 2
    assert found == sorted(found)
    assert str(found[0]).startswith("m.toml:18:")


def test_file_level_rejections(tmp_path: Path) -> None:
    missing = check_manifest(tmp_path / "nope.toml", CAT)
    assert len(missing) == 1 and "cannot read manifest" in missing[0].message
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"version = 1\n# caf\xe9\n")
    bad = check_manifest(latin, CAT)
    assert (bad[0].line, bad[0].col) == (2, 6) and "not valid UTF-8" in bad[0].message
    big = tmp_path / "big.toml"
    big.write_text("version = 1\n#" + "x" * 1_000_001)
    assert "larger than" in check_manifest(big, CAT)[0].message
    good = tmp_path / "good.toml"
    good.write_text(BASE)
    assert check_manifest(good, CAT) == []


def test_load_manifest_raises_manifest_error() -> None:
    with pytest.raises(ManifestError) as info:
        load_manifest_text("version = 1\n[nonsense]\n", "x.toml", CAT)
    assert info.value.code == "manifest_invalid"
    assert "mopsgate manifest check" in info.value.hint


def test_digest_is_stable_across_formatting_and_order() -> None:
    base = manifest_digest(load_manifest_text(BASE, "a", CAT))
    assert base == manifest_digest(load_manifest_text(BASE, "b", CAT))
    assert len(base) == 64
    reformatted = "# comment\n" + BASE.replace(" = ", "   =   ").replace(
        'tools = ["search_people", "get_person"]', 'tools = [ "get_person",\n "search_people" ]'
    )
    assert manifest_digest(load_manifest_text(reformatted, "c", CAT)) == base
    first, second = BASE.split("[[rules]]", 2)[1:]
    swapped = BASE.split("[[rules]]")[0] + "[[rules]]" + second + "[[rules]]" + first
    assert manifest_digest(load_manifest_text(swapped, "d", CAT)) == base
    changed = edit('write_fields = ["title"]', 'write_fields = ["title", "company"]')
    assert manifest_digest(load_manifest_text(changed, "e", CAT)) != base


DECLARED = """environment = "sandbox"
[[connectors.marketo.not_send_lists]]
ref = "marketo:list:1003"
reason = "the sales call list"
"""


def test_not_send_list_declarations_load() -> None:
    manifest = load_manifest_text(edit('environment = "sandbox"\n', DECLARED), "m.toml", CAT)
    assert manifest.not_send_lists("marketo") == {"marketo:list:1003"}
    assert manifest.not_send_lists("salesforce") == frozenset()
    shipped = load_manifest(ROOT / "permissions.toml", CAT)
    assert len(shipped.not_send_lists("salesforce")) == 3


@pytest.mark.parametrize(
    ("ref", "reason", "fragment"),
    [
        ("hubspot:list:12", "x", "is not on marketo; declare it under connectors.hubspot"),
        ("marketo:lead:100042", "x", "is not a list: lists on marketo are list"),
        ("marketo:list", "x", "is not a list reference; expected 'marketo:list:<id>'"),
        ("marketo:list:10 03", "x", "the id may only contain"),
        ("marketo:list:1003", "  ", "say why this list feeds no email send"),
        ("marketo:list:1003", "", "String should have at least 1 character"),
    ],
)
def test_bad_not_send_list_declarations_are_rejected_with_their_line(
    ref: str, reason: str, fragment: str
) -> None:
    """An admin's typo in a declaration must not silently widen what may be added to lists."""
    text = edit(
        'environment = "sandbox"\n',
        DECLARED.replace("marketo:list:1003", ref).replace("the sales call list", reason),
    )
    found = [p for p in problems(text) if fragment in p.message]
    assert found, problems(text)
    key = "reason" if "reason" in fragment or "why" in fragment or "least" in fragment else "ref"
    assert text.splitlines()[found[0].line - 1].startswith(key), found[0]


def test_a_list_declared_twice_is_rejected() -> None:
    text = edit('environment = "sandbox"\n', DECLARED + DECLARED.split("\n", 1)[1])
    assert any("'marketo:list:1003' is declared twice" in p.message for p in problems(text))


def test_a_text_loaded_again_is_the_manifest_loaded_then_but_problems_name_their_file():
    """A server loads its file at start-up and again when storage opens, and a test run loads
    the same text hundreds of times: a valid text is validated once per process. A text with
    problems is checked every time, so each refusal names the file it came from."""
    text = (ROOT / "permissions.toml").read_text()
    first = load_manifest_text(text, "a/permissions.toml", CAT)
    assert load_manifest_text(text, "b/permissions.toml", CAT) is first
    assert load_manifest_text(text + "\n", "a/permissions.toml", CAT) is not first
    bad = text + '\n[connectors.marketoo]\nenvironment = "sandbox"\n'
    for name in ("a/permissions.toml", "b/permissions.toml"):
        with pytest.raises(ManifestError) as exc:
            load_manifest_text(bad, name, CAT)
        assert exc.value.problems and {p.path for p in exc.value.problems} == {name}
