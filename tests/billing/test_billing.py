"""Billing (P1-P4): the brief's worked examples, its table, and properties of statements."""

from __future__ import annotations

import ast
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routecore.billing import (
    AccountStore,
    Month,
    Usage,
    builtin_packages,
    load_packages,
    rules,
    statement,
    usage,
)
from routecore.billing.money import parse_fen, yuan
from routecore.errors import BillingError, RoutecoreError

TABLE = builtin_packages()
# The brief's table (2.3): name, rate as printed, number class, credit (yuan/month), free seats.
BRIEF = [
    ("1200/1年", "0.1", "regular", 0, 2),
    ("2000/1年", "0.1", "regular", 100, 4),
    ("5000/1年", "0.08", "regular", 150, 10),
    ("9000/1年", "0.08", "super", 200, 18),
    ("20000/1年", "0.08", "super", 250, 40),
    ("30000/1年", "0.08", "super", 250, 60),
    ("1500/2年", "0.12", "regular", 0, 6),
    ("2000/2年", "0.1", "regular", 0, 8),
    ("3000/2年", "0.1", "regular", 100, 12),
    ("1800/3年", "0.12", "regular", 0, 12),
    ("3000/3年", "0.1", "regular", 100, 18),
    ("5000/3年", "0.08", "regular", 100, 30),
    ("7000/3年", "0.08", "regular", 150, 45),
    ("10000/3年", "0.08", "super", 200, 60),
]


def test_the_table_ships_with_the_package_and_loads_through_importlib_resources():
    text = resources.files("routecore.billing").joinpath("packages.csv").read_text("utf-8")
    assert text.startswith("id,name,price_yuan,years")
    assert len(TABLE) == 14
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert "routecore/billing/packages.csv" in pyproject


@pytest.mark.parametrize(("name", "rate", "cls", "credit", "free"), BRIEF)
def test_every_package_of_the_brief(name, rate, cls, credit, free):
    p = TABLE[name]
    price, years = (int(x) for x in name.removesuffix("年").split("/"))
    assert p.id == f"{price}-{years}y" and TABLE[p.id] is p
    assert p.price_fen == price * 100 and p.years == years and p.months == 12 * years
    assert p.printed_rate_fen == parse_fen(rate) and p.number_class == cls
    assert p.feature_credit_fen == credit * 100 and p.free_seats == free
    if rules.low_price_rule_applies(p):  # the printed rate is the rule's where it applies
        assert p.printed_rate_fen == rules.LOW_PRICE_RATE_FEN
    assert rules.rate_fen(p) == p.printed_rate_fen
    assert rules.gift_total_fen(p) == min(price, 20000) * 100
    parts = rules.gift_parts_fen(p)
    assert len(parts) == 12 * years and sum(parts) == rules.gift_total_fen(p)
    assert rules.gift_needs_approval(p) == (price > 20000)


def test_p2_low_yearly_price_means_0_12():
    p = replace(TABLE["2000-1y"], id="2000-3y-x", name="2000/3年", years=3)  # 666 a year
    assert rules.low_price_rule_applies(p) and rules.rate_fen(p) == 12
    assert {n for n, p in TABLE.items() if rules.low_price_rule_applies(p)} == {
        "1500-2y",
        "1800-3y",
    }
    edge = replace(TABLE["2000-2y"])  # 1000 a year: not below (不含)
    assert not rules.low_price_rule_applies(edge) and rules.rate_fen(edge) == 10
    printed_low = replace(TABLE["1500-2y"], printed_rate_fen=8)  # an operator's own table
    assert rules.rate_fen(printed_low) == 12


def test_p3_5000_over_3_years_is_5000_over_36_months():
    p = TABLE["5000/3年"]
    parts = rules.gift_parts_fen(p)
    assert len(parts) == 36 and sum(parts) == 500000
    assert parts[:32] == [13889] * 32 and parts[32:] == [13888] * 4  # first months one fen more
    assert [rules.gift_part_fen(p, i + 1) for i in range(36)] == parts
    with pytest.raises(BillingError):
        rules.gift_part_fen(p, 37)
    assert rules.gift_total_fen(TABLE["30000-1y"]) == 2000000
    assert rules.gift_needs_approval(TABLE["30000-1y"])
    assert not rules.gift_needs_approval(TABLE["20000-1y"])


