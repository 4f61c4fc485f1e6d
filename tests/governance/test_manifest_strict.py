"""A manifest value of the wrong type is a mistake to report, never to coerce (catalogue M-06),
and a file nested thousands deep is refused with a Problem, not a crash (M-13)."""

from __future__ import annotations

import pytest

from tests.governance.test_manifest import BASE, problems

LIMIT = "[principals.bot.rate_limit]\ncalls_per_minute = {}\nrecords_per_hour = 5\n"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('"120"', "calls_per_minute: Input should be a valid integer"),
        ("true", "calls_per_minute: Input should be a valid integer"),
        ("1.0", "calls_per_minute: Input should be a valid integer"),
        ("1.5", "calls_per_minute: Input should be a valid integer"),
        ("-1", "calls_per_minute: Input should be greater than or equal to 1"),
        ("0", "calls_per_minute: Input should be greater than or equal to 1"),
        ("99999999999999999999999", "calls_per_minute"),
    ],
)
def test_a_limit_of_the_wrong_type_or_range_is_refused(value: str, fragment: str) -> None:
    found = problems(BASE + LIMIT.format(value))
    assert [p.message for p in found if fragment in p.message], found


@pytest.mark.parametrize("value", ['"20"', "true", "20.0"])
def test_a_record_cap_of_the_wrong_type_is_refused(value: str) -> None:
    found = problems(BASE + f"max_records_per_change = {value}\n")
    assert [p.line for p in found if "max_records_per_change" in p.message], found


def test_a_flag_given_as_text_is_refused() -> None:
    found = problems(BASE.replace('roles = ["mops", "compliance"]', 'roles = "mops"'))
    assert [p for p in found if "reviewers.lead.roles" in p.message], found


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_a_deeply_nested_manifest_is_a_problem_not_a_crash(depth: int) -> None:
    found = problems("a = " + "[" * depth + "]" * depth + "\n" + BASE)
    assert len(found) == 1 and "nested too deeply" in found[0].message, found


@pytest.mark.parametrize(
    "text",
    [
        "version = 1\n" + BASE,  # a key twice
        BASE + '[connectors.marketo]\nenvironment = "sandbox"\n',  # a table twice
        BASE.replace("[use_cases.ops.owners]", "[use_cases.ops]\nx = 1\n[use_cases.ops.owners]"),
        BASE + 'principals.bot.use_cases = ["ops"]\n',  # a dotted key redefining a table
    ],
    ids=["key-twice", "table-twice", "table-reopened", "dotted-redefinition"],
)
def test_duplicate_keys_and_tables_are_invalid_toml(text: str) -> None:
    """M-07: never a silent last-one-wins."""
    found = problems(text)
    assert found and all("invalid TOML" in p.message for p in found), found
    assert found[0].line > 1


@pytest.mark.parametrize("poison", ["\x00", "\u202e"])
def test_nul_and_bidi_override_are_problems_not_crashes(poison: str) -> None:
    """M-12 / M-11: a NUL byte anywhere, or a right-to-left override inside an identifier."""
    found = problems(BASE.replace('id = "bot-read"', f'id = "bot{poison}read"'))
    assert found, "accepted"
