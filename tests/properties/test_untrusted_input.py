"""Parsers of untrusted input raise only their own, explainable error — never anything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mopsgate.connectors.salesforce.soql_build import soql_quote
from mopsgate.crm.refs import make_ref, parse_ref
from mopsgate.governance import confirm_token
from mopsgate.governance.errors import (
    ChangeRefused,
    GovernanceError,
    InvalidInput,
    ManifestError,
    NotPermitted,
)
from mopsgate.governance.manifest_load import load_manifest_text
from mopsgate.governance.policy import decide
from mopsgate.sandbox.salesforce.soql import Comparison, parse
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.errors import error_text
from mopsgate.tools.paging import decode_cursor
from tests.governance.change_factory import NOW, SECRET, change, manifest
from tests.properties.strategies import json_values, tricky_text

CHANGE = change()
MANIFEST = manifest()
names = st.text(max_size=30) | st.sampled_from(["bot", "other", "propose_update_person", "hubspot"])
ref_parts = st.text(alphabet=st.characters(blacklist_characters=":"), min_size=1, max_size=20)


@given(tricky_text)
def test_parse_ref_raises_only_value_error(text):
    try:
        ref = parse_ref(text)
    except ValueError as exc:
        assert "<connector>:<object>:<id>" in str(exc)
    else:
        connector, obj, native = ref
        assert make_ref(connector, obj, native) == str(ref) == text


@given(ref_parts, ref_parts, tricky_text.filter(bool))
def test_make_ref_round_trips(connector, obj, native):
    assert parse_ref(make_ref(connector, obj, native)) == (connector, obj, native)


@given(tricky_text | st.from_regex(r"[A-Za-z0-9_-]{10,80}\.[A-Za-z0-9_-]{10,60}", fullmatch=True))
def test_confirmation_tokens_refuse_any_forgery(token):
    with pytest.raises(ChangeRefused):
        confirm_token.verify(
            SECRET,
            token,
            change=CHANGE,
            principal="bot",
            manifest_digest=CHANGE.manifest_digest,
            now=NOW,
        )


@given(tricky_text)
def test_manifest_loader_raises_only_manifest_error(text):
    with pytest.raises(ManifestError):
        load_manifest_text(text, "fuzz.toml", build_catalogue())


@given(st.text(max_size=300), json_values)
def test_cursor_decoding_raises_only_invalid_input(token, query):
    try:
        cursor = decode_cursor(token, query)
    except InvalidInput:
        return
    assert cursor.skip >= 0 and (cursor.vendor is None or isinstance(cursor.vendor, str))


@given(names, names, st.none() | names, st.none() | names)
def test_policy_decides_anything_and_refuses_the_unknown(principal, tool, connector, obj):
    decision = decide(MANIFEST, principal, tool, connector, obj)
    if principal not in MANIFEST.principals or tool not in MANIFEST.catalogue.tools:
        assert not decision.allowed
    assert decision.rule_id and decision.reason


@given(st.text(alphabet=st.characters(codec="utf-8", blacklist_categories=["Cs"])))
def test_soql_quote_round_trips_through_the_emulator_parser(value):
    query = parse(f"SELECT Id FROM Lead WHERE Email = {soql_quote(value)}")  # noqa: S608 - the test
    assert isinstance(query.where, Comparison)
    assert query.where.value.value == value


@given(
    st.sampled_from([GovernanceError, InvalidInput, NotPermitted, ChangeRefused]),
    tricky_text,
    st.none() | tricky_text,
    st.none() | tricky_text,
)
def test_error_text_never_raises(kind, message, hint, rule_id):
    text = error_text(kind(message, hint=hint or "", rule_id=rule_id))
    assert text.startswith("[") and message in text
