"""What an Italian electronic invoice (FatturaPA) needs to know about the shop and its customer.

The shop's side is `FiscalProfile` (merchants.models); the customer's side is the invoice details a
customer types on the pay page or a shop gives with a link: `InvoiceDetailsForm` validates them
(Partita IVA and codice fiscale by their check characters, with python-stdnum) and hands back one
plain dict, the shape stored on links and payments and read by the invoice builder.

FatturaPA's text fields (`...LatinType`) take Basic Latin and Latin-1 only: `latin1()` turns what has
an obvious Latin-1 spelling into it ("Łódź" → "Lódz") and refuses the rest with a message naming
the characters, so nothing outside Latin-1 is ever sent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .validators import (
    partita_iva_is_valid,
    validate_codice_fiscale,
    validate_eu_vat_number,
    validate_partita_iva,
    validate_sdi_code,
)

# The flat-rate scheme (forfettario) invoices without VAT, always with this nature.
FLAT_RATE_REGIME, FLAT_RATE_NATURE = "RF19", "N2.2"

REGIME_CHOICES = [
    ("RF01", _("RF01 — Ordinary")),
    ("RF02", _("RF02 — Minimum taxpayers (art. 1, c. 96-117, L. 244/07)")),
    ("RF04", _("RF04 — Agriculture, hunting and fishing")),
    ("RF05", _("RF05 — Sale of salts and tobacco")),
    ("RF06", _("RF06 — Match trade")),
    ("RF07", _("RF07 — Publishing")),
    ("RF08", _("RF08 — Public telephony services")),
    ("RF09", _("RF09 — Resale of public transport documents")),
    ("RF10", _("RF10 — Entertainment and gaming")),
    ("RF11", _("RF11 — Travel agencies")),
    ("RF12", _("RF12 — Agritourism")),
    ("RF13", _("RF13 — Door-to-door sales")),
    ("RF14", _("RF14 — Resale of used goods, art and antiques")),
    ("RF15", _("RF15 — Auctions of art and antiques")),
    ("RF16", _("RF16 — VAT for cash (art. 32-bis, DL 83/2012)")),
    ("RF17", _("RF17 — VAT for cash (art. 32-bis, DL 83/2012), other")),
    ("RF18", _("RF18 — Other")),
    ("RF19", _("RF19 — Flat-rate scheme (forfettario, art. 1, c. 54-89, L. 190/2014)")),
]

NATURA_CHOICES = [
    ("N1", _("N1 — Excluded under art. 15 DPR 633/72")),
    ("N2.1", _("N2.1 — Not subject: art. 7 to 7-septies DPR 633/72")),
    ("N2.2", _("N2.2 — Not subject: other cases (e.g. flat-rate scheme)")),
    ("N3.1", _("N3.1 — Not taxable: exports")),
    ("N3.2", _("N3.2 — Not taxable: intra-EU supplies")),
    ("N3.3", _("N3.3 — Not taxable: supplies to San Marino")),
    ("N3.4", _("N3.4 — Not taxable: operations treated as exports")),
    ("N3.5", _("N3.5 — Not taxable: with a declaration of intent")),
    ("N3.6", _("N3.6 — Not taxable: other operations")),
    ("N4", _("N4 — Exempt (art. 10 DPR 633/72)")),
    ("N5", _("N5 — Margin scheme")),
    ("N6.9", _("N6.9 — Reverse charge: other cases")),
    ("N7", _("N7 — VAT paid in another EU state")),
]

# What the law says about each exemption nature: printed on the invoice (RiferimentoNormativo).
NATURA_REFERENCE = {
    "N1": "Escluso art. 15 DPR 633/72",
    "N2.1": "Non soggetto artt. da 7 a 7-septies DPR 633/72",
    "N2.2": "Operazione effettuata ai sensi dell'art. 1, commi da 54 a 89, L. 190/2014",
    "N3.1": "Non imponibile art. 8 DPR 633/72",
    "N3.2": "Non imponibile art. 41 DL 331/93",
    "N3.3": "Non imponibile art. 71 DPR 633/72",
    "N3.4": "Non imponibile art. 8-bis DPR 633/72",
    "N3.5": "Non imponibile art. 8, c. 1, lett. c) DPR 633/72",
    "N3.6": "Non imponibile",
    "N4": "Esente art. 10 DPR 633/72",
    "N5": "Regime del margine",
    "N6.9": "Inversione contabile",
    "N7": "IVA assolta in altro stato UE",
}


def shop_details_missing(shop: Any) -> list[Any]:
    """What a shop's legal details (merchants.Merchant) lack to be the seller of a valid invoice,
    as a person reads it; empty when nothing is missing."""
    missing: list[Any] = []
    italian = shop.country == "IT"
    if italian and not partita_iva_is_valid(shop.vat_number or ""):
        missing.append(_("a valid Partita IVA"))
    elif not shop.vat_number:
        missing.append(_("the VAT number"))
    if not shop.legal_name:
        missing.append(_("the legal name"))
    if not (shop.address and shop.city):
        missing.append(_("the address"))
    if italian and not re.fullmatch(r"[0-9]{5}", shop.postal_code or ""):
        missing.append(_("a 5-digit postal code"))
    if italian and not re.fullmatch(r"[A-Za-z]{2}", shop.province or ""):
        missing.append(_("the province"))
    return missing


EU_COUNTRIES = [
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
]

# Letters with no Latin-1 spelling of their own, written the way Italian offices write them.
_TRANSLITERATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u20ac": "EUR",
        "\u0141": "L",
        "\u0142": "l",
        "\u0110": "D",
        "\u0111": "d",
        "\u0152": "OE",
        "\u0153": "oe",
        "\u0131": "i",
    }
)


def _latin1_char(char: str) -> str:
    if ord(char) < 0x100:
        return char
    base = "".join(
        part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part)
    )
    return base if base and all(ord(part) < 0x100 for part in base) else ""


def _spell(value: str) -> tuple[str, list[str]]:
    """`value` on one line spelled in Latin-1, and the characters that have no such spelling."""
    text = unicodedata.normalize("NFC", value).translate(_TRANSLITERATE)
    text = " ".join(text.split())  # one line, single spaces: FatturaPA strings are normalized
    out, refused = [], []
    for char in text:
        spelled = _latin1_char(char)
        if not spelled or any(ord(part) < 0x20 or 0x7F <= ord(part) < 0xA0 for part in spelled):
            refused.append(char)
            continue
        out.append(spelled)
    return "".join(out), refused


def latin1(value: str) -> str:
    """`value` on one line in Basic Latin and Latin-1 only. Accented letters from outside Latin-1
    lose their accent ("Dvořák" → "Dvorák"), typographic quotes and dashes become plain ones;
    what has no such spelling (Greek, Cyrillic, CJK, emoji) raises a ValidationError naming it."""
    text, refused = _spell(value)
    if refused:
        raise ValidationError(
            _(
                "An electronic invoice can only carry Latin letters: please write %(chars)s "
                "another way."
            )
            % {"chars": " ".join(dict.fromkeys(refused))},
            code="latin1",
        )
    return text


def latin1_lenient(value: str, limit: int) -> str:
    """The shop's own text for an invoice: spelled in Latin-1 like `latin1()`, what has no such
    spelling left out, cut to the field's length."""
    text, _refused = _spell(value or "")
    return " ".join(text.split())[:limit].strip()


