"""Money: integer minor units plus an ISO 4217 currency, formatted and parsed by locale."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.utils import translation

# Currencies whose smallest unit is the unit itself (Stripe's zero-decimal list, the ones we offer).
ZERO_DECIMAL = {"JPY", "KRW", "VND", "CLP", "ISK"}
# Stripe's minimum charge per currency, in minor units.
MINIMUM_AMOUNT = {"EUR": 50, "USD": 50, "GBP": 30, "CHF": 50, "JPY": 50}
MAXIMUM_AMOUNT = 99_999_999  # 999.999,99 in two-decimal currencies

_LOCALES = {"it": "it_IT", "en": "en_IE"}

# How each language writes an amount of each currency we offer (merchants.models.CURRENCY_CHOICES):
# CLDR's patterns and symbols for it_IT and en_IE, as Babel's format_currency applies them, written
# out so that formatting an amount does not load Babel's locale data (about 8 MiB resident in each
# process: receipts are rendered by a worker that must stay small, vpos/documents_worker.py).
# tests/test_money.py holds every pair to Babel. Any other currency is formatted by Babel itself.
# Per language: thousands separator, decimal separator, where the number and symbol go.
_NUMBER_FORMATS = {"it": (".", ",", "{number}\u00a0{symbol}"), "en": (",", ".", "{symbol}{number}")}
_SYMBOLS = {
    "it": {"EUR": "€", "USD": "USD", "GBP": "£", "CHF": "CHF", "JPY": "JPY"},
    "en": {"EUR": "€", "USD": "US$", "GBP": "£", "CHF": "CHF", "JPY": "JP¥"},
}


class AmountError(ValueError):
    """The text is not an amount in this currency."""


def exponent(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL else 2


def to_decimal(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-exponent(currency))


def with_vat(net: int, rate: int) -> int:
    """A net amount with VAT at `rate` percent added, the VAT rounded half up."""
    return net + (net * rate * 2 + 100) // 200


def babel_locale(language: str | None = None) -> str:
    language = (language or translation.get_language() or "it").split("-")[0]
    return _LOCALES.get(language, "en_IE")


def format_money(amount: int, currency: str, language: str | None = None) -> str:
    """`1999, "EUR"` -> "19,99 €" in Italian, "€19.99" in English."""
    currency = currency.upper()
    locale = babel_locale(language)
    language = locale.split("_")[0]
    symbol = _SYMBOLS[language].get(currency)
    if symbol is None:  # not a currency we offer: Babel's locale data, loaded on first use
        from babel.numbers import format_currency

        return format_currency(to_decimal(amount, currency), currency, locale=locale)
    thousands, decimal, pattern = _NUMBER_FORMATS[language]
    digits = exponent(currency)
    whole, fraction = divmod(abs(amount), 10**digits)
    number = f"{whole:,}".replace(",", thousands)
    if digits:
        number += f"{decimal}{fraction:0{digits}d}"
    return ("-" if amount < 0 else "") + pattern.format(number=number, symbol=symbol)


def parse_amount(text: str, currency: str) -> int:
    """Parse what a person types ("19,99", "19.99", "1.234,50", "1,234.50", "€ 20") to minor units.

    A lone separator followed by three digits is a thousands separator ("1.000" is one thousand);
    followed by one or two digits it is the decimal separator. Raises AmountError otherwise.
    """
    cleaned = re.sub(r"[\s\u00a0\u202f€$£¥']|EUR|USD|GBP|CHF|JPY", "", text.strip(), flags=re.I)
    if not re.fullmatch(r"[0-9][0-9.,]*", cleaned or "") or cleaned.endswith((".", ",")):
        raise AmountError("not a number")
    separators = [c for c in cleaned if c in ".,"]
    if not separators:
        whole, fraction = cleaned, ""
    elif len(set(separators)) == 2:
        decimal_sep = cleaned[max(cleaned.rfind("."), cleaned.rfind(","))]
        group_sep = "," if decimal_sep == "." else "."
        if separators.count(decimal_sep) > 1 or cleaned.rfind(group_sep) > cleaned.rfind(
            decimal_sep
        ):
            raise AmountError("mixed separators")
        whole, fraction = cleaned.split(decimal_sep)
        _check_groups(whole, group_sep)
        whole = whole.replace(group_sep, "")
    else:
        sep = separators[0]
        head, _, tail = cleaned.rpartition(sep)
        if len(separators) == 1 and len(tail) != 3:
            whole, fraction = head, tail
        else:
            _check_groups(cleaned, sep)
            whole, fraction = cleaned.replace(sep, ""), ""
    digits = exponent(currency)
    if len(fraction) > digits:
        raise AmountError("too many decimals")
    try:
        value = Decimal(f"{whole}.{fraction or '0'}")
    except InvalidOperation as error:
        raise AmountError("not a number") from error
    return int(value.scaleb(digits))


def _check_groups(number: str, sep: str) -> None:
    groups = number.split(sep)
    if not (1 <= len(groups[0]) <= 3) or any(len(g) != 3 for g in groups[1:]):
        raise AmountError("misplaced thousands separator")
    # "0.500" or "0,001" is a mistyped decimal, never five hundred or one: no group follows a 0.
    if len(groups) > 1 and groups[0].startswith("0"):
        raise AmountError("misplaced thousands separator")
