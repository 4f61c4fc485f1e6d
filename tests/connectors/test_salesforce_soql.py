"""SOQL: the client's quoting builder, the emulator's parser/evaluator, and the injection proof."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from mopsgate.connectors.http import RateLimiter, RetryPolicy
from mopsgate.connectors.salesforce.client import SalesforceClient
from mopsgate.connectors.salesforce.soql_build import Select, soql_like_contains, soql_quote
from mopsgate.crm.errors import InvalidRequest
from mopsgate.crm.records import PersonQuery
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce.connect import sandbox_client
from mopsgate.sandbox.salesforce.emulator import SalesforceEmulator
from mopsgate.sandbox.salesforce.soql import BoolOp, Comparison, InList, SoqlError, Value, parse
from mopsgate.sandbox.salesforce.soql_eval import Outcome, bind, execute

HOSTILE = [
    "x' OR Email != '",
    "\\' OR '1'='1",
    "%' OR Name LIKE '%",
    "'; DELETE FROM Lead",
    'a\\b"c\nd\re\tf',
    "') OR (Id != '",
    "x' AND Id IN (SELECT Id FROM Lead) AND Email != '",
]

Env = tuple[SalesforceEmulator, SalesforceClient]


async def _noop(_: float) -> None:
    return None


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    emu = SalesforceEmulator()
    client = sandbox_client(
        emu,
        retry=RetryPolicy(sleep=_noop, jitter=lambda: 0.5),
        limiter=RateLimiter(10_000, 1.0, 50),
    )
    yield emu, client
    await client.aclose()


def _where(src: str) -> Any:
    return bind(parse(src)).where


# builder --------------------------------------------------------------------------------------
def test_soql_quote_escapes_every_special_character() -> None:
    assert soql_quote("O'Brien") == "'O\\'Brien'"
    assert soql_quote("a\\b") == "'a\\\\b'"
    assert soql_quote('say "hi"\n\r\t') == "'say \\\"hi\\\"\\n\\r\\t'"
    assert soql_like_contains("50%_off") == "'%50\\%\\_off%'"


@pytest.mark.parametrize("value", HOSTILE)
def test_quoted_value_parses_back_to_one_literal(value: str) -> None:
    where = _where(f"SELECT Id FROM Lead WHERE Email = {soql_quote(value)}")  # noqa: S608
    assert where == Comparison("Email", "=", where.value)
    assert where.value.kind == "str" and where.value.value == value


@pytest.mark.parametrize("value", HOSTILE)
def test_like_value_parses_back_to_one_literal(value: str) -> None:
    soql = f"SELECT Id FROM Lead WHERE Company LIKE {soql_like_contains(value)}"  # noqa: S608
    where = _where(soql)
    assert isinstance(where, Comparison) and where.op == "LIKE"
    assert where.value.value == f"%{value}%"


def test_builder_refuses_names_outside_the_catalogue() -> None:
    with pytest.raises(ValueError):
        Select("Lead", ["Email", "Password__c"])
    with pytest.raises(ValueError):
        Select("Lead; DELETE", ["Id"])
    q = Select("Lead", ["Id"])
    with pytest.raises(ValueError):
        q.eq("Email = 'x' OR Id", "y")
    with pytest.raises(TypeError):
        q.where("Email = 'x'")  # type: ignore[arg-type]


# injection through the client ------------------------------------------------------------------
@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_email_search_is_one_literal_comparison(env: Env, value: str) -> None:
    emu, client = env
    page = await client.search_people(PersonQuery(object="Lead", email=value))
    assert page.items == []
    where = emu.parsed_queries[-1].where
    assert isinstance(where, Comparison)
    assert where == Comparison("Email", "=", Value("str", value, where.value.like))


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_company_search_is_one_like_comparison(env: Env, value: str) -> None:
    emu, client = env
    page = await client.search_people(PersonQuery(object="Contact", company=value))
    assert page.items == []
    where = emu.parsed_queries[-1].where
    assert isinstance(where, Comparison) and where.field == "Company__c" and where.op == "LIKE"
    assert where.value.value == f"%{value}%"


async def test_hostile_value_matches_only_the_record_that_literally_has_it(env: Env) -> None:
    emu, client = env
    target = ids.person_id(10)
    emu.set_person_field(target, "Email", HOSTILE[0])
    emu.set_person_field(ids.person_id(15), "Company", "50%_off")
    page = await client.search_people(PersonQuery(email=HOSTILE[0]))
    assert [p.ref for p in page.items] == [ids.person_ref(10)]
    page = await client.search_people(PersonQuery(object="Lead", company="%_off"))
    assert [p.ref for p in page.items] == [ids.person_ref(15)]


async def test_path_ids_are_validated_before_any_request(env: Env) -> None:
    emu, client = env
    for ref in (
        "salesforce:Lead:../../limits",
        "salesforce:Lead:00Q5e0000000001?x=1",
        "salesforce:Contact:00Q5e0000000001",
        "hubspot:Lead:00Q5e0000000001",
    ):
        with pytest.raises(InvalidRequest):
            await client.get_person(ref)
    assert emu.core.requests == []


# parser / evaluator -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "src",
    [
        "SELECT Id FROM Lead WHERE Email = 'a' AND Title = 'b' OR Title = 'c'",
        "SELECT Id FROM Lead WHERE Email = 'unterminated",
        "SELECT Id FROM Lead; DELETE FROM Lead",
        'SELECT Id FROM Lead WHERE Email = "double"',
        "SELECT Id FROM Lead WHERE Email = 'bad \\q escape'",
        "SELECT Id, (SELECT Id FROM CampaignMembers) FROM Lead",
        "SELECT COUNT(), Id FROM Lead",
        "SELECT Status, Email, COUNT(Id) FROM Lead GROUP BY Status",
        "SELECT Id FROM Lead LIMIT -1",
        "UPDATE Lead SET Email = 'x'",
    ],
)
def test_out_of_subset_queries_are_malformed(src: str) -> None:
    with pytest.raises(SoqlError) as exc:
        bind(parse(src))
    assert exc.value.code == "MALFORMED_QUERY"


def test_unknown_names_get_salesforce_codes() -> None:
    with pytest.raises(SoqlError) as exc:
        bind(parse("SELECT Emial FROM Lead"))
    assert exc.value.code == "INVALID_FIELD" and "Emial" in exc.value.message
    with pytest.raises(SoqlError) as exc:
        bind(parse("SELECT Id FROM Opportunity"))
    assert exc.value.code == "INVALID_TYPE"


def _run(emu: SalesforceEmulator, src: str) -> Outcome:
    return execute(bind(parse(src)), emu.state)


def test_evaluator_semantics(env: Env) -> None:
    emu, _ = env
    lead = ids.person_id(0)
    emu.set_person_field(lead, "Title", "100% Pure_Growth")
    rows = _run(emu, "SELECT Id FROM Lead WHERE Title LIKE '100\\% pure\\_%'").records
    assert [r["Id"] for r in rows] == [lead]
    assert _run(emu, "SELECT Id FROM Lead WHERE Title LIKE '100_ Pure%'").records
    emu.set_person_field(lead, "Email", "MiXeD@Case.test")
    assert _run(emu, "SELECT Id FROM Lead WHERE Email = 'mixed@case.TEST'").total == 1
    nulls = _run(emu, "SELECT Id FROM Lead WHERE Description = null").total
    not_in = _run(emu, "SELECT Id FROM Lead WHERE Description NOT IN ('Churn risk')").total
    churn = _run(emu, "SELECT COUNT() FROM Lead WHERE Description IN ('Churn risk')").total
    assert not_in + churn == len(emu.records("Lead")) and nulls < not_in


def test_dates_order_limit_offset_and_grouping(env: Env) -> None:
    emu, _ = env
    base = "SELECT Id, CreatedDate FROM Lead WHERE CreatedDate >= 2025-01-01T00:00:00Z"
    rows = _run(
        emu,
        base + " AND (Country = 'US' OR Country = 'GB') ORDER BY CreatedDate DESC LIMIT 5 OFFSET 2",
    ).records
    stamps = [r["CreatedDate"] for r in rows]
    assert len(stamps) == 5 and stamps == sorted(stamps, reverse=True)
    assert all(s >= "2025-01-01" for s in stamps)
    day = _run(emu, "SELECT COUNT() FROM Lead WHERE CreatedDate = 2025-01-01").total
    assert day == sum(
        1 for r in emu.records("Lead").values() if r["CreatedDate"].startswith("2025-01-01")
    )
    assert _run(emu, "SELECT COUNT() FROM Lead WHERE CreatedDate = LAST_N_DAYS:3").total == 0
    grouped = _run(emu, "SELECT Status, COUNT(Id) FROM Lead GROUP BY Status ORDER BY Status")
    assert sum(r["expr0"] for r in grouped.records) == len(emu.records("Lead"))


def test_semi_join_and_relationship_fields(env: Env) -> None:
    emu, _ = env
    cid = ids.list_id(5)
    out = _run(
        emu,
        f"SELECT Id, Owner.Name FROM Lead WHERE Id IN (SELECT LeadId FROM "  # noqa: S608
        f"CampaignMember WHERE CampaignId = '{cid}')",
    )
    expected = {m for m in emu.list_member_ids(cid) if m.startswith("00Q")}
    assert {r["Id"] for r in out.records} == expected
    assert isinstance(_where("SELECT Id FROM Lead WHERE NOT Email IN ('a', 'b')").part, InList)
    assert isinstance(
        _where(
            "SELECT Id FROM Lead WHERE (Email = 'a' OR Email = 'b') AND HasOptedOutOfEmail = false"
        ),
        BoolOp,
    )


def test_date_literal_resolves_against_emulator_clock() -> None:
    emu = SalesforceEmulator(now=lambda: datetime(2025, 1, 2, 12, tzinfo=UTC))
    n = execute(
        bind(parse("SELECT COUNT() FROM Lead WHERE CreatedDate = LAST_N_DAYS:30")), emu.state
    ).total
    expected = sum(
        1
        for r in emu.records("Lead").values()
        if "2024-12-03" <= r["CreatedDate"][:10] <= "2025-01-02"
    )
    assert n == expected and n > 0