def test_p3_gift_is_used_first_only_the_excess_to_the_balance():
    assert rules.gift_use_fen(13889, 5000) == 5000
    assert rules.gift_use_fen(13889, 20000) == 13889
    assert rules.gift_use_fen(13889, 0) == 0


def test_p4_tiers_and_feature_credit():
    assert [rules.seat_price_fen(n) for n in (1, 9, 10, 50, 51, 100, 101, 500)] == [
        2000, 2000, 1800, 1800, 1500, 1500, 1200, 1200,
    ]  # fmt: skip
    p = replace(TABLE["2000-1y"], free_seats=0)  # 100 yuan a month
    fees = rules.seat_fees(p, 5)
    assert fees.credit_seats == 5 and fees.credit_applied == 10000 and fees.fees == 0
    fees = rules.seat_fees(TABLE["5000-1y"], 20)  # 10 free, 150 yuan: 7 seats, 10 yuan lapse
    assert (fees.free, fees.credit_seats, fees.paid, fees.price) == (10, 7, 3, 1800)
    assert fees.fees == 5400 and fees.credit_applied == 14000
    assert rules.seat_fees(TABLE["1200-1y"], 0).fees == 0
    assert rules.seat_fees(TABLE["1200-1y"], 3).fees == 2000  # 2 free, no credit, 1 at 20


def test_billable_minutes_round_started_minutes_up():
    assert [rules.billable_minutes(s) for s in (0, 1, 59, 60, 61, 120, 121)] == [
        0, 1, 1, 1, 2, 2, 3,
    ]  # fmt: skip


def test_usage_counts_connected_calls_by_kind():
    rows = [
        {"kind": "inbound", "answer": 1.0, "talk_seconds": 61},
        {"kind": "inbound", "answer": None, "talk_seconds": 0},
        {"kind": "outbound", "answer": 2.0, "talk_seconds": 30},
        {"kind": "inbound", "answer": 3.0, "talk_seconds": 0},
    ]
    assert usage(rows) == Usage(2, 2, 1, 1)


def test_money_and_months():
    assert yuan(13889) == "138.89" and yuan(5) == "0.05" and yuan(-150) == "-1.50"
    with pytest.raises(ValueError):
        parse_fen("0.085")
    assert Month.parse("2026-01").plus(35) == Month(2028, 12)
    since, until = Month.parse("2026-11").bounds()
    assert until - since == 30 * 86400 and since % 86400 == 16 * 3600  # 00:00 at UTC+8
    for bad in ("2026-13", "26-01", "2026/01", ""):
        with pytest.raises(BillingError):
            Month.parse(bad)


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "mine.csv"
    path.write_text(text, encoding="utf-8")
    return path


HEADER = (
    "id,name,price_yuan,years,rate_yuan_per_min,number_class,"
    "feature_credit_yuan_per_month,free_seats\n"
)