class InvoiceKind:
    BUSINESS = "business"
    PRIVATE = "private"


def _latin1_field(max_length: int, label: Any, required: bool = False) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=required, strip=True)


class InvoiceDetailsForm(forms.Form):
    """Who the invoice is for: a business (company, Partita IVA, SDI code or PEC, registered
    address) or a private person (name, surname, codice fiscale, address). On the pay page it
    carries the prefix `invoice`; the API and the link form use it as it is."""

    # Hidden until the customer asks for an invoice: the browser must not demand these fields.
    use_required_attribute = False

    kind = forms.ChoiceField(
        label=_("Invoice for"),
        choices=[(InvoiceKind.BUSINESS, _("A business")), (InvoiceKind.PRIVATE, _("A person"))],
        widget=forms.RadioSelect,
        initial=InvoiceKind.BUSINESS,
    )
    company = _latin1_field(80, _("Company name"))
    first_name = _latin1_field(60, _("First name"))
    last_name = _latin1_field(60, _("Surname"))
    vat_number = forms.CharField(label=_("Partita IVA"), max_length=30, required=False)
    tax_code = forms.CharField(label=_("Codice fiscale"), max_length=16, required=False)
    sdi_code = forms.CharField(
        label=_("SDI recipient code"),
        max_length=7,
        required=False,
        help_text=_("7 letters or digits. Leave empty if you give a PEC address."),
    )
    pec = forms.EmailField(label=_("PEC address"), max_length=256, required=False)
    address = _latin1_field(60, _("Address"), required=True)
    postal_code = forms.CharField(label=_("Postal code"), max_length=10)
    city = _latin1_field(60, _("City"), required=True)
    province = forms.CharField(
        label=_("Province"), max_length=2, required=False, help_text=_("e.g. MI")
    )
    country = forms.CharField(label=_("Country"), max_length=2, initial="IT")

    LATIN1_FIELDS = ("company", "first_name", "last_name", "address", "city")

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ValidationError(_("Enter the country as its two-letter code, e.g. IT."))
        return country

    def clean_province(self) -> str:
        province = self.cleaned_data["province"].strip().upper()
        if province and not re.fullmatch(r"[A-Z]{2}", province):
            raise ValidationError(_("Enter the province as its two-letter code, e.g. MI."))
        return province

    def clean_sdi_code(self) -> str:
        code = self.cleaned_data["sdi_code"].strip().upper()
        if code:
            validate_sdi_code(code)
        return code

    def clean_tax_code(self) -> str:
        return re.sub(r"\s", "", self.cleaned_data["tax_code"]).upper()

    def clean_vat_number(self) -> str:
        number = re.sub(r"[\s.\-]", "", self.cleaned_data["vat_number"]).upper()
        return number

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in self.LATIN1_FIELDS:
            if data.get(name):
                try:
                    data[name] = latin1(data[name])
                except ValidationError as error:
                    self.add_error(name, error)
        kind, country = data.get("kind"), data.get("country")
        if kind is None or country is None:
            return data
        italian = country == "IT"
        if kind == InvoiceKind.BUSINESS:
            self._clean_business(data, italian)
        else:
            self._clean_private(data, italian)
        postal = (data.get("postal_code") or "").strip()
        if italian and not re.fullmatch(r"[0-9]{5}", postal):
            self.add_error("postal_code", _("An Italian postal code (CAP) has 5 digits."))
        data["postal_code"] = postal
        if italian and not data.get("province"):
            self.add_error("province", _("Enter the province, e.g. MI."))
        return data

    def _clean_business(self, data: dict[str, Any], italian: bool) -> None:
        if not data.get("company"):
            self.add_error("company", _("Enter the company name."))
        number = data.get("vat_number") or ""
        if number.startswith(data["country"]):
            number = number[2:]
        data["vat_number"] = number
        if not number:
            self.add_error("vat_number", _("Enter the company's VAT number."))
        else:
            try:
                if italian:
                    validate_partita_iva(number)
                elif data["country"] in EU_COUNTRIES:
                    validate_eu_vat_number(data["country"], number)
                elif not re.fullmatch(r"[A-Z0-9]{1,28}", number):
                    raise ValidationError(_("Enter the VAT number with letters and digits only."))
            except ValidationError as error:
                self.add_error("vat_number", error)
        if data.get("tax_code"):
            self._check_tax_code(data)
        if italian and not data.get("sdi_code") and not data.get("pec"):
            self.add_error(
                "sdi_code", _("Give the company's SDI recipient code or its PEC address.")
            )
        data["first_name"] = data["last_name"] = ""

    def _clean_private(self, data: dict[str, Any], italian: bool) -> None:
        if not data.get("first_name"):
            self.add_error("first_name", _("Enter your first name."))
        if not data.get("last_name"):
            self.add_error("last_name", _("Enter your surname."))
        if italian and not data.get("tax_code"):
            self.add_error("tax_code", _("Enter your codice fiscale."))
        elif data.get("tax_code"):
            self._check_tax_code(data)
        data["company"] = data["vat_number"] = ""

    def _check_tax_code(self, data: dict[str, Any]) -> None:
        try:
            validate_codice_fiscale(data["tax_code"])
        except ValidationError as error:
            self.add_error("tax_code", error)

    def details(self) -> dict[str, str]:
        """The validated details as stored on links and payments (call after is_valid())."""
        return {name: self.cleaned_data.get(name) or "" for name in DETAIL_FIELDS}


DETAIL_FIELDS = (
    "kind",
    "company",
    "first_name",
    "last_name",
    "vat_number",
    "tax_code",
    "sdi_code",
    "pec",
    "address",
    "postal_code",
    "city",
    "province",
    "country",
)


def invoice_details(data: Mapping[str, Any]) -> dict[str, str]:
    """Validated invoice details from a plain mapping (an API body, a stored dict). Raises
    ValidationError with a message per field."""
    values = {name: data.get(name) for name in DETAIL_FIELDS if data.get(name) is not None}
    values.setdefault("country", "IT")
    form = InvoiceDetailsForm(data=values)
    if not form.is_valid():
        raise ValidationError({name: list(errors) for name, errors in form.errors.items()})
    return form.details()


def invoice_recipient_name(details: Mapping[str, str]) -> str:
    """The name an invoice is made out to: the company, or the person's name and surname."""
    if details.get("kind") == InvoiceKind.BUSINESS:
        return details.get("company", "")
    return f"{details.get('first_name', '')} {details.get('last_name', '')}".strip()
