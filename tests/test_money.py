"""Amounts as people type them, and as they read them, in Italian and English."""

from __future__ import annotations

import pytest
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from merchants.models import CURRENCY_CHOICES, LANGUAGE_CHOICES
from vpos.money import (
    MAXIMUM_AMOUNT,
    AmountError,
    babel_locale,
    format_money,
    parse_amount,
    to_decimal,
)

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("19,99", 1999),
        ("19.99", 1999),
        ("1.234,56", 123456),
        ("1,234.56", 123456),
        ("1.234.567,89", 123456789),
        ("€ 20", 2000),
        ("20 €", 2000),
        ("EUR 20", 2000),
        ("  7,5 ", 750),
        ("0,50", 50),
        ("1.000", 100000),  # a lone separator before three digits groups thousands
        ("1 234,56", 123456),
    ],
)
def test_parse_amount_accepts_how_people_type_euros(text, minor):
    assert parse_amount(text, "EUR") == minor


@pytest.mark.parametrize(("text", "minor"), [("1000", 1000), ("1.000", 1000), ("¥ 5000", 5000)])
def test_parse_amount_yen_has_no_decimals(text, minor):
    assert parse_amount(text, "JPY") == minor


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "19,99abc",
        "12e3",
        "-5",
        "-19,99",
        "+5",
        ".50",
        "19,",
        "19.",
        "1,2,3",
        "12.34.56",
        "1.23,45",  # thousands group of two digits
        "1,234,5.6",
        "1.234.56,7",
        "19,99.50",  # comma group after decimal point
        "0,001",  # a mistyped decimal, not one euro
        "\u0661\u0662\u0663",  # Arabic-Indic digits: int() reads them, a person cannot check them
        "\uff11\uff12,\uff15\uff10",  # full-width digits
        "\u00b9",  # superscript one: isdigit() says yes, int() says no
        "0.500",  # a mistyped decimal, not five hundred euros
        "€",
    ],
)
def test_parse_amount_rejects_garbage_and_misplaced_separators(text):
    with pytest.raises(AmountError):
        parse_amount(text, "EUR")


@pytest.mark.parametrize(
    ("text", "currency"),
    [("19,9999", "EUR"), ("1.234,567", "EUR"), ("1000,5", "JPY"), ("10.5", "JPY")],
)
def test_parse_amount_rejects_too_many_decimals(text, currency):
    with pytest.raises(AmountError):
        parse_amount(text, currency)


def test_format_money_in_italian_and_english():
    assert format_money(1999, "EUR", "it") == f"19,99{NBSP}€"
    assert format_money(1999, "EUR", "en") == "€19.99"
    assert format_money(123456, "EUR", "it") == f"1.234,56{NBSP}€"
    assert format_money(123456, "EUR", "en") == "€1,234.56"


def test_format_money_yen_shows_no_decimals():
    # 1999 yen are 1999 yen, not 19,99: the minor unit of JPY is the yen itself.
    assert format_money(1999, "JPY", "it") == f"1.999{NBSP}JPY"
    assert format_money(1999, "JPY", "en") == "JP¥1,999"


@given(
    amount=st.integers(min_value=-MAXIMUM_AMOUNT, max_value=MAXIMUM_AMOUNT),
    currency=st.sampled_from([code for code, _ in CURRENCY_CHOICES]),
    language=st.sampled_from([code for code, _ in LANGUAGE_CHOICES]),
)
def test_format_money_writes_every_offered_currency_as_babel_does(amount, currency, language):
    # format_money writes the offered currencies without loading Babel's locale data.
    expected = format_currency(
        to_decimal(amount, currency), currency, locale=babel_locale(language)
    )
    assert format_money(amount, currency, language) == expected


def test_format_money_leaves_other_currencies_to_babel():
    assert format_money(123456, "SEK", "it") == f"1.234,56{NBSP}SEK"
    assert format_money(123456, "SEK", "en") == "SEK1,234.56"


def _strip_symbol(text: str) -> str:
    return text.replace("€", "").replace(NBSP, "").strip()


@given(
    amount=st.integers(min_value=1, max_value=MAXIMUM_AMOUNT),
    language=st.sampled_from(["it", "en"]),
)
def test_format_then_parse_round_trips_euros(amount, language):
    shown = format_money(amount, "EUR", language)
    assert parse_amount(_strip_symbol(shown), "EUR") == amount
    assert parse_amount(shown, "EUR") == amount  # typed back with the symbol, too


@given(
    amount=st.integers(min_value=1, max_value=MAXIMUM_AMOUNT),
    language=st.sampled_from(["it", "en"]),
)
def test_format_then_parse_round_trips_yen(amount, language):
    shown = format_money(amount, "JPY", language)
    digits = "".join(c for c in shown if c.isdigit() or c in ".,")
    assert parse_amount(digits, "JPY") == amount
