"""Italian tax identifiers (Partita IVA, codice fiscale) checked with python-stdnum, and the other
codes a shop or an invoice carries.

python-stdnum is imported on the first check, not with the models that import these functions:
with pydoc, which it imports, it holds 1.3 MiB in every process, and the documents worker renders
receipts without ever checking a tax identifier (vpos/documents_worker.py).
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def partita_iva_is_valid(value: str) -> bool:
    """11 digits, the last one a Luhn-style check digit over the first ten."""
    from stdnum.it import iva  # heavy: see the module's docstring

    return bool(re.fullmatch(r"[0-9]{11}", value)) and iva.is_valid(value)


def codice_fiscale_is_valid(value: str) -> bool:
    """A person's 16-character code with its check letter, or a company's 11-digit number."""
    from stdnum.it import codicefiscale  # heavy: see the module's docstring

    value = value.upper()
    if len(value) == 11:
        return partita_iva_is_valid(value)
    return len(value) == 16 and codicefiscale.is_valid(value)


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


def validate_eu_vat_number(country: str, number: str) -> None:
    """A VAT number of another EU country (without its country prefix), checked by its rules."""
    from stdnum.eu import vat as eu_vat  # heavy: see the module's docstring
    from stdnum.exceptions import InvalidChecksum
    from stdnum.exceptions import ValidationError as StdnumError

    try:
        eu_vat.validate(f"{country}{number}")
    except InvalidChecksum as error:
        raise ValidationError(
            _("This VAT number is not valid: its check digits do not match."), code="checksum"
        ) from error
    except StdnumError as error:
        raise ValidationError(
            _("This is not a valid VAT number for the country chosen."), code="invalid"
        ) from error


def validate_sdi_code(value: str) -> None:
    if not re.fullmatch(r"[A-Z0-9]{7}", value.upper()):
        raise ValidationError(_("An SDI recipient code has 7 letters or digits."), code="invalid")


def validate_hex_color(value: str) -> None:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValidationError(_("Enter a colour as #RRGGBB, e.g. #0d6efd."), code="invalid")
