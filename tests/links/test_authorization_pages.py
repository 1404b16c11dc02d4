"""The back office's capture and release of an authorization (owner and staff; another shop's
member gets a 404), the confirmation step, bad input, and what the pages show of the hold."""

from __future__ import annotations

import re
import secrets

import pytest
from django.urls import reverse

from links.models import LinkStatus, Payment, PaymentLink, PaymentStatus
from links.payments import checkout_attempt
from receipts.models import Receipt
from tests.support.factories import PaymentLinkFactory
from tests.support.stripe import card_payment_method


@pytest.fixture
def link(shop, stripe_settings) -> PaymentLink:
    return PaymentLinkFactory(
        merchant=shop.merchant, amount=12000, description="Noleggio bici", authorize_only=True
    )


@pytest.fixture
def held(link, stripe_api, django_capture_on_commit_callbacks) -> Payment:
    with django_capture_on_commit_callbacks(execute=True):
        result = checkout_attempt(
            link=link,
            payment_method=card_payment_method(stripe_api),
            attempt_key=secrets.token_urlsafe(24),
            customer_email="marco@example.com",
        )
    assert result.payment.status == PaymentStatus.AUTHORIZED
    return result.payment


def url(name: str, payment: Payment) -> str:
    return reverse(f"links:{name}", args=[payment.merchant.public_id, payment.public_id])


def confirm_fields(html: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="[^"]+/(capture|release)/".*?</form>', html, re.S)
    assert form is not None
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group()))


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_owner_and_staff_capture_less_after_confirming(
    actor, held, client_as, django_capture_on_commit_callbacks
):
    client = client_as(actor)
    detail = client.get(url("payment_detail", held))
    assert "Authorized, awaiting capture" in detail.content.decode()
    assert "Capture before" in detail.content.decode()

    asked = client.post(url("payment_capture", held), {"amount": "80,00"})
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "Confirm capture" in page
    assert "€80.00" in page
    assert "€120.00" in page
    held.refresh_from_db()
    assert held.status == PaymentStatus.AUTHORIZED  # nothing happens before the confirmation

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url("payment_capture", held), confirm_fields(page), follow=True)

    assert "€80.00 captured." in done.content.decode()
    assert "captured of €120.00 authorized" in done.content.decode()
    held.refresh_from_db()
    assert (held.status, held.amount) == (PaymentStatus.SUCCEEDED, 8000)
    assert Receipt.objects.get(payment=held).amount == 8000
    held.link.refresh_from_db()
    assert held.link.status == LinkStatus.PAID


def test_the_confirmation_sent_twice_captures_once(
    held, client_as, django_capture_on_commit_callbacks
):
    client = client_as("staff")
    fields = confirm_fields(
        client.post(url("payment_capture", held), {"amount": "50"}).content.decode()
    )

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url("payment_capture", held), fields)
        again = client.post(url("payment_capture", held), fields, follow=True)

    assert first.status_code == 302
    assert "€50.00 captured." in again.content.decode()
    assert Receipt.objects.filter(payment=held).count() == 1


def test_releasing_asks_for_confirmation_then_charges_nothing(
    held, client_as, stripe_api, django_capture_on_commit_callbacks
):
    client = client_as("owner")
    asked = client.post(url("payment_release", held), {})
    assert "Confirm release" in asked.content.decode()
    assert "Nothing will be charged" in asked.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url("payment_release", held), confirm_fields(asked.content.decode()), follow=True
        )

    assert "Authorization released: nothing was charged." in done.content.decode()
    held.refresh_from_db()
    assert held.status == PaymentStatus.CANCELED
    assert stripe_api.v1.payment_intents.retrieve(held.provider_id).status == "canceled"


@pytest.mark.parametrize("name", ["payment_capture", "payment_release", "payment_detail"])
def test_another_shop_gets_a_404(held, client_as, name):
    client = client_as("outsider")
    response = (client.get if name == "payment_detail" else client.post)(url(name, held), {})
    assert response.status_code == 404
    held.refresh_from_db()
    assert held.status == PaymentStatus.AUTHORIZED


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("200,00", "At most €120.00 can be captured."),
        ("0", "Enter an amount greater than zero."),
        ("abc", "Enter an amount such as 19,99."),
        ("9" * 30, "Ensure this value has at most 20 characters"),
    ],
)
def test_a_wrong_amount_is_refused_with_a_400(held, client_as, stripe_api, amount, message):
    response = client_as("owner").post(url("payment_capture", held), {"amount": amount})

    assert response.status_code == 400
    assert message in response.content.decode()
    held.refresh_from_db()
    assert held.status == PaymentStatus.AUTHORIZED
    assert stripe_api.v1.payment_intents.retrieve(held.provider_id).status == "requires_capture"


