"""Italian tax identifiers: Partita IVA and codice fiscale, checked with their check characters."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_CF_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            2,
            4,
            18,
            20,
            11,
            3,
            6,
            8,
            12,
            14,
            16,
            10,
            22,
            25,
            24,
            23,
        ],
        strict=True,
    )
)
_CF_PERSON = re.compile(
    r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$"
)


def partita_iva_is_valid(value: str) -> bool:
    """11 digits, the last one a Luhn-style check digit over the first ten."""
    if not re.fullmatch(r"[0-9]{11}", value):
        return False
    total = 0
    for position, char in enumerate(value[:10]):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(value[10])


def codice_fiscale_is_valid(value: str) -> bool:
    """A person's 16-character code with its check letter, or a company's 11-digit number."""
    value = value.upper()
    if len(value) == 11:
        return partita_iva_is_valid(value)
    if not _CF_PERSON.match(value):
        return False
    total = 0
    for position, char in enumerate(value[:15]):
        if position % 2 == 0:
            total += _CF_ODD[char]
        else:
            total += int(char) if char.isdigit() else ord(char) - ord("A")
    return chr(ord("A") + total % 26) == value[15]


def validate_partita_iva(value: str) -> None:
    if not re.fullmatch(r"[0-9]{11}", value):
        raise ValidationError(_("A Partita IVA has exactly 11 digits."), code="format")
    if not partita_iva_is_valid(value):
        raise ValidationError(
            _("This Partita IVA is not valid: its check digit does not match."), code="checksum"
        )


def validate_codice_fiscale(value: str) -> None:
    if not codice_fiscale_is_valid(value):
        raise ValidationError(
            _(
                "Enter a valid codice fiscale: 16 characters for a person or 11 digits for a company."
            ),
            code="invalid",
        )


def validate_sdi_code(value: str) -> None:
    if not re.fullmatch(r"[A-Z0-9]{7}", value.upper()):
        raise ValidationError(_("An SDI recipient code has 7 letters or digits."), code="invalid")


def validate_hex_color(value: str) -> None:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValidationError(_("Enter a colour as #RRGGBB, e.g. #0d6efd."), code="invalid")
