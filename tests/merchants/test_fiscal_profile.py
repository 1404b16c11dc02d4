"""The owner's electronic invoicing settings: who reaches them, what they refuse and why."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from merchants.models import FiscalProfile
from merchants.services import fiscal_profile_update
from vpos.models import AuditEntry

pytestmark = pytest.mark.django_db

VALID = {
    "invoicing": "request",
    "regime": "RF01",
    "vat_rate": "22",
    "vat_nature": "",
    "prices_include_vat": "on",
    "delivery": "export",
    "sdi_pec": "sdi01@pec.fatturapa.it",
    "transmitter_code": "",
}


def url(shop) -> str:
    return reverse("merchants:fiscal_profile", args=[shop.merchant.public_id])


@pytest.mark.parametrize(("actor", "status"), [("staff", 403), ("outsider", 404)])
def test_only_the_owner_reaches_the_invoicing_settings(client_as, shop, actor, status):
    assert client_as(actor).get(url(shop)).status_code == status
    assert client_as(actor).post(url(shop), VALID).status_code == status
    assert not FiscalProfile.objects.exists()


def test_the_owner_turns_invoices_on_and_it_is_audited(client_as, shop):
    client = client_as("owner")
    assert client.get(url(shop)).status_code == 200

    response = client.post(url(shop), {**VALID, "transmitter_code": "IT 01234560017"})

    assert response.status_code == 302
    profile = FiscalProfile.objects.get(merchant=shop.merchant)
    assert profile.invoicing == "request"
    assert profile.transmitter_code == "01234560017"
    entry = AuditEntry.objects.filter(merchant=shop.merchant).latest("pk")
    assert "invoicing.invoicing" in entry.summary


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vat_rate": "0"}, "invoices without VAT need it"),
        ({"regime": "RF19"}, "choose 0% and N2.2"),
        ({"regime": "RF19", "vat_rate": "0", "vat_nature": "N4"}, "with nature N2.2"),
        ({"transmitter_code": "ABC"}, "intermediary&#x27;s codice fiscale"),
        ({"regime": "RF99"}, "Select a valid choice"),
        ({"sdi_pec": "not-an-address"}, "valid email"),
    ],
)
def test_wrong_settings_are_explained_and_nothing_is_saved(client_as, shop, changes, message):
    response = client_as("owner").post(url(shop), {**VALID, **changes})

    assert response.status_code == 200
    assert message in response.text
    assert not FiscalProfile.objects.exists()


def test_the_flat_rate_scheme_is_stored_with_its_nature(client_as, shop):
    client_as("owner").post(url(shop), {**VALID, "regime": "RF19", "vat_rate": "0"})

    profile = FiscalProfile.objects.get(merchant=shop.merchant)
    assert (profile.vat_rate, profile.vat_nature) == (0, "N2.2")


def test_invoices_wait_for_the_shop_legal_details(client_as, shop):
    shop.merchant.vat_number = "12345678901"
    shop.merchant.province = ""
    shop.merchant.save()
    client = client_as("owner")

    page = client.get(url(shop))
    response = client.post(url(shop), VALID)

    assert "a valid Partita IVA, the province" in page.text
    assert "complete the shop&#x27;s legal details first" in response.text
    assert not FiscalProfile.objects.exists()
    # Receipts only needs nothing more.
    assert client.post(url(shop), {**VALID, "invoicing": "off"}).status_code == 302


def test_the_service_holds_the_same_rules_as_the_page(shop):
    """Whoever saves the settings (the page, a command), the rules are the model's."""
    with pytest.raises(ValidationError) as refused:
        fiscal_profile_update(
            merchant=shop.merchant, data={"regime": "RF19", "vat_rate": 22, "invoicing": "request"}
        )

    assert "vat_rate" in refused.value.message_dict
    assert not FiscalProfile.objects.exists()
    profile = fiscal_profile_update(
        merchant=shop.merchant, data={"regime": "RF19", "vat_rate": 0, "invoicing": "request"}
    )
    assert profile.vat_nature == "N2.2"