def test_an_operators_own_table(tmp_path):
    table = load_packages(_write(tmp_path, HEADER + "basic,基础/2年,1800,2,0.1,regular,×,3\n"))
    p = table.get_package("basic")
    assert rules.rate_fen(p) == 12  # P2 applies to an operator's package too
    assert table.get_package("基础/2年") is p


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x,a/1年,abc,1,0.1,regular,×,2\n", "line 2: price_yuan"),
        ("x,a/1年,100,0,0.1,regular,×,2\n", "line 2: years"),
        ("x,a/1年,100,1,0.085,regular,×,2\n", "line 2: rate_yuan_per_min"),
        ("x,a/1年,100,1,0.1,gold,×,2\n", "line 2: number_class"),
        ("x,a/1年,100,1,0.1,regular,lots,2\n", "line 2: feature_credit_yuan_per_month"),
        ("x,a/1年,100,1,0.1,regular,×,-1\n", "line 2: free_seats"),
        ("x,a/1年,100,1,0.1,regular,×,2\nx,b/1年,100,1,0.1,regular,×,2\n", "line 3: id"),
        ("x,a/1年,100,1,0.1,regular,×,2,9\n", "line 2: more fields"),
        ("", "no packages"),
    ],
)
def test_a_bad_table_names_file_line_and_field(tmp_path, body, message):
    path = _write(tmp_path, HEADER + body)
    with pytest.raises(BillingError) as e:
        load_packages(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value)
    assert isinstance(e.value, RoutecoreError) and isinstance(e.value, ValueError)


def test_a_table_without_columns_or_not_utf8(tmp_path):
    with pytest.raises(BillingError, match="line 1: missing column"):
        load_packages(_write(tmp_path, "id,name\nx,y\n"))
    path = tmp_path / "bin.csv"
    path.write_bytes(HEADER.encode() + b"\xff\xfe\n")
    with pytest.raises(BillingError, match="line 2: not UTF-8"):
        load_packages(path)
    with pytest.raises(BillingError, match="cannot read"):
        load_packages(tmp_path / "missing.csv")


def test_accounts_in_the_flow_store(located):
    from routecore.store.sql import FlowDB

    db = located("routecore.db")
    FlowDB(db).close()  # a flow store first: the accounts table is added to it
    with AccountStore(db) as accounts:
        accounts.assign("4006001003", TABLE["5000-3y"], Month(2026, 1))
        assert accounts.account("4006001003", Month(2028, 12)).package == "5000-3y"
        with pytest.raises(BillingError, match="outside the term"):
            accounts.account("4006001003", Month(2029, 1))
        with pytest.raises(BillingError, match="outside the term"):
            accounts.account("4006001003", Month(2025, 12))
        with pytest.raises(BillingError, match="no package"):
            accounts.account("4006001004", Month(2026, 1))
        accounts.assign("4006001003", TABLE["1200-1y"], Month(2029, 1))  # a renewal
        assert accounts.account("4006001003", Month(2029, 5)).package == "1200-1y"
    with AccountStore(db) as accounts:  # reopened: kept
        assert len(accounts.terms("4006001003")) == 2


def test_the_package_never_imports_the_root():
    for path in (Path(__file__).resolve().parents[2] / "routecore" / "billing").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "routecore", path
            if isinstance(node, ast.Import):
                assert all(a.name != "routecore" for a in node.names), path


calls = st.lists(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["inbound", "outbound"]),
            "answer": st.one_of(st.none(), st.just(1.0)),
            "talk_seconds": st.integers(0, 20_000),
        }
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(TABLE)),
    offset=st.integers(0, 119),
    rows=calls,
    seats=st.integers(0, 300),
)
def test_statement_properties(name, offset, rows, seats):
    p = TABLE[name]
    start = Month(2026, 1)
    month = start.plus(offset)
    use = usage(rows)
    if offset >= p.months:
        with pytest.raises(BillingError):
            statement("4006001003", p, start, month, use, seats)
        return
    s = statement("4006001003", p, start, month, use, seats)
    assert s == statement("4006001003", p, start, month, use, seats)
    assert sum(rules.gift_parts_fen(p)) == rules.gift_total_fen(p) <= 2000000
    assert s.gift_used <= s.gift_available and s.gift_used <= s.inbound_charges
    assert s.gift_used + s.gift_left == s.gift_available
    assert s.inbound_to_balance == s.inbound_charges - s.gift_used
    assert s.total == s.inbound_to_balance + s.outbound_charges + s.seat_fees
    assert s.free_seats + s.credit_seats + s.paid_seats == seats
    assert s.feature_credit_applied <= s.feature_credit
    for value in vars(s).values():
        if isinstance(value, int):
            assert value >= 0