def test_a_payment_that_is_not_authorized_cannot_be_captured(shop, client_as):
    link = PaymentLinkFactory(merchant=shop.merchant, amount=500)
    payment = Payment.objects.create(
        merchant=shop.merchant,
        link=link,
        attempt_key="k" * 20,
        amount=500,
        currency="EUR",
        status=PaymentStatus.SUCCEEDED,
    )

    response = client_as("owner").post(
        url("payment_capture", payment), {"amount": "5", "confirm": "on"}
    )

    assert response.status_code == 400
    assert "Only an authorized payment" in response.content.decode()


def test_the_decided_hold_tells_the_second_person(
    held, client_as, django_capture_on_commit_callbacks
):
    owner, staff = client_as("owner"), client_as("staff")
    owner_fields = confirm_fields(owner.post(url("payment_release", held), {}).content.decode())
    staff_fields = confirm_fields(
        staff.post(url("payment_capture", held), {"amount": "10"}).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(url("payment_release", held), owner_fields)

    response = staff.post(url("payment_capture", held), staff_fields)

    assert response.status_code == 400
    assert "already been released" in response.content.decode()


def test_the_public_page_says_the_payment_is_authorized_and_takes_no_other_card(
    link, client_as, stripe_api, django_capture_on_commit_callbacks
):
    customer = client_as("anonymous")
    page = reverse("links:checkout", args=[link.token])
    assert 'id="checkout-form"' in customer.get(page).content.decode()  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        held = checkout_attempt(
            link=link,
            payment_method=card_payment_method(stripe_api),
            attempt_key=secrets.token_urlsafe(24),
        ).payment

    shown = customer.get(page).content.decode()  # the cached payable page was dropped
    assert "Il pagamento di questo link è autorizzato" in shown  # the link's language
    result = customer.get(reverse("links:result", args=[link.token, held.public_id]) + "?lang=en")
    assert "Payment authorized" in result.content.decode()
    assert "nothing has been charged yet" in result.content.decode()

    attempt = customer.post(
        reverse("links:attempt", args=[link.token]),
        {
            "payment_method": card_payment_method(stripe_api),
            "attempt_key": secrets.token_urlsafe(24),
        },
    )
    assert attempt.status_code == 410
    assert attempt.json()["code"] == "link_authorized"


def test_lists_dashboard_and_csv_show_the_hold(held, client_as, django_assert_max_num_queries):
    client = client_as("staff")
    shop_id = held.merchant.public_id

    dashboard = client.get(reverse("links:dashboard", args=[shop_id])).content.decode()
    assert "Awaiting capture" in dashboard
    assert "€120.00" in dashboard
    assert "1 authorized payment held on customers' cards" in dashboard

    payments = reverse("links:payments", args=[shop_id])
    with django_assert_max_num_queries(12):
        listed = client.get(payments, {"status": "authorized"}).content.decode()
    assert str(held.public_id) in listed
    assert "Authorized, awaiting capture" in listed
    assert "Capture before" in listed
    assert str(held.public_id) not in client.get(payments, {"status": "succeeded"}).content.decode()

    csv = b"".join(
        client.get(reverse("links:payments_csv", args=[shop_id]), {"status": "authorized"})
    ).decode()
    assert "Authorized, awaiting capture" in csv

    detail = client.get(reverse("links:detail", args=[shop_id, held.link_id])).content.decode()
    assert "Authorize only, capture later" in detail
    assert "Capture before" in detail


def test_the_link_form_makes_an_authorize_only_link(shop, client_as, stripe_settings):
    response = client_as("staff").post(
        reverse("links:create", args=[shop.merchant.public_id]),
        {
            "amount": "150,00",
            "currency": "EUR",
            "description": "Deposito noleggio",
            "language": "it",
            "kind": "single",
            "expiry": "none",
            "authorize_only": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert PaymentLink.objects.get(description="Deposito noleggio").authorize_only


def test_the_virtual_terminal_can_authorize_only(shop, client_as, stripe_settings):
    stripe_settings.STRIPE_PLATFORM_MOTO = True
    response = client_as("staff").post(
        reverse("links:terminal_new", args=[shop.merchant.public_id]),
        {"amount": "80,00", "description": "Deposito bici", "authorize_only": "on"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert PaymentLink.objects.get(description="Deposito bici").authorize_only


def test_the_timeline_formats_the_hold_for_its_reader(
    held, client_as, django_capture_on_commit_callbacks
):
    """The hold was written while an Italian customer paid; an English reader reads €, dots."""
    client = client_as("owner")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url("payment_capture", held),
            confirm_fields(
                client.post(url("payment_capture", held), {"amount": "80"}).content.decode()
            ),
        )

    timeline = client.get(url("payment_detail", held)).content.decode()

    assert "€120.00 · Visa ···· 4242" in timeline  # authorized
    assert "€80.00 / €120.00" in timeline  # captured
    assert "120,00 €" not in timeline
