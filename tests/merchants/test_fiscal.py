"""The customer's invoice details: what the pay page, the link form and the API accept, and the
message a customer reads when something is wrong."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from merchants.fiscal import InvoiceDetailsForm, invoice_details, invoice_recipient_name, latin1

BUSINESS = {
    "kind": "business",
    "company": "Rossi Forniture S.r.l.",
    "vat_number": "IT 012 345 600 17",
    "sdi_code": "m5uxcr1",
    "address": "Via Verdi 3",
    "postal_code": "10121",
    "city": "Torino",
    "province": "to",
    "country": "it",
}
PERSON = {
    "kind": "private",
    "first_name": "Mario",
    "last_name": "Rossi",
    "tax_code": "rssmra85t10a562s",
    "address": "Corso Italia 10",
    "postal_code": "50123",
    "city": "Firenze",
    "province": "FI",
    "country": "IT",
}


def errors(data: dict) -> dict[str, list[str]]:
    with translation.override("en"):
        form = InvoiceDetailsForm(data=data)
        form.is_valid()
        return {name: list(messages) for name, messages in form.errors.items()}


def test_a_business_is_stored_normalized():
    details = invoice_details(BUSINESS)

    assert details["vat_number"] == "01234560017"
    assert details["sdi_code"] == "M5UXCR1"
    assert details["province"] == "TO"
    assert details["country"] == "IT"
    assert details["first_name"] == details["last_name"] == ""
    assert invoice_recipient_name(details) == "Rossi Forniture S.r.l."


def test_a_person_is_stored_normalized():
    details = invoice_details(PERSON)

    assert details["tax_code"] == "RSSMRA85T10A562S"
    assert details["company"] == details["vat_number"] == ""
    assert invoice_recipient_name(details) == "Mario Rossi"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"vat_number": "01234560018"}, "vat_number", "check digit does not match"),
        ({"vat_number": "0123456"}, "vat_number", "exactly 11 digits"),
        ({"vat_number": ""}, "vat_number", "Enter the company's VAT number"),
        ({"company": ""}, "company", "Enter the company name"),
        ({"sdi_code": "", "pec": ""}, "sdi_code", "SDI recipient code or its PEC"),
        ({"sdi_code": "ABC"}, "sdi_code", "7 letters or digits"),
        ({"postal_code": "1012"}, "postal_code", "5 digits"),
        ({"province": ""}, "province", "Enter the province"),
        ({"province": "Torino"}, "province", ""),
        ({"country": "Italia"}, "country", ""),
        ({"company": "Ωmega S.r.l."}, "company", "please write Ω another way"),
    ],
)
def test_a_business_with_wrong_details_is_told_what_to_fix(changes, field, message):
    found = errors({**BUSINESS, **changes})

    assert field in found
    assert message in " ".join(found[field])


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"tax_code": "RSSMRA85T10A562T"}, "tax_code", "valid codice fiscale"),
        ({"tax_code": ""}, "tax_code", "Enter your codice fiscale"),
        ({"first_name": ""}, "first_name", "Enter your first name"),
        ({"last_name": "Ивanov"}, "last_name", "Latin letters"),
    ],
)
def test_a_person_with_wrong_details_is_told_what_to_fix(changes, field, message):
    found = errors({**PERSON, **changes})

    assert message in " ".join(found[field])


def test_a_pec_address_stands_in_for_the_sdi_code():
    details = invoice_details({**BUSINESS, "sdi_code": "", "pec": "rossi@pec.example.it"})

    assert details["pec"] == "rossi@pec.example.it"


def test_a_business_abroad_is_checked_by_its_country_rules():
    german = {**BUSINESS, "country": "DE", "vat_number": "DE136695976", "sdi_code": ""}
    german.update(province="", postal_code="10115", city="Berlin")

    assert invoice_details(german)["vat_number"] == "136695976"
    assert "check digits" in " ".join(errors({**german, "vat_number": "136695977"})["vat_number"])


def test_a_person_abroad_needs_no_codice_fiscale():
    details = invoice_details({**PERSON, "tax_code": "", "country": "FR", "province": ""})

    assert details["tax_code"] == ""


def test_the_api_gets_one_message_per_field():
    with pytest.raises(ValidationError) as raised:
        invoice_details({"kind": "business"})

    assert {"company", "vat_number", "address", "postal_code", "city"} <= set(
        raised.value.message_dict
    )


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("Dvořák", "Dvorák"),
        ("Łódź", "Lódz"),
        ("Caffè “Roma” – Œuvre", 'Caffè "Roma" - OEuvre'),
        ("  Via\tRoma\n 1 ", "Via Roma 1"),
        ("Müller & Søn", "Müller & Søn"),
    ],
)
def test_latin1_spells_what_it_can(typed, written):
    assert latin1(typed) == written


@pytest.mark.parametrize("typed", ["Αθήνα", "東京", "Shop 😀", "a\x00b"])
def test_latin1_refuses_what_it_cannot_spell(typed):
    with pytest.raises(ValidationError):
        latin1(typed)
