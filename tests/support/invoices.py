"""A customer's invoice details in tests: a business and a person, as stored on links and
payments (merchants.fiscal.DETAIL_FIELDS) or as a form posts them (with its prefix)."""

from __future__ import annotations

BUSINESS = {
    "kind": "business",
    "company": "Rossi Forniture S.r.l.",
    "vat_number": "01234560017",
    "sdi_code": "M5UXCR1",
    "address": "Via Verdi 3",
    "postal_code": "10121",
    "city": "Torino",
    "province": "TO",
    "country": "IT",
}
PERSON = {
    "kind": "private",
    "first_name": "Mario",
    "last_name": "Rossi",
    "tax_code": "RSSMRA85T10A562S",
    "pec": "mario.rossi@pec.example.it",
    "address": "Corso Italia 10",
    "postal_code": "50123",
    "city": "Firenze",
    "province": "FI",
    "country": "IT",
}


def posted(details: dict[str, str], prefix: str = "invoice", **changes: str) -> dict[str, str]:
    """The details as the pay page or the link form posts them: `invoice-company`..."""
    return {f"{prefix}-{name}": value for name, value in {**details, **changes}.items()}
